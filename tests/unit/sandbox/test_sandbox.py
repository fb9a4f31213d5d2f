"""The Customer.io sandbox: Track semantics, auth, misbehaviour on demand, admin API, lifecycle."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import Counter

import httpx
import pytest
from pydantic import ValidationError

from ciosec import sandbox as sandbox_module
from ciosec.sandbox import CredentialSet, Faults, Sandbox, SandboxConfig, ScriptedFault
from fixtures.sandbox import SANDBOX_API_KEY, SANDBOX_CREDENTIALS, SANDBOX_ENVIRONMENT_ID, SANDBOX_SITE_ID

AUTH = (SANDBOX_SITE_ID, SANDBOX_API_KEY)
CUSTOMERS = "/api/v1/customers"


@pytest.fixture
def http(sandbox: Sandbox):
    with httpx.Client(base_url=sandbox.url, auth=AUTH, timeout=2.0) as client:
        yield client


def identify(http: httpx.Client, raw_id: str, attributes: dict | None = None) -> httpx.Response:
    return http.put(f"{CUSTOMERS}/{raw_id}", json=attributes or {})


# -- Track semantics -------------------------------------------------------------------------------


def test_identify_creates_and_merges_attributes(sandbox: Sandbox, http: httpx.Client) -> None:
    assert identify(http, "u1", {"plan": "free", "age": 3}).status_code == 200
    assert identify(http, "u1", {"plan": "pro"}).status_code == 200
    assert sandbox.people() == {"u1": {"plan": "pro", "age": 3}}


def test_track_records_events_and_creates_the_person(sandbox: Sandbox, http: httpx.Client) -> None:
    response = http.post(f"{CUSTOMERS}/u2/events", json={"name": "purchase", "data": {"amount": 5}})
    assert response.status_code == 200
    assert "u2" in sandbox.people()
    assert [(e["name"], e["data"]) for e in sandbox.events("u2")] == [("purchase", {"amount": 5})]
    assert http.post(f"{CUSTOMERS}/u2/events", json={"data": {}}).status_code == 400
    assert http.post(f"{CUSTOMERS}/u2/events", json=["not", "an", "object"]).status_code == 400


def test_suppress_deletes_and_blocks_re_adding_until_unsuppressed(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    identify(http, "u3", {"plan": "pro"})
    assert http.post(f"{CUSTOMERS}/u3/suppress").status_code == 200
    assert sandbox.people() == {}
    assert sandbox.suppressed() == {"u3"}

    # Customer.io silently ignores identify and events for a suppressed identifier.
    assert identify(http, "u3", {"plan": "again"}).status_code == 200
    assert http.post(f"{CUSTOMERS}/u3/events", json={"name": "x"}).status_code == 200
    assert sandbox.people() == {}

    assert http.post(f"{CUSTOMERS}/u3/unsuppress").status_code == 200
    assert sandbox.suppressed() == set()
    assert sandbox.people() == {}  # unsuppress does not restore the person
    identify(http, "u3", {"plan": "back"})
    assert sandbox.people() == {"u3": {"plan": "back"}}


def test_suppress_of_an_absent_person_still_blocks(sandbox: Sandbox, http: httpx.Client) -> None:
    assert http.post(f"{CUSTOMERS}/never-seen/suppress").status_code == 200
    identify(http, "never-seen")
    assert sandbox.people() == {}


def test_delete_removes_and_allows_re_adding(sandbox: Sandbox, http: httpx.Client) -> None:
    identify(http, "u4", {"a": 1})
    assert http.delete(f"{CUSTOMERS}/u4").status_code == 200
    assert sandbox.people() == {}
    identify(http, "u4", {"b": 2})
    assert sandbox.people() == {"u4": {"b": 2}}  # deleted attributes do not come back


@pytest.mark.parametrize("status", [200, 204, 404])
def test_delete_of_a_missing_person_answers_the_configured_status(
    sandbox: Sandbox, http: httpx.Client, status: int
) -> None:
    assert http.delete(f"{CUSTOMERS}/ghost").status_code == 200  # default
    sandbox.configure(delete_missing_status=status)
    assert http.delete(f"{CUSTOMERS}/ghost").status_code == status
    identify(http, "present")
    assert http.delete(f"{CUSTOMERS}/present").status_code == 200


def test_region_answers_for_the_authenticated_credential_set(sandbox: Sandbox, http: httpx.Client) -> None:
    eu = sandbox.add_credentials(
        CredentialSet(site_id="eu-site", api_key="eu-key", environment_id=7, region="eu")
    )
    body = http.get("/api/v1/accounts/region").json()
    assert body == {
        "url": "https://track.customer.io",
        "data_center": "us",
        "environment_id": SANDBOX_ENVIRONMENT_ID,
    }
    body = httpx.get(f"{sandbox.url}/api/v1/accounts/region", auth=(eu.site_id, eu.api_key)).json()
    assert body == {"url": "https://track-eu.customer.io", "data_center": "eu", "environment_id": 7}
    assert http.post("/api/v1/accounts/region").status_code == 405


def test_workspaces_are_separate_and_credential_sets_of_one_workspace_share_it(sandbox: Sandbox) -> None:
    same = sandbox.add_credentials(site_id="second-site", api_key="second-key")  # same environment
    other = sandbox.add_credentials(site_id="other", api_key="other-key", environment_id=9)
    assert same.environment_id == SANDBOX_ENVIRONMENT_ID
    httpx.put(f"{sandbox.url}{CUSTOMERS}/shared", json={}, auth=("second-site", "second-key"))
    httpx.put(f"{sandbox.url}{CUSTOMERS}/elsewhere", json={}, auth=(other.site_id, other.api_key))
    assert set(sandbox.people()) == {"shared"}
    assert set(sandbox.people(environment_id=9)) == {"elsewhere"}


# -- auth and routing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [None, (SANDBOX_SITE_ID, "wrong-key"), ("unknown-site", SANDBOX_API_KEY), (SANDBOX_SITE_ID, "")],
    ids=["none", "wrong-key", "unknown-site", "empty-key"],
)
def test_track_requests_need_a_configured_credential_set(sandbox: Sandbox, auth) -> None:
    response = httpx.put(f"{sandbox.url}{CUSTOMERS}/u1", json={}, auth=auth)
    assert response.status_code == 401
    assert sandbox.people() == {}
    assert sandbox.requests()[-1].site_id is None


@pytest.mark.parametrize(
    "header",
    ["Bearer abc", "Basic !!!not-base64", "Basic " + "bm8tY29sb24="],
    ids=["bearer", "garbage", "no-colon"],
)
def test_malformed_authorization_is_401(sandbox: Sandbox, header: str) -> None:
    response = httpx.put(f"{sandbox.url}{CUSTOMERS}/u1", json={}, headers={"Authorization": header})
    assert response.status_code == 401


def test_removed_credentials_stop_working(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.remove_credentials(SANDBOX_SITE_ID)
    assert identify(http, "u1").status_code == 401
    assert not sandbox.remove_credentials(SANDBOX_SITE_ID)


def test_raw_path_is_recorded_and_decoded_exactly_once(sandbox: Sandbox, http: httpx.Client) -> None:
    identify(http, "a%252Fb%2Fc")
    record = sandbox.requests()[-1]
    assert record.raw_path == f"{CUSTOMERS}/a%252Fb%2Fc"
    assert record.identifier == "a%2Fb/c"
    assert record.site_id == SANDBOX_SITE_ID
    assert record.operation == "identify"
    assert set(sandbox.people()) == {"a%2Fb/c"}


def test_identifier_is_decoded_as_utf8(sandbox: Sandbox, http: httpx.Client) -> None:
    identify(http, "Zo%C3%AB")
    assert set(sandbox.people()) == {"Zoë"}
    assert identify(http, "bad%FF").status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", f"{CUSTOMERS}/u1", 405),
        ("POST", f"{CUSTOMERS}/u1", 405),
        ("PUT", f"{CUSTOMERS}/u1/suppress", 405),
        ("POST", f"{CUSTOMERS}/u1/unknown", 404),
        ("PUT", f"{CUSTOMERS}/", 404),
        ("PUT", f"{CUSTOMERS}/a/b", 404),
        ("GET", "/api/v2/anything", 404),
        ("GET", "/", 404),
    ],
)
def test_unknown_routes_and_methods(http: httpx.Client, method: str, path: str, status: int) -> None:
    response = http.request(method, path)
    assert response.status_code == status
    assert response.headers["X-Request-Id"].startswith("sbx-")


def test_every_response_has_a_distinct_request_id(sandbox: Sandbox, http: httpx.Client) -> None:
    responses = [identify(http, "u1"), http.get("/nowhere"), httpx.get(f"{sandbox.url}/_sandbox/state")]
    responses.append(httpx.put(f"{sandbox.url}{CUSTOMERS}/u1", json={}))  # 401
    ids = [r.headers["X-Request-Id"] for r in responses]
    assert len(set(ids)) == len(ids)
    assert sandbox.requests()[0].request_id == ids[0]


def test_oversized_body_is_413(sandbox: Sandbox, http: httpx.Client) -> None:
    response = http.put(f"{CUSTOMERS}/u1", content=b"x" * (sandbox_module.MAX_BODY_BYTES + 1))
    assert response.status_code == 413


def test_identify_body_must_be_an_object(http: httpx.Client) -> None:
    assert http.put(f"{CUSTOMERS}/u1", content=b"[1]").status_code == 400
    assert http.put(f"{CUSTOMERS}/u1", content=b"not json").status_code == 400


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


# -- admin API ---------------------------------------------------------------------------------------


def admin(sandbox: Sandbox, method: str, path: str, body: object = None, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{sandbox.url}/_sandbox{path}", json=body, timeout=2.0, **kwargs)


def test_admin_state_shows_people_suppressed_config_and_log(sandbox: Sandbox, http: httpx.Client) -> None:
    identify(http, "u1", {"plan": "pro"})
    http.post(f"{CUSTOMERS}/u2/suppress")
    state = admin(sandbox, "GET", "/state").json()
    workspace = state["workspaces"][str(SANDBOX_ENVIRONMENT_ID)]
    assert workspace == {
        "people": {"u1": {"attributes": {"plan": "pro"}, "events": []}},
        "suppressed": ["u2"],
    }
    assert state["credentials"] == [SANDBOX_CREDENTIALS.public()]
    assert SANDBOX_API_KEY not in json.dumps(state)
    assert [(r["method"], r["raw_path"], r["status"], r["site_id"]) for r in state["requests"]] == [
        ("PUT", f"{CUSTOMERS}/u1", 200, SANDBOX_SITE_ID),
        ("POST", f"{CUSTOMERS}/u2/suppress", 200, SANDBOX_SITE_ID),
    ]
    assert admin(sandbox, "GET", "/requests").json() == state["requests"]
    assert len(sandbox.requests()) == 2  # admin requests are not logged


def test_admin_config_faults_and_reset(sandbox: Sandbox, http: httpx.Client) -> None:
    response = admin(sandbox, "POST", "/config", {"delete_missing_status": 404, "faults": {"seed": 3}})
    assert response.status_code == 200
    assert response.json()["delete_missing_status"] == 404
    assert http.delete(f"{CUSTOMERS}/ghost").status_code == 404
    invalid = admin(sandbox, "POST", "/config", {"latency": "slow"})
    assert invalid.status_code == 400
    assert admin(sandbox, "POST", "/config", {"no_such_setting": 1}).status_code == 400

    assert (
        admin(sandbox, "POST", "/faults", {"status": 500, "times": 1, "operation": "identify"}).status_code
        == 200
    )
    assert admin(sandbox, "GET", "/state").json()["scripted_faults"][0]["remaining"] == 1
    assert identify(http, "u1").status_code == 500
    assert admin(sandbox, "POST", "/faults", {"status": "bad"}).status_code == 400

    identify(http, "u1")
    assert admin(sandbox, "POST", "/reset", {}).status_code == 200
    assert sandbox.people() == {}
    assert sandbox.requests() == []
    assert sandbox.config == SandboxConfig()


def test_admin_credentials_add_and_remove(sandbox: Sandbox) -> None:
    created = admin(sandbox, "POST", "/credentials", {}).json()
    assert created["environment_id"] == SANDBOX_ENVIRONMENT_ID
    assert created["api_key"] and created["site_id"]
    auth = (created["site_id"], created["api_key"])
    assert httpx.get(f"{sandbox.url}/api/v1/accounts/region", auth=auth).status_code == 200
    assert admin(sandbox, "DELETE", f"/credentials/{created['site_id']}").status_code == 200
    assert httpx.get(f"{sandbox.url}/api/v1/accounts/region", auth=auth).status_code == 401
    assert admin(sandbox, "DELETE", "/credentials/nope").status_code == 404
    chosen = admin(sandbox, "POST", "/credentials", {"site_id": "s9", "api_key": "k9", "region": "eu"}).json()
    assert chosen == {
        "site_id": "s9",
        "api_key": "k9",
        "environment_id": SANDBOX_ENVIRONMENT_ID,
        "region": "eu",
    }


def test_admin_refuses_foreign_hosts_and_non_json_posts(sandbox: Sandbox) -> None:
    assert admin(sandbox, "GET", "/state", headers={"Host": "evil.example.invalid"}).status_code == 403
    form = httpx.post(f"{sandbox.url}/_sandbox/reset", content=b"a=b", headers={"Content-Type": "text/plain"})
    assert form.status_code == 415
    assert admin(sandbox, "GET", "/nope").status_code == 404
    assert admin(sandbox, "GET", "/state", headers={"Host": f"localhost:{sandbox.port}"}).status_code == 200


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


def test_main_serves_until_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    stopped = threading.Event()
    result: list[int] = []
    runner = threading.Thread(
        target=lambda: result.append(sandbox_module.main(["--port", "0", "--seed", "1"], stopped=stopped))
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
