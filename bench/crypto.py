"""Signing benchmark: BN254 BLS on the chosen native backend (mcl via mclbn256, through
the ponos.crypto API), the other native candidate (zksnake, arkworks), and py_ecc, side by
side in one run; plus ECDSA sign/recover.

    .venv/bin/python -m bench.run crypto      (or: make bench BENCH=crypto)

Every BN254 path does the same work from bytes to answer: parse and validate the 64-byte
signatures, hash the digest to G1 (try-and-increment), sum or pair. Only the group
operations differ between backends.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence

from bench.report import machine_line, median, table
from ponos.crypto import bn254, ecdsa
from ponos.crypto.bn254 import G2_GENERATOR, Bn254PrivateKey, G1Point, G2Point
from ponos.crypto.bn254.curve import g1_from_bytes
from ponos.crypto.ecdsa import EcdsaPrivateKey

N = 100
TARGET_MS = 5.0


def _timed(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of `function` in milliseconds."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return median(samples)


# -- the candidates, each as (sign, verify_one, aggregate, verify_aggregate) -----------------
class MclPath:
    """The production path: ponos.crypto.bn254 on the mcl backend."""

    name = "mcl (mclbn256) — chosen"

    def sign(self, key: Bn254PrivateKey, digest: bytes) -> bytes:
        return bn254.sign(key, digest)

    def verify(self, digest: bytes, signature: bytes, pubkey: G2Point) -> bool:
        bn254.verify(digest, signature, pubkey)
        return True

    def aggregate(self, signatures: Sequence[bytes]) -> bytes:
        return bn254.aggregate_signatures(signatures)


class ZksnakePath:
    """zksnake 0.1.0 (arkworks via PyO3), with the same Python-side parsing."""

    name = "zksnake (arkworks)"

    def __init__(self) -> None:
        from zksnake._algebra import ec_bn254

        self.curve = ec_bn254
        self._g2_cache: dict[G2Point, object] = {}
        self.neg_g2 = self._g2(G2_GENERATOR.negate())
        self.one = ec_bn254.pairing(ec_bn254.g1() * 0, ec_bn254.g2())

    def _g2(self, point: G2Point):
        if point not in self._g2_cache:  # keys repeat: cache them as the mcl path does
            self._g2_cache[point] = self.curve.PointG2(point.x0, point.x1, point.y0, point.y1)
        return self._g2_cache[point]

    def _g1(self, data: bytes):
        point = g1_from_bytes(data)  # validate first: zksnake panics on off-curve input
        return self.curve.PointG1(point.x, point.y)

    def sign(self, key: Bn254PrivateKey, digest: bytes) -> bytes:
        hashed = bn254.hash_to_g1(digest)
        result = self.curve.PointG1(hashed.x, hashed.y) * key.scalar
        return G1Point(result.x, result.y).to_bytes()

    def verify(self, digest: bytes, signature: bytes, pubkey: G2Point) -> bool:
        hashed = bn254.message_point(digest)
        product = self.curve.multi_pairing(
            [self._g1(signature), self.curve.PointG1(hashed.x, hashed.y)],
            [self.neg_g2, self._g2(pubkey)],
        )
        return product == self.one

    def aggregate(self, signatures: Sequence[bytes]) -> bytes:
        total = self.curve.PointG1.identity()
        for signature in signatures:
            total = total + self._g1(signature)
        return G1Point(total.x, total.y).to_bytes()


class PyEccPath:
    """py_ecc 8 (pure Python, optimized_bn128): the cross-check library of the tests."""

    name = "py_ecc (pure Python)"

    def __init__(self) -> None:
        from py_ecc import optimized_bn128 as ob

        self.ob = ob

    def _g1(self, data: bytes):
        point = g1_from_bytes(data)
        return (self.ob.FQ(point.x), self.ob.FQ(point.y), self.ob.FQ(1))

    def _g2(self, point: G2Point):
        fq2 = self.ob.FQ2
        return (fq2([point.x0, point.x1]), fq2([point.y0, point.y1]), fq2([1, 0]))

    def sign(self, key: Bn254PrivateKey, digest: bytes) -> bytes:
        hashed = bn254.hash_to_g1(digest)
        point = self.ob.multiply(
            (self.ob.FQ(hashed.x), self.ob.FQ(hashed.y), self.ob.FQ(1)), key.scalar
        )
        x, y = self.ob.normalize(point)
        return G1Point(int(x), int(y)).to_bytes()

    def verify(self, digest: bytes, signature: bytes, pubkey: G2Point) -> bool:
        hashed = bn254.message_point(digest)
        ob = self.ob
        left = ob.pairing(self._g2(G2_GENERATOR), self._g1(signature))
        right = ob.pairing(self._g2(pubkey), (ob.FQ(hashed.x), ob.FQ(hashed.y), ob.FQ(1)))
        return left == right

    def aggregate(self, signatures: Sequence[bytes]) -> bytes:
        total = self.ob.Z1
        for signature in signatures:
            total = self.ob.add(total, self._g1(signature))
        x, y = self.ob.normalize(total)
        return G1Point(int(x), int(y)).to_bytes()


def _bn254_rows() -> tuple[list[list[object]], dict[str, dict[str, float]]]:
    keys = [Bn254PrivateKey.generate() for _ in range(N)]
    digest = secrets.token_bytes(32)
    signatures = [k.sign(digest) for k in keys]
    apk = bn254.parse_public_key_g2(bn254.aggregate_public_keys_g2([k.public_g2 for k in keys]))
    one_key = keys[0].public_g2
    results: dict[str, dict[str, float]] = {}
    for path, repeats in ((MclPath(), 200), (ZksnakePath(), 100), (PyEccPath(), 3)):
        aggregate = path.aggregate(signatures)
        assert aggregate == bn254.aggregate_signatures(signatures), path.name
        assert path.verify(digest, signatures[0], one_key), path.name
        assert path.verify(digest, aggregate, apk), path.name
        sign_digests = [secrets.token_bytes(32) for _ in range(repeats)]  # fresh: no hash cache
        digests = iter(sign_digests)
        results[path.name] = {
            "sign": _timed(lambda p=path, d=digests: p.sign(keys[1], next(d)), repeats),
            "verify one": _timed(lambda p=path: p.verify(digest, signatures[0], one_key), repeats),
            f"aggregate {N}": _timed(lambda p=path: p.aggregate(signatures), max(3, repeats // 10)),
            f"verify aggregate of {N}": _timed(
                lambda p=path, a=aggregate: p.verify(digest, a, apk), repeats
            ),
        }
    chosen = results[MclPath.name]
    rows = []
    for operation in chosen:
        row: list[object] = [operation]
        for name in results:
            row.append(f"{results[name][operation]:.3f}")
        for name in list(results)[1:]:
            row.append(f"{results[name][operation] / chosen[operation]:.1f}×")
        rows.append(row)
    return rows, results


def _ecdsa_rows() -> list[list[object]]:
    key = EcdsaPrivateKey.generate()
    digest = secrets.token_bytes(32)
    signature = key.sign(digest)
    return [
        ["sign (coincurve)", f"{_timed(lambda: key.sign(digest), 2000) * 1000:.0f}"],
        [
            "recover + compare address",
            f"{_timed(lambda: ecdsa.verify(digest, signature, key.address), 2000) * 1000:.0f}",
        ],
    ]


def main(argv: list[str]) -> str:
    rows, results = _bn254_rows()
    names = list(results)
    verify_aggregate = results[MclPath.name][f"verify aggregate of {N}"]
    verdict = "meets" if verify_aggregate < TARGET_MS else "misses"
    headers = ["operation (ms, median)", *names, *(f"{n} / mcl" for n in names[1:])]
    return "\n".join(
        [
            "## Signing (ECDSA, BN254 BLS)",
            "",
            "Command: `make bench BENCH=crypto` (`.venv/bin/python -m bench.run crypto`)",
            "",
            f"Machine: {machine_line()}",
            "",
            "BN254: each path starts from bytes (parse and validate 64-byte signatures, hash the "
            "digest to G1 by try-and-increment) and differs only in the group operations. "
            f"Keys and signatures of {N} signers over one digest; `verify` is one 2-pair pairing "
            "product e(σ, −G2)·e(H(m), pk) == 1; as in the services, H(digest) and parsed G2 "
            "keys are cached (all signers of a task sign one digest), on every path alike.",
            "",
            table(headers, rows),
            "",
            f"Target: verify an aggregate of {N} in under {TARGET_MS:.0f} ms: the chosen backend "
            f"{verdict} it ({verify_aggregate:.2f} ms).",
            "",
            "Why mcl: on par with or faster than zksnake on pairings, much faster wherever points "
            "are built from integers (zksnake's constructors re-validate, 120–450 µs each, which "
            "dominates aggregation), invalid input returns an error code where zksnake panics, "
            "and ctypes releases the GIL in native calls, so verifications run in parallel on the "
            "services' thread pool.",
            "",
            table(["ECDSA operation", "µs (median)"], _ecdsa_rows()),
        ]
    )
