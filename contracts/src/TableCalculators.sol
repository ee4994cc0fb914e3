// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import "./Types.sol";
import {BN254} from "./BN254.sol";
import {IAllocationManagerView, IKeyRegistrarView} from "./Interfaces.sol";

/// @title Operator table calculators (ECDSA and BN254)
/// @notice EigenLayer-identical views: getOperatorSetWeights, getOperatorWeight,
/// calculateOperatorTableBytes, getOperatorInfos (and getOperatorSetInfo for BN254).
/// An operator is in the table when it is a member of the set, has a key in the KeyRegistrar and
/// a non-zero weight; the table lists operators in AllocationManager.getMembers order, with one
/// weight type per operator. Devnet simplification: weights are what the AVS set in the
/// AllocationManager, not slashable stake.
abstract contract TableCalculatorBase {
    IAllocationManagerView public immutable allocationManager;
    IKeyRegistrarView public immutable keyRegistrar;

    constructor(IAllocationManagerView _allocationManager, IKeyRegistrarView _keyRegistrar) {
        allocationManager = _allocationManager;
        keyRegistrar = _keyRegistrar;
    }

    function getOperatorSetWeights(OperatorSet calldata operatorSet)
        public
        view
        returns (address[] memory operators, uint256[][] memory weights)
    {
        address[] memory members = allocationManager.getMembers(operatorSet);
        uint256[] memory memberWeights = new uint256[](members.length);
        uint256 count;
        for (uint256 i = 0; i < members.length; i++) {
            uint256 weight = allocationManager.operatorWeight(operatorSet, members[i]);
            if (weight != 0 && keyRegistrar.isRegistered(operatorSet, members[i])) {
                memberWeights[i] = weight;
                count++;
            }
        }
        operators = new address[](count);
        weights = new uint256[][](count);
        uint256 j;
        for (uint256 i = 0; i < members.length; i++) {
            if (memberWeights[i] != 0) {
                operators[j] = members[i];
                weights[j] = new uint256[](1);
                weights[j][0] = memberWeights[i];
                j++;
            }
        }
    }

    function getOperatorWeight(OperatorSet calldata operatorSet, address operator)
        external
        view
        returns (uint256[] memory weights)
    {
        weights = new uint256[](1);
        if (keyRegistrar.isRegistered(operatorSet, operator)) {
            weights[0] = allocationManager.operatorWeight(operatorSet, operator);
        }
    }
}

contract ECDSATableCalculator is TableCalculatorBase {
    constructor(IAllocationManagerView _allocationManager, IKeyRegistrarView _keyRegistrar)
        TableCalculatorBase(_allocationManager, _keyRegistrar)
    {}

    /// @notice One entry per operator in the table: its ECDSA signing address and weights.
    function getOperatorInfos(OperatorSet calldata operatorSet)
        public
        view
        returns (ECDSAOperatorInfo[] memory operatorInfos)
    {
        (address[] memory operators, uint256[][] memory weights) = getOperatorSetWeights(operatorSet);
        operatorInfos = new ECDSAOperatorInfo[](operators.length);
        for (uint256 i = 0; i < operators.length; i++) {
            operatorInfos[i] = ECDSAOperatorInfo(keyRegistrar.getECDSAAddress(operatorSet, operators[i]), weights[i]);
        }
    }

    function calculateOperatorTableBytes(OperatorSet calldata operatorSet) external view returns (bytes memory) {
        return abi.encode(getOperatorInfos(operatorSet));
    }
}

contract BN254TableCalculator is TableCalculatorBase {
    using BN254 for G1Point;

    constructor(IAllocationManagerView _allocationManager, IKeyRegistrarView _keyRegistrar)
        TableCalculatorBase(_allocationManager, _keyRegistrar)
    {}

    /// @notice One entry per operator in the table: its G1 public key and weights. The index of an
    /// operator here is its index in the BN254 verifier's table (for non-signer witnesses).
    function getOperatorInfos(OperatorSet calldata operatorSet)
        public
        view
        returns (BN254OperatorInfo[] memory operatorInfos)
    {
        (address[] memory operators, uint256[][] memory weights) = getOperatorSetWeights(operatorSet);
        operatorInfos = new BN254OperatorInfo[](operators.length);
        for (uint256 i = 0; i < operators.length; i++) {
            (G1Point memory g1,) = keyRegistrar.getBN254Key(operatorSet, operators[i]);
            operatorInfos[i] = BN254OperatorInfo(g1, weights[i]);
        }
    }

    /// @notice Devnet simplification: operatorInfoTreeRoot is keccak256(abi.encode(operatorInfos)),
    /// a flat commitment, not EigenLayer's Merkle root.
    function getOperatorSetInfo(OperatorSet calldata operatorSet) public view returns (BN254OperatorSetInfo memory) {
        BN254OperatorInfo[] memory infos = getOperatorInfos(operatorSet);
        return summarize(infos);
    }

    function calculateOperatorTableBytes(OperatorSet calldata operatorSet) external view returns (bytes memory) {
        return abi.encode(getOperatorSetInfo(operatorSet));
    }

    function summarize(BN254OperatorInfo[] memory infos) public view returns (BN254OperatorSetInfo memory info) {
        info.operatorInfoTreeRoot = keccak256(abi.encode(infos));
        info.numOperators = infos.length;
        info.totalWeights = new uint256[](1);
        for (uint256 i = 0; i < infos.length; i++) {
            info.aggregatePubkey = info.aggregatePubkey.plus(infos[i].pubkey);
            info.totalWeights[0] += infos[i].weights[0];
        }
    }
}
