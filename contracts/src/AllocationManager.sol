// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import "./Types.sol";

/// @title Devnet AllocationManager
/// @notice Operator sets, their members, the AVS registrar pointer and each member's stake weight.
/// @dev EigenLayer-identical views: getMembers, getMemberCount, isMemberOfOperatorSet,
/// isOperatorSet, getAVSRegistrar. Devnet simplification: the AVS itself adds and removes members
/// and sets weights (EigenLayer derives weights from delegated, allocated, slashable stake and lets
/// operators register themselves through the AVS registrar).
contract AllocationManager {
    using OperatorSetLib for OperatorSet;

    error OnlyAVS();
    error OperatorSetDoesNotExist();
    error OperatorSetAlreadyExists();
    error AlreadyMember();
    error NotMember();

    event AVSRegistrarSet(address avs, address registrar);
    event OperatorSetCreated(OperatorSet operatorSet);
    event OperatorAddedToOperatorSet(address indexed operator, OperatorSet operatorSet);
    event OperatorRemovedFromOperatorSet(address indexed operator, OperatorSet operatorSet);
    event OperatorWeightSet(address indexed operator, OperatorSet operatorSet, uint256 weight);

    mapping(address => address) internal _registrars;
    mapping(bytes32 => bool) internal _exists;
    mapping(bytes32 => address[]) internal _members;
    mapping(bytes32 => mapping(address => uint256)) internal _memberSlot; // index + 1; 0 = not a member
    mapping(bytes32 => mapping(address => uint256)) internal _weights;

    modifier onlyAVS(address avs) {
        if (msg.sender != avs) revert OnlyAVS();
        _;
    }

    // ---------------------------------------------------------------- devnet administration

    function setAVSRegistrar(address avs, address registrar) external onlyAVS(avs) {
        _registrars[avs] = registrar;
        emit AVSRegistrarSet(avs, registrar);
    }

    function createOperatorSet(OperatorSet calldata operatorSet) external onlyAVS(operatorSet.avs) {
        bytes32 key = operatorSet.key();
        if (_exists[key]) revert OperatorSetAlreadyExists();
        _exists[key] = true;
        emit OperatorSetCreated(operatorSet);
    }

    function addOperatorToSet(OperatorSet calldata operatorSet, address operator, uint256 weight)
        external
        onlyAVS(operatorSet.avs)
    {
        bytes32 key = operatorSet.key();
        if (!_exists[key]) revert OperatorSetDoesNotExist();
        if (_memberSlot[key][operator] != 0) revert AlreadyMember();
        _members[key].push(operator);
        _memberSlot[key][operator] = _members[key].length;
        _weights[key][operator] = weight;
        emit OperatorAddedToOperatorSet(operator, operatorSet);
        emit OperatorWeightSet(operator, operatorSet, weight);
    }

    function removeOperatorFromSet(OperatorSet calldata operatorSet, address operator)
        external
        onlyAVS(operatorSet.avs)
    {
        bytes32 key = operatorSet.key();
        uint256 slot = _memberSlot[key][operator];
        if (slot == 0) revert NotMember();
        address[] storage members = _members[key];
        address last = members[members.length - 1];
        members[slot - 1] = last;
        _memberSlot[key][last] = slot;
        members.pop();
        delete _memberSlot[key][operator];
        delete _weights[key][operator];
        emit OperatorRemovedFromOperatorSet(operator, operatorSet);
    }

    function setOperatorWeight(OperatorSet calldata operatorSet, address operator, uint256 weight)
        external
        onlyAVS(operatorSet.avs)
    {
        bytes32 key = operatorSet.key();
        if (_memberSlot[key][operator] == 0) revert NotMember();
        _weights[key][operator] = weight;
        emit OperatorWeightSet(operator, operatorSet, weight);
    }

    // ---------------------------------------------------------------- EigenLayer views

    function getAVSRegistrar(address avs) external view returns (address) {
        address registrar = _registrars[avs];
        return registrar == address(0) ? avs : registrar;
    }

    function getMembers(OperatorSet memory operatorSet) external view returns (address[] memory) {
        return _members[operatorSet.key()];
    }

    function getMemberCount(OperatorSet memory operatorSet) external view returns (uint256) {
        return _members[operatorSet.key()].length;
    }

    function isMemberOfOperatorSet(address operator, OperatorSet memory operatorSet) external view returns (bool) {
        return _memberSlot[operatorSet.key()][operator] != 0;
    }

    function isOperatorSet(OperatorSet memory operatorSet) external view returns (bool) {
        return _exists[operatorSet.key()];
    }

    // ---------------------------------------------------------------- devnet view

    /// @notice The member's stake weight in the set (what the table calculators read).
    function operatorWeight(OperatorSet memory operatorSet, address operator) external view returns (uint256) {
        return _weights[operatorSet.key()][operator];
    }
}
