"""BN254 BLS: every operation of the native backend cross-checked against py_ecc, on fixed
and random keys, and every malformed input rejected with a typed error."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest

from ponos.crypto import bn254
from ponos.crypto.bn254 import G1_GENERATOR, G2_GENERATOR, Bn254PrivateKey, G1Point, G2Point, P, R
from ponos.crypto.bn254.curve import g1_on_curve
from ponos.crypto.errors import CryptoError, InvalidKey, InvalidPoint, InvalidSignature
from tests.crypto import reference

FIXED_SCALARS = [1, 2, 3, 0xDEADBEEF, R - 1, 2**255 % R, 0x1234567890ABCDEF1234567890ABCDEF]
RANDOM_SCALARS = [1 + secrets.randbelow(R - 1) for _ in range(3)]
DIGEST = bytes.fromhex("5a1c8b3ae1d0c3c4b3a29f0a1e5e0d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3928")


def _sqrt_fp(value: int) -> int | None:
    root = pow(value, (P + 1) // 4, P)
    return root if root * root % P == value % P else None


@pytest.mark.parametrize(
    "digest",
    [bytes(32), DIGEST, b"\xff" * 32, (P - 1).to_bytes(32, "big"), (P + 5).to_bytes(32, "big")],
)
def test_hash_to_g1_is_the_first_square_from_digest_mod_p_and_lies_on_the_curve(digest):
    point = bn254.hash_to_g1(digest)
    assert reference.on_curve_g1(point)
    start = int.from_bytes(digest, "big") % P
    # Every x between digest mod p and the result has no square root of x³ + 3.
    steps = (point.x - start) % P
    assert steps < 64
    for offset in range(steps):
        x = (start + offset) % P
        assert _sqrt_fp((x**3 + 3) % P) is None
    assert point.y == pow((point.x**3 + 3) % P, (P + 1) // 4, P)


def test_hash_to_g1_of_zero_digest_is_the_generator():
    assert bn254.hash_to_g1(bytes(32)) == G1Point(1, 2)


@pytest.mark.parametrize("scalar", FIXED_SCALARS + RANDOM_SCALARS)
def test_public_keys_and_signature_match_py_ecc(scalar):
    key = Bn254PrivateKey(scalar)
    assert key.public_g1 == reference.public_g1(scalar)
    assert key.public_g2 == reference.public_g2(scalar)
    signature = G1Point(*(int.from_bytes(key.sign(DIGEST)[i : i + 32], "big") for i in (0, 32)))
    assert signature == reference.mul_g1(bn254.hash_to_g1(DIGEST), scalar)


def test_signature_verifies_and_py_ecc_pairing_agrees():
    key = Bn254PrivateKey(RANDOM_SCALARS[0])
    signature = key.sign(DIGEST)
    bn254.verify(DIGEST, signature, key.public_g2.to_bytes())
    sigma = bn254.parse_signature(signature)
    assert reference.pairings_equal(sigma, G2_GENERATOR, bn254.hash_to_g1(DIGEST), key.public_g2)


def test_aggregates_match_py_ecc_sums_and_verify_with_one_pairing_check():
    keys = [Bn254PrivateKey(s) for s in FIXED_SCALARS[:4] + RANDOM_SCALARS]
    signatures = [k.sign(DIGEST) for k in keys]
    aggregate = bn254.aggregate_signatures(signatures)
    apk_g2 = bn254.aggregate_public_keys_g2([k.public_g2.to_bytes() for k in keys])
    apk_g1 = bn254.aggregate_public_keys_g1([k.public_g1 for k in keys])
    assert bn254.parse_signature(aggregate) == reference.sum_g1(
        [bn254.parse_signature(s) for s in signatures]
    )
    assert bn254.parse_public_key_g2(apk_g2) == reference.sum_g2([k.public_g2 for k in keys])
    assert bn254.parse_public_key_g1(apk_g1) == reference.sum_g1([k.public_g1 for k in keys])
    bn254.verify_aggregate(DIGEST, aggregate, apk_g2)
    bn254.verify_certificate_signature(DIGEST, aggregate, apk_g1, apk_g2)


def test_aggregate_missing_one_signer_does_not_verify_against_the_full_key():
    keys = [Bn254PrivateKey(s) for s in FIXED_SCALARS[:5]]
    aggregate = bn254.aggregate_signatures([k.sign(DIGEST) for k in keys[:-1]])
    apk = bn254.aggregate_public_keys_g2([k.public_g2 for k in keys])
    with pytest.raises(InvalidSignature):
        bn254.verify_aggregate(DIGEST, aggregate, apk)


def test_signers_g1_key_is_total_minus_non_signers_as_the_verifier_computes_it():
    keys = [Bn254PrivateKey(s) for s in FIXED_SCALARS[:5]]
    total = bn254.aggregate_public_keys_g1([k.public_g1 for k in keys])
    signers = bn254.subtract_public_keys_g1(total, [keys[1].public_g1, keys[3].public_g1])
    expected = reference.sum_g1([keys[i].public_g1 for i in (0, 2, 4)])
    assert bn254.parse_public_key_g1(signers) == expected
    aggregate = bn254.aggregate_signatures([keys[i].sign(DIGEST) for i in (0, 2, 4)])
    apk_g2 = bn254.aggregate_public_keys_g2([keys[i].public_g2 for i in (0, 2, 4)])
    bn254.verify_certificate_signature(DIGEST, aggregate, signers, apk_g2)
    with pytest.raises(InvalidSignature):  # G1 key of other signers: the γ check catches it
        bn254.verify_certificate_signature(DIGEST, aggregate, total, apk_g2)


def test_wrong_key_and_wrong_digest_are_rejected():
    key, other = Bn254PrivateKey(11), Bn254PrivateKey(12)
    signature = key.sign(DIGEST)
    with pytest.raises(InvalidSignature, match="does not verify"):
        bn254.verify(DIGEST, signature, other.public_g2)
    with pytest.raises(InvalidSignature):
        bn254.verify(bytes(32), signature, key.public_g2)


def test_tampered_signature_is_rejected_with_a_crypto_error():
    key = Bn254PrivateKey(99)
    signature = bytearray(key.sign(DIGEST))
    signature[40] ^= 0x01  # Y changes: almost surely off the curve
    with pytest.raises(InvalidPoint, match="not on the BN254 curve"):
        bn254.verify(DIGEST, bytes(signature), key.public_g2)
    other_point = bn254.sign(key, bytes(32))  # on the curve, but for another digest
    with pytest.raises(InvalidSignature):
        bn254.verify(DIGEST, other_point, key.public_g2)


@pytest.mark.parametrize("size", [0, 32, 63, 65, 128])
def test_signature_of_wrong_length_is_rejected(size):
    with pytest.raises(InvalidSignature, match="64 bytes"):
        bn254.verify(DIGEST, b"\x01" * size, Bn254PrivateKey(5).public_g2)


def test_points_off_curve_out_of_field_or_at_infinity_are_rejected():
    key = Bn254PrivateKey(5)
    off_curve = G1Point(1, 3).to_bytes()
    assert not g1_on_curve(G1Point(1, 3))
    with pytest.raises(InvalidPoint, match="not on the BN254 curve"):
        bn254.verify(DIGEST, off_curve, key.public_g2)
    beyond_p = (P + 1).to_bytes(32, "big") + (2).to_bytes(32, "big")
    with pytest.raises(InvalidPoint, match="outside the BN254 base field"):
        bn254.parse_signature(beyond_p)
    with pytest.raises(InvalidPoint, match="infinity"):
        bn254.verify(DIGEST, bytes(64), key.public_g2)
    with pytest.raises(InvalidPoint, match="infinity"):
        bn254.verify(DIGEST, key.sign(DIGEST), bytes(128))
    with pytest.raises(InvalidPoint, match="128 bytes"):
        bn254.verify(DIGEST, key.sign(DIGEST), key.public_g2.to_bytes()[:-1])
    broken_g2 = bytearray(key.public_g2.to_bytes())
    broken_g2[100] ^= 0x04
    with pytest.raises(InvalidPoint, match="not on the BN254 twist"):
        bn254.parse_public_key_g2(bytes(broken_g2))


def _fp2_sqrt(a0: int, a1: int) -> tuple[int, int] | None:
    """A square root in F_p² (p ≡ 3 mod 4), for building a twist point outside G2."""
    norm = _sqrt_fp((a0 * a0 + a1 * a1) % P)
    if norm is None:
        return None
    inv2 = pow(2, P - 2, P)
    for delta in ((a0 + norm) * inv2 % P, (a0 - norm) * inv2 % P):
        x0 = _sqrt_fp(delta)
        if x0:
            x1 = a1 * pow(2 * x0, P - 2, P) % P
            if ((x0 * x0 - x1 * x1) % P, 2 * x0 * x1 % P) == (a0 % P, a1 % P):
                return x0, x1
    return None


def test_twist_point_outside_the_g2_subgroup_is_rejected():
    b2 = reference.ob.b2.coeffs  # 3 / (9 + i)
    x0 = 7
    while True:
        rhs0 = (x0**3 - 3 * x0 + int(b2[0])) % P  # (x0 + i)³ + b'
        rhs1 = (3 * x0 * x0 - 1 + int(b2[1])) % P
        root = _fp2_sqrt(rhs0, rhs1)
        if root:
            break
        x0 += 1
    point = G2Point(x0, 1, root[0], root[1])
    assert reference.on_curve_g2(point)
    assert not reference.in_subgroup_g2(point)
    with pytest.raises(InvalidPoint, match="not in the BN254 G2 subgroup"):
        bn254.parse_public_key_g2(point.to_bytes())
    with pytest.raises(InvalidPoint):
        bn254.verify(DIGEST, Bn254PrivateKey(3).sign(DIGEST), point.to_bytes())


@pytest.mark.parametrize("digest", [b"", bytes(31), bytes(33), "00" * 32])
def test_digest_must_be_32_bytes(digest):
    with pytest.raises(InvalidSignature, match="32 bytes"):
        bn254.sign(Bn254PrivateKey(3), digest)


@pytest.mark.parametrize("scalar", [0, R, R + 1, -1])
def test_private_key_out_of_range_is_rejected(scalar):
    with pytest.raises(InvalidKey):
        Bn254PrivateKey(scalar)


@pytest.mark.parametrize("text", ["", "0x", "zz", "0x" + "1" * 65, "0x" + "0" * 64])
def test_private_key_hex_must_be_a_valid_scalar(text):
    with pytest.raises(InvalidKey):
        Bn254PrivateKey.from_hex(text)


def test_private_key_hex_round_trips_and_never_shows_in_repr():
    key = Bn254PrivateKey.from_hex("0x" + "ab" * 16)
    assert key.to_bytes() == bytes(16) + b"\xab" * 16
    assert Bn254PrivateKey.from_hex("ab" * 16).scalar == key.scalar
    assert "ab" * 4 not in repr(key) and "hidden" in repr(key)


def test_empty_aggregations_are_rejected():
    with pytest.raises(CryptoError):
        bn254.aggregate_signatures([])
    with pytest.raises(CryptoError):
        bn254.aggregate_public_keys_g2([])
    with pytest.raises(CryptoError):
        bn254.aggregate_public_keys_g1([])


def test_verification_from_many_threads_gives_the_same_answers():
    keys = [Bn254PrivateKey(s) for s in range(2, 18)]
    cases = []
    for index, key in enumerate(keys):
        digest = index.to_bytes(32, "big")
        good = index % 3 != 0
        signature = key.sign(digest) if good else keys[(index + 1) % len(keys)].sign(digest)
        cases.append((digest, signature, key.public_g2, good))

    def check(case):
        digest, signature, pubkey, _good = case
        try:
            bn254.verify(digest, signature, pubkey)
            return True
        except InvalidSignature:
            return False

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(check, cases * 3))
    assert results == [c[3] for c in cases] * 3


def test_g1_and_g2_generators_round_trip_through_the_byte_layouts():
    assert bn254.parse_public_key_g1(G1_GENERATOR.to_bytes()) == G1_GENERATOR
    encoded = G2_GENERATOR.to_bytes()
    # Solidity order: X1 (imaginary) first.
    assert encoded[:32] == G2_GENERATOR.x1.to_bytes(32, "big")
    assert bn254.parse_public_key_g2(encoded) == G2_GENERATOR
    x, y = G2_GENERATOR.solidity()
    assert G2Point.from_solidity(x, y) == G2_GENERATOR
