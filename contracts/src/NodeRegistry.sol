// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {PullPayments} from "./PullPayments.sol";

/// @notice What the node registry needs from the dataset registry to judge slashing evidence.
interface IDatasetCommittees {
    /// @notice The committee holding a dataset's shares and its threshold.
    function committeeOf(bytes32 datasetId) external view returns (address[] memory, uint8);
    /// @notice Whether `node` is in the committee of `datasetId`.
    function isCommitteeMember(bytes32 datasetId, address node) external view returns (bool);
    /// @notice Whether `node` acknowledged holding its shares of `datasetId`.
    function hasAcknowledged(bytes32 datasetId, address node) external view returns (bool);
}

/// @title Node registry: identities, deposits, unbonding, slashing, the active set and its epoch.
contract NodeRegistry is PullPayments {
    /// @notice Longest network address (multiaddr) accepted.
    uint256 public constant MAX_NETWORK_ADDRESS = 256;
    /// @notice Basis-point denominator for the reporter's share of a slash and the slash cap.
    uint256 public constant BPS = 10_000;
    /// @notice Most one slash takes: this share of the accused's stake (10 %), in basis points.
    ///         With at most one slash per node per dataset, taking a whole stake needs many
    ///         committees that the accused acknowledged.
    uint256 public constant MAX_SLASH_BPS = 1_000;
    /// @notice Longest evidence accepted (it is emitted on chain for anyone to audit).
    uint256 public constant MAX_EVIDENCE = 16_384;
    /// @notice EIP-712 type of the evidence a committee quorum signs to slash one of its members.
    bytes32 public constant SLASH_TYPEHASH = keccak256(
        "Slash(address node,uint256 amount,bytes32 evidenceHash,bytes32 datasetId,address reporter,uint64 deadline)"
    );
    // Half the secp256k1 group order: signatures with a larger s are the malleable twin.
    uint256 private constant HALF_N =
        0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @notice A registered node.
    struct Node {
        bytes32 peerKey;
        uint256 stake;
        uint64 registeredAt;
        uint64 exitRequestedAt;
        bool registered;
        bool exiting;
        uint32 slashCount;
        string networkAddress;
    }

    /// @notice Minimum deposit for a node to be active.
    uint256 public immutable minDeposit;
    /// @notice Seconds between an exit request and the release of the deposit.
    uint64 public immutable unbondingPeriod;
    /// @notice Share of a slashed amount credited to the reporter, in basis points.
    uint256 public immutable reporterRewardBps;
    /// @notice Receives the rest of a slash; zero means the rest is burnt (kept, never paid out).
    address public immutable treasury;
    address private immutable deployer;
    bytes32 private immutable domainSeparator;

    /// @notice The dataset registry whose committees judge slashing evidence (linked once).
    IDatasetCommittees public datasets;
    /// @notice Changes whenever the active set changes.
    uint64 public epoch;
    /// @notice Total amount burnt by slashing when there is no treasury.
    uint256 public burned;

    mapping(address => Node) private nodes;
    /// @notice Which account a peer key is bound to.
    mapping(bytes32 => address) public peerKeyOwner;
    /// @notice `slashedOn[datasetId][node]`: `node` was slashed on the evidence of the committee
    ///         of `datasetId` (each committee slashes each member at most once).
    mapping(bytes32 => mapping(address => bool)) public slashedOn;
    address[] private active;
    mapping(address => uint256) private activeIndexPlusOne;

    /// @notice A node registered.
    event NodeRegistered(address indexed node, bytes32 indexed peerKey, string networkAddress, uint256 deposit);
    /// @notice A node added to its deposit.
    event DepositToppedUp(address indexed node, uint256 amount, uint256 stake);
    /// @notice A node asked to leave; its deposit is released after the unbonding period.
    event ExitRequested(address indexed node, uint64 readyAt);
    /// @notice A node's deposit was released to its balance and its registration removed.
    event StakeReleased(address indexed node, uint256 amount);
    /// @notice A node was slashed on evidence signed by a quorum of its committee. `evidence` is
    ///         the evidence itself (`keccak256(evidence) == evidenceHash`), public for audit.
    event NodeSlashed(
        address indexed node,
        address indexed reporter,
        bytes32 indexed evidenceHash,
        bytes32 datasetId,
        uint256 amount,
        uint256 reporterReward,
        uint256 remainder,
        address[] signers,
        bytes evidence
    );
    /// @notice The active set changed; `epoch` is the new epoch.
    event ActiveSetChanged(uint64 indexed epoch, address indexed node, bool active);
    /// @notice The dataset registry was linked.
    event Linked(address datasets);

    constructor(uint256 minDeposit_, uint64 unbondingPeriod_, uint256 reporterRewardBps_, address treasury_) {
        // A reward above 100% would pay out more than was slashed.
        if (reporterRewardBps_ > BPS) revert BadRewardBps(reporterRewardBps_);
        minDeposit = minDeposit_;
        unbondingPeriod = unbondingPeriod_;
        reporterRewardBps = reporterRewardBps_;
        treasury = treasury_;
        deployer = msg.sender;
        domainSeparator = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("sharenet NodeRegistry"),
                keccak256("1"),
                block.chainid,
                address(this)
            )
        );
    }

    /// @notice Link the dataset registry, once, by the deployer (the two contracts refer to each other).
    function linkDatasets(IDatasetCommittees datasets_) external {
        if (msg.sender != deployer) revert NotDeployer(msg.sender);
        if (address(datasets) != address(0)) revert AlreadyLinked();
        datasets = datasets_;
        emit Linked(address(datasets_));
    }

    /// @notice Register the caller as a node with its ed25519 peer key and network address.
    function register(bytes32 peerKey, string calldata networkAddress) external payable {
        if (nodes[msg.sender].registered) revert AlreadyRegistered(msg.sender);
        if (peerKey == bytes32(0)) revert ZeroPeerKey();
        address owner = peerKeyOwner[peerKey];
        if (owner != address(0)) revert PeerKeyTaken(peerKey, owner);
        uint256 len = bytes(networkAddress).length;
        if (len == 0 || len > MAX_NETWORK_ADDRESS) revert BadNetworkAddress(len);
        if (msg.value < minDeposit) revert DepositTooLow(msg.value, minDeposit);
        Node storage n = nodes[msg.sender];
        n.peerKey = peerKey;
        n.stake = msg.value;
        n.registeredAt = uint64(block.timestamp);
        n.registered = true;
        n.networkAddress = networkAddress;
        peerKeyOwner[peerKey] = msg.sender;
        emit NodeRegistered(msg.sender, peerKey, networkAddress, msg.value);
        _refreshActive(msg.sender);
    }

    /// @notice Add to the caller's deposit (e.g. to become active again after a slash).
    function topUp() external payable {
        Node storage n = nodes[msg.sender];
        if (!n.registered) revert NotRegistered(msg.sender);
        if (msg.value == 0) revert ZeroValue();
        n.stake += msg.value;
        emit DepositToppedUp(msg.sender, msg.value, n.stake);
        _refreshActive(msg.sender);
    }

    /// @notice Leave the active set now; the deposit stays slashable for the unbonding period.
    function requestExit() external {
        Node storage n = nodes[msg.sender];
        if (!n.registered) revert NotRegistered(msg.sender);
        if (n.exiting) revert AlreadyExiting(msg.sender);
        n.exiting = true;
        n.exitRequestedAt = uint64(block.timestamp);
        emit ExitRequested(msg.sender, uint64(block.timestamp) + unbondingPeriod);
        _refreshActive(msg.sender);
    }

    /// @notice After the unbonding period, release the deposit to the caller's balance and deregister.
    function withdrawStake() external {
        Node storage n = nodes[msg.sender];
        if (!n.registered) revert NotRegistered(msg.sender);
        if (!n.exiting) revert NotExiting(msg.sender);
        uint64 readyAt = n.exitRequestedAt + unbondingPeriod;
        if (block.timestamp < readyAt) revert UnbondingNotOver(readyAt, uint64(block.timestamp));
        uint256 amount = n.stake;
        delete peerKeyOwner[n.peerKey];
        delete nodes[msg.sender];
        emit StakeReleased(msg.sender, amount);
        _credit(msg.sender, amount);
    }

    /// @notice Slash `node` by `amount`, capped at `MAX_SLASH_BPS` of its stake, on `evidence`
    ///         signed (EIP-712, valid until `deadline`) by a strict majority of the committee of
    ///         `datasetId`, none of them the accused. The accused and the signers must have
    ///         acknowledged the dataset (nodes acknowledge only committees of the placement rule):
    ///         with an honest majority in the committee, a majority of signers includes an honest
    ///         one. The reward goes to `reporter`, whom the signers named (a relayer or a
    ///         front-runner copying the call cannot take it). At most one slash per node per dataset.
    function slash(
        address node,
        uint256 amount,
        bytes calldata evidence,
        bytes32 datasetId,
        address reporter,
        uint64 deadline,
        bytes[] calldata signatures
    ) external {
        IDatasetCommittees ds = datasets;
        if (address(ds) == address(0)) revert NotLinked();
        if (amount == 0) revert ZeroSlashAmount();
        if (evidence.length == 0 || evidence.length > MAX_EVIDENCE) revert BadEvidenceLength(evidence.length);
        if (reporter == address(0)) revert ZeroReporter();
        if (block.timestamp > deadline) revert SlashExpired(deadline, uint64(block.timestamp));
        Node storage n = nodes[node];
        if (!n.registered) revert NotRegistered(node);
        if (slashedOn[datasetId][node]) revert AlreadySlashedOn(node, datasetId);
        bytes32 evidenceHash = keccak256(evidence);
        bytes32 digest = slashDigest(node, amount, evidenceHash, datasetId, reporter, deadline);
        (address[] memory committee,) = ds.committeeOf(datasetId);
        if (!ds.isCommitteeMember(datasetId, node)) revert AccusedNotInCommittee(node, datasetId);
        if (!ds.hasAcknowledged(datasetId, node)) revert AccusedHasNotAcknowledged(node, datasetId);
        address[] memory signers = _checkSignatures(digest, node, datasetId, committee.length, signatures);
        uint256 required = committee.length / 2 + 1;
        if (signers.length < required) revert InsufficientSignatures(signers.length, required);

        uint256 cap = (n.stake * MAX_SLASH_BPS) / BPS;
        uint256 slashed = amount < cap ? amount : cap;
        if (slashed == 0) revert NothingToSlash(node);
        slashedOn[datasetId][node] = true;
        n.stake -= slashed;
        n.slashCount += 1;
        uint256 reward = (slashed * reporterRewardBps) / BPS;
        uint256 rest = slashed - reward;
        emit NodeSlashed(node, reporter, evidenceHash, datasetId, slashed, reward, rest, signers, evidence);
        _credit(reporter, reward);
        if (treasury == address(0)) {
            burned += rest;
        } else {
            _credit(treasury, rest);
        }
        _refreshActive(node);
    }

    function _checkSignatures(
        bytes32 digest,
        address accused,
        bytes32 datasetId,
        uint256 committeeSize,
        bytes[] calldata signatures
    ) private view returns (address[] memory signers) {
        // More signatures than committee members cannot all be distinct members.
        if (signatures.length > committeeSize) revert InsufficientSignatures(0, committeeSize);
        signers = new address[](signatures.length);
        for (uint256 i = 0; i < signatures.length; i++) {
            address s = _recover(digest, signatures[i], i);
            if (s == accused) revert SignerIsAccused(i);
            if (!datasets.isCommitteeMember(datasetId, s)) revert SignerNotInCommittee(i, s);
            if (!datasets.hasAcknowledged(datasetId, s)) revert SignerHasNotAcknowledged(i, s);
            for (uint256 j = 0; j < i; j++) {
                if (signers[j] == s) revert DuplicateSigner(i, s);
            }
            signers[i] = s;
        }
    }

    function _recover(bytes32 digest, bytes calldata sig, uint256 index) private pure returns (address) {
        if (sig.length != 65) revert BadSignatureLength(index, sig.length);
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (v != 27 && v != 28) revert BadSignatureV(index, v);
        if (uint256(s) > HALF_N) revert SignatureSUpperHalf(index);
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert InvalidSignature(index);
        return signer;
    }

    /// @notice The EIP-712 digest committee members sign to approve a slash.
    function slashDigest(
        address node,
        uint256 amount,
        bytes32 evidenceHash,
        bytes32 datasetId,
        address reporter,
        uint64 deadline
    ) public view returns (bytes32) {
        bytes32 structHash =
            keccak256(abi.encode(SLASH_TYPEHASH, node, amount, evidenceHash, datasetId, reporter, deadline));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator, structHash));
    }

    /// @notice The EIP-712 domain separator of this contract.
    function domainSeparatorV4() external view returns (bytes32) {
        return domainSeparator;
    }

    function _refreshActive(address node) private {
        Node storage n = nodes[node];
        bool shouldBe = n.registered && !n.exiting && n.stake >= minDeposit;
        uint256 idx = activeIndexPlusOne[node];
        if (shouldBe && idx == 0) {
            active.push(node);
            activeIndexPlusOne[node] = active.length;
        } else if (!shouldBe && idx != 0) {
            address last = active[active.length - 1];
            active[idx - 1] = last;
            activeIndexPlusOne[last] = idx;
            active.pop();
            activeIndexPlusOne[node] = 0;
        } else {
            return;
        }
        epoch += 1;
        emit ActiveSetChanged(epoch, node, shouldBe);
    }

    /// @notice Whether `account` is registered, staked at least the minimum and not exiting.
    function isActive(address account) external view returns (bool) {
        return activeIndexPlusOne[account] != 0;
    }

    /// @notice The active nodes (order is not meaningful).
    function activeNodes() external view returns (address[] memory) {
        return active;
    }

    /// @notice The record of a node (registered is false if unknown).
    function getNode(address account) external view returns (Node memory) {
        return nodes[account];
    }
}
