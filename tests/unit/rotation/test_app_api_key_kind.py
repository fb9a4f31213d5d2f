"""The App API key as a rotated secret (issue 14): ``AppApiKeyKind``'s testSecret asks
``GET /v1/workspaces`` (the App API's cheap authenticated call) with the pending key and then the
current one, and refuses a key of another account; the four steps through the protocol on moto,
against the sandbox's App API over HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.models import secretsmanager_backends

from cio_security import rotation
from cio_security.errors import RotationError
from cio_security.rotation import APP_API_KEY, SECRET_KINDS, AppApiKeyKind, RetryableRotationError
from cio_security.rotation.protocol import CONFIGURATION_TEST
from cio_security.secrets.models import AppApiKey
from ciosec.sandbox import AppApiKey as SandboxAppKey
from ciosec.sandbox import Sandbox
from fixtures.aws import REGION
from fixtures.logs import sensitive
from fixtures.sandbox import SANDBOX_APP_KEY

SECRET = "stack/customerio/app-api-key"
PLACEHOLDER = '{"app_api_key":"","region":"us"}'
CURRENT_KEY = "app-key-current-0a1b2c3d4e"
PENDING_KEY = "app-key-pending-5f6a7b8c9d"
CURRENT = AppApiKey.model_validate({"app_api_key": CURRENT_KEY})
PENDING = AppApiKey.model_validate({"app_api_key": PENDING_KEY})


@pytest.fixture(autouse=True)
def _sensitive() -> None:
    sensitive(CURRENT_KEY, PENDING_KEY, SANDBOX_APP_KEY.key)


def by_key(
    answers: dict[str, tuple[int, Any]], hosts: list[str] | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    """An App API answering ``/v1/workspaces`` per Bearer key; 401 for any other key."""

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/workspaces"
        if hosts is not None:
            hosts.append(request.url.host)
        key = request.headers["authorization"].removeprefix("Bearer ")
        status, body = answers.get(key, (401, {"errors": [{"detail": "unauthorized", "status": 401}]}))
        return httpx.Response(status, json=body)

    return handle


def settings(
    handler: Callable[[httpx.Request], httpx.Response], app_url: str | None = None
) -> rotation.RotationSettings:
    return rotation.RotationSettings(
        app_api_key_secret_id=SECRET,
        app_url=app_url,
        transport=httpx.MockTransport(handler),
        sleep=lambda _s: None,
    )


def workspaces(*ids: str) -> tuple[int, dict[str, Any]]:
    """The documented answer (App API, "List workspaces")."""
    return 200, {"workspaces": [{"id": i, "name": f"Workspace {i}", "people": 3} for i in ids]}


# -- the kind ---------------------------------------------------------------------------------------


def test_the_kind_is_registered_with_its_shape() -> None:
    assert SECRET_KINDS["app_api_key"] is APP_API_KEY
    assert isinstance(APP_API_KEY, AppApiKeyKind)
    assert APP_API_KEY.model is AppApiKey
    assert APP_API_KEY.staging_instructions(SECRET) == (
        f'write {{"app_api_key": "...", "region": "us|eu"}} to secret {SECRET}/staged and rotate again'
    )
    # The same key is the same secret, whatever region it declares.
    assert APP_API_KEY.same_value(
        CURRENT, AppApiKey.model_validate({"app_api_key": CURRENT_KEY, "region": "eu"})
    )
    assert not APP_API_KEY.same_value(CURRENT, PENDING)


def test_a_pending_key_of_the_current_account_is_accepted() -> None:
    answers = {PENDING_KEY: workspaces("13001", "13002"), CURRENT_KEY: workspaces("13002", "13001")}
    message = APP_API_KEY.verify_pending(
        PENDING, CURRENT, secret_name=SECRET, settings=settings(by_key(answers))
    )
    assert "current account" in message
    assert PENDING_KEY not in message


def test_the_first_key_only_has_to_answer_on_its_regions_host() -> None:
    hosts: list[str] = []
    eu = AppApiKey.model_validate({"app_api_key": PENDING_KEY, "region": "eu"})
    message = APP_API_KEY.verify_pending(
        eu, None, secret_name=SECRET, settings=settings(by_key({PENDING_KEY: workspaces("1")}, hosts))
    )
    assert "first rotation" in message
    assert hosts == ["api-eu.customer.io"]


def test_a_key_of_another_account_is_refused() -> None:
    answers = {PENDING_KEY: workspaces("99"), CURRENT_KEY: workspaces("13001")}
    with pytest.raises(RotationError, match=r"another Customer\.io account") as raised:
        APP_API_KEY.verify_pending(PENDING, CURRENT, secret_name=SECRET, settings=settings(by_key(answers)))
    assert not isinstance(raised.value, RetryableRotationError)
    assert f"{SECRET}/staged" in str(raised.value)


def test_an_answer_that_lists_no_workspace_cannot_be_compared_and_is_refused() -> None:
    answers = {PENDING_KEY: (200, {"workspaces": []}), CURRENT_KEY: workspaces("13001")}
    with pytest.raises(RotationError, match="cannot be compared"):
        APP_API_KEY.verify_pending(PENDING, CURRENT, secret_name=SECRET, settings=settings(by_key(answers)))


@pytest.mark.parametrize(
    ("answers", "error", "text"),
    [
        ({CURRENT_KEY: workspaces("1")}, RotationError, "rejected the pending App API key (status 401)"),
        ({PENDING_KEY: workspaces("1")}, RotationError, "keep the current App API key"),
        ({PENDING_KEY: (404, {})}, RotationError, "checking the pending App API key failed"),
        ({PENDING_KEY: (503, {})}, RetryableRotationError, "Secrets Manager retries"),
        ({PENDING_KEY: (429, {})}, RetryableRotationError, "nothing was promoted"),
    ],
)
def test_what_the_app_api_answers_decides_whether_the_retry_can_succeed(
    answers: dict[str, tuple[int, Any]], error: type[Exception], text: str
) -> None:
    with pytest.raises(error) as raised:
        APP_API_KEY.verify_pending(PENDING, CURRENT, secret_name=SECRET, settings=settings(by_key(answers)))
    assert text in str(raised.value)
    assert error is RetryableRotationError or not isinstance(raised.value, RetryableRotationError)
    assert PENDING_KEY not in str(raised.value) and CURRENT_KEY not in str(raised.value)


def test_settings_from_env_name_the_app_api_key_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACK_CREDENTIALS_SECRET_ID", "t")
    monkeypatch.delenv("SIGNING_KEY_SECRET_ID", raising=False)
    monkeypatch.setenv("APP_API_KEY_SECRET_ID", SECRET)
    monkeypatch.setenv("CUSTOMERIO_APP_URL", "http://127.0.0.1:9/app")
    configured = rotation.RotationSettings.from_env()
    assert configured.configured_secrets() == (("track", "t"), ("app_api_key", SECRET))
    assert configured.app_url == "http://127.0.0.1:9/app"


# -- the four steps, against the sandbox -----------------------------------------------------------


def _moto_secret() -> Any:
    return secretsmanager_backends[DEFAULT_ACCOUNT_ID][REGION].secrets[SECRET]


def _begin() -> str:
    """What RotateSecret does in real Secrets Manager (moto copies the current value instead,
    DESIGN section 5): a new version id labelled AWSPENDING that holds no value yet."""
    token = str(uuid.uuid4())
    secret = _moto_secret()
    secret.remove_version_stages_from_old_versions(["AWSPENDING"])
    secret.versions[token] = {
        "createdate": 1_795_000_000,
        "version_id": token,
        "version_stages": ["AWSPENDING"],
    }
    return token


@pytest.fixture
def sm() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        client.create_secret(Name=SECRET, SecretString=PLACEHOLDER)
        client.create_secret(Name=SECRET + "/staged", SecretString="{}")
        secret = _moto_secret()  # what the template's AppApiKeyRotationSchedule configures
        secret.rotation_requested = True
        secret.rotation_enabled = True
        secret.rotation_lambda_arn = f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:rotation"
        yield client


def rotate_with(sm: Any, staged: dict[str, str], sandbox: Sandbox) -> list[rotation.StepResult]:
    """Stage ``staged`` and run the four steps as Secrets Manager would."""
    sm.put_secret_value(SecretId=SECRET + "/staged", SecretString=json.dumps(staged))
    token = _begin()
    config = rotation.RotationSettings(
        app_api_key_secret_id=SECRET, app_url=sandbox.app_url, sleep=lambda _s: None
    )
    return [
        rotation.rotate(sm, secret_id=SECRET, token=token, step=step, settings=config)
        for step in rotation.STEPS
    ]


def current(sm: Any) -> dict[str, Any]:
    value = sm.get_secret_value(SecretId=SECRET, VersionStage="AWSCURRENT")["SecretString"]
    loaded: dict[str, Any] = json.loads(value)
    return loaded


def test_the_placeholder_then_two_keys_of_one_workspace_are_rotated_in(sm: Any, sandbox: Sandbox) -> None:
    first = {"app_api_key": SANDBOX_APP_KEY.key, "region": "us"}
    results = rotate_with(sm, first, sandbox)
    assert [r.outcome for r in results] == ["completed"] * 4
    assert current(sm) == first
    second = sandbox.add_app_key(environment_id=SANDBOX_APP_KEY.environment_id)
    sensitive(second.key)
    rotate_with(sm, {"app_api_key": second.key, "region": "us"}, sandbox)
    assert current(sm)["app_api_key"] == second.key
    assert json.loads(sm.get_secret_value(SecretId=SECRET + "/staged")["SecretString"]) == {}


def test_a_key_of_another_workspace_is_never_promoted(sm: Any, sandbox: Sandbox) -> None:
    rotate_with(sm, {"app_api_key": SANDBOX_APP_KEY.key, "region": "us"}, sandbox)
    other = sandbox.add_app_key(
        SandboxAppKey(key="app-key-other-workspace-77", environment_id=424242, region="us")
    )
    sensitive(other.key)
    with pytest.raises(RotationError, match=r"another Customer\.io account"):
        rotate_with(sm, {"app_api_key": other.key, "region": "us"}, sandbox)
    assert current(sm)["app_api_key"] == SANDBOX_APP_KEY.key


def test_secrets_managers_configuration_test_on_the_placeholder_calls_nothing(sm: Any) -> None:
    token = _begin()
    _moto_secret().versions[token]["secret_string"] = PLACEHOLDER  # a copy of the current value
    config = settings(lambda request: pytest.fail(str(request.url)))
    result = rotation.rotate(sm, secret_id=SECRET, token=token, step="testSecret", settings=config)
    assert (result.outcome, result.message) == ("unchanged", CONFIGURATION_TEST)
