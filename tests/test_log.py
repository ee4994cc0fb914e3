"""Logging: JSON lines with a stable message, console format, redaction."""

from __future__ import annotations

import io
import json
import logging

from ponos import log


def test_json_lines_carry_message_level_and_fields():
    out = io.StringIO()
    log.configure("info", "json", stream=out)
    log.get_logger("ponos.test").info("Processing block", chain_id=1, from_block=5, to_block=9)
    log.get_logger("ponos.test").debug("not shown at info")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 1
    record = lines[0]
    assert record["msg"] == "Processing block"
    assert record["level"] == "info" and record["logger"] == "ponos.test"
    assert (record["chain_id"], record["from_block"], record["to_block"]) == (1, 5, 9)
    assert record["ts"].endswith("Z")
    assert list(record)[:4] == ["ts", "level", "logger", "msg"]


def test_stdlib_loggers_render_as_json_too():
    out = io.StringIO()
    log.configure("info", "json", stream=out)
    logging.getLogger("some.library").warning("hello %s", "world")
    record = json.loads(out.getvalue().splitlines()[-1])
    assert record["msg"] == "hello world" and record["level"] == "warning"


def test_secret_looking_fields_are_redacted():
    out = io.StringIO()
    log.configure("debug", "json", stream=out)
    log.get_logger("t").info("x", private_key="0xsecret", password="hunter2", admin_token="tok")
    text = out.getvalue()
    assert "0xsecret" not in text and "hunter2" not in text and 'tok"' not in text
    assert text.count(log.REDACTED) == 3


def test_console_format_is_human_readable():
    out = io.StringIO()
    log.configure("info", "console", stream=out)
    log.get_logger("ponos.x").info("Recovering from storage", tasks=3)
    text = out.getvalue()
    assert "Recovering from storage" in text and "tasks=3" in text
    assert not text.lstrip().startswith("{")
