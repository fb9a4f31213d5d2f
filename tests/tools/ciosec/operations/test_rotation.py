"""ciosec.operations.rotation: reading a new value without it ever being an argument, the pending-version
overlay that models real Secrets Manager over moto, stale rotations, waiting, status."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from cio_security.secrets.models import SigningKey, TrackCredentials
from ciosec.operations import rotation as rotation_ops
from fixtures.aws import REGION
from fixtures.logs import sensitive

TRACK = "stack/customerio/track-credentials"
KEY = "ops-api-key-9f8e7d6c5b4a"
SIGNING = "ops-signing-key-abcdefghijklmnopqrstuvwxyz0123"
TOKEN = "11111111-2222-4333-8444-555555555555"
STALE = "99999999-2222-4333-8444-555555555555"


@pytest.fixture
def sm() -> Iterator[Any]:
    sensitive(KEY, SIGNING)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        client.create_secret(Name=TRACK, SecretString=json.dumps({"site_id": "a", "api_key": "old-key"}))
        client.create_secret(Name=TRACK + "/staged", SecretString="{}")
        yield client


# -- read_new_value -------------------------------------------------------------------------------


def test_interactive_track_credentials_hide_the_key() -> None:
    asked: list[str] = []
    hidden: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return {"Customer.io site id: ": " site-1 ", "Region, us or eu [us]: ": "EU"}[prompt]

    def secret_prompt(prompt: str) -> str:
        hidden.append(prompt)
        return KEY + "\n"

    value, ignored = rotation_ops.read_new_value(
        "track", io.StringIO(), interactive=True, secret_prompt=secret_prompt, ask=ask
    )
    assert isinstance(value, TrackCredentials)
    assert (value.site_id, value.api_key.get_secret_value(), value.region, ignored) == (
        "site-1",
        KEY,
        "eu",
        [],
    )
    assert hidden == ["Track API key (hidden): "]
    assert KEY not in repr(value)


def test_interactive_signing_key() -> None:
    value, _ = rotation_ops.read_new_value(
        "signing_key", io.StringIO(), interactive=True, secret_prompt=lambda _p: SIGNING, ask=input
    )
    assert isinstance(value, SigningKey)
    assert value.key_bytes() == SIGNING.encode()


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("track", json.dumps({"site_id": "s", "api_key": KEY, "region": "us", "environment_id": 7})),
        ("signing_key", json.dumps({"signing_key": SIGNING})),
        ("signing_key", f"  {SIGNING}\n"),
    ],
)
def test_stdin_json_or_bare_key(kind: str, text: str) -> None:
    value, ignored = rotation_ops.read_new_value(kind, io.StringIO(text), interactive=False)  # type: ignore[arg-type]
    assert ignored == (["environment_id"] if kind == "track" else [])
    assert type(value).__name__ == ("TrackCredentials" if kind == "track" else "SigningKey")


@pytest.mark.parametrize(
    ("kind", "text", "reason"),
    [
        ("track", "", "nothing on standard input"),
        ("track", f"s {KEY}", "not a JSON object"),
        ("track", json.dumps({"site_id": "s", "api_key": KEY, "region": "mars"}), "invalid fields: region"),
        ("signing_key", f"{SIGNING}\n{SIGNING}", "single-line key"),
        ("signing_key", json.dumps({"signing_key": KEY}), "invalid fields: signing_key"),
    ],
)
def test_bad_input_is_refused_without_quoting_it(kind: str, text: str, reason: str) -> None:
    with pytest.raises(rotation_ops.StageInputError, match=reason) as failure:
        rotation_ops.read_new_value(kind, io.StringIO(text), interactive=False)  # type: ignore[arg-type]
    assert KEY not in str(failure.value)
    assert SIGNING not in str(failure.value)


# -- the overlay ------------------------------------------------------------------------------------


def test_overlay_shows_a_started_rotation_as_real_secrets_manager_does(sm: Any) -> None:
    overlay = rotation_ops.PendingVersionOverlay(sm, TRACK, TOKEN)
    meta = overlay.describe_secret(SecretId=TRACK)
    assert meta["RotationEnabled"] is True
    assert meta["VersionIdsToStages"][TOKEN] == ["AWSPENDING"]
    for kwargs in (
        {"VersionId": TOKEN},
        {"VersionStage": "AWSPENDING"},
        {"VersionId": TOKEN, "VersionStage": "AWSPENDING"},
    ):
        with pytest.raises(ClientError) as failure:
            overlay.get_secret_value(SecretId=TRACK, **kwargs)
        assert failure.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert overlay.get_secret_value(SecretId=TRACK)["SecretString"]  # AWSCURRENT reads through
    assert sm.describe_secret(SecretId=TRACK).get("RotationEnabled") is not True  # moto is untouched

    overlay.put_secret_value(
        SecretId=TRACK, ClientRequestToken=TOKEN, SecretString='{"x":1}', VersionStages=["AWSPENDING"]
    )
    assert overlay.get_secret_value(SecretId=TRACK, VersionId=TOKEN)["SecretString"] == '{"x":1}'
    assert overlay.describe_secret(SecretId=TRACK)["VersionIdsToStages"][TOKEN] == ["AWSPENDING"]


def test_overlay_lets_a_rotation_that_failed_for_good_remove_its_label(sm: Any) -> None:
    """Removing AWSPENDING from the token before createSecret wrote it (as the library does when
    a step fails for good) ends the rotation, as it would in real Secrets Manager."""
    overlay = rotation_ops.PendingVersionOverlay(sm, TRACK, TOKEN)
    answer = overlay.update_secret_version_stage(
        SecretId=TRACK, VersionStage="AWSPENDING", RemoveFromVersionId=TOKEN
    )
    assert answer["Name"] == TRACK
    versions = overlay.describe_secret(SecretId=TRACK)["VersionIdsToStages"]
    assert TOKEN not in versions
    assert not any("AWSPENDING" in stages for stages in versions.values())


def test_overlay_leaves_other_secrets_alone(sm: Any) -> None:
    overlay = rotation_ops.PendingVersionOverlay(sm, TRACK, TOKEN)
    assert "RotationEnabled" not in overlay.describe_secret(SecretId=TRACK + "/staged")
    assert (
        overlay.get_secret_value(SecretId=TRACK + "/staged", VersionStage="AWSCURRENT")["SecretString"]
        == "{}"
    )


def test_discard_stale_pending(sm: Any) -> None:
    sm.put_secret_value(
        SecretId=TRACK, ClientRequestToken=STALE, SecretString='{"x":1}', VersionStages=["AWSPENDING"]
    )
    assert rotation_ops.discard_stale_pending(sm, TRACK) == [STALE]
    assert rotation_ops.discard_stale_pending(sm, TRACK) == []
    stages = sm.describe_secret(SecretId=TRACK)["VersionIdsToStages"]
    assert not any("AWSPENDING" in s for s in stages.values())


def test_stage_writes_canonical_json_to_the_staging_secret(sm: Any) -> None:
    value = TrackCredentials.model_validate({"site_id": "b", "api_key": KEY, "region": "eu"})
    assert rotation_ops.stage(sm, TRACK, "track", value) == TRACK + "/staged"
    staged = sm.get_secret_value(SecretId=TRACK + "/staged")["SecretString"]
    assert json.loads(staged) == {"site_id": "b", "api_key": KEY, "region": "eu"}


# -- waiting and status -----------------------------------------------------------------------------


class FakeSecretsManager:
    def __init__(self, answers: list[dict[str, list[str]]]) -> None:
        self.answers = answers

    def describe_secret(self, SecretId: str) -> dict[str, Any]:  # noqa: N803 - boto3's name
        return {"VersionIdsToStages": self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]}


def test_wait_for_rotation() -> None:
    clock = iter(range(100))
    fake: Any = FakeSecretsManager([{"t": ["AWSPENDING"]}, {"t": ["AWSPENDING"]}, {"t": ["AWSCURRENT"]}])
    assert rotation_ops.wait_for_rotation(
        fake, "s", "t", timeout=10, sleep=lambda _s: None, clock=lambda: next(clock)
    )
    stuck: Any = FakeSecretsManager([{"t": ["AWSPENDING"]}])
    clock = iter(range(100))
    assert not rotation_ops.wait_for_rotation(
        stuck, "s", "t", timeout=3, sleep=lambda _s: None, clock=lambda: next(clock)
    )


def test_status_reports_states_not_values(sm: Any) -> None:
    sm.put_secret_value(SecretId=TRACK + "/staged", SecretString='{"site_id": "b"}')
    status = rotation_ops.secret_status(sm, TRACK, "track")
    assert (status.current_valid, status.staged, status.pending) == (True, "invalid", [])
    text = rotation_ops.format_status(status)
    assert "an INVALID value is staged" in text
    assert "old-key" not in text
    missing = rotation_ops.SecretStatus(
        kind="signing_key",
        name="s",
        rotation_enabled=False,
        last_rotated=datetime(2026, 1, 1, tzinfo=UTC),
        next_rotation=None,
        current_valid=False,
        staged="missing",
    )
    assert "staging secret s/staged is missing" in rotation_ops.format_status(missing)


def test_start_rotation_passes_only_the_secret_and_a_token() -> None:
    calls: list[dict[str, Any]] = []

    class Recorder:
        def rotate_secret(self, **kwargs: Any) -> dict[str, Any]:
            calls.append(kwargs)
            return {}

    token = rotation_ops.start_rotation(Recorder(), "arn:secret")  # type: ignore[arg-type]
    assert calls == [{"SecretId": "arn:secret", "ClientRequestToken": token}]
    assert len(token) == 36
