// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import "./Types.sol";

/// @title Devnet AVSTaskHook: EigenLayer's IAVSTaskHook that accepts every task and charges no fee.
contract AVSTaskHook {
    function validatePreTaskCreation(address, TaskParams memory) external view {}

    function handlePostTaskCreation(bytes32) external {}

    function validatePreTaskResultSubmission(address, bytes32, bytes memory, bytes memory) external view {}

    function handlePostTaskResultSubmission(address, bytes32) external {}

    function calculateTaskFee(TaskParams memory) external pure returns (uint96) {
        return 0;
    }
}
