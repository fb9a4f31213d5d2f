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


def test_main_prints_the_app_api_and_its_key(capsys: pytest.CaptureFixture[str]) -> None:
    stopped = threading.Event()
    runner = threading.Thread(
        target=lambda: main(
            ["--port", "0", "--app-api-key", "cli-app-key", "--processing-delay", "0.5"], stopped=stopped
        )
    )
    runner.start()
    deadline = time.monotonic() + 3
    out = ""
    while "credentials:" not in out and time.monotonic() < deadline:
        time.sleep(0.02)
        out += capsys.readouterr().out
    app_url = out.split("App API on ", 1)[1].split(";")[0]
    assert app_url.endswith("/app")
    assert "key: cli-app-key" in out
    ips = httpx.get(f"{app_url}/v1/info/ip_addresses").json()
    bearer = {"Authorization": "Bearer cli-app-key"}
    assert httpx.get(f"{app_url}/v1/customers/u1/attributes", headers=bearer).status_code == 404
    state = httpx.get(app_url.removesuffix("/app") + "/_sandbox/state").json()
    stopped.set()
    runner.join(3)
    assert ips == {"ip_addresses": ["127.0.0.1", "::1"]}
    assert state["config"]["processing_delay"] == 0.5


def test_the_removed_delete_missing_status_flag_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--delete-missing-status", "404"], stopped=threading.Event())
    assert "unrecognized arguments" in capsys.readouterr().err
