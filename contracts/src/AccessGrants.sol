// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ISharenetErrors} from "./Errors.sol";

/// @notice What the grants need from the dataset registry.
interface IDatasetOwners {
    /// @notice Owner (zero if unknown) and retired flag of a dataset.
    function ownerOf(bytes32 datasetId) external view returns (address owner, bool retired);
}

/// @title Access grants: a dataset owner lets a grantee run some queries on some datasets.
contract AccessGrants is ISharenetErrors {
    /// @notice Most datasets in one grant (and in one job).
    uint256 public constant MAX_DATASETS = 16;
    /// @notice Most exact program hashes in one grant.
    uint256 public constant MAX_PROGRAM_HASHES = 16;

    /// @notice Why a query may or may not run (`Ok` means it may).
    enum Verdict {
        Ok,
        UnknownGrant,
        Revoked,
        NotGrantee,
        Expired,
        Exhausted,
        DatasetNotInGrant,
        QueryNotAllowed,
        BadQueryKind
    }

    /// @notice A grant.
    struct Grant {
        address owner;
        address grantee;
        uint64 expiry;
        uint64 kinds;
        uint32 maxQueries;
        uint32 used;
        bool revoked;
        bytes32[] datasetIds;
        bytes32[] programHashes;
    }

    /// @notice The dataset registry whose owners grant access.
    IDatasetOwners public immutable datasets;
    address private immutable deployer;
    /// @notice The job market, the only caller allowed to consume queries (linked once).
    address public jobMarket;
    /// @notice Number of grants made; grant ids are 1..grantCount.
    uint256 public grantCount;
    mapping(uint256 => Grant) private grants;
    /// @notice `grantDelegate[d][a]`: the owner of dataset `d` lets account `a` grant access to it
    ///         (e.g. a consortium's lead grants a researcher access to every member's dataset in
    ///         one grant). The owner can still revoke any grant that covers its dataset.
    mapping(bytes32 => mapping(address => bool)) public grantDelegate;

    /// @notice A grant was made. `kinds` is a bit set of allowed query kinds.
    event AccessGranted(
        uint256 indexed grantId,
        address indexed owner,
        address indexed grantee,
        bytes32[] datasetIds,
        uint64 kinds,
        bytes32[] programHashes,
        uint64 expiry,
        uint32 maxQueries
    );
    /// @notice A grant was revoked.
    event AccessRevoked(uint256 indexed grantId);
    /// @notice One query of a grant was used by job `jobId`.
    event QueryConsumed(uint256 indexed grantId, uint256 indexed jobId, uint32 used);
    /// @notice The owner of `datasetId` let `delegate` grant access to it (`allowed`), or withdrew that.
    event GrantDelegateSet(bytes32 indexed datasetId, address indexed owner, address indexed delegate, bool allowed);
    /// @notice The job market was linked.
    event Linked(address jobMarket);

    constructor(IDatasetOwners datasets_) {
        datasets = datasets_;
        deployer = msg.sender;
    }

    /// @notice Link the job market, once, by the deployer.
    function linkJobMarket(address jobMarket_) external {
        if (msg.sender != deployer) revert NotDeployer(msg.sender);
        if (jobMarket != address(0)) revert AlreadyLinked();
        jobMarket = jobMarket_;
        emit Linked(jobMarket_);
    }

    /// @notice Let `delegate` grant access to `datasetId` (owner only); `allowed = false` withdraws
    ///         it (grants already made stay until revoked).
    function setGrantDelegate(bytes32 datasetId, address delegate, bool allowed) external {
        (address owner,) = datasets.ownerOf(datasetId);
        if (owner == address(0)) revert UnknownDataset(datasetId);
        if (owner != msg.sender) revert NotDatasetOwner(datasetId, msg.sender);
        if (delegate == address(0) || delegate == msg.sender) revert BadDelegate(delegate);
        grantDelegate[datasetId][delegate] = allowed;
        emit GrantDelegateSet(datasetId, msg.sender, delegate, allowed);
    }

    /// @notice Grant `grantee` up to `maxQueries` queries until `expiry` on datasets the caller owns
    ///         or is a grant delegate of.
    ///         A query is allowed if its kind's bit is set in `kinds` or its program hash is listed.
    function grant(
        address grantee,
        bytes32[] calldata datasetIds,
        uint64 kinds,
        bytes32[] calldata programHashes,
        uint64 expiry,
        uint32 maxQueries
    ) external returns (uint256 grantId) {
        if (grantee == address(0)) revert ZeroGrantee();
        uint256 nd = datasetIds.length;
        if (nd == 0 || nd > MAX_DATASETS) revert BadDatasetCount(nd);
        if (programHashes.length > MAX_PROGRAM_HASHES) revert TooManyProgramHashes(programHashes.length);
        if (kinds == 0 && programHashes.length == 0) revert NothingAllowed();
        if (expiry <= block.timestamp) revert ExpiryInPast(expiry, uint64(block.timestamp));
        if (maxQueries == 0) revert ZeroMaxQueries();
        for (uint256 i = 0; i < nd; i++) {
            (address owner, bool retired) = datasets.ownerOf(datasetIds[i]);
            if (owner == address(0)) revert UnknownDataset(datasetIds[i]);
            if (owner != msg.sender && !grantDelegate[datasetIds[i]][msg.sender]) {
                revert NotDatasetOwner(datasetIds[i], msg.sender);
            }
            if (retired) revert DatasetIsRetired(datasetIds[i]);
        }
        grantId = ++grantCount;
        Grant storage g = grants[grantId];
        g.owner = msg.sender;
        g.grantee = grantee;
        g.expiry = expiry;
        g.kinds = kinds;
        g.maxQueries = maxQueries;
        g.datasetIds = datasetIds;
        g.programHashes = programHashes;
        emit AccessGranted(grantId, msg.sender, grantee, datasetIds, kinds, programHashes, expiry, maxQueries);
    }

    /// @notice Revoke a grant (by its owner, or by the owner of any dataset it covers); jobs already
    ///         submitted are not affected.
    function revoke(uint256 grantId) external {
        Grant storage g = grants[grantId];
        if (g.owner == address(0)) revert UnknownGrant(grantId);
        if (g.owner != msg.sender && !_ownsAny(g.datasetIds, msg.sender)) revert NotGrantOwner(grantId, msg.sender);
        if (g.revoked) revert GrantAlreadyRevoked(grantId);
        g.revoked = true;
        emit AccessRevoked(grantId);
    }

    /// @notice May `who` now run a query of `kind` (or program `programHash`) on `datasetIds` under `grantId`?
    function check(
        uint256 grantId,
        address who,
        bytes32[] calldata datasetIds,
        uint8 kind,
        bytes32 programHash
    ) public view returns (Verdict verdict, bytes32 offendingDataset) {
        Grant storage g = grants[grantId];
        if (g.owner == address(0)) return (Verdict.UnknownGrant, 0);
        if (g.revoked) return (Verdict.Revoked, 0);
        if (g.grantee != who) return (Verdict.NotGrantee, 0);
        if (block.timestamp >= g.expiry) return (Verdict.Expired, 0);
        if (g.used >= g.maxQueries) return (Verdict.Exhausted, 0);
        if (kind >= 64) return (Verdict.BadQueryKind, 0);
        for (uint256 i = 0; i < datasetIds.length; i++) {
            if (!_contains(g.datasetIds, datasetIds[i])) return (Verdict.DatasetNotInGrant, datasetIds[i]);
        }
        if ((g.kinds >> kind) & 1 == 0 && !_contains(g.programHashes, programHash)) {
            return (Verdict.QueryNotAllowed, 0);
        }
        return (Verdict.Ok, 0);
    }

    /// @notice Use one query of a grant for job `jobId`; reverts with the reason if not allowed.
    function consume(
        uint256 grantId,
        address who,
        bytes32[] calldata datasetIds,
        uint8 kind,
        bytes32 programHash,
        uint256 jobId
    ) external {
        if (msg.sender != jobMarket) revert NotJobMarket(msg.sender);
        (Verdict v, bytes32 ds) = check(grantId, who, datasetIds, kind, programHash);
        Grant storage g = grants[grantId];
        if (v == Verdict.UnknownGrant) revert UnknownGrant(grantId);
        if (v == Verdict.Revoked) revert GrantRevoked(grantId);
        if (v == Verdict.NotGrantee) revert NotGrantee(grantId, who);
        if (v == Verdict.Expired) revert GrantExpired(grantId, g.expiry);
        if (v == Verdict.Exhausted) revert GrantExhausted(grantId, g.maxQueries);
        if (v == Verdict.BadQueryKind) revert BadQueryKind(kind);
        if (v == Verdict.DatasetNotInGrant) revert DatasetNotInGrant(grantId, ds);
        if (v == Verdict.QueryNotAllowed) revert QueryNotAllowed(grantId, kind, programHash);
        g.used += 1;
        emit QueryConsumed(grantId, jobId, g.used);
    }

    /// @notice The whole record of a grant (owner is zero if unknown).
    function getGrant(uint256 grantId) external view returns (Grant memory) {
        return grants[grantId];
    }

    function _ownsAny(bytes32[] storage list, address who) private view returns (bool) {
        for (uint256 i = 0; i < list.length; i++) {
            (address owner,) = datasets.ownerOf(list[i]);
            if (owner == who) return true;
        }
        return false;
    }

    function _contains(bytes32[] storage list, bytes32 x) private view returns (bool) {
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i] == x) return true;
        }
        return false;
    }
}
