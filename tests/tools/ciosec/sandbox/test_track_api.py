"""ciosec.sandbox.track_api: Track semantics per workspace, auth and routing."""

from __future__ import annotations

import httpx
import pytest

from ciosec.sandbox import CredentialSet, Sandbox
from ciosec.sandbox.server import MAX_BODY_BYTES
from fixtures.sandbox import SANDBOX_API_KEY, SANDBOX_ENVIRONMENT_ID, SANDBOX_SITE_ID

from .conftest import CUSTOMERS, identify

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


@pytest.mark.parametrize("path", ["ghost", "ghost/suppress"])
def test_delete_and_suppress_answer_200_whether_or_not_the_person_existed(
    sandbox: Sandbox, http: httpx.Client, path: str
) -> None:
    # Documented: 200 (an empty object) and 401 only; the Track API never says who existed.
    method = "POST" if path.endswith("suppress") else "DELETE"
    missing = http.request(method, f"{CUSTOMERS}/{path}")
    assert (missing.status_code, missing.json()) == (200, {})
    identify(http, "ghost")
    present = http.request(method, f"{CUSTOMERS}/{path}")
    assert (present.status_code, present.json()) == (200, {})
    assert sandbox.people() == {}
    # A 404 is never Customer.io's answer: tests that need one script it (a wrong URL, a proxy).
    sandbox.fail_next(status=404, operation="delete")
    assert http.delete(f"{CUSTOMERS}/ghost").status_code == 404


def test_region_answers_for_the_authenticated_credential_set(sandbox: Sandbox, http: httpx.Client) -> None:
    eu = sandbox.add_credentials(
        CredentialSet(site_id="eu-site", api_key="eu-key", environment_id=7, region="eu")
    )
    body = http.get("/api/v1/accounts/region").json()
    # the body Customer.io documents (Journeys Track API; shared/CUSTOMERIO.md)
    assert body == {
        "url": "https://track.customer.io",
        "region": "us",
        "environment_id": SANDBOX_ENVIRONMENT_ID,
    }
    body = httpx.get(f"{sandbox.url}/api/v1/accounts/region", auth=(eu.site_id, eu.api_key)).json()
    assert body == {"url": "https://track-eu.customer.io", "region": "eu", "environment_id": 7}
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
    response = http.put(f"{CUSTOMERS}/u1", content=b"x" * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413


def test_identify_body_must_be_an_object(http: httpx.Client) -> None:
    assert http.put(f"{CUSTOMERS}/u1", content=b"[1]").status_code == 400
    assert http.put(f"{CUSTOMERS}/u1", content=b"not json").status_code == 400
