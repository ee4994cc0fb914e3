"""The committed contract artifacts are exactly what `make contracts` builds from the sources."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT


def test_committed_artifacts_match_a_fresh_build():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_contracts.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
