"""python -m ciosec.sandbox (ciosec.sandbox.cli): serves until stopped, printing URL and credentials."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from ciosec.sandbox.cli import main


def test_main_serves_until_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    stopped = threading.Event()
    result: list[int] = []
    runner = threading.Thread(
        target=lambda: result.append(main(["--port", "0", "--seed", "1"], stopped=stopped))
    )
    runner.start()
    deadline = time.monotonic() + 3
    out = ""
    while "credentials:" not in out and time.monotonic() < deadline:
        time.sleep(0.02)
        out += capsys.readouterr().out
    url = out.split("sandbox on ", 1)[1].split()[0]
    creds = json.loads(out.split("credentials: ", 1)[1].splitlines()[0])
    response = httpx.get(f"{url}/api/v1/accounts/region", auth=(creds["site_id"], creds["api_key"]))
    assert response.json()["environment_id"] == 100001
    stopped.set()
    runner.join(3)
    assert result == [0]
