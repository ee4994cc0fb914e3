"""The independent cross-check: py_ecc (pure Python) computations of what the native
backend computes. Only tests import this; py_ecc never appears in ponos/."""

from __future__ import annotations

from py_ecc import optimized_bn128 as ob

from ponos.crypto.bn254.curve import G1Point, G2Point


def to_pyecc_g1(point: G1Point):
    return (ob.FQ(point.x), ob.FQ(point.y), ob.FQ(1))


def to_pyecc_g2(point: G2Point):
    return (ob.FQ2([point.x0, point.x1]), ob.FQ2([point.y0, point.y1]), ob.FQ2([1, 0]))


def from_pyecc_g1(point) -> G1Point:
    x, y = ob.normalize(point)
    return G1Point(int(x), int(y))


def from_pyecc_g2(point) -> G2Point:
    x, y = ob.normalize(point)
    return G2Point(int(x.coeffs[0]), int(x.coeffs[1]), int(y.coeffs[0]), int(y.coeffs[1]))


def public_g1(scalar: int) -> G1Point:
    return from_pyecc_g1(ob.multiply(ob.G1, scalar))


def public_g2(scalar: int) -> G2Point:
    return from_pyecc_g2(ob.multiply(ob.G2, scalar))


def mul_g1(point: G1Point, scalar: int) -> G1Point:
    return from_pyecc_g1(ob.multiply(to_pyecc_g1(point), scalar))


def sum_g1(points: list[G1Point]) -> G1Point:
    total = ob.Z1
    for point in points:
        total = ob.add(total, to_pyecc_g1(point))
    return from_pyecc_g1(total)


def sum_g2(points: list[G2Point]) -> G2Point:
    total = ob.Z2
    for point in points:
        total = ob.add(total, to_pyecc_g2(point))
    return from_pyecc_g2(total)


def pairings_equal(p1: G1Point, q1: G2Point, p2: G1Point, q2: G2Point) -> bool:
    """e(p1, q1) == e(p2, q2) with py_ecc (about a second per pairing)."""
    return ob.pairing(to_pyecc_g2(q1), to_pyecc_g1(p1)) == ob.pairing(
        to_pyecc_g2(q2), to_pyecc_g1(p2)
    )


def on_curve_g1(point: G1Point) -> bool:
    return ob.is_on_curve(to_pyecc_g1(point), ob.b)


def on_curve_g2(point: G2Point) -> bool:
    return ob.is_on_curve(to_pyecc_g2(point), ob.b2)


def in_subgroup_g2(point: G2Point) -> bool:
    return ob.is_inf(ob.multiply(to_pyecc_g2(point), ob.curve_order))
