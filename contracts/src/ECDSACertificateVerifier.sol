// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import "./Types.sol";
import {CertificateVerifierBase} from "./CertificateVerifierBase.sol";

/// @title Devnet ECDSACertificateVerifier
/// @notice Verifies ECDSA certificates against the operator table of their reference timestamp,
/// as EigenLayer's: `sig` is 65-byte r || s || v signatures (v 27/28, low s) over
/// calculateCertificateDigest(referenceTimestamp, messageHash), ordered by strictly ascending
/// recovered signer; every signer must be in the table; signed stake is the sum of their weights.
/// The EIP-712 domain has no chain id (name "EigenLayer", version = major version, this address).
contract ECDSACertificateVerifier is CertificateVerifierBase {
    using OperatorSetLib for OperatorSet;

    error InvalidSignatureLength();
    error InvalidSignature();
    error SignersNotOrdered();
    error OperatorCountZero();

    event TableUpdated(OperatorSet operatorSet, uint32 referenceTimestamp, ECDSAOperatorInfo[] operatorInfos);

    bytes32 public constant EIP712_DOMAIN_TYPEHASH_NO_CHAINID =
        keccak256("EIP712Domain(string name,string version,address verifyingContract)");
    bytes32 public constant ECDSA_CERTIFICATE_TYPEHASH =
        keccak256("ECDSACertificate(uint32 referenceTimestamp,bytes32 messageHash)");
    uint256 internal constant SECP256K1_HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    mapping(bytes32 => mapping(uint32 => ECDSAOperatorInfo[])) internal _tables;

    constructor(address _operatorTableUpdater, string memory version_)
        CertificateVerifierBase(_operatorTableUpdater, version_)
    {}

    function updateOperatorTable(
        OperatorSet calldata operatorSet,
        uint32 referenceTimestamp,
        ECDSAOperatorInfo[] calldata operatorInfos,
        OperatorSetConfig calldata operatorSetConfig
    ) external onlyTableUpdater {
        _recordTable(operatorSet, referenceTimestamp, operatorSetConfig);
        ECDSAOperatorInfo[] storage table = _tables[operatorSet.key()][referenceTimestamp];
        for (uint256 i = 0; i < operatorInfos.length; i++) {
            table.push();
            table[i].pubkey = operatorInfos[i].pubkey;
            table[i].weights = operatorInfos[i].weights;
        }
        emit TableUpdated(operatorSet, referenceTimestamp, operatorInfos);
    }

    function verifyCertificate(OperatorSet memory operatorSet, ECDSACertificate memory cert)
        external
        view
        returns (uint256[] memory, address[] memory)
    {
        return _verify(operatorSet, cert);
    }

    function verifyCertificateProportion(
        OperatorSet memory operatorSet,
        ECDSACertificate memory cert,
        uint16[] memory totalStakeProportionThresholds
    ) external view returns (bool, address[] memory) {
        (uint256[] memory signedStakes, address[] memory signers) = _verify(operatorSet, cert);
        uint256[] memory totalStakes = getTotalStakeWeights(operatorSet, cert.referenceTimestamp);
        return (_meetsProportion(signedStakes, totalStakes, totalStakeProportionThresholds), signers);
    }

    function verifyCertificateNominal(
        OperatorSet memory operatorSet,
        ECDSACertificate memory cert,
        uint256[] memory totalStakeNominalThresholds
    ) external view returns (bool, address[] memory) {
        (uint256[] memory signedStakes, address[] memory signers) = _verify(operatorSet, cert);
        return (_meetsNominal(signedStakes, totalStakeNominalThresholds), signers);
    }

    function _verify(OperatorSet memory operatorSet, ECDSACertificate memory cert)
        internal
        view
        returns (uint256[] memory signedStakes, address[] memory signers)
    {
        bytes32 key = operatorSet.key();
        _checkReferenceTimestamp(key, cert.referenceTimestamp);
        signers = _recoverSigners(calculateCertificateDigest(cert.referenceTimestamp, cert.messageHash), cert.sig);
        ECDSAOperatorInfo[] storage table = _tables[key][cert.referenceTimestamp];
        if (table.length == 0) revert OperatorCountZero();
        signedStakes = new uint256[](table[0].weights.length);
        for (uint256 i = 0; i < signers.length; i++) {
            bool found = false;
            for (uint256 j = 0; j < table.length; j++) {
                if (table[j].pubkey == signers[i]) {
                    uint256[] storage weights = table[j].weights;
                    for (uint256 k = 0; k < weights.length && k < signedStakes.length; k++) {
                        signedStakes[k] += weights[k];
                    }
                    found = true;
                    break;
                }
            }
            if (!found) revert VerificationFailed();
        }
    }

    function _recoverSigners(bytes32 digest, bytes memory sigs) internal pure returns (address[] memory signers) {
        if (sigs.length == 0 || sigs.length % 65 != 0) revert InvalidSignatureLength();
        signers = new address[](sigs.length / 65);
        for (uint256 i = 0; i < signers.length; i++) {
            bytes32 r;
            bytes32 s;
            uint8 v;
            assembly {
                let base := add(add(sigs, 0x20), mul(i, 65))
                r := mload(base)
                s := mload(add(base, 0x20))
                v := byte(0, mload(add(base, 0x40)))
            }
            if ((v != 27 && v != 28) || uint256(s) > SECP256K1_HALF_ORDER) revert InvalidSignature();
            address signer = ecrecover(digest, v, r, s);
            if (signer == address(0)) revert InvalidSignature();
            if (i > 0 && signer <= signers[i - 1]) revert SignersNotOrdered();
            signers[i] = signer;
        }
    }

    function getOperatorInfos(OperatorSet memory operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (ECDSAOperatorInfo[] memory)
    {
        return _tables[operatorSet.key()][referenceTimestamp];
    }

    function getOperatorInfo(OperatorSet memory operatorSet, uint32 referenceTimestamp, uint256 operatorIndex)
        external
        view
        returns (ECDSAOperatorInfo memory)
    {
        ECDSAOperatorInfo[] storage table = _tables[operatorSet.key()][referenceTimestamp];
        require(operatorIndex < table.length, "Operator index out of bounds");
        return table[operatorIndex];
    }

    function getOperatorCount(OperatorSet memory operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (uint256)
    {
        return _tables[operatorSet.key()][referenceTimestamp].length;
    }

    /// @notice Sum of each weight type over the table; reverts when the table is unset or empty.
    function getTotalStakeWeights(OperatorSet memory operatorSet, uint32 referenceTimestamp)
        public
        view
        returns (uint256[] memory totals)
    {
        bytes32 key = operatorSet.key();
        if (!_referenceTimestampsSet[key][referenceTimestamp]) revert ReferenceTimestampDoesNotExist();
        ECDSAOperatorInfo[] storage table = _tables[key][referenceTimestamp];
        if (table.length == 0) revert OperatorCountZero();
        totals = new uint256[](table[0].weights.length);
        for (uint256 i = 0; i < table.length; i++) {
            for (uint256 k = 0; k < totals.length && k < table[i].weights.length; k++) {
                totals[k] += table[i].weights[k];
            }
        }
    }

    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(
                EIP712_DOMAIN_TYPEHASH_NO_CHAINID,
                keccak256(bytes("EigenLayer")),
                keccak256(bytes(_majorVersion())),
                address(this)
            )
        );
    }

    function calculateCertificateDigestBytes(uint32 referenceTimestamp, bytes32 messageHash)
        public
        view
        returns (bytes memory)
    {
        bytes32 structHash = keccak256(abi.encode(ECDSA_CERTIFICATE_TYPEHASH, referenceTimestamp, messageHash));
        return abi.encodePacked("\x19\x01", domainSeparator(), structHash);
    }

    function calculateCertificateDigest(uint32 referenceTimestamp, bytes32 messageHash) public view returns (bytes32) {
        return keccak256(calculateCertificateDigestBytes(referenceTimestamp, messageHash));
    }
}
