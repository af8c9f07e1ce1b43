//! The node's TOML configuration file (`node/src/config.rs`, `NodeConfig::load`), read from
//! disk with a valid contract address file beside it. Never panics; a configuration that loads
//! has at least one listen address, a non-zero request timeout and a poll interval of at least
//! 50 ms.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sharenet_node::config::NodeConfig;

const CONTRACTS: &str = r#"{
  "node_registry": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  "dataset_registry": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
  "access_grants": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
  "job_market": "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9"
}"#;

/// A directory of this process holding `contracts.json` (in memory where `/dev/shm` exists);
/// `None` if it cannot be made.
fn dir() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("sharenet-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        std::fs::write(dir.join("contracts.json"), CONTRACTS).ok()?;
        Some(dir)
    })
    .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Some(dir) = dir() else {
        return;
    };
    let path = dir.join("node.toml");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(config) = NodeConfig::load(&path) {
        assert!(!config.listen.is_empty());
        assert!(!config.request_timeout.is_zero());
        assert!(config.poll.as_millis() >= 50);
    }
});
