// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ISharenetErrors} from "./Errors.sol";

/// @title Credits withdrawn by their owner (pull), never pushed.
/// @notice Pushing ether to an address lets that address's code run in the middle of our state
///         change, and lets a contract that refuses ether block everyone else's payout; so every
///         payout, refund and stake release is credited here and withdrawn by its owner.
abstract contract PullPayments is ISharenetErrors {
    /// @notice Amount each account may withdraw.
    mapping(address => uint256) public balanceOf;
    /// @notice Sum of all credits not yet withdrawn (so the contract's books can be checked).
    uint256 public totalCredited;
    uint256 private locked = 1;

    /// @notice An account was credited (payout, refund, released stake, reward).
    event Credited(address indexed account, uint256 amount, uint256 newBalance);
    /// @notice An account withdrew its whole balance.
    event Withdrawn(address indexed account, uint256 amount);

    function _credit(address account, uint256 amount) internal {
        if (amount == 0) return;
        uint256 nb = balanceOf[account] + amount;
        balanceOf[account] = nb;
        totalCredited += amount;
        emit Credited(account, amount, nb);
    }

    /// @notice Withdraw the caller's whole balance.
    function withdraw() external {
        // A guard on top of checks-effects-interactions: a second entry is refused even if a
        // later change reorders the body.
        if (locked != 1) revert Reentrancy();
        locked = 2;
        uint256 amount = balanceOf[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        balanceOf[msg.sender] = 0;
        totalCredited -= amount;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
        locked = 1;
    }
}
