"""ciosec.sandbox.faults and the rate limit: misbehaviour on demand, random (seeded) and scripted."""

from __future__ import annotations

import time
from collections import Counter
from email.utils import parsedate_to_datetime

import httpx
import pytest
from pydantic import ValidationError

from ciosec.sandbox import Faults, Sandbox, SandboxConfig, ScriptedFault
from fixtures.sandbox import SANDBOX_CREDENTIALS

from .conftest import AUTH, CUSTOMERS, identify

# -- rate limit and faults -------------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(rate_limit_rps=2, rate_limit_burst=2)
    statuses = [identify(http, f"u{i}").status_code for i in range(3)]
    assert statuses == [200, 200, 429]
    limited = identify(http, "u9")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    sandbox.configure(rate_limit_rps=None)
    assert identify(http, "u10").status_code == 200


def statuses_with_faults(faults: Faults, n: int = 60) -> list[int | str]:
    result: list[int | str] = []
    with (
        Sandbox([SANDBOX_CREDENTIALS], config=SandboxConfig(faults=faults)) as server,
        httpx.Client(base_url=server.url, auth=AUTH, timeout=0.3) as client,
    ):
        for i in range(n):
            try:
                result.append(client.put(f"{CUSTOMERS}/u{i}", json={}).status_code)
            except httpx.TimeoutException:
                result.append("timeout")
            except httpx.TransportError:
                result.append("reset")
    return result


def test_random_faults_are_reproducible_with_a_seed() -> None:
    faults = Faults(error_rate=0.3, rate_limited_rate=0.2, seed=1234)
    first = statuses_with_faults(faults)
    assert first == statuses_with_faults(faults)
    counts = Counter(first)
    assert set(counts) <= {200, 429, 500, 502, 503}
    assert 5 <= counts[429] <= 25
    assert 8 <= counts[500] + counts[502] + counts[503] <= 32
    assert counts[200] >= 15
    assert statuses_with_faults(faults.model_copy(update={"seed": 99})) != first


def test_random_rate_limit_fault_carries_retry_after(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(faults={"rate_limited_rate": 1.0, "retry_after": 7})
    response = identify(http, "u1")
    assert (response.status_code, response.headers["Retry-After"]) == (429, "7")
    assert sandbox.people() == {}
    assert sandbox.requests()[-1].fault == "random:429"


def test_random_hang_outlasts_the_client_read_timeout(sandbox: Sandbox) -> None:
    sandbox.configure(faults={"timeout_rate": 1.0, "hang_seconds": 2.0})
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.put(f"{sandbox.url}{CUSTOMERS}/u1", json={}, auth=AUTH, timeout=0.2)
    assert time.monotonic() - started < 1.5
    assert sandbox.requests()[-1].status is None


def test_random_reset_closes_the_connection(sandbox: Sandbox) -> None:
    sandbox.configure(faults={"reset_rate": 1.0})
    with pytest.raises(httpx.TransportError):
        httpx.put(f"{sandbox.url}{CUSTOMERS}/u1", json={}, auth=AUTH, timeout=1.0)
    assert sandbox.people() == {}


def test_fault_probabilities_are_validated(sandbox: Sandbox) -> None:
    with pytest.raises(ValidationError):
        sandbox.configure(faults={"error_rate": 0.7, "reset_rate": 0.7})
    with pytest.raises(ValidationError):
        sandbox.configure(faults={"error_statuses": [404]})
    with pytest.raises(ValidationError):
        sandbox.configure(faults={"hang_seconds": 3600})
    with pytest.raises(ValidationError):
        sandbox.configure(latency=-1)


def test_scripted_faults_match_method_path_and_operation(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.fail_next(2, 503, method="POST", path=f"{CUSTOMERS}/*/suppress")
    sandbox.fail_next(1, 400, operation="delete")
    assert identify(http, "u1").status_code == 200  # not matched
    assert [http.post(f"{CUSTOMERS}/u1/suppress").status_code for _ in range(3)] == [503, 503, 200]
    assert [http.delete(f"{CUSTOMERS}/u1").status_code for _ in range(2)] == [400, 200]
    assert [r.fault for r in sandbox.requests()] == [
        None,
        "scripted:503",
        "scripted:503",
        None,
        "scripted:400",
        None,
    ]


def test_scripted_fault_headers_and_success_status(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.script(ScriptedFault(status=302, headers={"Location": "http://127.0.0.1:9/elsewhere"}))
    response = identify(http, "u1")
    assert (response.status_code, response.headers["Location"]) == (302, "http://127.0.0.1:9/elsewhere")
    sandbox.fail_next(1, 200, operation="region")
    assert http.get("/api/v1/accounts/region").json() == {}
    assert sandbox.people() == {}


def test_scripted_faults_come_before_auth(sandbox: Sandbox) -> None:
    sandbox.fail_next(1, 502)
    assert httpx.put(f"{sandbox.url}{CUSTOMERS}/u1", json={}).status_code == 502


def test_scripted_timeout_and_reset(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.fail_next(kind="timeout", hang_seconds=1.0)
    sandbox.fail_next(kind="reset")
    with pytest.raises(httpx.ReadTimeout):
        http.put(f"{CUSTOMERS}/u1", json={}, timeout=0.2)
    with pytest.raises(httpx.TransportError):
        identify(http, "u1")
    assert identify(http, "u1").status_code == 200


def test_latency_delays_track_requests(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.configure(latency=0.15)
    started = time.monotonic()
    identify(http, "u1")
    assert time.monotonic() - started >= 0.14


# -- 429 in every undocumented form ----------------------------------------------------------------
# Customer.io documents neither a body nor a Retry-After for a 429: the sandbox can send each form.


@pytest.mark.parametrize("retry_after", ["seconds", "http-date", "none"])
@pytest.mark.parametrize("body", ["json", "empty", "text"])
def test_random_429s_take_every_form(
    sandbox: Sandbox, http: httpx.Client, retry_after: str, body: str
) -> None:
    sandbox.configure(
        faults={
            "rate_limited_rate": 1.0,
            "retry_after": 9,
            "retry_after_format": retry_after,
            "rate_limited_body": body,
        }
    )
    response = identify(http, "u1")
    assert response.status_code == 429
    assert_429_form(response, retry_after, body, seconds=9)


@pytest.mark.parametrize("retry_after", ["seconds", "http-date", "none"])
@pytest.mark.parametrize("body", ["json", "empty", "text"])
def test_the_rate_limiter_429_takes_every_form(
    sandbox: Sandbox, http: httpx.Client, retry_after: str, body: str
) -> None:
    sandbox.configure(
        rate_limit_rps=1, rate_limit_burst=1, rate_limit_retry_after=retry_after, rate_limit_body=body
    )
    identify(http, "u1")
    response = identify(http, "u2")
    assert response.status_code == 429
    assert_429_form(response, retry_after, body, seconds=1)


def test_scripted_faults_choose_their_body(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.fail_next(1, 429, body="empty")
    sandbox.fail_next(1, 429, body="text", headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    empty, text = identify(http, "u1"), identify(http, "u1")
    assert (empty.status_code, empty.content, "retry-after" in empty.headers) == (429, b"", False)
    assert (text.headers["content-type"], text.text) == ("text/plain; charset=utf-8", "scripted fault")
    assert text.headers["retry-after"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    with pytest.raises(ValidationError):
        ScriptedFault(body="xml")  # type: ignore[arg-type]


def assert_429_form(response: httpx.Response, retry_after: str, body: str, *, seconds: int) -> None:
    header = response.headers.get("retry-after")
    if retry_after == "none":
        assert header is None
    elif retry_after == "seconds":
        assert header == str(seconds)
    else:
        moment = parsedate_to_datetime(header)
        assert moment.tzinfo is not None
        assert abs(moment.timestamp() - time.time() - seconds) < 3
    if body == "empty":
        assert response.content == b""
        assert "content-type" not in response.headers
    elif body == "text":
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text == "Too Many Requests"
    else:
        assert response.json() == {"meta": {"errors": ["rate limit exceeded"]}}
