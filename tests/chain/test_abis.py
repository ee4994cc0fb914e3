"""The EigenLayer ABI fragments: reference selectors and topics, and the devnet implements them."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from ponos.chain.abis import ABIS
from ponos.chain.abitext import AbiSyntaxError, canonical_signature, canonical_type, parse_signature
from ponos.chain.events import TASK_CREATED_TOPIC, TASK_VERIFIED_TOPIC
from ponos.devnet.artifacts import load_artifact

# From ../shared/reference (eigenlayer-interfaces.md, ponos-aggregator.md §2.5) and the
# selectors in EigenLayer's generated Go bindings.
REFERENCE_SELECTORS = {
    ("TaskMailbox", "submitResult"): "a5fabc81",
    ("TaskMailbox", "getExecutorOperatorSetTaskConfig"): "6bf6fad5",
    ("TaskMailbox", "getBN254CertificateBytes"): "1ae370eb",
    ("TaskMailbox", "getECDSACertificateBytes"): "1270a892",
    ("TaskMailbox", "getTaskInfo"): "4ad52e02",
    ("CrossChainRegistry", "getSupportedChains"): "c4bffe2b",
    ("KeyRegistrar", "getECDSAAddress"): "3b32a7bd",
    ("TaskAVSRegistrar", "getAvsConfig"): "41f548f0",
    ("TaskAVSRegistrar", "getAVS"): "f62b9a54",
    ("ECDSACertificateVerifier", "getTotalStakeWeights"): "7d1d1f5b",
    ("ECDSACertificateVerifier", "calculateCertificateDigest"): "18467434",
    ("ECDSACertificateVerifier", "calculateCertificateDigestBytes"): "702ca531",
    ("ECDSACertificateVerifier", "getOperatorInfos"): "7c85ac4c",
    ("ECDSACertificateVerifier", "domainSeparator"): "f698da25",
    ("ECDSACertificateVerifier", "verifyCertificateProportion"): "c0da2420",
    ("OperatorTableUpdater", "getLatestReferenceTimestamp"): "4624e6a3",
    ("OperatorTableUpdater", "getReferenceBlockNumberByTimestamp"): "23b7b5b2",
}

# Which devnet contract implements each fragment group.
IMPLEMENTED_BY = {
    "TaskMailbox": ["TaskMailbox"],
    "AllocationManager": ["AllocationManager"],
    "TaskAVSRegistrar": ["TaskAVSRegistrar"],
    "KeyRegistrar": ["KeyRegistrar"],
    "CrossChainRegistry": ["CrossChainRegistry"],
    "OperatorTableCalculator": ["ECDSATableCalculator", "BN254TableCalculator"],
    "ECDSATableCalculator": ["ECDSATableCalculator"],
    "BN254TableCalculator": ["BN254TableCalculator"],
    "OperatorTableUpdater": ["OperatorTableUpdater"],
    "ECDSACertificateVerifier": ["ECDSACertificateVerifier"],
    "BN254CertificateVerifier": ["BN254CertificateVerifier"],
}


def _entry(group: str, name: str) -> dict:
    (entry,) = [e for e in ABIS[group] if e["name"] == name]
    return entry


@pytest.mark.parametrize(("group", "name"), sorted(REFERENCE_SELECTORS))
def test_selectors_match_the_reference(group, name):
    selector = keccak(text=canonical_signature(_entry(group, name)))[:4].hex()
    assert selector == REFERENCE_SELECTORS[(group, name)]


def test_event_topics_match_the_reference():
    assert "0x" + keccak(text=canonical_signature(_entry("TaskMailbox", "TaskCreated"))).hex() == (
        TASK_CREATED_TOPIC
    )
    assert "0x" + keccak(text=canonical_signature(_entry("TaskMailbox", "TaskVerified"))).hex() == (
        TASK_VERIFIED_TOPIC
    )
    created = _entry("TaskMailbox", "TaskCreated")
    assert [p["indexed"] for p in created["inputs"]] == [True, True, True] + [False] * 6


@pytest.mark.parametrize("group", sorted(IMPLEMENTED_BY))
def test_devnet_contracts_implement_every_fragment_with_identical_types(group):
    for contract in IMPLEMENTED_BY[group]:
        compiled = load_artifact(contract).abi
        by_signature = {canonical_signature(e): e for e in compiled if "name" in e}
        for entry in ABIS[group]:
            signature = canonical_signature(entry)
            assert signature in by_signature, f"{contract} lacks {signature}"
            devnet = by_signature[signature]
            assert devnet["type"] == entry["type"]
            if entry["type"] == "function":
                assert [canonical_type(o) for o in devnet["outputs"]] == [
                    canonical_type(o) for o in entry["outputs"]
                ], f"{contract}.{signature} returns different types"
            else:
                assert [i["indexed"] for i in devnet["inputs"]] == [
                    i["indexed"] for i in entry["inputs"]
                ]


def test_parser_reads_nested_tuples_arrays_and_names():
    entry = parse_signature(
        "function f((uint32 a,(address b,uint8[2] c)[] d) x, bytes) view returns (uint256[][] w)"
    )
    assert canonical_signature(entry) == "f((uint32,(address,uint8[2])[]),bytes)"
    assert entry["inputs"][0]["components"][1]["name"] == "d"
    assert entry["outputs"] == [{"name": "w", "type": "uint256[][]"}]
    assert entry["stateMutability"] == "view"
    assert parse_signature("function g()")["stateMutability"] == "nonpayable"


@pytest.mark.parametrize(
    "bad",
    [
        "function f(uint256",
        "constructor(uint256 a)",
        "function f(uint256 indexed a)",
        "function f() view returns uint256",
        "event E(uint256 a b)",
    ],
)
def test_parser_rejects_malformed_signatures(bad):
    with pytest.raises(AbiSyntaxError):
        parse_signature(bad)
