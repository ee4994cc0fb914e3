// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import "./Types.sol";

// The slices of the devnet contracts that other devnet contracts call. External signatures match
// EigenLayer's where EigenLayer has the function; the rest are devnet-only (see contracts/README.md).

interface IAllocationManagerView {
    function getMembers(OperatorSet memory operatorSet) external view returns (address[] memory);
    function operatorWeight(OperatorSet memory operatorSet, address operator) external view returns (uint256);
}

interface IKeyRegistrarView {
    function getOperatorSetCurveType(OperatorSet memory operatorSet) external view returns (CurveType);
    function isRegistered(OperatorSet memory operatorSet, address operator) external view returns (bool);
    function getBN254Key(OperatorSet memory operatorSet, address operator)
        external
        view
        returns (G1Point memory g1Point, G2Point memory g2Point);
    function getECDSAAddress(OperatorSet memory operatorSet, address operator) external view returns (address);
}

interface ICrossChainRegistryView {
    function getOperatorTableCalculator(OperatorSet memory operatorSet) external view returns (address);
}

interface IECDSATableCalculatorView {
    function getOperatorInfos(OperatorSet memory operatorSet) external view returns (ECDSAOperatorInfo[] memory);
}

interface IBN254TableCalculatorView {
    function getOperatorInfos(OperatorSet memory operatorSet) external view returns (BN254OperatorInfo[] memory);
    function summarize(BN254OperatorInfo[] memory infos) external view returns (BN254OperatorSetInfo memory);
}

interface IBaseCertificateVerifierView {
    function getOperatorSetOwner(OperatorSet memory operatorSet) external view returns (address);
    function latestReferenceTimestamp(OperatorSet memory operatorSet) external view returns (uint32);
}

interface IECDSACertificateVerifierCalls is IBaseCertificateVerifierView {
    function updateOperatorTable(
        OperatorSet calldata operatorSet,
        uint32 referenceTimestamp,
        ECDSAOperatorInfo[] calldata operatorInfos,
        OperatorSetConfig calldata operatorSetConfig
    ) external;
    function verifyCertificate(OperatorSet calldata operatorSet, ECDSACertificate memory cert)
        external
        view
        returns (uint256[] memory signedStakes, address[] memory signers);
    function verifyCertificateProportion(
        OperatorSet calldata operatorSet,
        ECDSACertificate memory cert,
        uint16[] memory totalStakeProportionThresholds
    ) external view returns (bool, address[] memory signers);
}

interface IBN254CertificateVerifierCalls is IBaseCertificateVerifierView {
    function updateOperatorTableWithOperatorInfos(
        OperatorSet calldata operatorSet,
        uint32 referenceTimestamp,
        BN254OperatorSetInfo memory operatorSetInfo,
        BN254OperatorInfo[] memory operatorInfos,
        OperatorSetConfig calldata operatorSetConfig
    ) external;
    function verifyCertificate(OperatorSet memory operatorSet, BN254Certificate memory cert)
        external
        returns (uint256[] memory signedStakes);
    function verifyCertificateProportion(
        OperatorSet memory operatorSet,
        BN254Certificate memory cert,
        uint16[] memory totalStakeProportionThresholds
    ) external returns (bool);
}

/// @notice EigenLayer's IAVSTaskHook.
interface IAVSTaskHook {
    function validatePreTaskCreation(address caller, TaskParams memory taskParams) external view;
    function handlePostTaskCreation(bytes32 taskHash) external;
    function validatePreTaskResultSubmission(
        address caller,
        bytes32 taskHash,
        bytes memory cert,
        bytes memory result
    ) external view;
    function handlePostTaskResultSubmission(address caller, bytes32 taskHash) external;
    function calculateTaskFee(TaskParams memory taskParams) external view returns (uint96);
}
