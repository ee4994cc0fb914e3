// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// Test probe: the on-chain side of every formula in docs/protocol.md, written in Solidity
/// from that document, so the Python encoders and digests are checked against the EVM's own
/// abi.encode, keccak256 and precompiles.
contract CryptoProbe {
    uint256 internal constant FP = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    uint256 internal constant FR = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    struct G1Point {
        uint256 X;
        uint256 Y;
    }

    struct G2Point {
        uint256[2] X;
        uint256[2] Y;
    }

    struct BN254OperatorInfo {
        G1Point pubkey;
        uint256[] weights;
    }

    struct BN254OperatorInfoWitness {
        uint32 operatorIndex;
        bytes operatorInfoProof;
        BN254OperatorInfo operatorInfo;
    }

    struct BN254Certificate {
        uint32 referenceTimestamp;
        bytes32 messageHash;
        G1Point signature;
        G2Point apk;
        BN254OperatorInfoWitness[] nonSignerWitnesses;
    }

    struct ECDSACertificate {
        uint32 referenceTimestamp;
        bytes32 messageHash;
        bytes sig;
    }

    function getBN254CertificateBytes(BN254Certificate memory cert) external pure returns (bytes memory) {
        return abi.encode(cert);
    }

    function getECDSACertificateBytes(ECDSACertificate memory cert) external pure returns (bytes memory) {
        return abi.encode(cert);
    }

    function domainSeparator(address verifier, string memory majorVersion) public pure returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,address verifyingContract)"),
                keccak256(bytes("EigenLayer")),
                keccak256(bytes(majorVersion)),
                verifier
            )
        );
    }

    function calculateCertificateDigestBytes(bytes32 separator, uint32 referenceTimestamp, bytes32 messageHash)
        public
        pure
        returns (bytes memory)
    {
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("ECDSACertificate(uint32 referenceTimestamp,bytes32 messageHash)"),
                referenceTimestamp,
                messageHash
            )
        );
        return abi.encodePacked("\x19\x01", separator, structHash);
    }

    function bn254CertificateDigest(uint32 referenceTimestamp, bytes32 messageHash) external pure returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("BN254Certificate(uint32 referenceTimestamp,bytes32 messageHash)"),
                referenceTimestamp,
                messageHash
            )
        );
    }

    function taskSubmissionDigest(
        bytes32 taskId,
        address avs,
        address executor,
        uint32 operatorSetId,
        uint32 referenceTimestamp,
        uint64 taskBlockNumber,
        bytes calldata payload
    ) external pure returns (bytes32) {
        return keccak256(
            abi.encode(taskId, avs, executor, operatorSetId, referenceTimestamp, taskBlockNumber, keccak256(payload))
        );
    }

    function resultAuthDigest(
        bytes32 taskId,
        address avs,
        address operator,
        uint32 operatorSetId,
        bytes calldata resultSignature
    ) external pure returns (bytes32) {
        return keccak256(abi.encode(taskId, avs, operator, operatorSetId, keccak256(resultSignature)));
    }

    function recover(bytes32 digest, bytes calldata signature) external pure returns (address) {
        require(signature.length == 65, "length");
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        return ecrecover(digest, v, r, s);
    }

    function hashToG1(bytes32 digest) public view returns (G1Point memory) {
        uint256 x = uint256(digest) % FP;
        while (true) {
            uint256 beta = addmod(mulmod(mulmod(x, x, FP), x, FP), 3, FP);
            uint256 y = _expMod(beta, (FP + 1) / 4);
            if (mulmod(y, y, FP) == beta) {
                return G1Point(x, y);
            }
            x = addmod(x, 1, FP);
        }
        revert("unreachable");
    }

    /// EigenLayer's certificate check: e(σ + γ·apk1, −G2) · e(H(m) + γ·G1, apk2) == 1.
    function verifyCertificateSignature(bytes32 digest, G1Point memory sigma, G1Point memory apk1, G2Point memory apk2)
        external
        view
        returns (bool)
    {
        uint256 gamma = uint256(
            keccak256(abi.encodePacked(digest, apk1.X, apk1.Y, apk2.X[0], apk2.X[1], apk2.Y[0], apk2.Y[1], sigma.X, sigma.Y))
        ) % FR;
        G1Point memory left = _add(sigma, _mul(apk1, gamma));
        G1Point memory right = _add(hashToG1(digest), _mul(G1Point(1, 2), gamma));
        uint256[12] memory input = [
            left.X,
            left.Y,
            11559732032986387107991004021392285783925812861821192530917403151452391805634,
            10857046999023057135944570762232829481370756359578518086990519993285655852781,
            17805874995975841540914202342111839520379459829704422454583296818431106115052,
            13392588948715843804641432497768002650278120570034223513918757245338268106653,
            right.X,
            right.Y,
            apk2.X[0],
            apk2.X[1],
            apk2.Y[0],
            apk2.Y[1]
        ];
        uint256[1] memory out;
        bool ok;
        assembly {
            ok := staticcall(gas(), 8, input, 384, out, 32)
        }
        require(ok, "pairing precompile failed");
        return out[0] == 1;
    }

    function _add(G1Point memory a, G1Point memory b) internal view returns (G1Point memory r) {
        uint256[4] memory input = [a.X, a.Y, b.X, b.Y];
        bool ok;
        assembly {
            ok := staticcall(gas(), 6, input, 128, r, 64)
        }
        require(ok, "ecAdd failed");
    }

    function _mul(G1Point memory a, uint256 s) internal view returns (G1Point memory r) {
        uint256[3] memory input = [a.X, a.Y, s];
        bool ok;
        assembly {
            ok := staticcall(gas(), 7, input, 96, r, 64)
        }
        require(ok, "ecMul failed");
    }

    function _expMod(uint256 base, uint256 exponent) internal view returns (uint256 result) {
        uint256[6] memory input = [uint256(32), 32, 32, base, exponent, FP];
        uint256[1] memory out;
        bool ok;
        assembly {
            ok := staticcall(gas(), 5, input, 192, out, 32)
        }
        require(ok, "modexp failed");
        return out[0];
    }
}
