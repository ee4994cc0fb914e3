// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import "./Types.sol";
import {
    IKeyRegistrarView,
    ICrossChainRegistryView,
    IECDSATableCalculatorView,
    IBN254TableCalculatorView,
    IECDSACertificateVerifierCalls,
    IBN254CertificateVerifierCalls
} from "./Interfaces.sol";

/// @title Devnet OperatorTableUpdater
/// @notice Publishes operator tables into the certificate verifiers and records reference timestamps.
/// @dev EigenLayer-identical views: getLatestReferenceTimestamp, getLatestReferenceBlockNumber,
/// getReferenceBlockNumberByTimestamp, getReferenceTimestampByBlockNumber, isRootValidByTimestamp,
/// getCertificateVerifier. Devnet simplification: there is no global table root and no
/// certificate over it; `publishOperatorTables` (called by the AVS whenever members, keys or
/// weights change) computes each set's table from its calculator and writes it into the verifier
/// of the set's curve. All sets in one call share one reference timestamp, which is
/// max(block.timestamp, previous reference timestamp + 1), so reference timestamps are unique and
/// strictly increasing even when anvil mines several blocks within one second.
contract OperatorTableUpdater {
    error OnlyDeployer();
    error OnlyAVS();
    error VerifiersAlreadySet();
    error InvalidCurveType();
    error NoCalculator(OperatorSet operatorSet);

    event OperatorTablePublished(OperatorSet operatorSet, uint32 referenceTimestamp, uint32 referenceBlockNumber);

    address internal immutable _deployer;
    IKeyRegistrarView public immutable keyRegistrar;
    ICrossChainRegistryView public immutable crossChainRegistry;
    address public ecdsaCertificateVerifier;
    address public bn254CertificateVerifier;

    uint32 internal _latestReferenceTimestamp;
    mapping(uint32 => uint32) internal _referenceBlockNumbers;
    mapping(uint32 => uint32) internal _referenceTimestamps;

    constructor(IKeyRegistrarView _keyRegistrar, ICrossChainRegistryView _crossChainRegistry) {
        _deployer = msg.sender;
        keyRegistrar = _keyRegistrar;
        crossChainRegistry = _crossChainRegistry;
    }

    /// @notice One-time wiring: the verifiers are deployed after this updater (they know its address).
    function setCertificateVerifiers(address ecdsaVerifier, address bn254Verifier) external {
        if (msg.sender != _deployer) revert OnlyDeployer();
        if (ecdsaCertificateVerifier != address(0)) revert VerifiersAlreadySet();
        ecdsaCertificateVerifier = ecdsaVerifier;
        bn254CertificateVerifier = bn254Verifier;
    }

    /// @notice Publish the current tables of `operatorSets` (all of one AVS, the caller).
    /// @return referenceTimestamp the reference timestamp of the new tables
    function publishOperatorTables(OperatorSet[] calldata operatorSets) external returns (uint32 referenceTimestamp) {
        referenceTimestamp = uint32(block.timestamp);
        if (referenceTimestamp <= _latestReferenceTimestamp) {
            referenceTimestamp = _latestReferenceTimestamp + 1;
        }
        _latestReferenceTimestamp = referenceTimestamp;
        _referenceBlockNumbers[referenceTimestamp] = uint32(block.number);
        _referenceTimestamps[uint32(block.number)] = referenceTimestamp;
        for (uint256 i = 0; i < operatorSets.length; i++) {
            OperatorSet calldata operatorSet = operatorSets[i];
            if (msg.sender != operatorSet.avs) revert OnlyAVS();
            _publish(operatorSet, referenceTimestamp);
            emit OperatorTablePublished(operatorSet, referenceTimestamp, uint32(block.number));
        }
    }

    function _publish(OperatorSet calldata operatorSet, uint32 referenceTimestamp) internal {
        address calculator = crossChainRegistry.getOperatorTableCalculator(operatorSet);
        if (calculator == address(0)) revert NoCalculator(operatorSet);
        OperatorSetConfig memory config = OperatorSetConfig(operatorSet.avs, 0);
        CurveType curveType = keyRegistrar.getOperatorSetCurveType(operatorSet);
        if (curveType == CurveType.ECDSA) {
            ECDSAOperatorInfo[] memory infos = IECDSATableCalculatorView(calculator).getOperatorInfos(operatorSet);
            IECDSACertificateVerifierCalls(ecdsaCertificateVerifier).updateOperatorTable(
                operatorSet, referenceTimestamp, infos, config
            );
        } else if (curveType == CurveType.BN254) {
            BN254OperatorInfo[] memory infos = IBN254TableCalculatorView(calculator).getOperatorInfos(operatorSet);
            BN254OperatorSetInfo memory setInfo = IBN254TableCalculatorView(calculator).summarize(infos);
            IBN254CertificateVerifierCalls(bn254CertificateVerifier).updateOperatorTableWithOperatorInfos(
                operatorSet, referenceTimestamp, setInfo, infos, config
            );
        } else {
            revert InvalidCurveType();
        }
    }

    function getLatestReferenceTimestamp() external view returns (uint32) {
        return _latestReferenceTimestamp;
    }

    function getLatestReferenceBlockNumber() external view returns (uint32) {
        return _referenceBlockNumbers[_latestReferenceTimestamp];
    }

    function getReferenceBlockNumberByTimestamp(uint32 referenceTimestamp) external view returns (uint32) {
        return _referenceBlockNumbers[referenceTimestamp];
    }

    function getReferenceTimestampByBlockNumber(uint32 referenceBlockNumber) external view returns (uint32) {
        return _referenceTimestamps[referenceBlockNumber];
    }

    /// @notice No table roots are ever disabled on the devnet.
    function isRootValidByTimestamp(uint32) external pure returns (bool) {
        return true;
    }

    function getCertificateVerifier(CurveType curveType) external view returns (address) {
        if (curveType == CurveType.ECDSA) return ecdsaCertificateVerifier;
        if (curveType == CurveType.BN254) return bn254CertificateVerifier;
        revert InvalidCurveType();
    }
}
