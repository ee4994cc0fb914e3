// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {G1Point, G2Point} from "./Types.sol";

/// @title BN254 (alt_bn128) arithmetic over the EVM precompiles 0x05-0x08.
/// @notice Written for the Ponos-py devnet. hashToG1 is the Solidity try-and-increment map that
/// EigenLayer uses (docs/protocol.md): x = uint256(digest) mod p, increment x until x^3 + 3 is a
/// square, y = (x^3 + 3)^((p + 1) / 4).
library BN254 {
    uint256 internal constant P = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    // (p + 1) / 4: square roots in Fp, since p = 3 mod 4.
    uint256 internal constant SQRT_EXPONENT = 0xc19139cb84c680a6e14116da060561765e05aa45a1c72a34f082305b61f3f52;

    // G2 generator and its negation, X = [x_imaginary, x_real], Y = [y_imaginary, y_real].
    uint256 internal constant G2_X_IM = 11559732032986387107991004021392285783925812861821192530917403151452391805634;
    uint256 internal constant G2_X_RE = 10857046999023057135944570762232829481370756359578518086990519993285655852781;
    uint256 internal constant G2_NEG_Y_IM = 17805874995975841540914202342111839520379459829704422454583296818431106115052;
    uint256 internal constant G2_NEG_Y_RE = 13392588948715843804641432497768002650278120570034223513918757245338268106653;

    /// @notice Gas given to the pairing precompile (two pairs cost 113,000 since Istanbul).
    uint256 internal constant PAIRING_GAS = 120000;

    function generatorG1() internal pure returns (G1Point memory) {
        return G1Point(1, 2);
    }

    function negGeneratorG2() internal pure returns (G2Point memory) {
        return G2Point([G2_X_IM, G2_X_RE], [G2_NEG_Y_IM, G2_NEG_Y_RE]);
    }

    function isZero(G1Point memory p) internal pure returns (bool) {
        return p.X == 0 && p.Y == 0;
    }

    function negate(G1Point memory p) internal pure returns (G1Point memory) {
        if (isZero(p)) {
            return G1Point(0, 0);
        }
        return G1Point(p.X, P - (p.Y % P));
    }

    /// @notice p1 + p2; returns ok = false when a point is not on the curve.
    function tryPlus(G1Point memory p1, G1Point memory p2) internal view returns (bool ok, G1Point memory r) {
        uint256[4] memory input = [p1.X, p1.Y, p2.X, p2.Y];
        uint256[2] memory output;
        assembly {
            ok := staticcall(gas(), 0x06, input, 0x80, output, 0x40)
        }
        r = G1Point(output[0], output[1]);
    }

    function plus(G1Point memory p1, G1Point memory p2) internal view returns (G1Point memory r) {
        bool ok;
        (ok, r) = tryPlus(p1, p2);
        require(ok, "BN254: invalid G1 point");
    }

    /// @notice s * p; returns ok = false when the point is not on the curve.
    function tryScalarMul(G1Point memory p, uint256 s) internal view returns (bool ok, G1Point memory r) {
        uint256[3] memory input = [p.X, p.Y, s];
        uint256[2] memory output;
        assembly {
            ok := staticcall(gas(), 0x07, input, 0x60, output, 0x40)
        }
        r = G1Point(output[0], output[1]);
    }

    /// @notice e(a1, a2) * e(b1, b2) == 1 through the ecPairing precompile, with a gas cap.
    /// @return success whether the precompile ran (false for invalid points or out of gas)
    /// @return valid whether the pairing product is the identity
    function safePairing(G1Point memory a1, G2Point memory a2, G1Point memory b1, G2Point memory b2)
        internal
        view
        returns (bool success, bool valid)
    {
        uint256[12] memory input = [
            a1.X, a1.Y, a2.X[0], a2.X[1], a2.Y[0], a2.Y[1],
            b1.X, b1.Y, b2.X[0], b2.X[1], b2.Y[0], b2.Y[1]
        ];
        uint256[1] memory output;
        uint256 gasCap = PAIRING_GAS;
        assembly {
            success := staticcall(gasCap, 0x08, input, 0x180, output, 0x20)
        }
        valid = success && output[0] == 1;
    }

    function expMod(uint256 base, uint256 exponent, uint256 modulus) internal view returns (uint256 result) {
        uint256[6] memory input = [uint256(32), 32, 32, base, exponent, modulus];
        uint256[1] memory output;
        bool ok;
        assembly {
            ok := staticcall(gas(), 0x05, input, 0xc0, output, 0x20)
        }
        require(ok, "BN254: modexp failed");
        result = output[0];
    }

    /// @notice The try-and-increment hash of a 32-byte digest onto G1 (see the library comment).
    function hashToG1(bytes32 digest) internal view returns (G1Point memory) {
        uint256 x = uint256(digest) % P;
        while (true) {
            uint256 beta = addmod(mulmod(mulmod(x, x, P), x, P), 3, P);
            uint256 y = expMod(beta, SQRT_EXPONENT, P);
            if (mulmod(y, y, P) == beta) {
                return G1Point(x, y);
            }
            x = addmod(x, 1, P);
        }
        revert("unreachable");
    }

    /// @notice BLS verification as EigenLayer's BN254SignatureVerifier: with
    /// gamma = keccak(digest, pkG1, pkG2, sig) mod r, checks
    /// e(sig + gamma * pkG1, -G2) * e(H(digest) + gamma * G1, pkG2) == 1,
    /// which also proves that pkG1 and pkG2 hold the same secret.
    function verifySignature(bytes32 digest, G1Point memory signature, G1Point memory pkG1, G2Point memory pkG2)
        internal
        view
        returns (bool pairingSuccessful, bool signatureValid)
    {
        uint256 gamma = uint256(
            keccak256(
                abi.encodePacked(
                    digest, pkG1.X, pkG1.Y, pkG2.X[0], pkG2.X[1], pkG2.Y[0], pkG2.Y[1], signature.X, signature.Y
                )
            )
        ) % R;
        (bool ok1, G1Point memory gammaPk) = tryScalarMul(pkG1, gamma);
        if (!ok1) return (false, false);
        (bool ok2, G1Point memory left) = tryPlus(signature, gammaPk);
        if (!ok2) return (false, false);
        (, G1Point memory gammaG1) = tryScalarMul(generatorG1(), gamma);
        G1Point memory right = plus(hashToG1(digest), gammaG1);
        return safePairing(left, negGeneratorG2(), right, pkG2);
    }
}
