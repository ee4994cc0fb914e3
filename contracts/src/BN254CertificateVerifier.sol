// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import "./Types.sol";
import {BN254} from "./BN254.sol";
import {CertificateVerifierBase} from "./CertificateVerifierBase.sol";

/// @title Devnet BN254CertificateVerifier
/// @notice Verifies BN254 certificates as EigenLayer's: signed stake starts at the table's total
/// weights; each non-signer witness subtracts that operator's weights and G1 key; the signature
/// must verify (ecPairing, precompile 0x08) over calculateCertificateDigest(referenceTimestamp,
/// messageHash) against the signers' aggregate key: the table's aggregate G1 key minus the
/// non-signers' keys, paired with the certificate's G2 `apk`.
/// Devnet simplification (non-signer witnesses): every operator info of a table is stored (EigenLayer
/// calls this "cached") when the table is published, so no Merkle proof is needed. A witness names
/// the operator by `operatorIndex` (its index in the table, strictly ascending across witnesses);
/// `operatorInfoProof` is ignored; `operatorInfo` is either empty (as EigenLayer allows for cached
/// operators) or exactly the stored info, otherwise the certificate is rejected.
contract BN254CertificateVerifier is CertificateVerifierBase {
    using OperatorSetLib for OperatorSet;
    using BN254 for G1Point;

    error InvalidOperatorIndex();
    error TableRootMismatch();

    event TableUpdated(OperatorSet operatorSet, uint32 referenceTimestamp, BN254OperatorSetInfo operatorSetInfo);

    bytes32 public constant BN254_CERTIFICATE_TYPEHASH =
        keccak256("BN254Certificate(uint32 referenceTimestamp,bytes32 messageHash)");

    mapping(bytes32 => mapping(uint32 => BN254OperatorSetInfo)) internal _operatorSetInfos;
    mapping(bytes32 => mapping(uint32 => mapping(uint256 => BN254OperatorInfo))) internal _operatorInfos;

    constructor(address _operatorTableUpdater, string memory version_)
        CertificateVerifierBase(_operatorTableUpdater, version_)
    {}

    /// @notice EigenLayer's signature: stores the set info only (no operator infos are cached, so
    /// certificates with non-signers cannot be verified against such a table on the devnet).
    function updateOperatorTable(
        OperatorSet calldata operatorSet,
        uint32 referenceTimestamp,
        BN254OperatorSetInfo memory operatorSetInfo,
        OperatorSetConfig calldata operatorSetConfig
    ) external onlyTableUpdater {
        _storeSetInfo(operatorSet, referenceTimestamp, operatorSetInfo, operatorSetConfig);
    }

    /// @notice Devnet: stores the set info and every operator info; the set's root must be
    /// keccak256(abi.encode(operatorInfos)).
    function updateOperatorTableWithOperatorInfos(
        OperatorSet calldata operatorSet,
        uint32 referenceTimestamp,
        BN254OperatorSetInfo memory operatorSetInfo,
        BN254OperatorInfo[] memory operatorInfos,
        OperatorSetConfig calldata operatorSetConfig
    ) external onlyTableUpdater {
        if (
            operatorSetInfo.operatorInfoTreeRoot != keccak256(abi.encode(operatorInfos))
                || operatorSetInfo.numOperators != operatorInfos.length
        ) revert TableRootMismatch();
        _storeSetInfo(operatorSet, referenceTimestamp, operatorSetInfo, operatorSetConfig);
        bytes32 key = operatorSet.key();
        for (uint256 i = 0; i < operatorInfos.length; i++) {
            _operatorInfos[key][referenceTimestamp][i] = operatorInfos[i];
        }
    }

    function _storeSetInfo(
        OperatorSet calldata operatorSet,
        uint32 referenceTimestamp,
        BN254OperatorSetInfo memory operatorSetInfo,
        OperatorSetConfig calldata operatorSetConfig
    ) internal {
        _recordTable(operatorSet, referenceTimestamp, operatorSetConfig);
        _operatorSetInfos[operatorSet.key()][referenceTimestamp] = operatorSetInfo;
        emit TableUpdated(operatorSet, referenceTimestamp, operatorSetInfo);
    }

    // Not `view`, as EigenLayer's (whose verifier writes its cache while verifying).
    function verifyCertificate(OperatorSet memory operatorSet, BN254Certificate memory cert)
        external
        returns (uint256[] memory signedStakes)
    {
        _touch();
        return _verify(operatorSet, cert);
    }

    function verifyCertificateProportion(
        OperatorSet memory operatorSet,
        BN254Certificate memory cert,
        uint16[] memory totalStakeProportionThresholds
    ) external returns (bool) {
        _touch();
        uint256[] memory signedStakes = _verify(operatorSet, cert);
        uint256[] memory totalStakes = _operatorSetInfos[operatorSet.key()][cert.referenceTimestamp].totalWeights;
        return _meetsProportion(signedStakes, totalStakes, totalStakeProportionThresholds);
    }

    function verifyCertificateNominal(
        OperatorSet memory operatorSet,
        BN254Certificate memory cert,
        uint256[] memory totalStakeNominalThresholds
    ) external returns (bool) {
        _touch();
        return _meetsNominal(_verify(operatorSet, cert), totalStakeNominalThresholds);
    }

    uint256 internal _verifications;

    /// @dev Keeps the verify functions non-view like EigenLayer's without a cache to write.
    function _touch() internal {
        unchecked {
            _verifications++;
        }
    }

    function _verify(OperatorSet memory operatorSet, BN254Certificate memory cert)
        internal
        view
        returns (uint256[] memory signedStakes)
    {
        bytes32 key = operatorSet.key();
        _checkReferenceTimestamp(key, cert.referenceTimestamp);
        BN254OperatorSetInfo memory info = _operatorSetInfos[key][cert.referenceTimestamp];
        if (info.operatorInfoTreeRoot == bytes32(0)) revert ReferenceTimestampDoesNotExist();

        signedStakes = new uint256[](info.totalWeights.length);
        for (uint256 i = 0; i < signedStakes.length; i++) {
            signedStakes[i] = info.totalWeights[i];
        }

        G1Point memory nonSignerApk = G1Point(0, 0);
        for (uint256 i = 0; i < cert.nonSignerWitnesses.length; i++) {
            BN254OperatorInfoWitness memory witness = cert.nonSignerWitnesses[i];
            if (witness.operatorIndex >= info.numOperators) revert InvalidOperatorIndex();
            if (i > 0 && witness.operatorIndex <= cert.nonSignerWitnesses[i - 1].operatorIndex) {
                revert InvalidOperatorIndex();
            }
            BN254OperatorInfo memory stored = _operatorInfos[key][cert.referenceTimestamp][witness.operatorIndex];
            if (stored.pubkey.isZero()) revert VerificationFailed();
            bool witnessEmpty = witness.operatorInfo.pubkey.isZero() && witness.operatorInfo.weights.length == 0;
            if (!witnessEmpty && keccak256(abi.encode(witness.operatorInfo)) != keccak256(abi.encode(stored))) {
                revert VerificationFailed();
            }
            nonSignerApk = nonSignerApk.plus(stored.pubkey);
            for (uint256 j = 0; j < stored.weights.length && j < signedStakes.length; j++) {
                signedStakes[j] -= stored.weights[j];
            }
        }

        G1Point memory signerApk = info.aggregatePubkey.plus(nonSignerApk.negate());
        bytes32 digest = calculateCertificateDigest(cert.referenceTimestamp, cert.messageHash);
        (bool pairingSuccessful, bool signatureValid) =
            BN254.verifySignature(digest, cert.signature, signerApk, cert.apk);
        if (!pairingSuccessful || !signatureValid) revert VerificationFailed();
    }

    function trySignatureVerification(
        bytes32 msgHash,
        G1Point memory aggPubkey,
        G2Point memory apkG2,
        G1Point memory signature
    ) external view returns (bool pairingSuccessful, bool signatureValid) {
        return BN254.verifySignature(msgHash, signature, aggPubkey, apkG2);
    }

    function calculateCertificateDigest(uint32 referenceTimestamp, bytes32 messageHash) public pure returns (bytes32) {
        return keccak256(abi.encode(BN254_CERTIFICATE_TYPEHASH, referenceTimestamp, messageHash));
    }

    function getOperatorSetInfo(OperatorSet memory operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (BN254OperatorSetInfo memory)
    {
        return _operatorSetInfos[operatorSet.key()][referenceTimestamp];
    }

    /// @notice The stored info of the operator at `operatorIndex` of the table (every operator is
    /// "cached" on the devnet); empty for an index outside the table.
    function getNonsignerOperatorInfo(OperatorSet memory operatorSet, uint32 referenceTimestamp, uint256 operatorIndex)
        external
        view
        returns (BN254OperatorInfo memory)
    {
        return _operatorInfos[operatorSet.key()][referenceTimestamp][operatorIndex];
    }

    function isNonsignerCached(OperatorSet memory operatorSet, uint32 referenceTimestamp, uint256 operatorIndex)
        external
        view
        returns (bool)
    {
        return !_operatorInfos[operatorSet.key()][referenceTimestamp][operatorIndex].pubkey.isZero();
    }

    /// @notice Total weights of the table; empty when the table is unset (EigenLayer's BN254 behaviour).
    function getTotalStakeWeights(OperatorSet memory operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (uint256[] memory)
    {
        return _operatorSetInfos[operatorSet.key()][referenceTimestamp].totalWeights;
    }

    function getOperatorCount(OperatorSet memory operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (uint256)
    {
        return _operatorSetInfos[operatorSet.key()][referenceTimestamp].numOperators;
    }
}
