"""Rotation per workspace (issue #15), through the real handler: moto modelled on real Secrets
Manager (conftest) and the Customer.io sandbox over HTTP, a US one and an EU one.

The stack serves three workspaces: ``alpha`` (the primary: the stack's original secrets),
``beta`` (``{prefix}workspaces/beta/{kind}``), both in the US, and ``gamma`` in the EU, whose
Track calls go to the EU sandbox (``CUSTOMERIO_TRACK_URL_EU``). A credential set, App API key or
signing key of one workspace staged for another is refused by testSecret, nothing is promoted and
AWSPENDING is removed (the existing failure rules); each workspace's own values are promoted.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.models import secretsmanager_backends

from cio_security.errors import RotationError
from cio_security.rotation import RetryableRotationError
from ciosec.sandbox import AppApiKey, CredentialSet, Sandbox
from fixtures.aws import REGION
from fixtures.functions import FakeLambdaContext, load_function
from fixtures.logs import LogCapture, sensitive
from fixtures.sandbox import SANDBOX_APP_KEY, SANDBOX_CREDENTIALS

from .conftest import PREVIOUS_ROTATION_INCOMPLETE

PREFIX = "cio-security/customerio/"
TRACK = "track-credentials"
SIGNING = "webhook-signing-key"
APP = "app-api-key"
PRIMARY_SECRETS = {TRACK: PREFIX + TRACK, SIGNING: PREFIX + SIGNING, APP: PREFIX + APP}
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")

ALPHA_ENV, BETA_ENV, GAMMA_ENV = SANDBOX_CREDENTIALS.environment_id, 200002, 300003
ALPHA = SANDBOX_CREDENTIALS
ALPHA_NEXT = CredentialSet(
    site_id="site-alpha-2", api_key="alpha-key-2-9d8c7b6a5f4e", environment_id=ALPHA_ENV
)
BETA = CredentialSet(site_id="site-beta-1", api_key="beta-key-1-1a2b3c4d5e6f", environment_id=BETA_ENV)
BETA_NEXT = CredentialSet(site_id="site-beta-2", api_key="beta-key-2-6f5e4d3c2b1a", environment_id=BETA_ENV)
GAMMA = CredentialSet(
    site_id="site-gamma-1", api_key="gamma-key-1-0a9b8c7d6e5f", environment_id=GAMMA_ENV, region="eu"
)
GAMMA_NEXT = CredentialSet(
    site_id="site-gamma-2", api_key="gamma-key-2-5f6e7d8c9b0a", environment_id=GAMMA_ENV, region="eu"
)
ALPHA_APP = SANDBOX_APP_KEY
ALPHA_APP_NEXT = AppApiKey(key="alpha-app-key-2-3c4d5e6f7a8b", environment_id=ALPHA_ENV)
BETA_APP = AppApiKey(key="beta-app-key-1-8b7a6f5e4d3c", environment_id=BETA_ENV)
SIGNING_ALPHA = "sk-alpha-0123456789abcdefghijklmnopqrstuv"
SIGNING_BETA = "sk-beta-ZYXWVUTSRQPONMLKJIHGFEDCBA98765"
SIGNING_BETA_NEXT = "sk-beta-next-abcdefghijklmnopqrstuvwxyz0"
TRACK_PLACEHOLDER = '{"site_id":"","api_key":"","region":"us"}'
APP_PLACEHOLDER = '{"app_api_key":"","region":"us"}'
SECRET_VALUES = (
    *(c.api_key for c in (ALPHA, ALPHA_NEXT, BETA, BETA_NEXT, GAMMA, GAMMA_NEXT)),
    *(k.key for k in (ALPHA_APP, ALPHA_APP_NEXT, BETA_APP)),
    SIGNING_ALPHA,
    SIGNING_BETA,
    SIGNING_BETA_NEXT,
)


def secret(workspace: str, kind: str) -> str:
    return PRIMARY_SECRETS[kind] if workspace == "alpha" else f"{PREFIX}workspaces/{workspace}/{kind}"


def track_json(credentials: CredentialSet) -> str:
    return json.dumps(
        {"site_id": credentials.site_id, "api_key": credentials.api_key, "region": credentials.region}
    )


def app_json(key: AppApiKey) -> str:
    return json.dumps({"app_api_key": key.key, "region": key.region})


def signing_json(key: str) -> str:
    return json.dumps({"signing_key": key})


@dataclass
class Stack:
    app: ModuleType
    sm: Any
    us: Sandbox
    eu: Sandbox
    context: FakeLambdaContext = field(default_factory=FakeLambdaContext)

    def create(self, name: str, value: str) -> str:
        arn = str(self.sm.create_secret(Name=name, SecretString=value)["ARN"])
        self.sm.create_secret(Name=name + "/staged", SecretString="{}")
        moto_secret = secretsmanager_backends[DEFAULT_ACCOUNT_ID][REGION].secrets[name]
        moto_secret.rotation_requested = True  # what the template's RotationSchedule configures
        moto_secret.rotation_enabled = True
        moto_secret.rotation_lambda_arn = f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:rotation"
        return arn

    def begin(self, name: str) -> str:
        """Real RotateSecret (conftest): a new AWSPENDING version without a value."""
        moto_secret = secretsmanager_backends[DEFAULT_ACCOUNT_ID][REGION].secrets[name]
        for version in moto_secret.versions.values():
            stages = version["version_stages"]
            assert not ("AWSPENDING" in stages and "AWSCURRENT" not in stages), PREVIOUS_ROTATION_INCOMPLETE
        token = str(uuid.uuid4())
        moto_secret.versions[token] = {
            "createdate": 1_795_000_000,
            "version_id": token,
            "version_stages": ["AWSPENDING"],
        }
        return token

    def rotate(self, name: str, staged: str, steps: tuple[str, ...] = STEPS) -> str:
        """Stage ``staged`` for ``name`` and run ``steps`` through the handler; returns the token."""
        self.sm.put_secret_value(SecretId=name + "/staged", SecretString=staged)
        token = self.begin(name)
        for step in steps:
            self.app.handler({"SecretId": name, "ClientRequestToken": token, "Step": step}, self.context)
        return token

    def refused(self, name: str, staged: str) -> tuple[str, str]:
        """Rotate ``name`` to ``staged`` expecting testSecret to refuse; returns the error text and
        the token."""
        token = self.rotate(name, staged, steps=("createSecret", "setSecret"))
        with pytest.raises(RotationError) as refused:
            self.app.handler(
                {"SecretId": name, "ClientRequestToken": token, "Step": "testSecret"}, self.context
            )
        text = str(refused.value)
        assert not [v for v in SECRET_VALUES if v in text], "a secret value appears in the error"
        return text, token

    def current(self, name: str) -> Any:
        return json.loads(self.sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"])

    def stages(self, name: str) -> dict[str, list[str]]:
        versions = self.sm.describe_secret(SecretId=name)["VersionIdsToStages"]
        return {v: sorted(s) for v, s in versions.items() if s}

    def assert_abandoned(self, name: str, token: str, current: str) -> None:
        """Refused for good: nothing promoted, no AWSPENDING left (the next rotation can start)."""
        assert self.current(name) == json.loads(current)
        assert not [v for v, s in self.stages(name).items() if "AWSPENDING" in s and "AWSCURRENT" not in s]
        assert "AWSPENDING" not in self.stages(name).get(token, [])

    def region_calls(self) -> list[str | None]:
        return [r.site_id for r in (*self.us.requests(), *self.eu.requests()) if r.operation == "region"]

    def clear_requests(self) -> None:
        self.us.clear_requests()
        self.eu.clear_requests()


@pytest.fixture
def eu_sandbox() -> Iterator[Sandbox]:
    with Sandbox([GAMMA, GAMMA_NEXT]) as server:
        yield server


def _stack(
    monkeypatch: pytest.MonkeyPatch, us: Sandbox, eu: Sandbox, *, beta_track: str, beta_app: str
) -> Iterator[Stack]:
    sensitive(*SECRET_VALUES)
    for credentials in (ALPHA_NEXT, BETA, BETA_NEXT):
        us.add_credentials(credentials)
    for key in (ALPHA_APP_NEXT, BETA_APP):
        us.add_app_key(key)
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name=REGION)
        stack = Stack(app=load_function("rotation"), sm=sm, us=us, eu=eu)
        track_arn = stack.create(secret("alpha", TRACK), track_json(ALPHA))
        stack.create(secret("alpha", SIGNING), signing_json(SIGNING_ALPHA))
        stack.create(secret("alpha", APP), app_json(ALPHA_APP))
        stack.create(secret("beta", TRACK), beta_track)
        stack.create(secret("beta", SIGNING), signing_json(SIGNING_BETA))
        stack.create(secret("beta", APP), beta_app)
        stack.create(secret("gamma", TRACK), track_json(GAMMA))
        stack.create(secret("gamma", SIGNING), '{"signing_key":""}')
        monkeypatch.setenv("CUSTOMERIO_WORKSPACES", "alpha,beta,gamma")
        monkeypatch.setenv("CUSTOMERIO_WORKSPACE_SECRET_PREFIX", PREFIX)
        monkeypatch.setenv("TRACK_CREDENTIALS_SECRET_ID", track_arn)  # the template passes the ARN
        monkeypatch.setenv("SIGNING_KEY_SECRET_ID", secret("alpha", SIGNING))
        monkeypatch.setenv("APP_API_KEY_SECRET_ID", secret("alpha", APP))
        monkeypatch.delenv("CUSTOMERIO_TRACK_URL", raising=False)
        monkeypatch.setenv("CUSTOMERIO_TRACK_URL_US", us.url)
        monkeypatch.setenv("CUSTOMERIO_TRACK_URL_EU", eu.url)
        monkeypatch.setenv("CUSTOMERIO_APP_URL", us.app_url)
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "cio-security-rotation")
        stack.app.settings.cache_clear()
        yield stack


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, eu_sandbox: Sandbox) -> Iterator[Stack]:
    """Every workspace set up by earlier rotations."""
    yield from _stack(
        monkeypatch, sandbox, eu_sandbox, beta_track=track_json(BETA), beta_app=app_json(BETA_APP)
    )


@pytest.fixture
def new_beta(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, eu_sandbox: Sandbox) -> Iterator[Stack]:
    """beta just added to the stack: its Track credentials and App API key are the placeholders."""
    yield from _stack(
        monkeypatch, sandbox, eu_sandbox, beta_track=TRACK_PLACEHOLDER, beta_app=APP_PLACEHOLDER
    )


# -- Track credentials -------------------------------------------------------------------------------


def test_a_workspaces_own_credentials_are_promoted_at_a_few_extra_calls(stack: Stack) -> None:
    name = secret("beta", TRACK)
    stack.rotate(name, track_json(BETA_NEXT))
    assert stack.current(name)["site_id"] == BETA_NEXT.site_id
    # its own check (pending, current), then one call per other workspace (alpha, gamma in the EU)
    assert stack.region_calls() == [BETA_NEXT.site_id, BETA.site_id, ALPHA.site_id, GAMMA.site_id]
    assert [r.site_id for r in stack.eu.requests()] == [GAMMA.site_id]
    # a warm function remembers the other workspaces' identities: no extra call the next time
    stack.clear_requests()
    stack.rotate(name, track_json(BETA))
    assert stack.region_calls() == [BETA.site_id, BETA_NEXT.site_id]


def test_credentials_of_workspace_a_staged_for_b_are_refused(stack: Stack) -> None:
    name = secret("beta", TRACK)
    text, token = stack.refused(name, track_json(ALPHA))  # alpha's very credentials
    assert "workspace beta" in text and "workspace alpha" in text
    stack.assert_abandoned(name, token, track_json(BETA))
    # another credential set of alpha's workspace: refused too (beta's current is another workspace)
    text, token = stack.refused(name, track_json(ALPHA_NEXT))
    assert "another workspace" in text
    stack.assert_abandoned(name, token, track_json(BETA))


def test_a_first_rotation_never_takes_another_workspaces_credentials(new_beta: Stack) -> None:
    """beta's current value is the placeholder: nothing in its own secret to compare with, so the
    other workspaces' current credentials decide."""
    name = secret("beta", TRACK)
    text, token = new_beta.refused(name, track_json(ALPHA_NEXT))
    assert "belong to workspace alpha's Customer.io workspace" in text
    assert "workspace beta" in text
    new_beta.assert_abandoned(name, token, TRACK_PLACEHOLDER)
    new_beta.rotate(name, track_json(BETA))
    assert new_beta.current(name)["site_id"] == BETA.site_id


def test_the_other_workspaces_lookups_fit_a_time_budget(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past its budget the step fails retryably (AWSPENDING removed; Secrets Manager's retry
    puts it back while the value is still staged)."""
    monkeypatch.setattr("cio_security.rotation.kinds.PEER_LOOKUP_BUDGET_SECONDS", -1.0)
    name = secret("beta", TRACK)
    token = stack.rotate(name, track_json(BETA_NEXT), steps=("createSecret", "setSecret"))
    with pytest.raises(RetryableRotationError, match="Secrets Manager retries"):
        stack.app.handler(
            {"SecretId": name, "ClientRequestToken": token, "Step": "testSecret"}, stack.context
        )
    assert "AWSPENDING" not in stack.stages(name).get(token, [])
    assert stack.current(name)["site_id"] == BETA.site_id


def test_another_workspace_whose_credentials_are_rejected_is_named(stack: Stack) -> None:
    """alpha's current credentials no longer work: whether beta's pending set is alpha's cannot be
    ruled out, so beta's rotation is refused with what to fix."""
    stack.us.remove_credentials(ALPHA.site_id)
    text, token = stack.refused(secret("beta", TRACK), track_json(BETA_NEXT))
    assert "fix alpha first" in text
    stack.assert_abandoned(secret("beta", TRACK), token, track_json(BETA))


def test_the_primary_workspace_rotates_as_before(stack: Stack) -> None:
    name = secret("alpha", TRACK)
    stack.rotate(name, track_json(ALPHA_NEXT))
    assert stack.current(name)["site_id"] == ALPHA_NEXT.site_id
    assert stack.region_calls()[:2] == [ALPHA_NEXT.site_id, ALPHA.site_id]
    text, token = stack.refused(name, track_json(BETA_NEXT))
    assert "another workspace" in text
    stack.assert_abandoned(name, token, track_json(ALPHA_NEXT))


def test_an_eu_workspace_is_checked_on_the_eu_host(stack: Stack) -> None:
    name = secret("gamma", TRACK)
    stack.rotate(name, track_json(GAMMA_NEXT))
    assert stack.current(name)["site_id"] == GAMMA_NEXT.site_id
    assert [r.site_id for r in stack.eu.requests()] == [GAMMA_NEXT.site_id, GAMMA.site_id]


def test_a_secret_of_an_unconfigured_workspace_is_refused(stack: Stack) -> None:
    name = f"{PREFIX}workspaces/delta/{TRACK}"
    stack.create(name, track_json(BETA_NEXT))
    with pytest.raises(RotationError, match="not one this function rotates"):
        stack.rotate(name, track_json(BETA_NEXT), steps=("createSecret",))


# -- signing keys -------------------------------------------------------------------------------------


def test_a_signing_key_shared_with_another_workspace_is_refused(stack: Stack) -> None:
    name = secret("beta", SIGNING)
    text, token = stack.refused(name, signing_json(SIGNING_ALPHA))
    assert "AWSCURRENT value of workspace alpha's secret" in text and "workspace beta" in text
    stack.assert_abandoned(name, token, signing_json(SIGNING_BETA))
    stack.rotate(name, signing_json(SIGNING_BETA_NEXT))
    assert stack.current(name) == {"signing_key": SIGNING_BETA_NEXT}
    # alpha may not take beta's previous key either (the webhook still accepts it in its grace)
    text, _ = stack.refused(secret("alpha", SIGNING), signing_json(SIGNING_BETA))
    assert "AWSPREVIOUS value of workspace beta's secret" in text


# -- App API keys -------------------------------------------------------------------------------------


def test_an_app_api_key_of_another_workspaces_account_is_refused(stack: Stack) -> None:
    name = secret("beta", APP)
    text, token = stack.refused(name, app_json(ALPHA_APP_NEXT))
    assert "another Customer.io account than the current one" in text
    stack.assert_abandoned(name, token, app_json(BETA_APP))
    text, token = stack.refused(name, app_json(ALPHA_APP))  # alpha's very key
    assert "workspace alpha's secret" in text
    stack.assert_abandoned(name, token, app_json(BETA_APP))


def test_a_first_app_api_key_must_list_its_workspace(new_beta: Stack) -> None:
    """beta's App API key is the placeholder: its own secret has no account to compare with, so
    its Track credentials' workspace decides."""
    name = secret("beta", APP)
    # beta has no Track credentials yet: which account its key belongs to cannot be checked
    text, token = new_beta.refused(name, app_json(BETA_APP))
    assert "has no Track credentials yet" in text
    new_beta.assert_abandoned(name, token, APP_PLACEHOLDER)
    new_beta.rotate(secret("beta", TRACK), track_json(BETA))
    # a key of alpha's account does not list beta's workspace
    text, token = new_beta.refused(name, app_json(ALPHA_APP_NEXT))
    assert "does not list beta's Customer.io workspace" in text and "workspace beta" in text
    new_beta.assert_abandoned(name, token, APP_PLACEHOLDER)
    new_beta.rotate(name, app_json(BETA_APP))
    assert new_beta.current(name) == json.loads(app_json(BETA_APP))
    # the primary's next key of its own account is promoted too
    new_beta.rotate(secret("alpha", APP), app_json(ALPHA_APP_NEXT))
    assert new_beta.current(secret("alpha", APP))["app_api_key"] == ALPHA_APP_NEXT.key


# -- workspace labels (a reordered Workspaces) ----------------------------------------------------------


def labelled(value: str, workspace: str) -> str:
    return json.dumps({**json.loads(value), "workspace": workspace})


def step(stack: Stack, name: str, token: str, which: str) -> None:
    stack.app.handler({"SecretId": name, "ClientRequestToken": token, "Step": which}, stack.context)


def test_credentials_staged_for_another_workspace_are_refused_though_their_environment_would_pass(
    stack: Stack, captured_logs: LogCapture
) -> None:
    """BETA_NEXT is a credential set of beta's own Customer.io workspace (its environment_id
    matches beta's current credentials, so testSecret's Customer.io checks would pass), but it was
    staged for alpha (``ciosec secrets stage track --workspace alpha``): after a reorder of
    Workspaces, alpha's name could own this very secret. createSecret refuses it, permanently
    (AWSPENDING removed), before any Customer.io call."""
    name = secret("beta", TRACK)
    stack.sm.put_secret_value(
        SecretId=name + "/staged", SecretString=labelled(track_json(BETA_NEXT), "alpha")
    )
    token = stack.begin(name)
    with pytest.raises(RotationError) as refused:
        stack.app.handler(
            {"SecretId": name, "ClientRequestToken": token, "Step": "createSecret"}, stack.context
        )
    text = str(refused.value)
    assert not isinstance(refused.value, RetryableRotationError)
    assert "staged for workspace alpha" in text and "belongs to workspace beta" in text
    assert "Workspaces" in text and "AWSPENDING was removed" in text
    assert not [v for v in SECRET_VALUES if v in text]
    stack.assert_abandoned(name, token, track_json(BETA))
    assert stack.region_calls() == []  # refused on the label alone
    (failed,) = [r for r in captured_logs.records if r.getMessage() == "rotation step failed"]
    assert "workspace alpha" in failed.detail and "workspace beta" in failed.detail  # type: ignore[attr-defined]

    # Labelled for its own workspace, the same set rotates in, label kept.
    stack.rotate(name, labelled(track_json(BETA_NEXT), "beta"))
    assert stack.current(name) == json.loads(labelled(track_json(BETA_NEXT), "beta"))


def test_test_secret_refuses_a_pending_value_labelled_for_another_workspace(stack: Stack) -> None:
    """A pending version that createSecret did not check (written before labels were checked, or
    by hand) is refused by testSecret, before its Customer.io calls."""
    name = secret("beta", TRACK)
    token = stack.begin(name)
    stack.sm.put_secret_value(
        SecretId=name,
        ClientRequestToken=token,
        SecretString=labelled(track_json(BETA_NEXT), "alpha"),
        VersionStages=["AWSPENDING"],
    )
    with pytest.raises(RotationError) as refused:
        stack.app.handler(
            {"SecretId": name, "ClientRequestToken": token, "Step": "testSecret"}, stack.context
        )
    assert "staged for workspace alpha" in str(refused.value)
    assert "belongs to workspace beta" in str(refused.value)
    stack.assert_abandoned(name, token, track_json(BETA))
    assert stack.region_calls() == []


def test_a_signing_key_staged_for_another_workspace_is_refused(stack: Stack) -> None:
    name = secret("beta", SIGNING)
    stack.sm.put_secret_value(
        SecretId=name + "/staged", SecretString=labelled(signing_json(SIGNING_BETA_NEXT), "gamma")
    )
    token = stack.begin(name)
    with pytest.raises(RotationError, match="staged for workspace gamma"):
        stack.app.handler(
            {"SecretId": name, "ClientRequestToken": token, "Step": "createSecret"}, stack.context
        )
    stack.assert_abandoned(name, token, signing_json(SIGNING_BETA))
    stack.rotate(name, labelled(signing_json(SIGNING_BETA_NEXT), "beta"))
    assert stack.current(name) == {"signing_key": SIGNING_BETA_NEXT, "workspace": "beta"}
