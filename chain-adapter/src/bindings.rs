//! ABI bindings generated at compile time from the committed contract artifacts
//! (`contracts/artifacts/*.json`), shared by both back-ends so that they encode, decode and deploy
//! exactly the same thing.
#![allow(missing_docs, clippy::too_many_arguments)]

alloy::sol!(
    #[derive(Debug, PartialEq, Eq)]
    NodeRegistry,
    "../contracts/artifacts/NodeRegistry.json"
);
alloy::sol!(
    #[derive(Debug, PartialEq, Eq)]
    DatasetRegistry,
    "../contracts/artifacts/DatasetRegistry.json"
);
alloy::sol!(
    #[derive(Debug, PartialEq, Eq)]
    AccessGrants,
    "../contracts/artifacts/AccessGrants.json"
);
alloy::sol!(
    #[derive(Debug, PartialEq, Eq)]
    JobMarket,
    "../contracts/artifacts/JobMarket.json"
);
alloy::sol!(
    #[derive(Debug, PartialEq, Eq)]
    ISharenetErrors,
    "../contracts/artifacts/ISharenetErrors.json"
);

/// The EIP-712 struct committee members sign to approve a slash (must match `SLASH_TYPEHASH`
/// in `NodeRegistry.sol`; a test checks the digest against the contract's own).
pub mod eip712 {
    alloy::sol! {
        #[derive(Debug, PartialEq, Eq)]
        struct Slash {
            address node;
            uint256 amount;
            bytes32 evidenceHash;
            bytes32 datasetId;
            address reporter;
            uint64 deadline;
        }
    }
}

alloy::sol!(
    /// TEST ONLY: a node operated by a contract (refuses ether or re-enters `withdraw`), used by
    /// the tests of the pull-payment guards. Never deploy it outside tests.
    #[derive(Debug, PartialEq, Eq)]
    TestReceiver,
    "../contracts/artifacts/TestReceiver.json"
);
