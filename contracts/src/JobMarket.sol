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
contract JobMarket is PullPayments {
    /// @notice Longest program text (or pointer to it) stored on chain.
    uint256 public constant MAX_PROGRAM = 8192;
    /// @notice Longest output public key.
    uint256 public constant MAX_OUTPUT_KEY = 128;
    /// @notice Most datasets in one job.
    uint256 public constant MAX_DATASETS = 16;
    /// @notice Latest deadline a job may ask for, from submission.
    uint64 public constant MAX_JOB_DURATION = 30 days;

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
    mapping(uint256 => address[]) private attesters;
    mapping(uint256 => mapping(address => bytes32)) private attestationOf;
    mapping(uint256 => mapping(bytes32 => uint256)) private votes;

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
    /// @notice A committee node attested a result commitment.
    event ResultAttested(uint256 indexed jobId, address indexed node, bytes32 commitment);
    /// @notice Threshold+1 nodes agreed on `result`; the fee was split among them.
    event JobCompleted(uint256 indexed jobId, bytes32 result, address[] paid, uint256 share, uint256 remainder);
    /// @notice A node's attestation differs from its job's quorum result.
    event AttestationDissent(uint256 indexed jobId, address indexed node, bytes32 commitment, bytes32 result);
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

    /// @notice Attest the result commitment of a job the caller's committee ran. Threshold+1
    ///         matching attestations complete the job and pay them; attestations that differ from
    ///         the quorum (before or after it) are recorded as dissent.
    function attest(uint256 jobId, bytes32 commitment) external {
        Job storage j = jobs[jobId];
        if (j.status == Status.None) revert UnknownJob(jobId);
        if (j.status == Status.Refunded) revert JobNotOpen(jobId);
        if (commitment == bytes32(0)) revert ZeroCommitment();
        if (!datasets.isCommitteeMember(j.committeeRef, msg.sender)) revert NotInCommittee(jobId, msg.sender);
        if (attestationOf[jobId][msg.sender] != bytes32(0)) revert AlreadyAttested(jobId, msg.sender);
        if (j.status == Status.Open && block.timestamp > j.deadline) revert DeadlinePassed(jobId, j.deadline);

        attestationOf[jobId][msg.sender] = commitment;
        attesters[jobId].push(msg.sender);
        j.attestations += 1;
        emit ResultAttested(jobId, msg.sender, commitment);

        if (j.status == Status.Completed) {
            // Late attestation: no pay, but a different result is on record.
            if (commitment != j.result) _dissent(jobId, msg.sender, commitment, j.result);
            return;
        }
        uint256 v = ++votes[jobId][commitment];
        if (v == quorum(j.threshold)) _complete(jobId, j, commitment);
    }

    function _complete(uint256 jobId, Job storage j, bytes32 result) private {
        j.status = Status.Completed;
        j.result = result;
        address[] storage all = attesters[jobId];
        uint256 q = quorum(j.threshold);
        address[] memory paid = new address[](q);
        uint256 k = 0;
        for (uint256 i = 0; i < all.length; i++) {
            bytes32 c = attestationOf[jobId][all[i]];
            if (c == result) {
                paid[k++] = all[i];
            } else {
                _dissent(jobId, all[i], c, result);
            }
        }
        uint256 share = j.fee / q;
        // The remainder of the integer split goes to the first attester in attestation order,
        // so the whole fee is paid out and nothing is lost.
        uint256 remainder = j.fee - share * q;
        emit JobCompleted(jobId, result, paid, share, remainder);
        for (uint256 i = 0; i < q; i++) {
            _credit(paid[i], i == 0 ? share + remainder : share);
        }
    }

    function _dissent(uint256 jobId, address node, bytes32 commitment, bytes32 result) private {
        dissentCount[node] += 1;
        emit AttestationDissent(jobId, node, commitment, result);
    }

    /// @notice After the deadline with no quorum, credit the fee back to the requester (anyone may call).
    function claimRefund(uint256 jobId) external {
        Job storage j = jobs[jobId];
        if (j.status == Status.None) revert UnknownJob(jobId);
        if (j.status != Status.Open) revert JobNotOpen(jobId);
        if (block.timestamp <= j.deadline) revert DeadlineNotPassed(jobId, j.deadline);
        j.status = Status.Refunded;
        emit JobRefunded(jobId, j.requester, j.fee);
        _credit(j.requester, j.fee);
    }

    /// @notice Matching attestations needed to complete a job of threshold t: t+1, so at least one
    ///         honest node vouches for the result when at most t are corrupt.
    function quorum(uint8 threshold) public pure returns (uint256) {
        return uint256(threshold) + 1;
    }

    /// @notice The whole record of a job (status None if unknown).
    function getJob(uint256 jobId) external view returns (Job memory) {
        return jobs[jobId];
    }

    /// @notice The commitment `node` attested for `jobId` (zero if none).
    function attestation(uint256 jobId, address node) external view returns (bytes32) {
        return attestationOf[jobId][node];
    }

    /// @notice Nodes that attested `jobId`, in order.
    function attestersOf(uint256 jobId) external view returns (address[] memory) {
        return attesters[jobId];
    }
}
