"""ciosec.sandbox.Sandbox's lifecycle: stop ends every thread and connection, quiet, restartable."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import httpx
import pytest

from ciosec.sandbox import Sandbox
from fixtures.sandbox import SANDBOX_CREDENTIALS

from .conftest import AUTH, CUSTOMERS, identify

# -- lifecycle -----------------------------------------------------------------------------------------


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_stop_joins_every_thread_and_closes_the_port() -> None:
    server = Sandbox([SANDBOX_CREDENTIALS]).start()
    port = server.port
    keep_alive = httpx.Client(base_url=server.url, auth=AUTH, timeout=5.0)
    assert keep_alive.put(f"{CUSTOMERS}/u1", json={}).status_code == 200  # an idle keep-alive connection
    server.fail_next(kind="timeout", hang_seconds=20)
    hanging = threading.Thread(target=lambda: _swallow(keep_alive.put, f"{CUSTOMERS}/u2", json={}))
    hanging.start()
    deadline = time.monotonic() + 2
    while len(server.requests()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.threads()

    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2.0
    hanging.join(2)
    keep_alive.close()
    assert not server.threads()
    assert not [t for t in threading.enumerate() if t.name.startswith("cio-sandbox")]
    assert not _port_open(port)
    server.stop()  # idempotent


def _swallow(call, *args, **kwargs) -> None:
    with contextlib.suppress(httpx.HTTPError):
        call(*args, **kwargs)


def test_sandbox_is_quiet(
    sandbox: Sandbox, http: httpx.Client, capsys: pytest.CaptureFixture[str], captured_logs
) -> None:
    identify(http, "first+last@example.com")
    httpx.put(f"{sandbox.url}{CUSTOMERS}/u1", json={})  # 401
    http.get("/nowhere")
    sandbox.fail_next(kind="reset")
    _swallow(identify, http, "u2")
    assert capsys.readouterr().err == ""
    assert not [r for r in captured_logs.records if r.name.startswith("ciosec.sandbox")]


def test_sandbox_restarts_and_keeps_state_until_reset() -> None:
    server = Sandbox([SANDBOX_CREDENTIALS])
    with server:
        httpx.put(f"{server.url}{CUSTOMERS}/u1", json={}, auth=AUTH)
    with pytest.raises(RuntimeError):
        _ = server.url
    with server:  # restartable; state is kept until reset()
        assert server.people() == {"u1": {}}
    server.reset()
    assert server.people() == {}
