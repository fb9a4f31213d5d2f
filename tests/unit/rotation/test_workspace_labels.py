"""createSecret and testSecret refuse a value labelled (``"workspace"``) for another workspace than
the rotated secret's owner (``Workspaces.owner_of``), before any Customer.io call; an unlabelled
value, or one labelled for its own workspace, rotates as before (moto for Secrets Manager)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

from cio_security import rotation
from cio_security.errors import RotationError
from cio_security.workspaces import workspaces_from_env
from fixtures.aws import REGION
from fixtures.logs import sensitive

PREFIX = "stack/customerio/"
ALPHA_TRACK = PREFIX + "track-credentials"
ALPHA_SIGNING = PREFIX + "webhook-signing-key"
BETA_TRACK = PREFIX + "workspaces/beta/track-credentials"
BETA_SIGNING = PREFIX + "workspaces/beta/webhook-signing-key"
CUR_KEY = "label-current-key-1a2b3c4d"
NEW_KEY = "label-pending-key-5e6f7a8b"
CURRENT = {"site_id": "site-a", "api_key": CUR_KEY, "region": "us"}
NEW = {"site_id": "site-b", "api_key": NEW_KEY, "region": "us"}
SIGNING_CURRENT = "label-signing-current-abcdefghijklmnopqrstuvwxyz"
SIGNING_NEW = "label-signing-new-abcdefghijklmnopqrstuvwxyz0123"


@pytest.fixture
def sm() -> Iterator[Any]:
    sensitive(CUR_KEY, NEW_KEY, SIGNING_CURRENT, SIGNING_NEW)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        for name, value in (
            (ALPHA_TRACK, CURRENT),
            (BETA_TRACK, CURRENT),
            (ALPHA_SIGNING, {"signing_key": SIGNING_CURRENT}),
            (BETA_SIGNING, {"signing_key": SIGNING_CURRENT + "-b"}),
        ):
            client.create_secret(Name=name, SecretString=json.dumps(value))
            client.create_secret(Name=name + "/staged", SecretString="{}")
        yield client


def no_customerio(request: httpx.Request) -> httpx.Response:
    pytest.fail(f"Customer.io was called: {request.url.path}")


def settings() -> rotation.RotationSettings:
    return rotation.RotationSettings(
        workspaces=workspaces_from_env(
            {
                "CUSTOMERIO_WORKSPACES": "alpha,beta",
                "CUSTOMERIO_WORKSPACE_SECRET_PREFIX": PREFIX,
                "TRACK_CREDENTIALS_SECRET_ID": ALPHA_TRACK,
                "SIGNING_KEY_SECRET_ID": ALPHA_SIGNING,
            }
        ),
        track_url="https://track.example.invalid",
        transport=httpx.MockTransport(no_customerio),
        sleep=lambda _s: None,
    )


def stage(sm: Any, secret: str, value: dict[str, Any]) -> None:
    sm.put_secret_value(SecretId=secret + "/staged", SecretString=json.dumps(value))


def announced(sm: Any, secret: str) -> tuple[rotation.RotationTarget, str]:
    """A target whose new token is announced AWSPENDING without a value (real Secrets Manager)."""
    token = str(uuid.uuid4())
    target = rotation.describe_target(sm, secret, settings())
    versions = {**target.versions, token: ("AWSPENDING",)}
    return rotation.RotationTarget(
        arn=target.arn,
        name=target.name,
        kind=target.kind,
        rotation_enabled=True,
        versions=versions,
        workspace=target.workspace,
    ), token


def pending(sm: Any, secret: str, token: str) -> Any:
    try:
        raw = sm.get_secret_value(SecretId=secret, VersionId=token)["SecretString"]
    except sm.exceptions.ResourceNotFoundException:
        return None
    return json.loads(raw)


@pytest.mark.parametrize(
    ("secret", "owner", "labelled", "value"),
    [
        (BETA_TRACK, "beta", "alpha", NEW),
        (ALPHA_TRACK, "alpha", "beta", NEW),
        (BETA_SIGNING, "beta", "alpha", {"signing_key": SIGNING_NEW}),
        (ALPHA_SIGNING, "alpha", "gamma", {"signing_key": SIGNING_NEW}),  # not even a configured name
    ],
)
def test_create_secret_refuses_a_value_staged_for_another_workspace(
    sm: Any, secret: str, owner: str, labelled: str, value: dict[str, Any]
) -> None:
    stage(sm, secret, {**value, "workspace": labelled})
    target, token = announced(sm, secret)
    assert target.workspace == owner
    with pytest.raises(RotationError) as err:
        rotation.create_secret(sm, target, token)
    message = str(err.value)
    assert message.startswith("createSecret: ")
    assert f"staged for workspace {labelled}" in message and f"belongs to workspace {owner}" in message
    assert "Workspaces" in message
    assert not any(v in message for v in (NEW_KEY, SIGNING_NEW))
    assert type(err.value) is RotationError  # permanent: rotate removes AWSPENDING
    assert pending(sm, secret, token) is None


@pytest.mark.parametrize("label", [None, "beta"])
def test_create_secret_stores_an_unlabelled_or_own_value_as_staged(sm: Any, label: str | None) -> None:
    stage(sm, BETA_TRACK, NEW if label is None else {**NEW, "workspace": label})
    target, token = announced(sm, BETA_TRACK)
    assert rotation.create_secret(sm, target, token).outcome == "completed"
    stored = pending(sm, BETA_TRACK, token)
    assert stored == (NEW if label is None else {**NEW, "workspace": label})  # no "workspace": null


def put_pending(sm: Any, secret: str, value: dict[str, Any]) -> tuple[rotation.RotationTarget, str]:
    token = str(uuid.uuid4())
    sm.put_secret_value(
        SecretId=secret,
        ClientRequestToken=token,
        SecretString=json.dumps(value),
        VersionStages=["AWSPENDING"],
    )
    return rotation.describe_target(sm, secret, settings()), token


@pytest.mark.parametrize(
    ("secret", "value"),
    [
        (BETA_TRACK, {**NEW, "workspace": "alpha"}),
        # The current value itself, relabelled: not Secrets Manager's configuration test.
        (BETA_TRACK, {**CURRENT, "workspace": "alpha"}),
        (BETA_SIGNING, {"signing_key": SIGNING_NEW, "workspace": "alpha"}),
        (BETA_SIGNING, {"signing_key": SIGNING_CURRENT + "-b", "workspace": "alpha"}),
    ],
)
def test_test_secret_refuses_a_pending_value_labelled_for_another_workspace_before_any_call(
    sm: Any, secret: str, value: dict[str, Any]
) -> None:
    target, token = put_pending(sm, secret, value)
    with pytest.raises(RotationError) as err:
        rotation.test_secret(sm, target, token, settings())  # no_customerio fails on any call
    message = str(err.value)
    assert message.startswith("testSecret: ")
    assert "staged for workspace alpha" in message and "belongs to workspace beta" in message
    assert type(err.value) is RotationError


def test_test_secret_still_passes_the_configuration_test(sm: Any) -> None:
    """A pending version that is exactly the current value stays Secrets Manager's own test."""
    sm.put_secret_value(SecretId=BETA_TRACK, SecretString=json.dumps({**CURRENT, "workspace": "alpha"}))
    target, token = put_pending(sm, BETA_TRACK, {**CURRENT, "workspace": "alpha"})
    assert rotation.test_secret(sm, target, token, settings()).outcome == "unchanged"


def test_a_label_does_not_make_the_current_signing_key_a_new_one(sm: Any) -> None:
    """The current key staged again with a label is still the current key (refused as such), and
    another workspace's key with another label is still that workspace's key (isolation)."""
    stage(sm, BETA_SIGNING, {"signing_key": SIGNING_CURRENT + "-b", "workspace": "beta"})
    target, token = announced(sm, BETA_SIGNING)
    with pytest.raises(RotationError, match="is the current value"):
        rotation.create_secret(sm, target, token)

    target, token = put_pending(sm, BETA_SIGNING, {"signing_key": SIGNING_CURRENT, "workspace": "beta"})
    with pytest.raises(RotationError, match="AWSCURRENT value of workspace alpha"):
        rotation.test_secret(sm, target, token, settings())
