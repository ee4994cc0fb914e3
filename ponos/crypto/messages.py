"""Every digest that Ponos signs, exactly as `docs/protocol.md` lays them out.

Pure functions: bytes (or 0x-hex strings for ids and addresses) in, 32-byte digests out.
A value that does not fit its field (a 31-byte task id, an operator set id ≥ 2³²) raises
`EncodingError` naming the field.
"""

from __future__ import annotations

from ponos.crypto.errors import EncodingError
from ponos.crypto.keccak import keccak256 as keccak

ECDSA_CERTIFICATE_TYPEHASH = keccak(
    b"ECDSACertificate(uint32 referenceTimestamp,bytes32 messageHash)"
)
BN254_CERTIFICATE_TYPEHASH = keccak(
    b"BN254Certificate(uint32 referenceTimestamp,bytes32 messageHash)"
)
EIP712_DOMAIN_TYPEHASH_NO_CHAINID = keccak(
    b"EIP712Domain(string name,string version,address verifyingContract)"
)
EIGENLAYER_DOMAIN_NAME = "EigenLayer"
TASK_SUBMISSION_VERSION = 1
RESULT_VERSION = 1

_UINT32_MAX = 2**32 - 1
_UINT64_MAX = 2**64 - 1


def _bytes32(value: bytes | str, field: str) -> bytes:
    if isinstance(value, str):
        text = value[2:] if value[:2].lower() == "0x" else value
        try:
            value = bytes.fromhex(text)
        except ValueError:
            raise EncodingError(f"{field} is not hex") from None
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        size = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise EncodingError(f"{field} must be 32 bytes, got {size}")
    return bytes(value)


def _address_word(value: bytes | str, field: str) -> bytes:
    if isinstance(value, str):
        text = value[2:] if value[:2].lower() == "0x" else None
        if text is None or len(text) != 40:
            raise EncodingError(f"{field} must be a 0x-prefixed 20-byte hex address")
        try:
            value = bytes.fromhex(text)
        except ValueError:
            raise EncodingError(f"{field} is not a hex address") from None
    if not isinstance(value, bytes | bytearray) or len(value) != 20:
        raise EncodingError(f"{field} must be a 20-byte address")
    return bytes(12) + bytes(value)


def _uint_word(value: int, maximum: int, field: str) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise EncodingError(f"{field} must be an integer in [0, {maximum}], got {value!r}")
    return value.to_bytes(32, "big")


def _bytes(value: bytes, field: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise EncodingError(f"{field} must be bytes, got {type(value).__name__}")
    return bytes(value)


def message_hash(result: bytes) -> bytes:
    """`messageHash = keccak256(result)`, what TaskMailbox.submitResult compares."""
    return keccak(_bytes(result, "result"))


def ecdsa_domain_separator(verifier_address: bytes | str, version: str = "v1.0.0") -> bytes:
    """ECDSACertificateVerifier.domainSeparator(): EIP-712 without a chain id. `version`
    is the verifier's version string; its first two characters are the major version."""
    if not isinstance(version, str) or len(version) < 2:
        raise EncodingError("the verifier version must be a string such as 'v1.0.0'")
    return keccak(
        EIP712_DOMAIN_TYPEHASH_NO_CHAINID
        + keccak(EIGENLAYER_DOMAIN_NAME.encode())
        + keccak(version[:2].encode())
        + _address_word(verifier_address, "verifier address")
    )


def ecdsa_certificate_digest_bytes(
    domain_separator: bytes, reference_timestamp: int, message_hash: bytes
) -> bytes:
    """`calculateCertificateDigestBytes`: 0x1901 ‖ domainSeparator ‖ structHash (66 bytes)."""
    struct_hash = keccak(
        ECDSA_CERTIFICATE_TYPEHASH
        + _uint_word(reference_timestamp, _UINT32_MAX, "reference timestamp")
        + _bytes32(message_hash, "message hash")
    )
    return b"\x19\x01" + _bytes32(domain_separator, "domain separator") + struct_hash


def ecdsa_certificate_digest(
    domain_separator: bytes, reference_timestamp: int, message_hash: bytes
) -> bytes:
    """`calculateCertificateDigest`: what every ECDSA executor signs (raw, no prefix)."""
    return keccak(
        ecdsa_certificate_digest_bytes(domain_separator, reference_timestamp, message_hash)
    )


def bn254_certificate_digest(reference_timestamp: int, message_hash: bytes) -> bytes:
    """`BN254CertificateVerifier.calculateCertificateDigest`:
    keccak(abi.encode(BN254_CERTIFICATE_TYPEHASH, uint32 referenceTimestamp, messageHash))."""
    return keccak(
        BN254_CERTIFICATE_TYPEHASH
        + _uint_word(reference_timestamp, _UINT32_MAX, "reference timestamp")
        + _bytes32(message_hash, "message hash")
    )


def task_submission_preimage(
    task_id: bytes | str,
    avs: bytes | str,
    executor: bytes | str,
    operator_set_id: int,
    reference_timestamp: int,
    task_block_number: int,
    payload: bytes,
) -> bytes:
    """The 224 bytes hashed by `task_submission_digest` (version 1)."""
    return (
        _bytes32(task_id, "task id")
        + _address_word(avs, "AVS address")
        + _address_word(executor, "executor address")
        + _uint_word(operator_set_id, _UINT32_MAX, "operator set id")
        + _uint_word(reference_timestamp, _UINT32_MAX, "reference timestamp")
        + _uint_word(task_block_number, _UINT64_MAX, "task block number")
        + keccak(_bytes(payload, "payload"))
    )


def task_submission_digest(
    task_id: bytes | str,
    avs: bytes | str,
    executor: bytes | str,
    operator_set_id: int,
    reference_timestamp: int,
    task_block_number: int,
    payload: bytes,
) -> bytes:
    """What the aggregator signs for one executor (TaskSubmission.signature, version 1)."""
    return keccak(
        task_submission_preimage(
            task_id, avs, executor, operator_set_id, reference_timestamp, task_block_number, payload
        )
    )


def result_auth_preimage(
    task_id: bytes | str,
    avs: bytes | str,
    operator: bytes | str,
    operator_set_id: int,
    result_signature: bytes,
) -> bytes:
    """The 160 bytes hashed by `result_auth_digest`."""
    return (
        _bytes32(task_id, "task id")
        + _address_word(avs, "AVS address")
        + _address_word(operator, "operator address")
        + _uint_word(operator_set_id, _UINT32_MAX, "operator set id")
        + keccak(_bytes(result_signature, "result signature"))
    )


def result_auth_digest(
    task_id: bytes | str,
    avs: bytes | str,
    operator: bytes | str,
    operator_set_id: int,
    result_signature: bytes,
) -> bytes:
    """What the executor signs as TaskResult.auth_signature, binding its result signature
    to the task, AVS, operator and operator set."""
    return keccak(result_auth_preimage(task_id, avs, operator, operator_set_id, result_signature))


__all__ = [
    "BN254_CERTIFICATE_TYPEHASH",
    "ECDSA_CERTIFICATE_TYPEHASH",
    "EIGENLAYER_DOMAIN_NAME",
    "EIP712_DOMAIN_TYPEHASH_NO_CHAINID",
    "RESULT_VERSION",
    "TASK_SUBMISSION_VERSION",
    "bn254_certificate_digest",
    "ecdsa_certificate_digest",
    "ecdsa_certificate_digest_bytes",
    "ecdsa_domain_separator",
    "message_hash",
    "result_auth_digest",
    "result_auth_preimage",
    "task_submission_digest",
    "task_submission_preimage",
]
