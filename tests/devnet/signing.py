"""Independent certificate signing for the contract tests (not ponos code).

ECDSA with eth-keys; BN254 with py_ecc and this file's own try-and-increment hash-to-G1, so that
the tests and the Solidity verifier cannot agree by accident. Digests are recomputed here from
docs/protocol.md, not read from the contracts.
"""

from __future__ import annotations

from eth_abi import encode
from eth_keys import keys
from eth_utils import keccak
from py_ecc.optimized_bn128 import (
    FQ,
    G2,
    Z1,
    Z2,
    add,
    field_modulus,
    multiply,
    normalize,
)

P = field_modulus


def ecdsa_domain_separator(verifier: str, version: str = "v1.0.0") -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "address"],
            [
                keccak(text="EIP712Domain(string name,string version,address verifyingContract)"),
                keccak(text="EigenLayer"),
                keccak(text=version[:2]),
                verifier,
            ],
        )
    )


def ecdsa_digest(verifier: str, reference_timestamp: int, message_hash: bytes) -> bytes:
    typehash = keccak(text="ECDSACertificate(uint32 referenceTimestamp,bytes32 messageHash)")
    struct_hash = keccak(
        encode(["bytes32", "uint32", "bytes32"], [typehash, reference_timestamp, message_hash])
    )
    return keccak(b"\x19\x01" + ecdsa_domain_separator(verifier) + struct_hash)


def ecdsa_sign(private_key: str, digest: bytes) -> tuple[str, bytes]:
    """(signer address, 65-byte r || s || v with v in {27, 28})."""
    key = keys.PrivateKey(bytes.fromhex(private_key[2:]))
    sig = key.sign_msg_hash(digest)
    raw = sig.r.to_bytes(32, "big") + sig.s.to_bytes(32, "big") + bytes([sig.v + 27])
    return key.public_key.to_checksum_address().lower(), raw


def ecdsa_certificate(reference_timestamp: int, message_hash: bytes, sig: bytes) -> bytes:
    return encode(["(uint32,bytes32,bytes)"], [(reference_timestamp, message_hash, sig)])


def ecdsa_signatures(private_keys: list[str], digest: bytes) -> bytes:
    """Concatenated signatures in ascending signer order."""
    signed = sorted(ecdsa_sign(k, digest) for k in private_keys)
    return b"".join(sig for _, sig in signed)


def bn254_digest(reference_timestamp: int, message_hash: bytes) -> bytes:
    typehash = keccak(text="BN254Certificate(uint32 referenceTimestamp,bytes32 messageHash)")
    return keccak(
        encode(["bytes32", "uint32", "bytes32"], [typehash, reference_timestamp, message_hash])
    )


def hash_to_g1(digest: bytes) -> tuple[int, int]:
    x = int.from_bytes(digest, "big") % P
    while True:
        beta = (x * x * x + 3) % P
        y = pow(beta, (P + 1) // 4, P)
        if y * y % P == beta:
            return x, y
        x = (x + 1) % P


def _g1(point: tuple[int, int]):
    return (FQ(point[0]), FQ(point[1]), FQ(1))


def bn254_sign(private_key: str, digest: bytes) -> tuple[int, int]:
    x, y = normalize(multiply(_g1(hash_to_g1(digest)), int(private_key, 16)))
    return int(x), int(y)


def g1_sum(points: list[tuple[int, int]]) -> tuple[int, int]:
    total = Z1
    for p in points:
        total = add(total, _g1(p))
    x, y = normalize(total)
    return int(x), int(y)


def g2_aggregate(private_keys: list[str]):
    """sum(sk_i) * G2 in Solidity order ((x_im, x_re), (y_im, y_re))."""
    total = Z2
    for k in private_keys:
        total = add(total, multiply(G2, int(k, 16)))
    x, y = normalize(total)
    return [int(x.coeffs[1]), int(x.coeffs[0])], [int(y.coeffs[1]), int(y.coeffs[0])]


BN254_CERT_TYPE = (
    "(uint32,bytes32,(uint256,uint256),(uint256[2],uint256[2]),"
    "(uint32,bytes,((uint256,uint256),uint256[]))[])"
)


def bn254_certificate(
    reference_timestamp: int,
    message_hash: bytes,
    signature: tuple[int, int],
    apk: tuple[list[int], list[int]],
    witnesses: list[tuple[int, bytes, tuple[tuple[int, int], list[int]]]] = (),
) -> bytes:
    return encode(
        [BN254_CERT_TYPE],
        [(reference_timestamp, message_hash, signature, apk, list(witnesses))],
    )
