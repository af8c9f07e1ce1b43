// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {PullPayments} from "./PullPayments.sol";

/// @notice What the job market needs from the dataset registry.
interface IJobDatasets {
    /// @notice Owner (zero if unknown) and retired flag of a dataset.
    function ownerOf(bytes32 datasetId) external view returns (address owner, bool retired);
    /// @notice The committee holding a dataset's shares and its threshold.
    function committeeOf(bytes32 datasetId) external view returns (address[] memory, uint8);
    /// @notice Whether `node` is in the committee of `datasetId`.
    function isCommitteeMember(bytes32 datasetId, address node) external view returns (bool);
}

/// @notice What the job market needs from the grants.
interface IGrantConsumer {
    /// @notice Use one query of a grant; reverts with the reason if not allowed.
    function consume(
        uint256 grantId,
        address who,
        bytes32[] calldata datasetIds,
        uint8 kind,
        bytes32 programHash,
        uint256 jobId
    ) external;
}

/// @title Job market: fee escrow, committee attestations of the result commitment, payout, refund.
/// @notice Attestations are sealed, then revealed, so that a member is paid only for a commitment it
///         knew before anyone revealed it. Each member of the session seals
///         `sealFor(jobId, member, commitment)`: bound to the member, it tells nobody the commitment.
///         Sealing closes when `2t + 1` members sealed (the smallest live set) or at the deadline;
///         only then may anyone reveal the commitment, and a reveal completes the job if at least
///         `t + 1` seals open to it; those members share the fee. A member that copies another's
///         seal, or reads a revealed commitment, has nothing to seal it with: sealing is closed.
contract JobMarket is PullPayments {
    /// @notice Longest program text (or pointer to it) stored on chain.
    uint256 public constant MAX_PROGRAM = 8192;
    /// @notice Longest output public key.
    uint256 public constant MAX_OUTPUT_KEY = 128;
    /// @notice Most datasets in one job.
    uint256 public constant MAX_DATASETS = 16;
    /// @notice Latest deadline a job may ask for, from submission.
    uint64 public constant MAX_JOB_DURATION = 30 days;
    /// @notice Time after the deadline in which seals made by the deadline may still be revealed;
    ///         the fee is refundable only after it.
    uint64 public constant REVEAL_WINDOW = 10 minutes;

    /// @notice Life cycle of a job.
    enum Status {
        None,
        Open,
        Completed,
        Refunded
    }

    /// @notice A job. `committeeRef` is the dataset whose committee runs it.
    struct Job {
        address requester;
        uint64 deadline;
        uint8 kind;
        Status status;
        uint8 threshold;
        uint16 attestations;
        uint16 seals;
        uint256 grantId;
        uint256 fee;
        bytes32 programHash;
        bytes32 committeeRef;
        bytes32 result;
        bytes32[] datasetIds;
        bytes outputKey;
    }

    /// @notice The dataset registry (committees).
    IJobDatasets public immutable datasets;
    /// @notice The grants, consumed one query per job.
    IGrantConsumer public immutable grants;
    /// @notice Number of jobs submitted; job ids are 1..jobCount.
    uint256 public jobCount;
    /// @notice Times a node attested a result that differed from its job's quorum.
    mapping(address => uint256) public dissentCount;

    mapping(uint256 => Job) private jobs;
    mapping(uint256 => address[]) private sealers;
    mapping(uint256 => mapping(address => bytes32)) private sealOf;
    mapping(uint256 => mapping(address => bytes32)) private attestationOf;

    /// @notice A job was submitted with `fee` in escrow. `program` is the text or a pointer to it.
    event JobSubmitted(
        uint256 indexed jobId,
        address indexed requester,
        uint256 indexed grantId,
        bytes32[] datasetIds,
        uint8 kind,
        bytes32 programHash,
        string program,
        bytes outputKey,
        uint256 fee,
        uint64 deadline
    );
    /// @notice A committee node sealed its result commitment (`seal = sealFor(jobId, node, commitment)`).
    event ResultSealed(uint256 indexed jobId, address indexed node, bytes32 seal);
    /// @notice A committee node's seal opened to the job's result: it attested `commitment`.
    event ResultAttested(uint256 indexed jobId, address indexed node, bytes32 commitment);
    /// @notice At least threshold+1 seals opened to `result`; the fee was split among their nodes.
    event JobCompleted(uint256 indexed jobId, bytes32 result, address[] paid, uint256 share, uint256 remainder);
    /// @notice A node sealed something other than its job's result (`seal` is what it sealed).
    event AttestationDissent(uint256 indexed jobId, address indexed node, bytes32 seal, bytes32 result);
    /// @notice No quorum by the deadline: the fee went back to the requester.
    event JobRefunded(uint256 indexed jobId, address indexed requester, uint256 fee);

    constructor(IJobDatasets datasets_, IGrantConsumer grants_) {
        datasets = datasets_;
        grants = grants_;
    }

    /// @notice Submit a job over datasets of one committee, paying the fee (held in escrow).
    function submitJob(
        uint256 grantId,
        bytes32[] calldata datasetIds,
        uint8 kind,
        bytes32 programHash,
        string calldata program,
        bytes calldata outputKey,
        uint64 deadline
    ) external payable returns (uint256 jobId) {
        if (msg.value == 0) revert ZeroFee();
        uint256 nd = datasetIds.length;
        if (nd == 0 || nd > MAX_DATASETS) revert BadDatasetCount(nd);
        if (bytes(program).length > MAX_PROGRAM) revert ProgramTooLong(bytes(program).length);
        if (outputKey.length == 0 || outputKey.length > MAX_OUTPUT_KEY) revert BadOutputKey(outputKey.length);
        if (deadline <= block.timestamp || deadline > block.timestamp + MAX_JOB_DURATION) {
            revert BadDeadline(deadline, uint64(block.timestamp));
        }
        uint8 threshold = _sameCommittee(datasetIds);
        jobId = ++jobCount;
        // Reverts with the grant's own reason (expired, exhausted, ...) if the query is not allowed.
        grants.consume(grantId, msg.sender, datasetIds, kind, programHash, jobId);
        Job storage j = jobs[jobId];
        j.requester = msg.sender;
        j.deadline = deadline;
        j.kind = kind;
        j.status = Status.Open;
        j.threshold = threshold;
        j.grantId = grantId;
        j.fee = msg.value;
        j.programHash = programHash;
        j.committeeRef = datasetIds[0];
        j.datasetIds = datasetIds;
        j.outputKey = outputKey;
        emit JobSubmitted(
            jobId, msg.sender, grantId, datasetIds, kind, programHash, program, outputKey, msg.value, deadline
        );
    }

    function _sameCommittee(bytes32[] calldata datasetIds) private view returns (uint8) {
        (address owner0, bool retired0) = datasets.ownerOf(datasetIds[0]);
        if (owner0 == address(0)) revert UnknownDataset(datasetIds[0]);
        if (retired0) revert DatasetIsRetired(datasetIds[0]);
        (address[] memory c0, uint8 t0) = datasets.committeeOf(datasetIds[0]);
        bytes32 h0 = keccak256(abi.encode(c0, t0));
        for (uint256 i = 1; i < datasetIds.length; i++) {
            (address owner, bool retired) = datasets.ownerOf(datasetIds[i]);
            if (owner == address(0)) revert UnknownDataset(datasetIds[i]);
            if (retired) revert DatasetIsRetired(datasetIds[i]);
            (address[] memory c, uint8 t) = datasets.committeeOf(datasetIds[i]);
            if (keccak256(abi.encode(c, t)) != h0) revert CommitteeMismatch(datasetIds[i]);
        }
        return t0;
    }

    /// @notice What `node` seals for `commitment` of `jobId`: binding the commitment to the member
    ///         makes a copied seal worthless to anyone else.
    function sealFor(uint256 jobId, address node, bytes32 commitment) public pure returns (bytes32) {
        return keccak256(abi.encode(jobId, node, commitment));
    }

    /// @notice Seal the result commitment of a job the caller's committee ran: once per member,
    ///         by the deadline, while fewer than 2t+1 members sealed.
    function seal(uint256 jobId, bytes32 sealHash) external {
        Job storage j = jobs[jobId];
        if (j.status == Status.None) revert UnknownJob(jobId);
        if (j.status != Status.Open) revert JobNotOpen(jobId);
        if (sealHash == bytes32(0)) revert ZeroCommitment();
        if (block.timestamp > j.deadline) revert DeadlinePassed(jobId, j.deadline);
        if (!datasets.isCommitteeMember(j.committeeRef, msg.sender)) revert NotInCommittee(jobId, msg.sender);
        if (sealOf[jobId][msg.sender] != bytes32(0)) revert AlreadyAttested(jobId, msg.sender);
        if (j.seals >= sealsToClose(j.threshold)) revert SealingClosed(jobId);
        sealOf[jobId][msg.sender] = sealHash;
        sealers[jobId].push(msg.sender);
        j.seals += 1;
        emit ResultSealed(jobId, msg.sender, sealHash);
    }

    /// @notice Reveal the result commitment of a job whose sealing is closed (2t+1 seals, or the
    ///         deadline passed), until `REVEAL_WINDOW` after the deadline. Anyone may call it; it
    ///         completes the job if at least t+1 seals open to `commitment`, pays those members and
    ///         records every other seal as dissent. Reverts (`NoQuorum`) otherwise.
    function reveal(uint256 jobId, bytes32 commitment) external {
        Job storage j = jobs[jobId];
        if (j.status == Status.None) revert UnknownJob(jobId);
        if (j.status != Status.Open) revert JobNotOpen(jobId);
        if (commitment == bytes32(0)) revert ZeroCommitment();
        uint256 toClose = sealsToClose(j.threshold);
        if (j.seals < toClose && block.timestamp <= j.deadline) revert SealingOpen(jobId, j.seals, toClose);
        uint64 revealBy = j.deadline + REVEAL_WINDOW;
        if (block.timestamp > revealBy) revert DeadlinePassed(jobId, revealBy);

        address[] storage all = sealers[jobId];
        bool[] memory opens = new bool[](all.length);
        uint256 matching = 0;
        for (uint256 i = 0; i < all.length; i++) {
            if (sealOf[jobId][all[i]] == sealFor(jobId, all[i], commitment)) {
                opens[i] = true;
                matching++;
            }
        }
        uint256 q = quorum(j.threshold);
        if (matching < q) revert NoQuorum(jobId, matching, q);

        j.status = Status.Completed;
        j.result = commitment;
        j.attestations = uint16(matching);
        address[] memory paid = new address[](matching);
        uint256 k = 0;
        for (uint256 i = 0; i < all.length; i++) {
            if (opens[i]) {
                attestationOf[jobId][all[i]] = commitment;
                paid[k++] = all[i];
                emit ResultAttested(jobId, all[i], commitment);
            } else {
                dissentCount[all[i]] += 1;
                emit AttestationDissent(jobId, all[i], sealOf[jobId][all[i]], commitment);
            }
        }
        uint256 share = j.fee / matching;
        // The remainder of the integer split goes to the first sealer paid, so the whole fee is
        // paid out and nothing is lost.
        uint256 remainder = j.fee - share * matching;
        emit JobCompleted(jobId, commitment, paid, share, remainder);
        for (uint256 i = 0; i < matching; i++) {
            _credit(paid[i], i == 0 ? share + remainder : share);
        }
    }

    /// @notice After the deadline and its reveal window with no quorum, credit the fee back to
    ///         the requester (anyone may call).
    function claimRefund(uint256 jobId) external {
        Job storage j = jobs[jobId];
        if (j.status == Status.None) revert UnknownJob(jobId);
        if (j.status != Status.Open) revert JobNotOpen(jobId);
        uint64 refundableAfter = j.deadline + REVEAL_WINDOW;
        if (block.timestamp <= refundableAfter) revert DeadlineNotPassed(jobId, refundableAfter);
        j.status = Status.Refunded;
        emit JobRefunded(jobId, j.requester, j.fee);
        _credit(j.requester, j.fee);
    }

    /// @notice Matching attestations needed to complete a job of threshold t: t+1, so at least one
    ///         honest node vouches for the result when at most t are corrupt.
    function quorum(uint8 threshold) public pure returns (uint256) {
        return uint256(threshold) + 1;
    }

    /// @notice Seals that close a job's sealing for threshold t: 2t+1, the fewest members a
    ///         session runs with. Of any 2t+1 seals at most t are a corrupt minority's, so the
    ///         t+1 honest members of the session are among them whatever the others seal.
    function sealsToClose(uint8 threshold) public pure returns (uint256) {
        return 2 * uint256(threshold) + 1;
    }

    /// @notice The whole record of a job (status None if unknown).
    function getJob(uint256 jobId) external view returns (Job memory) {
        return jobs[jobId];
    }

    /// @notice The commitment `node` attested for `jobId`: the result, once its seal opened to
    ///         it (zero otherwise).
    function attestation(uint256 jobId, address node) external view returns (bytes32) {
        return attestationOf[jobId][node];
    }

    /// @notice The seal `node` made for `jobId` (zero if none).
    function sealOfNode(uint256 jobId, address node) external view returns (bytes32) {
        return sealOf[jobId][node];
    }

    /// @notice Nodes that sealed `jobId`, in order.
    function sealersOf(uint256 jobId) external view returns (address[] memory) {
        return sealers[jobId];
    }
}
