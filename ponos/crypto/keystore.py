"""Encrypted key files: Ethereum keystore v3 (ECDSA) and the EIP-2335-style BN254 keystore
that the Go Ponos and its keygen tools read and write.

ECDSA keystores go through eth-account (scrypt or pbkdf2, AES-128-CTR, keccak MAC).

BN254 keystore (Layr-Labs crypto-libs `keystore.EIP2335Keystore`):

    {"crypto": {"kdf":      {"function": "scrypt", "params": {"dklen": 32, "n": 262144,
                                                                "r": 8, "p": 1, "salt": hex},
                             "message": ""},
                "checksum": {"function": "sha256", "params": {}, "message": hex},
                "cipher":   {"function": "aes-128-ctr", "params": {"iv": hex}, "message": hex}},
     "description": "", "pubkey": hex(G2, 128 bytes, Solidity order), "path": "m/1/0/0",
     "uuid": "...", "version": 4, "curveType": "bn254"}

The password is NFKD-normalised with C0/C1/DEL control characters removed (EIP-2335);
decryption key DK = KDF(password, salt); checksum = sha256(DK[16:32] ‖ ciphertext);
secret = AES-128-CTR(key=DK[:16], iv) of the ciphertext = the scalar, big-endian (the Go
writer stores it without leading zero bytes; we write 32 bytes). `pbkdf2` (hmac-sha256, c)
is read as well. Parameter bounds follow the Go reader, so a hostile file cannot make the
KDF allocate gigabytes. No error message contains the password or key material.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import unicodedata
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from Crypto.Cipher import AES  # pycryptodome: installed with eth-account (eth-keyfile)

from ponos.crypto.bn254.bls import Bn254PrivateKey
from ponos.crypto.ecdsa import EcdsaPrivateKey
from ponos.crypto.errors import InvalidKey, KeystoreError

BN254_CURVE_TYPE = "bn254"
BN254_KEYSTORE_PATH = "m/1/0/0"
DEFAULT_SCRYPT_N = 262144  # EIP-2335's reference value, also the Go default
_MAX_KEYSTORE_BYTES = 2 * 1024 * 1024


# -- shared helpers ----------------------------------------------------------------------
def read_password_file(path: str | Path) -> str:
    """A password file's content without its trailing newline."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeystoreError(f"password file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise KeystoreError(f"password file {path} cannot be read: {reason}") from None
    return text.rstrip("\r\n")


def _read_keystore_text(path: str | Path) -> str:
    file = Path(path)
    try:
        if file.stat().st_size > _MAX_KEYSTORE_BYTES:
            raise KeystoreError(f"keystore file {path} is larger than 2 MiB: not a keystore")
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeystoreError(f"keystore file {path} does not exist") from None
    except IsADirectoryError:
        raise KeystoreError(f"keystore file {path} is a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise KeystoreError(f"keystore file {path} cannot be read: {reason}") from None


def _parse_json(keystore: str | Mapping[str, Any], source: str) -> dict[str, Any]:
    if isinstance(keystore, Mapping):
        return dict(keystore)
    try:
        data = json.loads(keystore)
    except (json.JSONDecodeError, TypeError):
        raise KeystoreError(f"{source} is not valid JSON") from None
    if not isinstance(data, dict):
        raise KeystoreError(f"{source} is not a JSON object")
    return data


def _check_password(password: str, source: str) -> None:
    if not isinstance(password, str) or password == "":
        raise KeystoreError(f"no password given for {source}")


def write_keystore_file(path: str | Path, keystore: Mapping[str, Any]) -> None:
    """Write a keystore JSON readable only by the owner (0600), never overwriting a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeystoreError(f"{target} already exists; refusing to overwrite a keystore") from None
    except OSError as exc:
        raise KeystoreError(f"cannot write keystore {target}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(keystore, out, indent=2)
        out.write("\n")


# -- ECDSA (Ethereum keystore v3) ---------------------------------------------------------
def create_ecdsa_keystore(
    key: EcdsaPrivateKey, password: str, *, scrypt_n: int = DEFAULT_SCRYPT_N
) -> dict[str, Any]:
    from eth_account import Account

    _check_password(password, "the new keystore")
    return dict(Account.encrypt(key.to_bytes(), password, kdf="scrypt", iterations=scrypt_n))


def load_ecdsa_keystore(
    keystore: str | Mapping[str, Any], password: str, *, source: str = "ECDSA keystore"
) -> EcdsaPrivateKey:
    """Decrypt an Ethereum keystore v3 (JSON text or parsed object)."""
    from eth_account import Account

    data = _parse_json(keystore, source)
    _check_password(password, source)
    crypto = data.get("crypto", data.get("Crypto"))
    if not isinstance(crypto, dict) or "ciphertext" not in crypto:
        raise KeystoreError(f"{source} is not an Ethereum keystore (no crypto.ciphertext)")
    try:
        secret = Account.decrypt(data, password)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise KeystoreError(f"wrong password for {source}") from None
        raise KeystoreError(f"{source} is malformed or uses unsupported parameters") from None
    except (KeyError, TypeError, AttributeError):
        raise KeystoreError(f"{source} is malformed: a required field is missing") from None
    try:
        return EcdsaPrivateKey(bytes(secret))
    except InvalidKey:
        raise KeystoreError(f"{source} decrypts to an invalid secp256k1 key") from None


def load_ecdsa_keystore_file(path: str | Path, password: str) -> EcdsaPrivateKey:
    return load_ecdsa_keystore(_read_keystore_text(path), password, source=f"ECDSA keystore {path}")


# -- BN254 (EIP-2335 style) -----------------------------------------------------------------
def normalize_password(password: str) -> bytes:
    """EIP-2335: NFKD, strip C0 (0x00-0x1F), C1 (0x80-0x9F) and DEL (0x7F), UTF-8."""
    normalized = unicodedata.normalize("NFKD", password)
    kept = "".join(c for c in normalized if not (ord(c) <= 0x1F or 0x7F <= ord(c) <= 0x9F))
    return kept.encode("utf-8")


def _hex_field(params: Mapping[str, Any], name: str, source: str) -> bytes:
    value = params.get(name)
    if not isinstance(value, str) or value == "":
        raise KeystoreError(f"{source}: missing {name}")
    try:
        return bytes.fromhex(value[2:] if value[:2].lower() == "0x" else value)
    except ValueError:
        raise KeystoreError(f"{source}: {name} is not hex") from None


def _int_param(params: Mapping[str, Any], name: str, low: int, high: int, source: str) -> int:
    value = params.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise KeystoreError(f"{source}: KDF parameter {name} must be an integer in [{low}, {high}]")
    return value


def _derive_key(kdf: Mapping[str, Any], password: bytes, source: str) -> bytes:
    function = kdf.get("function")
    params = kdf.get("params")
    if not isinstance(params, Mapping):
        raise KeystoreError(f"{source}: crypto.kdf.params is missing")
    salt = _hex_field(params, "salt", source)
    if not 16 <= len(salt) <= 64:
        raise KeystoreError(f"{source}: KDF salt must be 16 to 64 bytes")
    _int_param(params, "dklen", 32, 32, source)  # EIP-2335 fixes the derived key at 32 bytes
    if function == "scrypt":
        n = _int_param(params, "n", 1024, 1 << 20, source)
        r = _int_param(params, "r", 1, 32, source)
        p = _int_param(params, "p", 1, 16, source)
        if n & (n - 1):
            raise KeystoreError(f"{source}: scrypt n must be a power of two")
        if 128 * n * r > 1 << 30:
            raise KeystoreError(f"{source}: scrypt parameters need more than 1 GiB of memory")
        return hashlib.scrypt(
            password, salt=salt, n=n, r=r, p=p, dklen=32, maxmem=128 * r * (n + p + 2) + (1 << 24)
        )
    if function == "pbkdf2":
        if params.get("prf") != "hmac-sha256":
            raise KeystoreError(f"{source}: only pbkdf2 with prf hmac-sha256 is supported")
        c = _int_param(params, "c", 1000, 10_000_000, source)
        return hashlib.pbkdf2_hmac("sha256", password, salt, c, dklen=32)
    raise KeystoreError(f"{source}: unsupported KDF {function!r} (expected scrypt or pbkdf2)")


def _module(crypto: Mapping[str, Any], name: str, source: str) -> Mapping[str, Any]:
    module = crypto.get(name)
    if not isinstance(module, Mapping):
        raise KeystoreError(f"{source}: crypto.{name} is missing")
    return module


def _aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    return AES.new(key, AES.MODE_CTR, initial_value=iv, nonce=b"").encrypt(data)


def load_bn254_keystore(
    keystore: str | Mapping[str, Any], password: str, *, source: str = "BN254 keystore"
) -> Bn254PrivateKey:
    """Decrypt a BN254 EIP-2335-style keystore (JSON text or parsed object)."""
    data = _parse_json(keystore, source)
    _check_password(password, source)
    curve = data.get("curveType")
    if curve not in (None, "", BN254_CURVE_TYPE):
        raise KeystoreError(f"{source} holds a {curve!r} key, not a bn254 key")
    crypto = data.get("crypto")
    if not isinstance(crypto, Mapping):
        raise KeystoreError(f"{source} is not an EIP-2335 keystore (no crypto section)")
    kdf = _module(crypto, "kdf", source)
    checksum = _module(crypto, "checksum", source)
    cipher = _module(crypto, "cipher", source)
    if checksum.get("function") != "sha256":
        raise KeystoreError(f"{source}: unsupported checksum {checksum.get('function')!r}")
    if cipher.get("function") != "aes-128-ctr":
        raise KeystoreError(f"{source}: unsupported cipher {cipher.get('function')!r}")
    ciphertext = _hex_field(cipher, "message", source)
    expected = _hex_field(checksum, "message", source)
    cipher_params = cipher.get("params")
    iv = _hex_field(cipher_params if isinstance(cipher_params, Mapping) else {}, "iv", source)
    if len(iv) != 16:
        raise KeystoreError(f"{source}: cipher iv must be 16 bytes")
    if not 0 < len(ciphertext) <= 32:
        raise KeystoreError(f"{source}: the encrypted secret must be 1 to 32 bytes")
    derived = _derive_key(kdf, normalize_password(password), source)
    if not hmac.compare_digest(hashlib.sha256(derived[16:32] + ciphertext).digest(), expected):
        raise KeystoreError(f"wrong password for {source} (checksum mismatch)")
    try:
        key = Bn254PrivateKey.from_bytes(_aes_ctr(derived[:16], iv, ciphertext))
    except InvalidKey:
        raise KeystoreError(f"{source} decrypts to an invalid BN254 scalar") from None
    _check_recorded_pubkey(data.get("pubkey"), key, source)
    return key


def _check_recorded_pubkey(recorded: Any, key: Bn254PrivateKey, source: str) -> None:
    """The Go writer records hex(G2 public key); a mismatch means a corrupted file."""
    if not isinstance(recorded, str) or not recorded:
        return
    text = recorded[2:] if recorded[:2].lower() == "0x" else recorded
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise KeystoreError(f"{source}: pubkey is not hex") from None
    expected = {128: key.public_g2.to_bytes(), 64: key.public_g1.to_bytes()}.get(len(raw))
    if expected is not None and raw != expected:
        raise KeystoreError(f"{source}: the recorded pubkey does not match the decrypted key")


def load_bn254_keystore_file(path: str | Path, password: str) -> Bn254PrivateKey:
    return load_bn254_keystore(_read_keystore_text(path), password, source=f"BN254 keystore {path}")


def create_bn254_keystore(
    key: Bn254PrivateKey,
    password: str,
    *,
    kdf: str = "scrypt",
    scrypt_n: int = DEFAULT_SCRYPT_N,
    description: str = "",
) -> dict[str, Any]:
    """An EIP-2335-style keystore the Go Ponos reads (`curveType: "bn254"`)."""
    _check_password(password, "the new keystore")
    salt = secrets.token_bytes(32)
    iv = secrets.token_bytes(16)
    if kdf == "scrypt":
        kdf_module: dict[str, Any] = {
            "function": "scrypt",
            "params": {"dklen": 32, "n": scrypt_n, "r": 8, "p": 1, "salt": salt.hex()},
            "message": "",
        }
    elif kdf == "pbkdf2":
        kdf_module = {
            "function": "pbkdf2",
            "params": {"dklen": 32, "c": 262144, "prf": "hmac-sha256", "salt": salt.hex()},
            "message": "",
        }
    else:
        raise KeystoreError(f"unsupported KDF {kdf!r} (use scrypt or pbkdf2)")
    derived = _derive_key(kdf_module, normalize_password(password), "the new keystore")
    ciphertext = _aes_ctr(derived[:16], iv, key.to_bytes())
    return {
        "crypto": {
            "kdf": kdf_module,
            "checksum": {
                "function": "sha256",
                "params": {},
                "message": hashlib.sha256(derived[16:32] + ciphertext).hexdigest(),
            },
            "cipher": {
                "function": "aes-128-ctr",
                "params": {"iv": iv.hex()},
                "message": ciphertext.hex(),
            },
        },
        "description": description,
        "pubkey": key.public_g2.to_bytes().hex(),
        "path": BN254_KEYSTORE_PATH,
        "uuid": str(uuid.uuid4()),
        "version": 4,
        "curveType": BN254_CURVE_TYPE,
    }


__all__ = [
    "BN254_CURVE_TYPE",
    "DEFAULT_SCRYPT_N",
    "create_bn254_keystore",
    "create_ecdsa_keystore",
    "load_bn254_keystore",
    "load_bn254_keystore_file",
    "load_ecdsa_keystore",
    "load_ecdsa_keystore_file",
    "normalize_password",
    "read_password_file",
    "write_keystore_file",
]
