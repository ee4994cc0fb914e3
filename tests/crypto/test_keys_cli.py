"""`ponos keys generate` through the real CLI (a subprocess): non-interactive passwords,
keystores that load back to the printed identity, and clear errors."""

from __future__ import annotations

import json

from ponos.crypto import bn254, keystore
from tests.helpers import run_cli

PASSWORD = "cli-password-42"


def _generated(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_bn254_keystore_from_password_file_loads_to_the_printed_public_keys(tmp_path):
    password_file = tmp_path / "pw.txt"
    password_file.write_text(PASSWORD + "\n")
    out = tmp_path / "keys"
    printed = _generated(
        run_cli(
            "keys",
            "generate",
            "--curve",
            "bn254",
            "--out",
            str(out),
            "--password-file",
            str(password_file),
        )
    )
    data = json.loads((out / printed["keystore"].split("/")[-1]).read_text())
    assert data["curveType"] == "bn254" and data["path"] == "m/1/0/0"
    key = keystore.load_bn254_keystore_file(printed["keystore"], PASSWORD)
    assert printed["publicKeyG2"] == "0x" + key.public_g2.to_bytes().hex() == "0x" + data["pubkey"]
    assert printed["publicKeyG1"] == "0x" + key.public_g1.to_bytes().hex()
    bn254.verify(bytes(32), key.sign(bytes(32)), bytes.fromhex(printed["publicKeyG2"][2:]))
    assert PASSWORD not in json.dumps(printed)


def test_ecdsa_keystore_from_environment_password_loads_to_the_printed_address(tmp_path):
    printed = _generated(
        run_cli(
            "keys",
            "generate",
            "--curve",
            "ecdsa",
            "--out",
            str(tmp_path),
            "--name",
            "op.json",
            env={"PONOS_KEYSTORE_PASSWORD": PASSWORD},
        )
    )
    assert printed["keystore"] == str(tmp_path / "op.json")
    key = keystore.load_ecdsa_keystore_file(tmp_path / "op.json", PASSWORD)
    assert key.address == printed["address"]


def test_without_a_password_and_without_a_terminal_it_fails_clearly(tmp_path):
    result = run_cli("keys", "generate", "--curve", "ecdsa", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "PONOS_KEYSTORE_PASSWORD" in result.stderr and "--password-file" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_existing_keystore_name_or_missing_password_file_is_an_error_not_a_traceback(tmp_path):
    (tmp_path / "taken.json").write_text("{}")
    taken = run_cli(
        "keys",
        "generate",
        "--curve",
        "bn254",
        "--out",
        str(tmp_path),
        "--name",
        "taken.json",
        env={"PONOS_KEYSTORE_PASSWORD": PASSWORD},
    )
    assert taken.returncode == 2 and "already exists" in taken.stderr
    assert (tmp_path / "taken.json").read_text() == "{}"
    missing = run_cli(
        "keys",
        "generate",
        "--curve",
        "bn254",
        "--out",
        str(tmp_path),
        "--password-file",
        str(tmp_path / "none.txt"),
    )
    assert missing.returncode != 0 and "does not exist" in missing.stderr
    assert "Traceback" not in taken.stderr + missing.stderr


def test_unknown_curve_is_rejected_by_the_parser(tmp_path):
    result = run_cli("keys", "generate", "--curve", "ed25519", "--out", str(tmp_path))
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_on_a_terminal_it_prompts_twice_and_never_echoes_the_password(tmp_path):
    import os
    import pty
    import sys
    import time

    from tests.helpers import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("PONOS_")}
    pid, fd = pty.fork()
    if pid == 0:  # child: the CLI with the pty as its controlling terminal
        os.chdir(ROOT)
        os.execve(
            sys.executable,
            [
                sys.executable,
                "-m",
                "ponos",
                "keys",
                "generate",
                "--curve",
                "ecdsa",
                "--out",
                str(tmp_path),
            ],
            env,
        )
    transcript = b""
    answered = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        transcript += chunk
        if transcript.count(b"assword: ") > answered:
            answered += 1
            os.write(fd, PASSWORD.encode() + b"\n")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, transcript
    assert answered == 2
    assert PASSWORD.encode() not in transcript
    printed = json.loads(transcript[transcript.index(b"{") :].decode())
    assert (
        keystore.load_ecdsa_keystore_file(printed["keystore"], PASSWORD).address
        == printed["address"]
    )
