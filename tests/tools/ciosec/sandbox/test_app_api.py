"""ciosec.sandbox.app_api: person lookups with their own Bearer key and rate limit, the processing
delay after Track changes, the IP list, and the App API kept apart from the Track host."""

from __future__ import annotations

import httpx
import pytest

from ciosec.sandbox import AppApiKey, CredentialSet, Sandbox, SandboxConfig
from fixtures.sandbox import SANDBOX_API_KEY, SANDBOX_APP_KEY, SANDBOX_CREDENTIALS, SANDBOX_SITE_ID

from .conftest import BEARER, CUSTOMERS, identify, lookup


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def delayed(clock: FakeClock):
    """A sandbox on a fake clock whose App API sees Track changes 5 s late."""
    config = SandboxConfig(processing_delay=5.0)
    with Sandbox([SANDBOX_CREDENTIALS], app_keys=[SANDBOX_APP_KEY], config=config, clock=clock) as server:
        yield server


# -- person lookup -------------------------------------------------------------------------------------


def test_lookup_by_each_identifier_type(sandbox: Sandbox, http: httpx.Client, app: httpx.Client) -> None:
    identify(http, "u1", {"email": "Jane@Example.com", "plan": "pro", "seats": 3, "trial": False})
    cio_id = sandbox.person("u1")["cio_id"]  # type: ignore[index]
    http.post("/api/v2/entity", json={"type": "person", "identifiers": {"id": "u1"}, "action": "identify"})
    for customer_id, id_type in [
        ("u1", None),
        ("u1", "id"),
        ("jane%40example.com", "email"),
        (cio_id, "cio_id"),
        (f"cio_{cio_id}", "cio_id"),
    ]:
        response = lookup(app, customer_id, id_type)
        assert response.status_code == 200, (customer_id, id_type)
        customer = response.json()["customer"]
        assert customer["id"] == "u1"
        attributes = customer["attributes"]
        assert (attributes["id"], attributes["email"], attributes["cio_id"]) == (
            "u1",
            "Jane@Example.com",
            cio_id,
        )
        assert (attributes["plan"], attributes["seats"], attributes["trial"]) == ("pro", "3", "false")
        assert attributes["created_at"].isdigit()
    http.post(
        "/api/v2/entity",
        json={"type": "person", "identifiers": {"phone": "+14155552671"}, "action": "identify"},
    )
    assert lookup(app, "%2B14155552671", "phone").json()["customer"]["attributes"]["phone"] == "+14155552671"


def test_lookup_answers_404_once_the_person_is_gone(
    sandbox: Sandbox, http: httpx.Client, app: httpx.Client
) -> None:
    assert lookup(app, "u1").status_code == 404
    identify(http, "u1", {"email": "a@example.com"})
    assert lookup(app, "u1").status_code == 200
    http.post(f"{CUSTOMERS}/u1/suppress")
    for customer_id, id_type in [("u1", "id"), ("a%40example.com", "email")]:
        gone = lookup(app, customer_id, id_type)
        assert gone.status_code == 404
        assert gone.json() == {"errors": [{"detail": "the customer_id does not exist", "status": 404}]}


def test_an_unknown_id_type_is_400(app: httpx.Client) -> None:
    response = lookup(app, "u1", "user_id")
    assert response.status_code == 400
    assert response.json()["errors"][0]["status"] == 400


def test_batch_lookup_omits_missing_people_and_takes_1_to_100_ids(
    sandbox: Sandbox, http: httpx.Client, app: httpx.Client
) -> None:
    identify(http, "u1")
    identify(http, "u2")
    response = app.post("/v1/customers/attributes", json={"ids": ["u1", "ghost", "u2", "u1"]})
    assert response.status_code == 200
    assert [c["customer"]["id"] for c in response.json()["customers"]] == ["u1", "u2"]
    by_email = app.post("/v1/customers/attributes", params={"id_type": "email"}, json={"ids": ["u1"]})
    assert by_email.json() == {"customers": []}
    assert (
        app.post("/v1/customers/attributes", json={"ids": [f"u{i}" for i in range(100)]}).status_code == 200
    )
    for body in ({"ids": []}, {"ids": [f"u{i}" for i in range(101)]}, {"ids": "u1"}, {"ids": [1]}, {}):
        assert app.post("/v1/customers/attributes", json=body).status_code == 400, body


# -- auth ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic c2l0ZTprZXk="},
        {"Authorization": "Bearer"},
    ],
    ids=["none", "wrong-key", "basic", "no-key"],
)
def test_the_app_api_needs_its_own_bearer_key(sandbox: Sandbox, headers: dict) -> None:
    response = httpx.get(f"{sandbox.app_url}/v1/customers/u1/attributes", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"errors": [{"detail": "unauthorized", "status": 401}]}
    # The Track credentials are no App API key, as Basic or as Bearer.
    track = httpx.get(
        f"{sandbox.app_url}/v1/customers/u1/attributes", auth=(SANDBOX_SITE_ID, SANDBOX_API_KEY)
    )
    assert track.status_code == 401
    bearer = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}
    assert httpx.get(f"{sandbox.app_url}/v1/customers/u1/attributes", headers=bearer).status_code == 401


def test_a_key_sees_only_its_workspace_and_removed_keys_stop_working(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    other = sandbox.add_credentials(CredentialSet(site_id="s9", api_key="k9", environment_id=9))
    other_key = sandbox.add_app_key(environment_id=9)
    httpx.put(f"{sandbox.url}{CUSTOMERS}/elsewhere", json={}, auth=(other.site_id, other.api_key))
    identify(http, "here")
    headers = {"Authorization": f"Bearer {other_key.key}"}
    assert (
        httpx.get(f"{sandbox.app_url}/v1/customers/elsewhere/attributes", headers=headers).status_code == 200
    )
    assert httpx.get(f"{sandbox.app_url}/v1/customers/here/attributes", headers=headers).status_code == 404
    assert httpx.get(f"{sandbox.app_url}/v1/customers/here/attributes", headers=BEARER).status_code == 200
    assert sandbox.remove_app_key(other_key.key)
    assert (
        httpx.get(f"{sandbox.app_url}/v1/customers/elsewhere/attributes", headers=headers).status_code == 401
    )


# -- rate limit and processing delay (fake clock) ------------------------------------------------------


def test_ten_requests_a_second_per_key_then_429(clock: FakeClock) -> None:
    with (
        Sandbox([SANDBOX_CREDENTIALS], app_keys=[SANDBOX_APP_KEY], clock=clock) as server,
        httpx.Client(base_url=server.app_url, headers=BEARER, timeout=2.0) as app,
    ):
        statuses = [lookup(app, "u1").status_code for _ in range(11)]
        assert statuses == [404] * 10 + [429]
        limited = lookup(app, "u1")
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "1")
        other = server.add_app_key()
        assert (
            httpx.get(
                f"{server.app_url}/v1/customers/u1/attributes",
                headers={"Authorization": f"Bearer {other.key}"},
            ).status_code
            == 404
        )  # a limit per key
        clock.now += 1.0
        assert lookup(app, "u1").status_code == 404
        server.configure(app_rate_limit_rps=None)
        assert {lookup(app, "u1").status_code for _ in range(30)} == {404}


def test_the_app_api_sees_track_changes_after_the_processing_delay(
    delayed: Sandbox, clock: FakeClock
) -> None:
    with (
        httpx.Client(base_url=delayed.url, auth=(SANDBOX_SITE_ID, SANDBOX_API_KEY), timeout=2.0) as http,
        httpx.Client(base_url=delayed.app_url, headers=BEARER, timeout=2.0) as app,
    ):
        identify(http, "u1", {"email": "a@example.com"})
        assert lookup(app, "u1").status_code == 404  # not processed yet
        clock.now += 5.0
        assert lookup(app, "u1").status_code == 200
        http.post(f"{CUSTOMERS}/u1/suppress")
        assert delayed.people() == {}  # Track's own view changes at once
        clock.now += 4.9
        still = lookup(app, "a%40example.com", "email")
        assert still.status_code == 200  # the App API still shows the person
        assert still.json()["customer"]["id"] == "u1"
        assert app.post("/v1/customers/attributes", json={"ids": ["u1"]}).json()["customers"]
        clock.now += 0.2
        assert lookup(app, "u1").status_code == 404
        assert app.post("/v1/customers/attributes", json={"ids": ["u1"]}).json() == {"customers": []}


def test_a_person_added_and_deleted_within_the_delay(delayed: Sandbox, clock: FakeClock) -> None:
    with (
        httpx.Client(base_url=delayed.url, auth=(SANDBOX_SITE_ID, SANDBOX_API_KEY), timeout=2.0) as http,
        httpx.Client(base_url=delayed.app_url, headers=BEARER, timeout=2.0) as app,
    ):
        identify(http, "u1")
        clock.now += 1.0
        http.delete(f"{CUSTOMERS}/u1")
        assert lookup(app, "u1").status_code == 404  # added at 0, not yet seen
        clock.now += 4.5
        assert lookup(app, "u1").status_code == 200  # the App API has seen the add, not the delete
        clock.now += 1.0
        assert lookup(app, "u1").status_code == 404


# -- the IP list, routing, faults ----------------------------------------------------------------------


def test_ip_addresses_list_loopback_and_need_no_key(sandbox: Sandbox) -> None:
    response = httpx.get(f"{sandbox.app_url}/v1/info/ip_addresses")
    assert (response.status_code, response.json()) == (200, {"ip_addresses": ["127.0.0.1", "::1"]})
    sandbox.configure(ip_addresses=["127.0.0.2"])
    assert httpx.get(f"{sandbox.app_url}/v1/info/ip_addresses").json() == {"ip_addresses": ["127.0.0.2"]}
    with pytest.raises(ValueError, match="ip_addresses"):
        sandbox.configure(ip_addresses=["127.0.0.0/8"])


def test_workspaces_list_the_keys_workspace_and_need_its_key(
    sandbox: Sandbox, http: httpx.Client, app: httpx.Client
) -> None:
    # The cheap authenticated call AppClient.check() makes before it trusts a lookup's 404
    # (App API, listworkspaces: {"workspaces": [{"id": "13XXXX", "name": ..., ...}]}).
    identify(http, "u1")
    response = app.get("/v1/workspaces")
    assert response.status_code == 200
    (workspace,) = response.json()["workspaces"]
    assert (workspace["id"], workspace["people"]) == (str(SANDBOX_APP_KEY.environment_id), 1)
    assert {"name", "messages_sent", "billable_messages_sent", "object_types", "objects"} <= set(workspace)
    assert httpx.get(f"{sandbox.app_url}/v1/workspaces").status_code == 401
    assert httpx.post(f"{sandbox.app_url}/v1/workspaces", headers=BEARER).status_code == 405
    assert httpx.get(f"{sandbox.url}/v1/workspaces", headers=BEARER).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/app/api/v1/accounts/region", 404),
        ("GET", "/app/v1/customers/u1", 404),
        ("POST", "/app/v1/customers/u1/attributes", 405),
        ("GET", "/app/v1/customers/attributes", 405),
        ("GET", "/app", 404),
        ("GET", "/v1/customers/u1/attributes", 404),  # the App API is not on the Track base URL
    ],
)
def test_app_routes_are_kept_apart_from_track(sandbox: Sandbox, method: str, path: str, status: int) -> None:
    response = httpx.request(method, f"{sandbox.url}{path}", headers=BEARER)
    assert response.status_code == status


def test_scripted_faults_reach_the_app_api_and_requests_are_logged(
    sandbox: Sandbox, app: httpx.Client
) -> None:
    sandbox.fail_next(status=503, operation="app_person")
    assert lookup(app, "u1").status_code == 503
    assert lookup(app, "u1").status_code == 404
    first, second = sandbox.requests()
    assert (first.operation, first.identifier, first.fault, first.status) == (
        "app_person",
        "u1",
        "scripted:503",
        503,
    )
    assert (second.site_id, second.status) == (None, 404)


def test_app_keys_can_be_passed_in(sandbox: Sandbox) -> None:
    chosen = sandbox.add_app_key(AppApiKey(key="chosen-key", environment_id=5, region="eu"))
    assert chosen.public() == {"environment_id": 5, "region": "eu"}
    assert "chosen-key" not in repr(chosen)
