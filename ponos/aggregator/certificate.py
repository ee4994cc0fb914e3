"""Build the certificate for the winning result, in the format the TaskMailbox verifies.

ECDSA: the winners' 65-byte signatures, ordered by signing address. BN254: the aggregate of
the winners' signatures and G2 keys, plus a non-signer witness for every table entry that did
not sign this result (absent operators and those that answered differently), whose keys and
weights the verifier subtracts. Before paying gas, a BN254 certificate is checked off chain
with the same pairing equation the verifier uses.
"""

from __future__ import annotations

from ponos.aggregator.context import OperatorSetContext
from ponos.aggregator.fanout import SignedResult
from ponos.crypto import bn254
from ponos.crypto.certificates import (
    NonSignerWitness,
    encode_bn254_certificate,
    encode_ecdsa_certificate,
)
from ponos.crypto.errors import CryptoError
from ponos.errors import PonosError


class CertificateError(PonosError):
    pass


def build_certificate(ctx: OperatorSetContext, winners: list[SignedResult]) -> tuple[bytes, bytes]:
    """(certificate bytes, result) for the winning group; blocking (run in a thread)."""
    if not winners:
        raise CertificateError("no signatures to certify")
    result, message_hash = winners[0].output, winners[0].message_hash
    if any(w.message_hash != message_hash for w in winners):
        raise CertificateError("winners disagree on the result")
    if ctx.curve == "ecdsa":
        signatures = {}
        for winner in winners:
            executor = ctx.executor(winner.operator)
            if executor is None or executor.ecdsa_address is None:
                raise CertificateError(f"no signing key known for {winner.operator}")
            signatures[executor.ecdsa_address] = winner.signature
        cert = encode_ecdsa_certificate(
            ctx.reference_timestamp, message_hash, signatures, digest=winners[0].digest
        )
        return cert, result
    signed_indexes = set()
    pubkeys_g2 = []
    for winner in winners:
        executor = ctx.executor(winner.operator)
        if executor is None or executor.g2 is None or executor.table_index is None:
            raise CertificateError(f"no BN254 key known for {winner.operator}")
        signed_indexes.add(executor.table_index)
        pubkeys_g2.append(executor.g2)
    signature = bn254.aggregate_signatures([w.signature for w in winners])
    apk_g2 = bn254.aggregate_public_keys_g2(pubkeys_g2)
    witnesses = [
        NonSignerWitness(index, b"", g1, list(weights))
        for index, (g1, weights) in enumerate(ctx.bn254_table)
        if index not in signed_indexes
    ]
    signers_g1 = bn254.aggregate_public_keys_g1(
        [ctx.bn254_table[i][0] for i in sorted(signed_indexes)]
    )
    try:
        bn254.verify_certificate_signature(winners[0].digest, signature, signers_g1, apk_g2)
    except CryptoError as exc:
        raise CertificateError(f"aggregate BN254 signature does not verify: {exc}") from None
    cert = encode_bn254_certificate(
        ctx.reference_timestamp, message_hash, signature, apk_g2, witnesses
    )
    return cert, result
