"""ciosec.sandbox.admin_api: state, config, faults, credentials and reset over /_sandbox/."""

from __future__ import annotations

import json

import httpx

from ciosec.sandbox import Sandbox, SandboxConfig
from fixtures.sandbox import SANDBOX_API_KEY, SANDBOX_CREDENTIALS, SANDBOX_ENVIRONMENT_ID, SANDBOX_SITE_ID

from .conftest import CUSTOMERS, identify

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
    response = admin(sandbox, "POST", "/config", {"processing_delay": 2.5, "faults": {"seed": 3}})
    assert response.status_code == 200
    assert response.json()["processing_delay"] == 2.5
    assert response.json()["faults"]["seed"] == 3
    assert http.delete(f"{CUSTOMERS}/ghost").status_code == 200  # documented: 200 whether or not they existed
    assert admin(sandbox, "POST", "/config", {"delete_missing_status": 404}).status_code == 400  # removed
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


def test_admin_app_keys_add_and_remove(sandbox: Sandbox) -> None:
    created = admin(sandbox, "POST", "/app-keys", {}).json()
    assert created["environment_id"] == SANDBOX_ENVIRONMENT_ID
    bearer = {"Authorization": f"Bearer {created['key']}"}
    assert httpx.get(f"{sandbox.app_url}/v1/customers/u1/attributes", headers=bearer).status_code == 404
    state = admin(sandbox, "GET", "/state").json()
    assert {"environment_id": SANDBOX_ENVIRONMENT_ID, "region": "us"} in state["app_api_keys"]
    assert created["key"] not in json.dumps(state)
    assert admin(sandbox, "DELETE", f"/app-keys/{created['key']}").status_code == 200
    assert httpx.get(f"{sandbox.app_url}/v1/customers/u1/attributes", headers=bearer).status_code == 401
    assert admin(sandbox, "DELETE", "/app-keys/nope").status_code == 404
    chosen = admin(sandbox, "POST", "/app-keys", {"key": "k-9", "environment_id": 9}).json()
    assert chosen == {"key": "k-9", "environment_id": 9, "region": "us"}
    assert admin(sandbox, "POST", "/app-keys", {"nope": 1}).status_code == 400


def test_admin_operation_faults_people_and_identities(sandbox: Sandbox, http: httpx.Client) -> None:
    assert (
        admin(
            sandbox, "POST", "/people", {"identifier": "u1", "attributes": {"email": "a@example.com"}}
        ).json()
        == {}
    )
    assert admin(sandbox, "POST", "/people", {"identifier": ""}).status_code == 400
    assert admin(sandbox, "POST", "/people", {"identifier": "u2", "extra": 1}).status_code == 400
    identities = admin(sandbox, "GET", "/state").json()["identities"][str(SANDBOX_ENVIRONMENT_ID)]
    assert identities["u1"]["id"] == "u1"
    assert identities["u1"]["email"] == "a@example.com"
    fault = {"action": "suppress", "reason": "internal_error", "times": 2}
    assert admin(sandbox, "POST", "/operation-faults", fault).status_code == 200
    assert admin(sandbox, "GET", "/state").json()["scripted_operation_faults"][0]["remaining"] == 2
    operation = {"type": "person", "identifiers": {"email": "a@example.com"}, "action": "suppress"}
    response = http.post("/api/v2/batch", json={"batch": [operation]})
    assert (response.status_code, response.json()["errors"][0]["reason"]) == (207, "internal_error")
    assert set(sandbox.people()) == {"u1"}
    assert admin(sandbox, "POST", "/operation-faults", {"batch_index": -1}).status_code == 400


def test_admin_faults_reset_clears_faults_and_rates_but_keeps_people(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    identify(http, "u1", {"plan": "pro"})
    changed = {
        "latency": 0.01,
        "rate_limit_rps": 5,
        "processing_delay": 1.5,
        "app_rate_limit_rps": 2,
        "faults": {"error_rate": 0.5, "reset_rate": 0.1, "operation_error_rate": 0.2, "seed": 9},
    }
    assert admin(sandbox, "POST", "/config", changed).status_code == 200
    admin(sandbox, "POST", "/faults", {"status": 500, "times": 3})
    admin(sandbox, "POST", "/operation-faults", {"reason": "x", "times": 2})

    cleared = admin(sandbox, "POST", "/faults/reset", {})
    assert cleared.status_code == 200
    defaults = SandboxConfig()
    assert cleared.json()["faults"] == {**defaults.faults.model_dump(mode="json"), "seed": 9}
    assert cleared.json()["latency"] == 0
    assert cleared.json()["rate_limit_rps"] is None
    assert cleared.json()["app_rate_limit_rps"] == defaults.app_rate_limit_rps
    assert cleared.json()["processing_delay"] == 1.5  # Track's asynchrony is no fault
    state = admin(sandbox, "GET", "/state").json()
    assert state["scripted_faults"] == [] and state["scripted_operation_faults"] == []
    assert "u1" in sandbox.people()
    assert all(identify(http, f"u{n}").status_code == 200 for n in range(20))


def test_admin_refusals_say_which_setting(sandbox: Sandbox) -> None:
    refused = admin(sandbox, "POST", "/config", {"faults": {"error_rate": 0.7, "reset_rate": 0.7}})
    assert refused.status_code == 400
    assert "add up to more than 1" in refused.json()["errors"][0]["msg"]
