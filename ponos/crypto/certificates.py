"""EigenLayer certificates as TaskMailbox.submitResult takes them: `abi.encode(cert)`.

The encoders are byte-identical to TaskMailbox's `getECDSACertificateBytes` /
`getBN254CertificateBytes` (both are `abi.encode(cert)` of the structs below), so no
eth_call is needed; the decoders invert them (for tests, the devnet and the admin tools).

    ECDSACertificate  (uint32 referenceTimestamp, bytes32 messageHash, bytes sig)
    BN254Certificate  (uint32 referenceTimestamp, bytes32 messageHash,
                       (uint256 X, uint256 Y) signature,
                       (uint256[2] X, uint256[2] Y) apk,
                       (uint32 operatorIndex, bytes operatorInfoProof,
                        ((uint256 X, uint256 Y) pubkey, uint256[] weights) operatorInfo
                       )[] nonSignerWitnesses)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import eth_abi
from eth_abi.exceptions import DecodingError
from eth_utils import is_hex_address, to_checksum_address

from ponos.crypto import ecdsa
from ponos.crypto.bn254.bls import parse_public_key_g2, parse_signature
from ponos.crypto.bn254.curve import G1Point, G2Point, g1_from_bytes
from ponos.crypto.errors import EncodingError, InvalidPoint, InvalidSignature

ECDSA_CERTIFICATE_ABI = "(uint32,bytes32,bytes)"
BN254_CERTIFICATE_ABI = (
    "(uint32,bytes32,(uint256,uint256),(uint256[2],uint256[2]),"
    "(uint32,bytes,((uint256,uint256),uint256[]))[])"
)
_UINT32_MAX = 2**32 - 1
_UINT256_MAX = 2**256 - 1


@dataclass(frozen=True)
class EcdsaCertificate:
    reference_timestamp: int
    message_hash: bytes
    signatures: list[bytes]  # 65-byte signatures in the order they appear in `sig`


@dataclass(frozen=True)
class NonSignerWitness:
    """An operator that did not sign: its index in the operator table, the proof of its
    `operatorInfo` against the table root (opaque bytes, as the verifier defines them),
    its G1 public key and its weights."""

    operator_index: int
    operator_info_proof: bytes
    pubkey_g1: bytes | G1Point
    weights: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Bn254Certificate:
    reference_timestamp: int
    message_hash: bytes
    signature: bytes  # 64-byte G1 point
    apk_g2: bytes  # 128-byte G2 point, Solidity order
    non_signer_witnesses: list[NonSignerWitness]


def _check_header(reference_timestamp: int, message_hash: bytes) -> None:
    if (
        not isinstance(reference_timestamp, int)
        or isinstance(reference_timestamp, bool)
        or not 0 <= reference_timestamp <= _UINT32_MAX
    ):
        raise EncodingError(f"reference timestamp must fit uint32, got {reference_timestamp!r}")
    if not isinstance(message_hash, bytes | bytearray) or len(message_hash) != 32:
        raise EncodingError("message hash must be 32 bytes")


def _normalized_ecdsa_signature(signature: bytes, signer: str) -> bytes:
    if not isinstance(signature, bytes | bytearray) or len(signature) != ecdsa.SIGNATURE_SIZE:
        raise InvalidSignature(f"signature of {signer} must be 65 bytes (r ‖ s ‖ v)")
    v = signature[64]
    if v in (0, 1):  # on-chain recovery (OpenZeppelin) only accepts 27/28
        return bytes(signature[:64]) + bytes([v + 27])
    if v not in (27, 28):
        raise InvalidSignature(f"signature of {signer} has v={v}; expected 27 or 28")
    return bytes(signature)


def encode_ecdsa_certificate(
    reference_timestamp: int,
    message_hash: bytes,
    signatures: Mapping[str, bytes],
    *,
    digest: bytes | None = None,
) -> bytes:
    """`abi.encode(ECDSACertificate)` with `sig` = the 65-byte signatures (v = 27/28)
    concatenated in ascending order of the signer address (the key of `signatures`, the
    address each signature recovers to, as ECDSACertificateVerifier requires). With
    `digest` (the certificate digest that was signed) every signature is verified first."""
    _check_header(reference_timestamp, message_hash)
    if not signatures:
        raise EncodingError("an ECDSA certificate needs at least one signature")
    ordered: dict[int, bytes] = {}
    for signer, signature in signatures.items():
        if not isinstance(signer, str) or not is_hex_address(signer):
            raise EncodingError(f"signer {signer!r} is not a 0x address")
        normalized = _normalized_ecdsa_signature(signature, signer)
        if digest is not None:
            ecdsa.verify(digest, normalized, signer)
        key = int(signer, 16)
        if key in ordered:
            raise EncodingError(f"signer {to_checksum_address(signer)} appears twice")
        ordered[key] = normalized
    sig = b"".join(ordered[key] for key in sorted(ordered))
    return eth_abi.encode(
        [ECDSA_CERTIFICATE_ABI], [(reference_timestamp, bytes(message_hash), sig)]
    )


def decode_ecdsa_certificate(data: bytes) -> EcdsaCertificate:
    try:
        ((timestamp, message_hash, sig),) = eth_abi.decode([ECDSA_CERTIFICATE_ABI], bytes(data))
    except (DecodingError, ValueError, TypeError) as exc:
        raise EncodingError(f"not an ABI-encoded ECDSA certificate ({exc})") from None
    if len(sig) % ecdsa.SIGNATURE_SIZE:
        raise EncodingError(f"ECDSA certificate sig is {len(sig)} bytes, not a multiple of 65")
    signatures = [sig[i : i + 65] for i in range(0, len(sig), 65)]
    return EcdsaCertificate(timestamp, message_hash, signatures)


def _g1_words(point: bytes | G1Point, what: str) -> tuple[int, int]:
    parsed = point if isinstance(point, G1Point) else g1_from_bytes(point, what=what)
    return parsed.x, parsed.y


def encode_bn254_certificate(
    reference_timestamp: int,
    message_hash: bytes,
    signature_g1: bytes,
    apk_g2: bytes | G2Point,
    non_signer_witnesses: Sequence[NonSignerWitness] = (),
) -> bytes:
    """`abi.encode(BN254Certificate)`; witnesses sorted by ascending operator index (newer
    verifiers require strictly increasing indices), the G2 key in Solidity order."""
    _check_header(reference_timestamp, message_hash)
    sigma = parse_signature(signature_g1)
    apk = parse_public_key_g2(apk_g2, what="aggregate G2 public key (apk)")
    witnesses = sorted(non_signer_witnesses, key=lambda w: w.operator_index)
    encoded_witnesses = []
    previous = -1
    for witness in witnesses:
        index = witness.operator_index
        if not isinstance(index, int) or not 0 <= index <= _UINT32_MAX:
            raise EncodingError(f"non-signer operator index must fit uint32, got {index!r}")
        if index == previous:
            raise EncodingError(f"non-signer operator index {index} appears twice")
        previous = index
        weights = list(witness.weights)
        if not all(isinstance(w, int) and 0 <= w <= _UINT256_MAX for w in weights):
            raise EncodingError(f"weights of non-signer {index} must be uint256 values")
        pubkey = _g1_words(witness.pubkey_g1, f"G1 public key of non-signer {index}")
        proof = witness.operator_info_proof
        if not isinstance(proof, bytes | bytearray):
            raise EncodingError(f"operator info proof of non-signer {index} must be bytes")
        encoded_witnesses.append((index, bytes(proof), (pubkey, weights)))
    x, y = apk.solidity()
    value = (
        reference_timestamp,
        bytes(message_hash),
        (sigma.x, sigma.y),
        (x, y),
        encoded_witnesses,
    )
    return eth_abi.encode([BN254_CERTIFICATE_ABI], [value])


def decode_bn254_certificate(data: bytes) -> Bn254Certificate:
    try:
        ((timestamp, message_hash, sigma, apk, witnesses),) = eth_abi.decode(
            [BN254_CERTIFICATE_ABI], bytes(data)
        )
    except (DecodingError, ValueError, TypeError) as exc:
        raise EncodingError(f"not an ABI-encoded BN254 certificate ({exc})") from None
    try:
        signature = G1Point(*sigma).to_bytes()
        apk_g2 = G2Point.from_solidity(apk[0], apk[1]).to_bytes()
    except OverflowError:
        raise InvalidPoint("BN254 certificate holds a coordinate larger than 256 bits") from None
    decoded = [
        NonSignerWitness(index, proof, G1Point(*info[0]).to_bytes(), list(info[1]))
        for index, proof, info in witnesses
    ]
    return Bn254Certificate(timestamp, message_hash, signature, apk_g2, decoded)


__all__ = [
    "BN254_CERTIFICATE_ABI",
    "ECDSA_CERTIFICATE_ABI",
    "Bn254Certificate",
    "EcdsaCertificate",
    "NonSignerWitness",
    "decode_bn254_certificate",
    "decode_ecdsa_certificate",
    "encode_bn254_certificate",
    "encode_ecdsa_certificate",
]
