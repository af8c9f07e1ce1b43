// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @notice The node registry calls this test helper makes.
interface IRegistryForTest {
    function register(bytes32 peerKey, string calldata networkAddress) external payable;
    function requestExit() external;
    function withdrawStake() external;
    function withdraw() external;
}

/// @title TEST ONLY: a node operated by a contract, to exercise withdrawals to a contract that
///        refuses ether (mode 1) or tries to re-enter `withdraw` (mode 2). Never deployed outside tests.
contract TestReceiver {
    IRegistryForTest public immutable target;
    uint8 public mode;
    bytes public lastRevert;

    constructor(IRegistryForTest target_) {
        target = target_;
    }

    function setMode(uint8 m) external {
        mode = m;
    }

    function register(bytes32 peerKey, string calldata networkAddress) external payable {
        target.register{value: msg.value}(peerKey, networkAddress);
    }

    function requestExit() external {
        target.requestExit();
    }

    function withdrawStake() external {
        target.withdrawStake();
    }

    function withdraw() external {
        target.withdraw();
    }

    receive() external payable {
        if (mode == 1) revert("TestReceiver: rejecting ether");
        if (mode == 2) {
            try target.withdraw() {} catch (bytes memory r) {
                lastRevert = r;
            }
        }
    }
}
