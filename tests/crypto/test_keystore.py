"""Keystores: the EIP-2335 reference vector, round trips, and clear errors (never showing
the password or the key) for wrong passwords and malformed files."""

from __future__ import annotations

import hashlib
import json

import pytest
from Crypto.Cipher import AES

from ponos.crypto import keystore
from ponos.crypto.bn254 import Bn254PrivateKey
from ponos.crypto.ecdsa import EcdsaPrivateKey
from ponos.crypto.errors import KeystoreError

PASSWORD = "correct horse battery staple"

# EIP-2335's scrypt test vector (a BLS12-381 keystore; its secret is also a valid BN254
# scalar and it has no curveType, which the loader accepts).
EIP2335_SCRYPT = {
    "crypto": {
        "kdf": {
            "function": "scrypt",
            "params": {
                "dklen": 32,
                "n": 262144,
                "p": 1,
                "r": 8,
                "salt": "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3",
            },
            "message": "",
        },
        "checksum": {
            "function": "sha256",
            "params": {},
            "message": "d2217fe5f3e9a1e34581ef8a78f7c9928e436d36dacc5e846690a5581e8ea484",
        },
        "cipher": {
            "function": "aes-128-ctr",
            "params": {"iv": "264daa3f303d7259501c93d997d84fe6"},
            "message": "06ae90d55fe0a6e9c5c3bc5b170827b2e5cce3929ed3f116c2811e6366dfe20f",
        },
    },
    "description": "This is a test keystore that uses scrypt to secure the secret.",
    "pubkey": (
        "9612d7a727c9d0a22e185a1c768478dfe919cada9266988c"
        "b32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07"
    ),
    "path": "m/12381/60/3141592653/589793238",
    "uuid": "1d85ae20-35c5-4611-98e8-aa14a633906f",
    "version": 4,
}
EIP2335_PASSWORD = "𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑"
EIP2335_SECRET = 0x000000000019D6689C085AE165831E934FF763AE46A2A6C172B3F1B60A8CE26F


def test_eip2335_reference_vector_decrypts_to_its_secret():
    key = keystore.load_bn254_keystore(json.dumps(EIP2335_SCRYPT), EIP2335_PASSWORD)
    assert key.scalar == EIP2335_SECRET


def test_password_normalisation_follows_eip2335():
    assert keystore.normalize_password(EIP2335_PASSWORD) == bytes.fromhex(
        "7465737470617373776f7264f09f9491"
    )
    assert keystore.normalize_password("a\x00b\x1fc\x7fd\x85e") == b"abcde"


def _go_style_keystore(secret: bytes, password: str) -> dict:
    """A keystore built the way the Go crypto-libs writer builds it (independently of the
    module): pbkdf2, minimal big-endian secret, pubkey = G2 marshal, curveType bn254."""
    salt, iv = bytes(range(32)), bytes(range(16))
    derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 1000, 32)
    ciphertext = AES.new(derived[:16], AES.MODE_CTR, initial_value=iv, nonce=b"").encrypt(secret)
    key = Bn254PrivateKey.from_bytes(secret)
    return {
        "crypto": {
            "kdf": {
                "function": "pbkdf2",
                "params": {"dklen": 32, "c": 1000, "prf": "hmac-sha256", "salt": salt.hex()},
                "message": "",
            },
            "checksum": {
                "function": "sha256",
                "params": {},
                "message": hashlib.sha256(derived[16:] + ciphertext).hexdigest(),
            },
            "cipher": {
                "function": "aes-128-ctr",
                "params": {"iv": iv.hex()},
                "message": ciphertext.hex(),
            },
        },
        "pubkey": key.public_g2.to_bytes().hex(),
        "path": "m/1/0/0",
        "uuid": "00000000-0000-4000-8000-000000000000",
        "version": 4,
        "curveType": "bn254",
    }


def test_go_style_keystore_with_an_unpadded_secret_loads():
    secret = (0x1234).to_bytes(2, "big")  # Go's big.Int.Bytes() drops leading zeros
    data = _go_style_keystore(secret, PASSWORD)
    assert keystore.load_bn254_keystore(data, PASSWORD).scalar == 0x1234


@pytest.mark.parametrize("kdf", ["scrypt", "pbkdf2"])
def test_bn254_keystore_round_trips_through_a_file(tmp_path, kdf):
    key = Bn254PrivateKey.generate()
    data = keystore.create_bn254_keystore(key, PASSWORD, kdf=kdf, scrypt_n=1024)
    assert data["curveType"] == "bn254" and data["version"] == 4
    assert data["pubkey"] == key.public_g2.to_bytes().hex()
    path = tmp_path / "bls.json"
    keystore.write_keystore_file(path, data)
    assert path.stat().st_mode & 0o777 == 0o600
    assert keystore.load_bn254_keystore_file(path, PASSWORD).scalar == key.scalar
    assert key.to_bytes().hex() not in path.read_text()


def test_ecdsa_keystore_round_trips_and_matches_its_address(tmp_path):
    key = EcdsaPrivateKey.generate()
    data = keystore.create_ecdsa_keystore(key, PASSWORD, scrypt_n=1024)
    assert data["address"].lower() == key.address[2:].lower()
    path = tmp_path / "ecdsa.json"
    keystore.write_keystore_file(path, data)
    assert keystore.load_ecdsa_keystore_file(path, PASSWORD).address == key.address


def test_wrong_password_is_a_clear_error_without_the_password(tmp_path):
    bls = keystore.create_bn254_keystore(Bn254PrivateKey(7), PASSWORD, scrypt_n=1024)
    with pytest.raises(KeystoreError, match="wrong password") as caught:
        keystore.load_bn254_keystore(bls, "not-the-password")
    assert "not-the-password" not in str(caught.value) and PASSWORD not in str(caught.value)
    eth = keystore.create_ecdsa_keystore(EcdsaPrivateKey.generate(), PASSWORD, scrypt_n=1024)
    with pytest.raises(KeystoreError, match="wrong password") as caught:
        keystore.load_ecdsa_keystore(eth, "hunter2-wrong")
    assert "hunter2-wrong" not in str(caught.value)


def _mutated(path: list[str], value):
    data = json.loads(json.dumps(_go_style_keystore(b"\x12" * 32, PASSWORD)))
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["curveType"], "bls381", "not a bn254 key"),
        (["crypto"], _DELETE, "no crypto section"),
        (["crypto", "kdf", "function"], "argon2", "unsupported KDF"),
        (["crypto", "kdf", "params", "c"], 10, "KDF parameter c"),
        (["crypto", "kdf", "params", "salt"], "00", "salt must be 16 to 64 bytes"),
        (["crypto", "kdf", "params", "prf"], "hmac-sha512", "hmac-sha256"),
        (["crypto", "cipher", "function"], "aes-256-gcm", "unsupported cipher"),
        (["crypto", "cipher", "params", "iv"], "abcd", "iv must be 16 bytes"),
        (["crypto", "cipher", "message"], "zz", "message is not hex"),
        (["crypto", "checksum", "function"], "md5", "unsupported checksum"),
        (["crypto", "checksum", "message"], "00" * 32, "wrong password"),
        (["pubkey"], "00" * 128, "recorded pubkey does not match"),
    ],
)
def test_malformed_bn254_keystores_are_rejected_clearly(path, value, message):
    with pytest.raises(KeystoreError, match=message):
        keystore.load_bn254_keystore(_mutated(path, value), PASSWORD)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n": 3000}, "power of two"),
        ({"n": 2**21}, "KDF parameter n"),
        ({"n": 2**20, "r": 32}, "more than 1 GiB"),
        ({"p": 0}, "KDF parameter p"),
    ],
)
def test_hostile_scrypt_parameters_are_refused_before_deriving(params, message):
    data = keystore.create_bn254_keystore(Bn254PrivateKey(9), PASSWORD, scrypt_n=1024)
    data["crypto"]["kdf"]["params"].update(params)
    with pytest.raises(KeystoreError, match=message):
        keystore.load_bn254_keystore(data, PASSWORD)


def test_unreadable_sources_are_clear_errors(tmp_path):
    with pytest.raises(KeystoreError, match="does not exist"):
        keystore.load_bn254_keystore_file(tmp_path / "missing.json", PASSWORD)
    with pytest.raises(KeystoreError, match="is a directory"):
        keystore.load_ecdsa_keystore_file(tmp_path, PASSWORD)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(KeystoreError, match="not valid JSON"):
        keystore.load_bn254_keystore_file(broken, PASSWORD)
    with pytest.raises(KeystoreError, match="not an Ethereum keystore"):
        keystore.load_ecdsa_keystore("{}", PASSWORD)
    with pytest.raises(KeystoreError, match="no password"):
        keystore.load_bn254_keystore(EIP2335_SCRYPT, "")
    with pytest.raises(KeystoreError, match="password file"):
        keystore.read_password_file(tmp_path / "nope.txt")


def test_password_file_loses_only_its_trailing_newline(tmp_path):
    file = tmp_path / "pw"
    file.write_text("  spaced pass \n")
    assert keystore.read_password_file(file) == "  spaced pass "


def test_existing_keystore_is_never_overwritten(tmp_path):
    path = tmp_path / "k.json"
    path.write_text("{}")
    with pytest.raises(KeystoreError, match="already exists"):
        keystore.write_keystore_file(path, {"a": 1})
    assert path.read_text() == "{}"
