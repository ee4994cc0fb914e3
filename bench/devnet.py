"""Devnet costs: anvil start, deployment (the per-module fixture), and task gas on chain.

.venv/bin/python -m bench.run devnet
"""

from __future__ import annotations

import time

from eth_utils import keccak

from bench.report import machine_line, median, table
from ponos.devnet.anvil import Anvil
from ponos.devnet.deploy import deploy_devnet
from ponos.devnet.local import local_devnet
from tests.devnet.signing import (
    bn254_certificate,
    bn254_digest,
    bn254_sign,
    ecdsa_certificate,
    ecdsa_digest,
    ecdsa_signatures,
    g1_sum,
    g2_aggregate,
)

RESULT = b"\x00" * 31 + b"\x10"
STARTS = 10
DEPLOYS = 3


def _anvil_starts() -> list[float]:
    times = []
    for _ in range(STARTS):
        started = time.perf_counter()
        node = Anvil().start()
        times.append(time.perf_counter() - started)
        node.stop()
    return times


def _deploys(curve: str) -> list[float]:
    times = []
    for _ in range(DEPLOYS):
        node = Anvil().start()
        try:
            started = time.perf_counter()
            deploy_devnet(node.url, operators=3, curve=curve)  # type: ignore[arg-type]
            times.append(time.perf_counter() - started)
        finally:
            node.stop()
    return times


def _ecdsa_gas() -> tuple[int, int]:
    with local_devnet(operators=3, curve="ecdsa") as net:
        task = net.client.create_task(b"\x04")
        create_gas = net.client.w3.eth.get_transaction_receipt(task.event.tx_hash)["gasUsed"]
        net.client.increase_time(1)
        ts = task.event.reference_timestamp
        digest = ecdsa_digest(
            net.deployment.contracts["ECDSACertificateVerifier"], ts, keccak(RESULT)
        )
        keys = [op.ecdsa.private_key for op in net.deployment.executors]
        cert = ecdsa_certificate(ts, keccak(RESULT), ecdsa_signatures(keys, digest))
        receipt = net.client.submit_result(task.task_hash, cert, RESULT)
        return create_gas, receipt["gasUsed"]


def _bn254_gas() -> tuple[int, int]:
    with local_devnet(operators=3, curve="bn254") as net:
        ops = net.deployment.executors
        gas = []
        for signers in ([0, 1, 2], [0, 1]):
            task = net.client.create_task(b"\x04")
            net.client.increase_time(1)
            ts = task.event.reference_timestamp
            digest = bn254_digest(ts, keccak(RESULT))
            sig = g1_sum([bn254_sign(ops[i].bls.private_key, digest) for i in signers])
            apk = g2_aggregate([ops[i].bls.private_key for i in signers])
            witnesses = [
                (i, b"", (ops[i].bls.g1, [ops[i].weight])) for i in range(3) if i not in signers
            ]
            cert = bn254_certificate(ts, keccak(RESULT), sig, apk, witnesses)
            gas.append(net.client.submit_result(task.task_hash, cert, RESULT)["gasUsed"])
        return gas[0], gas[1]


def main(argv: list[str]) -> str:
    starts = _anvil_starts()
    ecdsa_deploys = _deploys("ecdsa")
    bn254_deploys = _deploys("bn254")
    create_gas, ecdsa_submit = _ecdsa_gas()
    bn254_all, bn254_witness = _bn254_gas()
    timing = table(
        ["step", "runs", "median", "ratio to anvil start"],
        [
            [
                "anvil start (until JSON-RPC answers)",
                STARTS,
                f"{median(starts) * 1000:.0f} ms",
                "1.0",
            ],
            [
                "deploy_devnet, 3 ECDSA operators",
                DEPLOYS,
                f"{median(ecdsa_deploys):.2f} s",
                f"{median(ecdsa_deploys) / median(starts):.0f}",
            ],
            [
                "deploy_devnet, 3 BN254 operators",
                DEPLOYS,
                f"{median(bn254_deploys):.2f} s",
                f"{median(bn254_deploys) / median(starts):.0f}",
            ],
        ],
    )
    gas = table(
        ["transaction", "gas used", "ratio to ECDSA submitResult"],
        [
            ["createTask (1-byte payload)", create_gas, f"{create_gas / ecdsa_submit:.2f}"],
            ["submitResult, ECDSA, 3 of 3 signatures", ecdsa_submit, "1.00"],
            [
                "submitResult, BN254, 3 of 3 (aggregate, pairing)",
                bn254_all,
                f"{bn254_all / ecdsa_submit:.2f}",
            ],
            [
                "submitResult, BN254, 2 of 3 + 1 non-signer witness",
                bn254_witness,
                f"{bn254_witness / ecdsa_submit:.2f}",
            ],
        ],
    )
    return "\n\n".join(
        [
            "## Devnet",
            "`.venv/bin/python -m bench.run devnet`",
            machine_line(),
            "What a test module pays for its `devnet` fixture (anvil start + deploy), and the "
            "gas of the task transactions on the devnet contracts (gas moves by a few units with "
            "the signature bytes).",
            timing,
            gas,
        ]
    )
