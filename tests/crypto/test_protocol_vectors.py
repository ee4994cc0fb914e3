"""The test vectors printed in docs/protocol.md are what the code computes.

The document is normative for the executor, the aggregator and the devnet contracts, so its
vectors must never drift from ponos.crypto. Regenerate the block after a deliberate change:

    .venv/bin/python -m tests.crypto.test_protocol_vectors
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from eth_utils import keccak

from ponos.crypto import bn254, certificates, messages
from ponos.crypto.bn254 import Bn254PrivateKey
from ponos.crypto.certificates import NonSignerWitness
from ponos.crypto.ecdsa import EcdsaPrivateKey
from tests.helpers import ROOT

PROTOCOL = ROOT / "docs" / "protocol.md"
BLOCK = re.compile(r"<!-- vectors:begin -->\s*```json\n(.*?)```\s*<!-- vectors:end -->", re.S)

INPUTS: dict[str, Any] = {
    "result": "0x" + b"ponos result".hex(),
    "payload": "0x" + b"ponos payload".hex(),
    "referenceTimestamp": 1700000000,
    "ecdsaVerifier": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    "ecdsaVerifierVersion": "v1.0.0",
    "taskId": "0x" + keccak(b"ponos task").hex(),
    "avs": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "executor": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "operatorSetId": 1,
    "taskBlockNumber": 12345,
    "ecdsaKeys": [
        "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
        "0x" + keccak(b"ponos ecdsa 2").hex(),
    ],
    "bn254Keys": [
        "0x07",
        "0x"
        + (int.from_bytes(keccak(b"ponos bn254 2"), "big") % bn254.R).to_bytes(32, "big").hex(),
    ],
    "bn254NonSigner": {
        "key": "0x0b",
        "operatorIndex": 3,
        "proof": "0x" + "ab" * 32,
        "weights": [1000],
    },
}


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _raw(text: str) -> bytes:
    return bytes.fromhex(text[2:])


def compute(inputs: dict[str, Any]) -> dict[str, Any]:
    result, payload = _raw(inputs["result"]), _raw(inputs["payload"])
    ts = inputs["referenceTimestamp"]
    message_hash = messages.message_hash(result)
    separator = messages.ecdsa_domain_separator(
        inputs["ecdsaVerifier"], inputs["ecdsaVerifierVersion"]
    )
    ecdsa_digest = messages.ecdsa_certificate_digest(separator, ts, message_hash)
    bn254_digest = messages.bn254_certificate_digest(ts, message_hash)
    ecdsa_keys = [EcdsaPrivateKey.from_hex(k) for k in inputs["ecdsaKeys"]]
    bls_keys = [Bn254PrivateKey.from_hex(k) for k in inputs["bn254Keys"]]
    ecdsa_sigs = {k.address: k.sign(ecdsa_digest) for k in ecdsa_keys}
    bls_sigs = [k.sign(bn254_digest) for k in bls_keys]
    aggregate = bn254.aggregate_signatures(bls_sigs)
    apk_g2 = bn254.aggregate_public_keys_g2([k.public_g2 for k in bls_keys])
    apk_g1 = bn254.aggregate_public_keys_g1([k.public_g1 for k in bls_keys])
    non_signer = inputs["bn254NonSigner"]
    non_signer_key = Bn254PrivateKey.from_hex(non_signer["key"])
    witness = NonSignerWitness(
        non_signer["operatorIndex"],
        _raw(non_signer["proof"]),
        non_signer_key.public_g1,
        non_signer["weights"],
    )
    submission = [
        inputs["taskId"],
        inputs["avs"],
        inputs["executor"],
        inputs["operatorSetId"],
        ts,
        inputs["taskBlockNumber"],
        payload,
    ]
    submission_digest = messages.task_submission_digest(*submission)
    first_ecdsa_sig = ecdsa_sigs[ecdsa_keys[0].address]
    auth_ecdsa = messages.result_auth_digest(
        inputs["taskId"],
        inputs["avs"],
        ecdsa_keys[0].address,
        inputs["operatorSetId"],
        first_ecdsa_sig,
    )
    auth_bn254 = messages.result_auth_digest(
        inputs["taskId"], inputs["avs"], inputs["executor"], inputs["operatorSetId"], bls_sigs[0]
    )
    ecdsa_cert = certificates.encode_ecdsa_certificate(
        ts, message_hash, ecdsa_sigs, digest=ecdsa_digest
    )
    bn254_cert = certificates.encode_bn254_certificate(
        ts, message_hash, aggregate, apk_g2, [witness]
    )
    return {
        "messageHash": _hex(message_hash),
        "ecdsaDomainSeparator": _hex(separator),
        "ecdsaCertificateDigestBytes": _hex(
            messages.ecdsa_certificate_digest_bytes(separator, ts, message_hash)
        ),
        "ecdsaCertificateDigest": _hex(ecdsa_digest),
        "bn254CertificateDigest": _hex(bn254_digest),
        "bn254HashToG1OfDigest": _hex(bn254.hash_to_g1(bn254_digest).to_bytes()),
        "ecdsaSigners": [
            {"address": k.address, "resultSignature": _hex(ecdsa_sigs[k.address])}
            for k in ecdsa_keys
        ],
        "bn254Signers": [
            {
                "publicKeyG1": _hex(k.public_g1.to_bytes()),
                "publicKeyG2": _hex(k.public_g2.to_bytes()),
                "resultSignature": _hex(s),
            }
            for k, s in zip(bls_keys, bls_sigs, strict=True)
        ],
        "bn254AggregateSignature": _hex(aggregate),
        "bn254AggregatePublicKeyG2": _hex(apk_g2),
        "bn254AggregatePublicKeyG1": _hex(apk_g1),
        "bn254NonSignerPublicKeyG1": _hex(non_signer_key.public_g1.to_bytes()),
        "taskSubmissionPreimage": _hex(messages.task_submission_preimage(*submission)),
        "taskSubmissionDigest": _hex(submission_digest),
        "taskSubmissionSignatureEcdsa": _hex(ecdsa_keys[0].sign(submission_digest)),
        "taskSubmissionSignatureBn254": _hex(bls_keys[0].sign(submission_digest)),
        "resultAuthDigestEcdsaSigner1": _hex(auth_ecdsa),
        "authSignatureEcdsaSigner1": _hex(ecdsa_keys[0].sign(auth_ecdsa)),
        "resultAuthDigestBn254Signer1": _hex(auth_bn254),
        "authSignatureBn254Signer1": _hex(bls_keys[0].sign(auth_bn254)),
        "ecdsaCertificate": _hex(ecdsa_cert),
        "bn254Certificate": _hex(bn254_cert),
    }


def render(inputs: dict[str, Any]) -> str:
    return json.dumps({"inputs": inputs, "outputs": compute(inputs)}, indent=2) + "\n"


def test_protocol_md_vectors_are_what_the_code_computes():
    match = BLOCK.search(PROTOCOL.read_text())
    assert match, "docs/protocol.md has no vectors block"
    documented = json.loads(match.group(1))
    assert documented["outputs"] == compute(documented["inputs"])


def test_protocol_md_vectors_verify():
    documented = json.loads(BLOCK.search(PROTOCOL.read_text()).group(1))
    out = documented["outputs"]
    bn254.verify_aggregate(
        _raw(out["bn254CertificateDigest"]),
        _raw(out["bn254AggregateSignature"]),
        _raw(out["bn254AggregatePublicKeyG2"]),
    )
    bn254.verify_certificate_signature(
        _raw(out["bn254CertificateDigest"]),
        _raw(out["bn254AggregateSignature"]),
        _raw(out["bn254AggregatePublicKeyG1"]),
        _raw(out["bn254AggregatePublicKeyG2"]),
    )
    decoded = certificates.decode_ecdsa_certificate(_raw(out["ecdsaCertificate"]))
    assert decoded.message_hash == _raw(out["messageHash"])
    addresses = [int(s["address"], 16) for s in out["ecdsaSigners"]]
    order = sorted(range(len(addresses)), key=lambda i: addresses[i])
    assert decoded.signatures == [_raw(out["ecdsaSigners"][i]["resultSignature"]) for i in order]


if __name__ == "__main__":  # print the block for docs/protocol.md
    sys.stdout.write(render(INPUTS))
