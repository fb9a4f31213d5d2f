"""The atheris harness (atheris_webhook.py) as a test: FUZZ_EXAMPLES executions (make fuzz:
100,000; make test: a short deterministic run), skipped where atheris has no wheel (it ships
x86_64 Linux wheels)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).with_name("atheris_webhook.py")
RUNS = int(os.environ.get("FUZZ_EXAMPLES", "300"))


@pytest.mark.fuzz
@pytest.mark.timeout(0)
@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris is not installed here")
def test_atheris_finds_no_5xx_no_forgery_no_crash(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(HARNESS),
            f"-runs={RUNS}",
            "-seed=20261129",
            "-max_len=8192",
            f"-artifact_prefix={tmp_path}/",
            "-print_final_stats=1",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    # libFuzzer exits 0 only when every run passed; a crash leaves its input in tmp_path.
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"Done {RUNS} runs" in result.stderr
    assert not list(tmp_path.glob("crash-*"))
