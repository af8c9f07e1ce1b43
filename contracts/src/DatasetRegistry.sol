// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ISharenetErrors} from "./Errors.sol";

/// @notice What the dataset registry needs from the node registry.
interface INodeRegistryView {
    /// @notice Whether `account` is registered, staked at least the minimum and not exiting.
    function isActive(address account) external view returns (bool);
    /// @notice The current epoch (changes whenever the active set changes).
    function epoch() external view returns (uint64);
}

/// @title Dataset registry: who owns which dataset, where its shares live, how many rows it has.
/// @notice Only hashes and counts go here; the data itself lives as secret shares on the committee.
///         A dataset's id is derived from its owner and a salt (`datasetIdFor`): the client
///         computes it before uploading, the upload names it, and only that owner can register
///         it, so nobody who sees an upload (or a pending registration) can take it first.
contract DatasetRegistry is ISharenetErrors {
    /// @notice Largest committee accepted (bounds every loop over a committee).
    uint256 public constant MAX_COMMITTEE = 64;
    /// @notice Longest pool name accepted.
    uint256 public constant MAX_POOL_NAME = 128;

    /// @notice A registered dataset.
    struct Dataset {
        address owner;
        uint64 rows;
        uint8 threshold;
        bool retired;
        uint64 committeeEpoch;
        bytes32 salt;
        bytes32 poolKey;
        bytes32 schemaHash;
        bytes32 manifestHash;
        string pool;
        address[] committee;
    }

    /// @notice The node registry whose active nodes may form committees.
    INodeRegistryView public immutable nodes;
    mapping(bytes32 => Dataset) private datasets;
    mapping(bytes32 => mapping(address => bool)) private inCommittee;
    mapping(bytes32 => mapping(address => bool)) private acknowledged;

    /// @notice A dataset was registered with the committee holding its shares, chosen from the
    ///         active set of `committeeEpoch` (the epoch at registration).
    event DatasetRegistered(
        bytes32 indexed datasetId,
        address indexed owner,
        bytes32 indexed poolKey,
        bytes32 salt,
        uint64 committeeEpoch,
        string pool,
        bytes32 schemaHash,
        bytes32 manifestHash,
        uint64 rows,
        address[] committee,
        uint8 threshold
    );
    /// @notice Rows were appended to a dataset.
    event DatasetAppended(bytes32 indexed datasetId, uint64 rows, bytes32 manifestHash);
    /// @notice A committee node confirmed it holds its shares of a dataset (`receiptHash` is the
    ///         hash of its upload receipt, e.g. its commitment to its share vector).
    event DatasetAcknowledged(bytes32 indexed datasetId, address indexed node, bytes32 receiptHash);
    /// @notice A dataset was retired: no new grant or job may use it.
    event DatasetRetired(bytes32 indexed datasetId);

    constructor(INodeRegistryView nodes_) {
        nodes = nodes_;
    }

    /// @notice The id of the dataset `owner` registers with `salt`: `keccak256(abi.encode(owner, salt))`.
    function datasetIdFor(address owner, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(owner, salt));
    }

    /// @notice Register the caller's dataset `datasetIdFor(msg.sender, salt)`, whose shares the
    ///         given committee holds with threshold `threshold`. `committeeEpoch` is the epoch
    ///         whose active set the committee was chosen from; it must be the current one, so that
    ///         every node checks the committee against the same active set (the one at this block).
    function registerDataset(
        bytes32 salt,
        uint64 committeeEpoch,
        bytes32 poolKey,
        string calldata pool,
        bytes32 schemaHash,
        bytes32 manifestHash,
        uint64 rows,
        address[] calldata committee,
        uint8 threshold
    ) external returns (bytes32 datasetId) {
        datasetId = datasetIdFor(msg.sender, salt);
        if (poolKey == bytes32(0)) revert ZeroPoolKey();
        if (datasets[datasetId].owner != address(0)) revert DatasetExists(datasetId);
        uint64 current = nodes.epoch();
        if (committeeEpoch != current) revert StaleCommitteeEpoch(committeeEpoch, current);
        uint256 n = committee.length;
        if (n == 0 || n > MAX_COMMITTEE) revert BadCommitteeSize(n);
        // Honest majority: at most t of n nodes are corrupt and t < n/2.
        if (threshold == 0 || 2 * uint256(threshold) >= n) revert BadThreshold(threshold, n);
        if (bytes(pool).length > MAX_POOL_NAME) revert BadPoolName(bytes(pool).length);
        for (uint256 i = 0; i < n; i++) {
            address m = committee[i];
            if (!nodes.isActive(m)) revert CommitteeMemberNotActive(m);
            if (inCommittee[datasetId][m]) revert DuplicateCommitteeMember(m);
            inCommittee[datasetId][m] = true;
        }
        Dataset storage d = datasets[datasetId];
        d.owner = msg.sender;
        d.rows = rows;
        d.threshold = threshold;
        d.committeeEpoch = committeeEpoch;
        d.salt = salt;
        d.poolKey = poolKey;
        d.schemaHash = schemaHash;
        d.manifestHash = manifestHash;
        d.pool = pool;
        d.committee = committee;
        emit DatasetRegistered(
            datasetId,
            msg.sender,
            poolKey,
            salt,
            committeeEpoch,
            pool,
            schemaHash,
            manifestHash,
            rows,
            committee,
            threshold
        );
    }

    /// @notice Record that rows were appended: the new total and the new manifest hash.
    function appendRows(bytes32 datasetId, uint64 newRows, bytes32 newManifestHash) external {
        Dataset storage d = _owned(datasetId);
        if (newRows <= d.rows) revert RowCountNotIncreasing(d.rows, newRows);
        d.rows = newRows;
        d.manifestHash = newManifestHash;
        emit DatasetAppended(datasetId, newRows, newManifestHash);
    }

    /// @notice Retire a dataset for good.
    function retireDataset(bytes32 datasetId) external {
        Dataset storage d = _owned(datasetId);
        d.retired = true;
        emit DatasetRetired(datasetId);
    }

    /// @notice A committee node confirms it received and verified its shares. Only a node that
    ///         acknowledged a dataset can be slashed on, or sign, evidence about its committee: the
    ///         owner picks the committee (the chain cannot recompute the blake3 placement), so a
    ///         node acknowledges only a committee that is the placement rule's at
    ///         `committeeEpoch`, and an owner cannot put a victim next to puppets.
    function acknowledgeDataset(bytes32 datasetId, bytes32 receiptHash) external {
        Dataset storage d = datasets[datasetId];
        if (d.owner == address(0)) revert UnknownDataset(datasetId);
        if (d.retired) revert DatasetIsRetired(datasetId);
        if (!inCommittee[datasetId][msg.sender]) revert NotCommitteeMember(datasetId, msg.sender);
        if (acknowledged[datasetId][msg.sender]) revert AlreadyAcknowledged(datasetId, msg.sender);
        acknowledged[datasetId][msg.sender] = true;
        emit DatasetAcknowledged(datasetId, msg.sender, receiptHash);
    }

    function _owned(bytes32 datasetId) private view returns (Dataset storage d) {
        d = datasets[datasetId];
        if (d.owner == address(0)) revert UnknownDataset(datasetId);
        if (d.owner != msg.sender) revert NotDatasetOwner(datasetId, msg.sender);
        if (d.retired) revert DatasetIsRetired(datasetId);
    }

    /// @notice The whole record of a dataset (owner is zero if unknown).
    function getDataset(bytes32 datasetId) external view returns (Dataset memory) {
        return datasets[datasetId];
    }

    /// @notice Owner and retired flag (cheap checks for the other contracts).
    function ownerOf(bytes32 datasetId) external view returns (address owner, bool retired) {
        Dataset storage d = datasets[datasetId];
        return (d.owner, d.retired);
    }

    /// @notice The committee holding a dataset's shares and its threshold.
    function committeeOf(bytes32 datasetId)
        external
        view
        returns (address[] memory committee, uint8 threshold)
    {
        Dataset storage d = datasets[datasetId];
        if (d.owner == address(0)) revert UnknownDataset(datasetId);
        return (d.committee, d.threshold);
    }

    /// @notice Whether `node` acknowledged holding its shares of `datasetId`.
    function hasAcknowledged(bytes32 datasetId, address node) external view returns (bool) {
        return acknowledged[datasetId][node];
    }

    /// @notice Whether `node` is in the committee of `datasetId`.
    function isCommitteeMember(bytes32 datasetId, address node) external view returns (bool) {
        return inCommittee[datasetId][node];
    }
}
