"""Which workspace a rotated secret belongs to (cio_security.workspaces), and the settings that
name the workspaces and their regions' hosts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cio_security import rotation
from cio_security.errors import RotationError
from cio_security.workspaces import workspaces_from_env
from fixtures.aws import REGION

PREFIX = "stack/customerio/"
PRIMARY_TRACK = PREFIX + "track-credentials"
BETA_TRACK = PREFIX + "workspaces/beta/track-credentials"
BETA_SIGNING = PREFIX + "workspaces/beta/webhook-signing-key"
ENV = {
    "CUSTOMERIO_WORKSPACES": "alpha,beta",
    "CUSTOMERIO_WORKSPACE_SECRET_PREFIX": PREFIX,
    "TRACK_CREDENTIALS_SECRET_ID": PRIMARY_TRACK,
    "SIGNING_KEY_SECRET_ID": PREFIX + "webhook-signing-key",
}


@pytest.fixture
def sm() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        for name in (PRIMARY_TRACK, BETA_TRACK, BETA_SIGNING, PREFIX + "workspaces/delta/track-credentials"):
            client.create_secret(Name=name, SecretString=json.dumps({}))
        yield client


def settings(**env: str) -> rotation.RotationSettings:
    return rotation.RotationSettings(workspaces=workspaces_from_env({**ENV, **env}))


def test_a_secret_resolves_to_its_workspace_and_kind(sm: Any) -> None:
    beta = rotation.describe_target(sm, sm.describe_secret(SecretId=BETA_TRACK)["ARN"], settings())
    assert (beta.workspace, beta.kind, beta.name) == ("beta", "track", BETA_TRACK)
    assert rotation.describe_target(sm, BETA_SIGNING, settings()).kind == "signing_key"
    primary = rotation.describe_target(sm, PRIMARY_TRACK, settings())
    assert (primary.workspace, primary.kind) == ("alpha", "track")


def test_a_secret_of_no_configured_workspace_is_refused(sm: Any) -> None:
    with pytest.raises(RotationError, match="not one this function rotates"):
        rotation.describe_target(sm, PREFIX + "workspaces/delta/track-credentials", settings())


def test_a_secret_two_workspaces_claim_is_refused(sm: Any) -> None:
    with pytest.raises(RotationError, match="configured twice"):
        rotation.describe_target(sm, BETA_TRACK, settings(TRACK_CREDENTIALS_SECRET_ID=BETA_TRACK))


def test_without_workspaces_the_configured_ids_are_one_default_workspace() -> None:
    only = rotation.RotationSettings(track_credentials_secret_id="t").workspace_set()
    assert only.names == ("default",)
    assert (only.primary.track_credentials_secret_id, only.primary.signing_key_secret_id) == ("t", None)


def test_settings_read_the_workspaces_and_per_region_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CUSTOMERIO_TRACK_URL", "http://127.0.0.1:7")
    loaded = rotation.RotationSettings.from_env()
    assert loaded.workspace_set().names == ("alpha", "beta")
    assert loaded.track_url == "http://127.0.0.1:7"  # one URL for every region, as before
    monkeypatch.setenv("CUSTOMERIO_TRACK_URL_EU", "http://127.0.0.1:8")
    assert rotation.RotationSettings.from_env().track_url == {
        "us": "http://127.0.0.1:7",
        "eu": "http://127.0.0.1:8",
    }
