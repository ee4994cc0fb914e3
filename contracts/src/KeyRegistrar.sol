// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import "./Types.sol";

/// @title Devnet KeyRegistrar
/// @notice Per operator set curve type and per operator signing keys.
/// @dev EigenLayer-identical: configureOperatorSet, registerKey, deregisterKey, isRegistered,
/// getOperatorSetCurveType, getBN254Key, getECDSAKey, getECDSAAddress. Key formats as EigenLayer:
/// ECDSA keyData is the 20-byte signing address, BN254 keyData is abi.encode(G1 x, G1 y, G2 X[2], G2 Y[2]).
/// Devnet simplification: registerKey ignores `signature` (EigenLayer checks an ECDSA or BN254
/// proof of possession) and may be called by the AVS as well as by the operator.
contract KeyRegistrar {
    using OperatorSetLib for OperatorSet;

    error OnlyAVSOrOperator();
    error ConfigurationAlreadySet();
    error OperatorSetNotConfigured();
    error InvalidCurveType();
    error InvalidKeyFormat();
    error KeyAlreadyRegistered();
    error KeyNotFound(OperatorSet operatorSet, address operator);

    event OperatorSetConfigured(OperatorSet operatorSet, CurveType curveType);
    event KeyRegistered(OperatorSet operatorSet, address indexed operator, CurveType curveType, bytes pubkey);
    event KeyDeregistered(OperatorSet operatorSet, address indexed operator, CurveType curveType);

    mapping(bytes32 => CurveType) internal _curveTypes;
    mapping(bytes32 => mapping(address => bytes)) internal _keys;

    function configureOperatorSet(OperatorSet memory operatorSet, CurveType curveType) external {
        if (msg.sender != operatorSet.avs) revert OnlyAVSOrOperator();
        if (curveType == CurveType.NONE) revert InvalidCurveType();
        bytes32 key = operatorSet.key();
        if (_curveTypes[key] != CurveType.NONE) revert ConfigurationAlreadySet();
        _curveTypes[key] = curveType;
        emit OperatorSetConfigured(operatorSet, curveType);
    }

    function registerKey(address operator, OperatorSet memory operatorSet, bytes calldata pubkey, bytes calldata)
        external
    {
        if (msg.sender != operator && msg.sender != operatorSet.avs) revert OnlyAVSOrOperator();
        bytes32 key = operatorSet.key();
        CurveType curveType = _curveTypes[key];
        if (curveType == CurveType.NONE) revert OperatorSetNotConfigured();
        if (_keys[key][operator].length != 0) revert KeyAlreadyRegistered();
        if (curveType == CurveType.ECDSA) {
            if (pubkey.length != 20 || bytes20(pubkey) == bytes20(0)) revert InvalidKeyFormat();
        } else {
            if (pubkey.length != 192) revert InvalidKeyFormat();
        }
        _keys[key][operator] = pubkey;
        emit KeyRegistered(operatorSet, operator, curveType, pubkey);
    }

    function deregisterKey(address operator, OperatorSet memory operatorSet) external {
        if (msg.sender != operatorSet.avs) revert OnlyAVSOrOperator();
        bytes32 key = operatorSet.key();
        if (_keys[key][operator].length == 0) revert KeyNotFound(operatorSet, operator);
        delete _keys[key][operator];
        emit KeyDeregistered(operatorSet, operator, _curveTypes[key]);
    }

    function isRegistered(OperatorSet memory operatorSet, address operator) external view returns (bool) {
        return _keys[operatorSet.key()][operator].length != 0;
    }

    function getOperatorSetCurveType(OperatorSet memory operatorSet) external view returns (CurveType) {
        return _curveTypes[operatorSet.key()];
    }

    function getBN254Key(OperatorSet memory operatorSet, address operator)
        external
        view
        returns (G1Point memory g1Point, G2Point memory g2Point)
    {
        bytes32 key = operatorSet.key();
        if (_curveTypes[key] != CurveType.BN254) revert InvalidCurveType();
        bytes memory data = _keys[key][operator];
        if (data.length == 0) {
            return (g1Point, g2Point);
        }
        (uint256 x, uint256 y, uint256[2] memory gx, uint256[2] memory gy) =
            abi.decode(data, (uint256, uint256, uint256[2], uint256[2]));
        return (G1Point(x, y), G2Point(gx, gy));
    }

    function getECDSAKey(OperatorSet memory operatorSet, address operator) public view returns (bytes memory) {
        bytes32 key = operatorSet.key();
        if (_curveTypes[key] != CurveType.ECDSA) revert InvalidCurveType();
        return _keys[key][operator];
    }

    function getECDSAAddress(OperatorSet memory operatorSet, address operator) external view returns (address) {
        return address(bytes20(getECDSAKey(operatorSet, operator)));
    }
}
