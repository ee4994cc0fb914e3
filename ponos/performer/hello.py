"""The example performer: the Go demo's function, squaring a hex integer.

Payload "0x04" (ASCII hex text, optional 0x) → result "0x10" (ASCII, lowercase, even length),
exactly as the Go hello-performer. A payload that is not hex text is read as a big-endian
integer in raw bytes (b"\\x04" → b"\\x10"), so on-chain payloads written either way work.
TASK_DELAY_MS delays each task (the Go sleepy performer), for drain tests.
"""

from __future__ import annotations

import asyncio
import os
import re

from ponos.performer.server import TaskError

_HEX_TEXT = re.compile(rb"(0[xX])?[0-9a-fA-F]+\Z")
MAX_PAYLOAD = 1 << 16


def square_payload(payload: bytes) -> bytes:
    if not payload:
        raise TaskError("payload is empty")
    if len(payload) > MAX_PAYLOAD:
        raise TaskError(
            f"payload is {len(payload)} bytes; the hello performer takes at most {MAX_PAYLOAD}"
        )
    if _HEX_TEXT.match(payload):
        text = payload[2:] if payload[:2].lower() == b"0x" else payload
        value = int(text, 16) ** 2
        digits = format(value, "x")
        if len(digits) % 2:
            digits = "0" + digits
        return b"0x" + digits.encode()
    value = int.from_bytes(payload, "big") ** 2
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


class HelloWorker:
    def __init__(self, delay_ms: int | None = None) -> None:
        if delay_ms is None:
            raw = os.environ.get("TASK_DELAY_MS", "0") or "0"
            try:
                delay_ms = int(raw)
            except ValueError:
                raise ValueError(f"TASK_DELAY_MS={raw!r} is not a number of milliseconds") from None
        self.delay = max(0, delay_ms) / 1000

    def validate(self, task_id: str, payload: bytes) -> None:
        if not payload:
            raise TaskError("payload is empty")

    async def handle(self, task_id: str, payload: bytes) -> bytes:
        if self.delay:
            await asyncio.sleep(self.delay)
        return square_payload(payload)
