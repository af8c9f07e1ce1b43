// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Every custom error the sharenet contracts revert with.
/// @notice One shared list so that the Rust side decodes any revert with one ABI, and so that an
///         error raised in one contract and bubbled up through another keeps its meaning.
interface ISharenetErrors {
    // ---- wiring (one-time links between contracts, set by the deployer) ----
    error NotDeployer(address caller);
    error AlreadyLinked();
    error NotLinked();
    error NotJobMarket(address caller);

    // ---- pull payments ----
    error NothingToWithdraw(address account);
    error TransferFailed(address account, uint256 amount);
    error Reentrancy();

    // ---- node registry ----
    error AlreadyRegistered(address account);
    error PeerKeyTaken(bytes32 peerKey, address owner);
    error ZeroPeerKey();
    error BadNetworkAddress(uint256 length);
    error DepositTooLow(uint256 sent, uint256 minimum);
    error NotRegistered(address account);
    error ZeroValue();
    error BadRewardBps(uint256 bps);
    error AlreadyExiting(address account);
    error NotExiting(address account);
    error UnbondingNotOver(uint64 readyAt, uint64 nowTs);

    // ---- slashing ----
    error ZeroSlashAmount();
    error NothingToSlash(address node);
    error AlreadySlashedOn(address node, bytes32 datasetId);
    error BadEvidenceLength(uint256 length);
    error ZeroReporter();
    error SlashExpired(uint64 deadline, uint64 nowTs);
    error AccusedNotInCommittee(address node, bytes32 datasetId);
    error AccusedHasNotAcknowledged(address node, bytes32 datasetId);
    error BadSignatureLength(uint256 index, uint256 length);
    error BadSignatureV(uint256 index, uint8 v);
    error SignatureSUpperHalf(uint256 index);
    error InvalidSignature(uint256 index);
    error DuplicateSigner(uint256 index, address signer);
    error SignerNotInCommittee(uint256 index, address signer);
    error SignerHasNotAcknowledged(uint256 index, address signer);
    error SignerIsAccused(uint256 index);
    error InsufficientSignatures(uint256 valid, uint256 required);

    // ---- dataset registry ----
    error ZeroPoolKey();
    error BadPoolName(uint256 length);
    error DatasetExists(bytes32 datasetId);
    error StaleCommitteeEpoch(uint64 committeeEpoch, uint64 current);
    error UnknownDataset(bytes32 datasetId);
    error NotDatasetOwner(bytes32 datasetId, address caller);
    error DatasetIsRetired(bytes32 datasetId);
    error RowCountNotIncreasing(uint64 current, uint64 proposed);
    error BadCommitteeSize(uint256 size);
    error BadThreshold(uint8 threshold, uint256 committeeSize);
    error CommitteeMemberNotActive(address member);
    error DuplicateCommitteeMember(address member);
    error NotCommitteeMember(bytes32 datasetId, address caller);
    error AlreadyAcknowledged(bytes32 datasetId, address node);

    // ---- access grants ----
    error ZeroGrantee();
    error BadDatasetCount(uint256 count);
    error TooManyProgramHashes(uint256 count);
    error NothingAllowed();
    error ExpiryInPast(uint64 expiry, uint64 nowTs);
    error ZeroMaxQueries();
    error UnknownGrant(uint256 grantId);
    error NotGrantOwner(uint256 grantId, address caller);
    error GrantAlreadyRevoked(uint256 grantId);
    error BadDelegate(address delegate);
    error GrantRevoked(uint256 grantId);
    error NotGrantee(uint256 grantId, address caller);
    error GrantExpired(uint256 grantId, uint64 expiry);
    error GrantExhausted(uint256 grantId, uint32 maxQueries);
    error DatasetNotInGrant(uint256 grantId, bytes32 datasetId);
    error QueryNotAllowed(uint256 grantId, uint8 kind, bytes32 programHash);

    // ---- job market ----
    error ZeroFee();
    error BadQueryKind(uint8 kind);
    error ProgramTooLong(uint256 length);
    error BadOutputKey(uint256 length);
    error BadDeadline(uint64 deadline, uint64 nowTs);
    error CommitteeMismatch(bytes32 datasetId);
    error UnknownJob(uint256 jobId);
    error JobNotOpen(uint256 jobId);
    error DeadlinePassed(uint256 jobId, uint64 deadline);
    error DeadlineNotPassed(uint256 jobId, uint64 deadline);
    error NotInCommittee(uint256 jobId, address node);
    error AlreadyAttested(uint256 jobId, address node);
    error ZeroCommitment();
    error SealingClosed(uint256 jobId);
    error SealingOpen(uint256 jobId, uint256 seals, uint256 needed);
    error NoQuorum(uint256 jobId, uint256 matching, uint256 needed);
}
