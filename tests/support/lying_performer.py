"""A performer that answers like the hello performer, except for payloads that start with
LIE_MARKER: those get a different (wrong) result. Run by one executor in the aggregator tests so
that, for chosen tasks, that operator signs a result the others do not agree with.

Self-contained on purpose: the executor runs it as `python tests/support/lying_performer.py`.
"""

from __future__ import annotations

from ponos.performer import serve
from ponos.performer.hello import HelloWorker, square_payload

LIE_MARKER = b"lie:"


class LyingWorker(HelloWorker):
    async def handle(self, task_id: str, payload: bytes) -> bytes:
        result = square_payload(payload)
        if payload.startswith(LIE_MARKER):
            return result + b"-but-wrong"
        return result


if __name__ == "__main__":
    serve(LyingWorker())
