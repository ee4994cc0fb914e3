// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import "./Types.sol";

/// @title Devnet CrossChainRegistry
/// @notice Which operator table calculator serves an operator set, and which table updater serves
/// which chain. EigenLayer-identical views: getSupportedChains, getOperatorTableCalculator,
/// getOperatorSetConfig. Devnet simplification: one chain (this one), no generation or transport
/// reservations; the AVS sets its calculator directly.
contract CrossChainRegistry {
    using OperatorSetLib for OperatorSet;

    error OnlyAVS();
    error OnlyDeployer();
    error TableUpdaterAlreadySet();

    event OperatorTableCalculatorSet(OperatorSet operatorSet, address operatorTableCalculator);

    address internal immutable _deployer;
    address internal _tableUpdater;
    mapping(bytes32 => address) internal _calculators;

    constructor() {
        _deployer = msg.sender;
    }

    /// @notice One-time wiring: the updater is deployed after this registry.
    function setTableUpdater(address tableUpdater) external {
        if (msg.sender != _deployer) revert OnlyDeployer();
        if (_tableUpdater != address(0)) revert TableUpdaterAlreadySet();
        _tableUpdater = tableUpdater;
    }

    function setOperatorTableCalculator(OperatorSet calldata operatorSet, address operatorTableCalculator) external {
        if (msg.sender != operatorSet.avs) revert OnlyAVS();
        _calculators[operatorSet.key()] = operatorTableCalculator;
        emit OperatorTableCalculatorSet(operatorSet, operatorTableCalculator);
    }

    function getSupportedChains() external view returns (uint256[] memory chainIds, address[] memory tableUpdaters) {
        chainIds = new uint256[](1);
        tableUpdaters = new address[](1);
        chainIds[0] = block.chainid;
        tableUpdaters[0] = _tableUpdater;
    }

    function getOperatorTableCalculator(OperatorSet memory operatorSet) external view returns (address) {
        return _calculators[operatorSet.key()];
    }

    /// @notice The owner is the AVS; staleness is not enforced on the devnet (0).
    function getOperatorSetConfig(OperatorSet memory operatorSet) external pure returns (OperatorSetConfig memory) {
        return OperatorSetConfig(operatorSet.avs, 0);
    }
}
