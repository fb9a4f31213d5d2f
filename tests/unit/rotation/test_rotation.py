"""cio_security.rotation without the Lambda handler: helpers, kind resolution, and each step's
edge cases, with moto for Secrets Manager and a mock transport for Customer.io."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

from cio_security import rotation
from cio_security.customerio.retry import ROTATION_TEST, RetryPolicy
from cio_security.errors import ConfigurationError, RotationError
from cio_security.rotation.protocol import CONFIGURATION_TEST
from cio_security.secrets.models import SigningKey, TrackCredentials
from fixtures.aws import REGION
from fixtures.logs import sensitive

TRACK = "stack/customerio/track-credentials"
SIGNING = "stack/customerio/webhook-signing-key"
CUR_KEY = "unit-current-key-1a2b3c4d"
NEW_KEY = "unit-pending-key-5e6f7a8b"
CURRENT = {"site_id": "site-a", "api_key": CUR_KEY, "region": "us"}
PENDING = {"site_id": "site-b", "api_key": NEW_KEY, "region": "us"}
SIGNING_KEY = "unit-signing-key-abcdefghijklmnopqrstuvwxyz012345"


@pytest.fixture
def sm() -> Iterator[Any]:
    sensitive(CUR_KEY, NEW_KEY, SIGNING_KEY)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        client.create_secret(Name=TRACK, SecretString=json.dumps(CURRENT))
        client.create_secret(Name=TRACK + "/staged", SecretString="{}")
        client.create_secret(Name=SIGNING, SecretString=json.dumps({"signing_key": SIGNING_KEY}))
        client.create_secret(Name="unrelated", SecretString="{}")
        yield client


def settings(handler: Callable[[httpx.Request], httpx.Response] | None = None) -> rotation.RotationSettings:
    return rotation.RotationSettings(
        track_credentials_secret_id=TRACK,
        signing_key_secret_id=SIGNING,
        track_url="https://track.example.invalid",
        transport=httpx.MockTransport(handler) if handler else None,
        sleep=lambda _s: None,
    )


def target(sm: Any, name: str = TRACK) -> rotation.RotationTarget:
    return rotation.describe_target(sm, name, settings())


def pending_version(sm: Any, value: dict[str, Any], name: str = TRACK) -> str:
    token = str(uuid.uuid4())
    sm.put_secret_value(
        SecretId=name, ClientRequestToken=token, SecretString=json.dumps(value), VersionStages=["AWSPENDING"]
    )
    return token


def region_answers(
    by_site: dict[str, tuple[int, dict[str, Any]]],
) -> Callable[[httpx.Request], httpx.Response]:
    """A Customer.io answering the region call per site id (Basic auth user)."""

    def handle(request: httpx.Request) -> httpx.Response:
        auth = request.headers["authorization"].split()[1]
        site = base64.b64decode(auth).decode().split(":", 1)[0]
        status, body = by_site.get(site, (401, {"meta": {"error": "Unauthorized"}}))
        return httpx.Response(status, json=body)

    return handle


US_1 = {"url": "https://track.customer.io", "region": "us", "environment_id": 1}
"""The region call's body as Customer.io documents it (Journeys Track API; shared/CUSTOMERIO.md)."""


# -- helpers ----------------------------------------------------------------------------------------


def test_canonical_json_unwraps_and_sorts() -> None:
    creds = TrackCredentials.model_validate({"region": "eu", "api_key": "k", "site_id": "s"})
    assert rotation.canonical_json(creds) == '{"api_key":"k","region":"eu","site_id":"s"}'
    assert rotation.canonical_json(SigningKey.model_validate({"signing_key": "x" * 32})) == json.dumps(
        {"signing_key": "x" * 32}, separators=(",", ":")
    )


def test_same_value_ignores_the_declared_region_of_track_credentials() -> None:
    a = TrackCredentials.model_validate(CURRENT)
    assert rotation.TRACK_CREDENTIALS.same_value(
        a, TrackCredentials.model_validate({**CURRENT, "region": "eu"})
    )
    assert not rotation.TRACK_CREDENTIALS.same_value(a, TrackCredentials.model_validate(PENDING))


def test_staging_instructions_name_the_shape_and_the_secret_to_write_it_to() -> None:
    """What to write where, and nothing else: the CLI adds its own command hint."""
    text = rotation.SIGNING_KEY.staging_instructions("s/webhook-signing-key")
    assert text.startswith('write {"signing_key": "..."}')
    assert text.endswith(" to secret s/webhook-signing-key/staged and rotate again")
    assert "ciosec" not in text


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TRACK_CREDENTIALS_SECRET_ID", "SIGNING_KEY_SECRET_ID", "CUSTOMERIO_TRACK_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="TRACK_CREDENTIALS_SECRET_ID or SIGNING_KEY_SECRET_ID"):
        rotation.RotationSettings.from_env()
    monkeypatch.setenv("SIGNING_KEY_SECRET_ID", "sk")
    monkeypatch.setenv("CUSTOMERIO_TRACK_URL", " ")
    loaded = rotation.RotationSettings.from_env()
    assert (loaded.signing_key_secret_id, loaded.track_credentials_secret_id, loaded.track_url) == (
        "sk",
        "",
        None,
    )
    assert loaded.retry is ROTATION_TEST


def test_settings_hold_the_retry_policy_of_the_region_calls() -> None:
    """testSecret's calls follow one RetryPolicy: the ROTATION_TEST preset unless overridden."""
    assert rotation.RotationSettings().retry is ROTATION_TEST
    assert ROTATION_TEST.max_attempts == 2
    custom = RetryPolicy(max_attempts=1)
    assert rotation.RotationSettings(retry=custom).retry is custom


# -- which secret ---------------------------------------------------------------------------------


def test_kind_is_resolved_from_names_and_arns(sm: Any) -> None:
    track_arn = sm.describe_secret(SecretId=TRACK)["ARN"]
    assert rotation.describe_target(sm, track_arn, settings()).kind == "track"
    by_arn = rotation.RotationSettings(track_credentials_secret_id=track_arn)
    assert rotation.describe_target(sm, TRACK, by_arn).kind == "track"
    assert rotation.describe_target(sm, SIGNING, settings()).kind == "signing_key"
    found = rotation.describe_target(sm, TRACK, settings())
    assert (found.name, found.arn, found.staging_secret_id) == (TRACK, track_arn, TRACK + "/staged")


def test_a_partial_arn_in_the_configuration_resolves(sm: Any) -> None:
    """Neither the ARN nor the name: resolved through describe_secret (as Secrets Manager does)."""
    partial = sm.describe_secret(SecretId=TRACK)["ARN"].rsplit("-", 1)[0]  # without the random suffix
    configured = rotation.RotationSettings(track_credentials_secret_id=partial)
    assert rotation.describe_target(sm, TRACK, configured).kind == "track"


@pytest.mark.parametrize(
    ("secret_id", "configured", "reason"),
    [
        ("unrelated", settings(), "not one this function rotates"),
        (
            TRACK,
            rotation.RotationSettings(track_credentials_secret_id=TRACK, signing_key_secret_id=TRACK),
            "twice",
        ),
        ("missing", settings(), "describing secret missing failed"),
    ],
)
def test_other_secrets_are_refused(
    sm: Any, secret_id: str, configured: rotation.RotationSettings, reason: str
) -> None:
    with pytest.raises(RotationError, match=reason):
        rotation.describe_target(sm, secret_id, configured, step="createSecret")


# -- testSecret against a mock Customer.io --------------------------------------------------------


def test_track_test_secret_compares_with_the_current_workspace(sm: Any) -> None:
    token = pending_version(sm, PENDING)
    answers = region_answers({"site-a": (200, US_1), "site-b": (200, US_1)})
    result = rotation.test_secret(sm, target(sm), token, settings(answers))
    assert result.outcome == "completed"
    answers = region_answers({"site-a": (200, US_1), "site-b": (200, {**US_1, "environment_id": 2})})
    with pytest.raises(RotationError, match="another workspace"):
        rotation.test_secret(sm, target(sm), token, settings(answers))


def test_track_test_secret_retries_a_server_error_then_gives_up(sm: Any) -> None:
    token = pending_version(sm, PENDING)
    calls: list[str] = []

    def failing(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(503)

    with pytest.raises(RotationError, match="nothing was promoted, Secrets Manager retries") as failure:
        rotation.test_secret(sm, target(sm), token, settings(failing))
    assert calls == ["/api/v1/accounts/region"] * 2  # max_attempts
    assert NEW_KEY not in str(failure.value)


def test_track_test_secret_refuses_an_unexpected_answer(sm: Any) -> None:
    token = pending_version(sm, PENDING)
    with pytest.raises(RotationError, match="checking the pending credentials failed"):
        rotation.test_secret(sm, target(sm), token, settings(lambda _r: httpx.Response(200, json={"x": 1})))


def test_bootstrap_compares_with_nothing_but_checks_the_region(sm: Any) -> None:
    sm.put_secret_value(SecretId=TRACK, SecretString='{"site_id":"","api_key":"","region":"us"}')
    token = pending_version(sm, PENDING)
    answers = region_answers({"site-b": (200, US_1)})
    result = rotation.test_secret(sm, target(sm), token, settings(answers))
    assert "first rotation" in result.message
    eu = region_answers({"site-b": (200, {**US_1, "region": "eu"})})
    with pytest.raises(RotationError, match="declare region us"):
        rotation.test_secret(sm, target(sm), token, settings(eu))


def test_test_secret_passes_secrets_managers_configuration_test_without_promoting(sm: Any) -> None:
    # A rotation schedule created without rotating at once makes Secrets Manager run testSecret
    # on a pending version that holds the current value or none: that must not fail the deploy.
    for make in (
        lambda: pending_version(sm, {**CURRENT, "region": "eu"}),  # the same credentials
        lambda: pending_version(sm, CURRENT),  # a copy
        lambda: str(uuid.uuid4()),  # empty
    ):
        token = make()
        result = rotation.test_secret(sm, target(sm), token, settings())
        assert result.outcome == "unchanged"
        assert "configuration test" in result.message
    assert (
        json.loads(sm.get_secret_value(SecretId=TRACK, VersionStage="AWSCURRENT")["SecretString"]) == CURRENT
    )


@pytest.mark.parametrize(
    ("name", "placeholder"),
    [
        (TRACK, '{"site_id":"","api_key":"","region":"us"}'),
        (SIGNING, '{"signing_key":""}'),
    ],
)
@pytest.mark.parametrize("spelling", ["as stored", "reformatted"])
def test_the_configuration_test_on_a_copy_of_the_templates_placeholder_passes(
    sm: Any, name: str, placeholder: str, spelling: str
) -> None:
    """Issue 12: the pending value was parsed before it was compared, so a copy of the placeholder
    (not a valid value) failed the configuration test and rolled the first deploy back."""
    sm.put_secret_value(SecretId=name, SecretString=placeholder)
    copy = placeholder if spelling == "as stored" else json.dumps(json.loads(placeholder), indent=2)
    token = str(uuid.uuid4())
    sm.put_secret_value(
        SecretId=name, ClientRequestToken=token, SecretString=copy, VersionStages=["AWSPENDING"]
    )
    result = rotation.test_secret(sm, target(sm, name), token, settings(lambda r: pytest.fail(str(r.url))))
    assert (result.outcome, result.message) == ("unchanged", CONFIGURATION_TEST)
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"] == placeholder
    assert "AWSPENDING" in sm.describe_secret(SecretId=name)["VersionIdsToStages"][token]  # left to AWS


def test_an_invalid_pending_value_that_is_not_a_copy_still_fails(sm: Any) -> None:
    sm.put_secret_value(SecretId=TRACK, SecretString='{"site_id":"","api_key":"","region":"us"}')
    token = pending_version(sm, {"site_id": "", "api_key": "", "region": "eu"})
    with pytest.raises(RotationError, match="invalid fields"):
        rotation.test_secret(sm, target(sm), token, settings())


def test_signing_key_test_secret_is_a_shape_check(sm: Any) -> None:
    token = pending_version(sm, {"signing_key": "n" * 40}, SIGNING)
    assert rotation.test_secret(sm, target(sm, SIGNING), token, settings()).outcome == "completed"
    bad = pending_version(sm, {"signing_key": "n" * 10}, SIGNING)
    with pytest.raises(RotationError, match="invalid fields: signing_key"):
        rotation.test_secret(sm, target(sm, SIGNING), bad, settings())


# -- finishSecret -----------------------------------------------------------------------------------


def test_finish_leaves_a_value_staged_for_the_next_rotation_in_place(sm: Any) -> None:
    token = pending_version(sm, PENDING)
    next_one = {**PENDING, "site_id": "site-c"}
    sm.put_secret_value(SecretId=TRACK + "/staged", SecretString=json.dumps(next_one))
    result = rotation.finish_secret(sm, target(sm), token)
    assert "left in place for the next rotation" in result.message
    assert json.loads(sm.get_secret_value(SecretId=TRACK + "/staged")["SecretString"]) == next_one
    assert (
        json.loads(sm.get_secret_value(SecretId=TRACK, VersionStage="AWSCURRENT")["SecretString"]) == PENDING
    )


def test_finish_never_promotes_a_version_without_a_value(sm: Any) -> None:
    with pytest.raises(RotationError, match="holds no value"):
        rotation.finish_secret(sm, target(sm), str(uuid.uuid4()))
    assert (
        json.loads(sm.get_secret_value(SecretId=TRACK, VersionStage="AWSCURRENT")["SecretString"]) == CURRENT
    )


def test_set_secret_does_nothing(sm: Any) -> None:
    before = sm.describe_secret(SecretId=TRACK)["VersionIdsToStages"]
    assert rotation.set_secret(sm, target(sm), "t").outcome == "completed"
    assert sm.describe_secret(SecretId=TRACK)["VersionIdsToStages"] == before


def test_test_secret_is_not_collected_as_a_test() -> None:
    assert rotation.test_secret.__test__ is False  # type: ignore[attr-defined]
