// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import "./Types.sol";

/// @title Devnet TaskAVSRegistrar
/// @notice Hourglass's ITaskAVSRegistrarBase views: getAVS, getAvsConfig (aggregator and executor
/// operator set ids), getOperatorSocket. Devnet simplification: no registration callbacks from
/// the AllocationManager; the AVS (or the operator) sets sockets with updateOperatorSocket.
contract TaskAVSRegistrar {
    error OnlyAVS();
    error OnlyAVSOrOperator();
    error InvalidAvsConfig();

    event AvsConfigSet(uint32 aggregatorOperatorSetId, uint32[] executorOperatorSetIds);
    event OperatorSocketSet(address indexed operator, string socket);

    address internal immutable _avs;
    AvsConfig internal _avsConfig;
    mapping(address => string) internal _sockets;

    constructor(address avs, AvsConfig memory config) {
        _avs = avs;
        _setAvsConfig(config);
    }

    function setAvsConfig(AvsConfig memory config) external {
        if (msg.sender != _avs) revert OnlyAVS();
        _setAvsConfig(config);
    }

    /// @dev As Hourglass: at least one executor set, ids strictly increasing, none equal to the
    /// aggregator set.
    function _setAvsConfig(AvsConfig memory config) internal {
        uint32[] memory ids = config.executorOperatorSetIds;
        if (ids.length == 0) revert InvalidAvsConfig();
        for (uint256 i = 0; i < ids.length; i++) {
            if (ids[i] == config.aggregatorOperatorSetId) revert InvalidAvsConfig();
            if (i > 0 && ids[i] <= ids[i - 1]) revert InvalidAvsConfig();
        }
        _avsConfig = config;
        emit AvsConfigSet(config.aggregatorOperatorSetId, ids);
    }

    function updateOperatorSocket(address operator, string memory socket) external {
        if (msg.sender != _avs && msg.sender != operator) revert OnlyAVSOrOperator();
        _sockets[operator] = socket;
        emit OperatorSocketSet(operator, socket);
    }

    function getAVS() external view returns (address) {
        return _avs;
    }

    function supportsAVS(address avs) external view returns (bool) {
        return avs == _avs;
    }

    function getAvsConfig() external view returns (AvsConfig memory) {
        return _avsConfig;
    }

    function getOperatorSocket(address operator) external view returns (string memory) {
        return _sockets[operator];
    }
}
