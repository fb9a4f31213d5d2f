"""Issue 18, "A leaked credential": ``ciosec.operations.incident.respond`` against moto and the
Customer.io sandbox, without the CLI. Each step is recorded (who, when, which secret and versions,
never a value); the old Track credentials must answer 401 once deleted in Customer.io; the webhook
must refuse a request signed with the old signing key, which the response makes sure of by closing
the AWSPREVIOUS grace window."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

from cio_security.rotation import SECRET_KINDS, RotationSettings, secret_kind
from cio_security.secrets.loaders import signing_key_loader
from cio_security.secrets.models import SigningKey, TrackCredentials
from cio_security.secrets.store import SecretStore
from cio_security.webhook.signature import SigningKeyRing, signature_headers
from ciosec.operations.incident import IncidentLog, Operator, operator_identity, respond
from ciosec.operations.stack import StackInfo
from ciosec.sandbox import CredentialSet, Sandbox
from fixtures.aws import REGION
from fixtures.logs import sensitive
from fixtures.sandbox import SANDBOX_API_KEY, SANDBOX_APP_API_KEY, SANDBOX_CREDENTIALS, SANDBOX_ENVIRONMENT_ID

TRACK = "stack/customerio/track-credentials"
SIGNING = "stack/customerio/webhook-signing-key"
NEW_SET = CredentialSet(
    site_id="site-incident",
    api_key="incident-new-key-3e9a7c1d5b",
    environment_id=SANDBOX_ENVIRONMENT_ID,
    region="us",
)
OLD_SIGNING = "incident-old-signing-key-0123456789abcdefghijkl"
NEW_SIGNING = "incident-new-signing-key-ABCDEFGHIJKLMNOPQRSTUV"
VALUES = (SANDBOX_API_KEY, NEW_SET.api_key, OLD_SIGNING, NEW_SIGNING)


def track_json(credentials: CredentialSet) -> str:
    return json.dumps(
        {"site_id": credentials.site_id, "api_key": credentials.api_key, "region": credentials.region}
    )


@dataclass
class Clock:
    """A fake clock that ``sleep`` advances."""

    now: float = 1_000.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def sm() -> Iterator[Any]:
    sensitive(*VALUES)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        client.create_secret(Name=TRACK, SecretString=track_json(SANDBOX_CREDENTIALS))
        client.create_secret(Name=TRACK + "/staged", SecretString="{}")
        client.create_secret(Name=SIGNING, SecretString=json.dumps({"signing_key": OLD_SIGNING}))
        client.create_secret(Name=SIGNING + "/staged", SecretString="{}")
        yield client


def operator(new_value: Any, *, confirm: bool = True, on_deletion: Any = None) -> tuple[Operator, list[str]]:
    said: list[str] = []
    return (
        Operator(
            say=said.append,
            confirm=lambda _question: confirm,
            new_value=lambda _kind: new_value,
            wait_for_deletion=on_deletion or (lambda _message: None),
        ),
        said,
    )


def record_of(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    assert [value for value in VALUES if value in text] == []
    return [json.loads(line) for line in text.splitlines()]


def steps(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(entry["step"], entry["outcome"]) for entry in entries]


def current(sm: Any, secret: str) -> dict[str, Any]:
    return dict(json.loads(sm.get_secret_value(SecretId=secret, VersionStage="AWSCURRENT")["SecretString"]))


# -- Track credentials -------------------------------------------------------------------------------


def test_a_leaked_track_set_is_replaced_revoked_and_recorded(
    sm: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.add_credentials(NEW_SET)
    stack = StackInfo(track_credentials_secret_id=TRACK, sandbox_url=sandbox.url, endpoint_url="http://moto")
    deleted: list[str] = []

    def delete_in_customerio(message: str) -> None:
        deleted.append(message)
        sandbox.remove_credentials(SANDBOX_CREDENTIALS.site_id)  # what the operator does in the UI

    ops, said = operator(
        TrackCredentials.model_validate_json(track_json(NEW_SET)), on_deletion=delete_in_customerio
    )
    record = tmp_path / "records" / "incidents.jsonl"
    log = IncidentLog(record, who="local user ops", kind="track", secret=TRACK, secret_arn="arn:track")
    before = sm.describe_secret(SecretId=TRACK)["VersionIdsToStages"]
    leaked = next(v for v, s in before.items() if "AWSCURRENT" in s)
    clock = Clock()

    result = respond(
        sm,
        TRACK,
        "track",
        stack=stack,
        operator=ops,
        log=log,
        settings=RotationSettings(track_credentials_secret_id=TRACK, track_url=sandbox.url),
        sleep=clock.sleep,
        clock=clock,
    )

    assert result.complete
    assert current(sm, TRACK)["api_key"] == NEW_SET.api_key
    assert "ends in " + SANDBOX_CREDENTIALS.site_id[-4:] in deleted[0]
    entries = record_of(record)
    assert steps(entries) == [
        ("started", "done"),
        ("created", "done"),
        ("staged", "done"),
        ("rotated", "done"),
        ("new_credential_works", "confirmed"),
        ("old_credential_deleted", "done"),
        ("old_credential_refused", "confirmed"),
    ]
    new = entries[3]["versions"]["new"]
    assert entries[3]["versions"] == {"leaked": leaked, "new": new}
    assert {e["who"] for e in entries} == {"local user ops"}
    assert {e["secret"] for e in entries} == {TRACK} and {e["secret_arn"] for e in entries} == {"arn:track"}
    assert len({e["incident"] for e in entries}) == 1
    assert all(e["at"].endswith("Z") for e in entries)
    assert any("createSecret" in line for line in said)


def test_a_set_still_valid_in_customerio_is_not_confirmed_revoked(
    sm: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.add_credentials(NEW_SET)
    stack = StackInfo(track_credentials_secret_id=TRACK, sandbox_url=sandbox.url, endpoint_url="http://moto")
    ops, said = operator(TrackCredentials.model_validate_json(track_json(NEW_SET)))
    log = IncidentLog(tmp_path / "r.jsonl", who="w", kind="track", secret=TRACK)
    clock = Clock()
    result = respond(
        sm,
        TRACK,
        "track",
        stack=stack,
        operator=ops,
        log=log,
        settings=RotationSettings(track_credentials_secret_id=TRACK, track_url=sandbox.url),
        revocation_timeout=60,
        sleep=clock.sleep,
        clock=clock,
    )
    assert not result.complete
    assert steps(result.entries)[-1] == ("old_credential_refused", "not_confirmed")
    assert "still works after 60 s" in result.entries[-1]["detail"]
    assert sum(clock.slept) >= 60
    assert any("NOT confirmed" in line for line in said)


def test_nothing_changes_until_the_operator_confirms_the_new_credential(
    sm: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    ops, _ = operator(None, confirm=False)
    stack = StackInfo(track_credentials_secret_id=TRACK, sandbox_url=sandbox.url)
    log = IncidentLog(tmp_path / "r.jsonl", who="w", kind="track", secret=TRACK)
    result = respond(sm, TRACK, "track", stack=stack, operator=ops, log=log, settings=RotationSettings())
    assert not result.complete
    assert steps(result.entries) == [("started", "done"), ("created", "failed")]
    assert current(sm, TRACK)["api_key"] == SANDBOX_API_KEY
    assert sm.get_secret_value(SecretId=TRACK + "/staged")["SecretString"] == "{}"


def test_a_refused_rotation_stops_the_response_and_is_recorded(
    sm: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    # A set Customer.io does not know: testSecret refuses it, nothing is promoted, no deletion asked.
    unknown = CredentialSet(
        site_id="site-unknown", api_key="unknown-key-0f1e2d3c4b", environment_id=1, region="us"
    )
    deletions: list[str] = []
    ops, _ = operator(TrackCredentials.model_validate_json(track_json(unknown)), on_deletion=deletions.append)
    stack = StackInfo(track_credentials_secret_id=TRACK, sandbox_url=sandbox.url, endpoint_url="http://moto")
    log = IncidentLog(tmp_path / "r.jsonl", who="w", kind="track", secret=TRACK)
    result = respond(
        sm,
        TRACK,
        "track",
        stack=stack,
        operator=ops,
        log=log,
        settings=RotationSettings(track_credentials_secret_id=TRACK, track_url=sandbox.url),
    )
    assert steps(result.entries)[-1] == ("rotated", "failed")
    assert "nothing was promoted" in result.entries[-1]["detail"]
    assert deletions == []
    assert current(sm, TRACK)["api_key"] == SANDBOX_API_KEY


def test_the_record_is_appended_to_never_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"earlier": "incident"}\n')
    first = IncidentLog(path, who="a", kind="track", secret="s")
    first.record("started", "done", "x", leaked="v1", new="")
    IncidentLog(path, who="b", kind="signing_key", secret="t").record("started", "done")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0] == {"earlier": "incident"}
    assert lines[1]["versions"] == {"leaked": "v1"} and lines[1]["who"] == "a"
    assert lines[2]["kind"] == "signing_key" and lines[2]["incident"] != lines[1]["incident"]


def test_who_is_the_aws_caller_for_a_deployed_stack_and_the_local_user_otherwise() -> None:
    class Sts:
        def get_caller_identity(self) -> dict[str, str]:
            return {"Arn": "arn:aws:sts::123456789012:assumed-role/ops/alice"}

    class Broken:
        def get_caller_identity(self) -> dict[str, str]:
            raise RuntimeError("no credentials")

    assert operator_identity(StackInfo(), Sts) == "arn:aws:sts::123456789012:assumed-role/ops/alice"
    assert operator_identity(StackInfo(endpoint_url="http://127.0.0.1:5000"), Sts).startswith("local user ")
    assert operator_identity(StackInfo(), Broken).startswith("local user ")


# -- the webhook signing key --------------------------------------------------------------------------


class Webhook:
    """The webhook's verification as the function runs it (SigningKeyRing over signing_key_loader:
    AWSCURRENT, AWSPENDING, AWSPREVIOUS in its grace window), one warm execution environment whose
    clock is the test's: 200 when a ring key signed the request, 401 otherwise."""

    def __init__(self, sm: Any, clock: Clock) -> None:
        loader = signing_key_loader(SecretStore(client=sm, max_age=0), SIGNING, grace_seconds=86_400)
        self.ring = SigningKeyRing(loader, refresh_interval=5, clock=clock)
        self.statuses: list[int] = []

    def post(self, url: str, *, content: bytes, headers: dict[str, str], timeout: float) -> httpx.Response:
        timestamp, digest = signature_headers(headers)
        status = 200 if self.ring.matches(timestamp, digest, content) else 401
        self.statuses.append(status)
        return httpx.Response(status)


def test_a_leaked_signing_key_is_replaced_and_refused_at_once(sm: Any, tmp_path: Path) -> None:
    clock = Clock()
    webhook = Webhook(sm, clock)
    stack = StackInfo(signing_key_secret_id=SIGNING, webhook_url="http://webhook.invalid/webhooks/customerio")
    assert webhook.post("u", content=b"{}", headers=_signed(OLD_SIGNING, b"{}"), timeout=1).status_code == 200
    ops, _ = operator(SigningKey.model_validate({"signing_key": NEW_SIGNING}))
    log = IncidentLog(tmp_path / "r.jsonl", who="w", kind="signing_key", secret=SIGNING)

    result = respond(
        sm,
        SIGNING,
        "signing_key",
        stack=stack,
        operator=ops,
        log=log,
        settings=RotationSettings(signing_key_secret_id=SIGNING),
        poster=webhook.post,
        sleep=clock.sleep,
        clock=clock,
    )

    assert result.complete
    assert steps(record_of(tmp_path / "r.jsonl")) == [
        ("started", "done"),
        ("created", "done"),
        ("staged", "done"),
        ("rotated", "done"),
        ("grace_window_closed", "done"),
        ("new_credential_works", "confirmed"),
        ("old_credential_deleted", "skipped"),
        ("old_credential_refused", "confirmed"),
    ]
    stages = sm.describe_secret(SecretId=SIGNING)["VersionIdsToStages"]
    assert sorted(sorted(s) for s in stages.values() if s) == [["AWSCURRENT"]]
    # The old key stays refused, however long the environment stays warm.
    clock.now += 3600
    assert webhook.post("u", content=b"{}", headers=_signed(OLD_SIGNING, b"{}"), timeout=1).status_code == 401


def test_without_closing_the_grace_window_the_old_key_would_still_be_accepted(sm: Any) -> None:
    """Why the response removes AWSPREVIOUS: a plain rotation keeps the old key for a day."""
    from ciosec.operations.rotation import rotate_locally, stage

    clock = Clock()
    webhook = Webhook(sm, clock)
    stage(sm, SIGNING, "signing_key", SigningKey.model_validate({"signing_key": NEW_SIGNING}))
    rotate_locally(sm, SIGNING, RotationSettings(signing_key_secret_id=SIGNING))
    clock.now += 60
    assert (
        webhook.post("u", content=b"{}", headers=_signed("forged-" + "k" * 40, b"{}"), timeout=1).status_code
        == 401
    )
    assert webhook.post("u", content=b"{}", headers=_signed(OLD_SIGNING, b"{}"), timeout=1).status_code == 200


def _signed(key: str, body: bytes) -> dict[str, str]:
    from cio_security.webhook.signature import sign_webhook

    return sign_webhook(key.encode(), body)


# -- an App API key (the rotation kind another change adds) ------------------------------------------

APP = "stack/customerio/app-api-key"
NEW_APP_KEY = "incident-new-app-key-5c2e8a0f1b"


@pytest.mark.skipif("app_api_key" not in SECRET_KINDS, reason="no App API key rotation kind")
def test_a_leaked_app_api_key_is_replaced_and_refused(sm: Any, sandbox: Sandbox, tmp_path: Path) -> None:
    from ciosec.sandbox import AppApiKey as SandboxAppKey

    sensitive(NEW_APP_KEY)
    sm.create_secret(Name=APP, SecretString=json.dumps({"app_api_key": SANDBOX_APP_API_KEY, "region": "us"}))
    sm.create_secret(Name=APP + "/staged", SecretString="{}")
    sandbox.add_app_key(SandboxAppKey(key=NEW_APP_KEY, environment_id=SANDBOX_ENVIRONMENT_ID, region="us"))
    new_value = secret_kind("app_api_key").parse({"app_api_key": NEW_APP_KEY, "region": "us"}, name="new")
    ops, _ = operator(new_value, on_deletion=lambda _message: sandbox.remove_app_key(SANDBOX_APP_API_KEY))
    log = IncidentLog(tmp_path / "r.jsonl", who="w", kind="app_api_key", secret=APP)
    clock = Clock()
    result = respond(
        sm,
        APP,
        "app_api_key",
        stack=StackInfo(sandbox_url=sandbox.url, endpoint_url="http://moto"),
        operator=ops,
        log=log,
        settings=RotationSettings(app_api_key_secret_id=APP, app_url=sandbox.app_url),
        sleep=clock.sleep,
        clock=clock,
    )
    assert result.complete, result.entries[-1]
    assert steps(result.entries)[-1] == ("old_credential_refused", "confirmed")
    assert current(sm, APP)["app_api_key"] == NEW_APP_KEY
