"""The rotation function, one handler call per step as Secrets Manager makes them: full rotations,
retries, injected failures, refusals, the protocol's validation, logs and metrics."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from cio_security.errors import RotationError
from cio_security.secrets.loaders import signing_key_loader
from cio_security.secrets.store import SecretStore
from fixtures.logs import LogCapture

from .conftest import (
    CURRENT,
    OTHER_REGION,
    OTHER_WORKSPACE,
    PENDING,
    PREVIOUS_ROTATION_INCOMPLETE,
    SECRETS,
    SIGNING_CURRENT,
    SIGNING_NEW,
    FlakySecretsManager,
    RotationStack,
    assert_no_secret_values,
    signing_json,
    track_json,
)

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def assert_rotated(rotation: RotationStack, kind: str, token: str, old_version: str, expected: str) -> None:
    """The end state of a successful rotation: the new value is AWSCURRENT, the old one
    AWSPREVIOUS, no AWSPENDING anywhere, nothing staged."""
    assert json.loads(rotation.value(kind)) == json.loads(expected)
    stages = rotation.stages(kind)
    assert stages[token] == ["AWSCURRENT"]
    assert stages[old_version] == ["AWSPREVIOUS"]
    assert not any("AWSPENDING" in s for s in stages.values())
    assert rotation.staged(kind) == "{}"


def assert_unchanged(rotation: RotationStack, old_version: str) -> None:
    """AWSCURRENT is still the original credential set, and it still works in Customer.io."""
    assert rotation.version_with("track", "AWSCURRENT") == old_version
    assert json.loads(rotation.value("track")) == json.loads(track_json(CURRENT))
    assert rotation.current_works()


def assert_abandoned(rotation: RotationStack, kind: str, token: str) -> None:
    """A rotation that failed for good: its version carries no AWSPENDING label any more, so
    Secrets Manager accepts the next RotateSecret."""
    assert "AWSPENDING" not in rotation.stages(kind).get(token, [])
    assert rotation.pending_left(kind) == []
    rotation.begin(kind)


def assert_left_for_the_retry(rotation: RotationStack, kind: str, token: str) -> None:
    """A rotation that failed for a reason a retry can fix: the version lost AWSPENDING all the
    same (a label left behind blocks every later rotation and stack update, and nothing says
    which retry is the last), and the value is still staged, so Secrets Manager's retry with the
    same token resumes it (the label is put back)."""
    assert "AWSPENDING" not in rotation.stages(kind).get(token, [])
    assert rotation.pending_left(kind) == []
    assert rotation.staged(kind) != "{}"


def failed_for_now(rotation: RotationStack) -> str:
    """A rotation of PENDING whose testSecret failed for now (Customer.io answered 503): its token."""
    rotation.stage("track", track_json(PENDING))
    token = rotation.begin("track")
    rotation.run("track", token, ("createSecret", "setSecret"))
    rotation.sandbox.fail_next(times=2, status=503, operation="region")
    with pytest.raises(RotationError, match="retry resumes this one"):
        rotation.invoke("track", token, "testSecret")
    return token


def finished_without_clearing_the_staging_secret(
    rotation: RotationStack, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A rotation of PENDING whose finishSecret promoted it but could not reset the staging
    secret: its token."""
    flaky = FlakySecretsManager(rotation.sm)
    rotation.use_client(flaky, monkeypatch)
    rotation.stage("track", track_json(PENDING))
    token = rotation.begin("track")
    rotation.run("track", token, ("createSecret", "setSecret", "testSecret"))
    flaky.fail("put_secret_value")  # the staging reset
    assert rotation.invoke("track", token, "finishSecret")["outcome"] == "completed"
    return token


# -- the modelled Secrets Manager -------------------------------------------------------------------


def test_a_started_rotation_has_a_pending_version_without_a_value(rotation: RotationStack) -> None:
    token = rotation.begin("track")
    assert rotation.stages("track")[token] == ["AWSPENDING"]
    with pytest.raises(rotation.sm.exceptions.ResourceNotFoundException):
        rotation.sm.get_secret_value(SecretId="cio-security/customerio/track-credentials", VersionId=token)


def test_rotate_secret_is_refused_while_a_previous_rotation_left_awspending(rotation: RotationStack) -> None:
    """Real RotateSecret (moto's gets it backwards): AWSPENDING on a version other than
    AWSCURRENT means a rotation is still in progress."""
    token = rotation.begin("track")
    with pytest.raises(ClientError, match=PREVIOUS_ROTATION_INCOMPLETE):
        rotation.begin("track")
    rotation.sm.update_secret_version_stage(
        SecretId=SECRETS["track"], VersionStage="AWSPENDING", RemoveFromVersionId=token
    )
    rotation.begin("track")


# -- full rotations ---------------------------------------------------------------------------------


def test_full_rotation_of_track_credentials(rotation: RotationStack) -> None:
    old = rotation.version_with("track", "AWSCURRENT")
    assert old
    rotation.stage("track", track_json(PENDING))
    token = rotation.begin("track")
    outcomes = [rotation.invoke("track", token, step)["outcome"] for step in STEPS]
    assert outcomes == ["completed"] * 4
    assert_rotated(rotation, "track", token, old, track_json(PENDING))
    # the region check ran with the pending and the current credentials
    region_calls = [r.site_id for r in rotation.sandbox.requests() if r.operation == "region"]
    assert region_calls == [PENDING.site_id, CURRENT.site_id]


def test_full_rotation_of_the_signing_key(rotation: RotationStack) -> None:
    old = rotation.version_with("signing_key", "AWSCURRENT")
    assert old
    rotation.stage("signing_key", signing_json(SIGNING_NEW))
    token = rotation.begin("signing_key")
    rotation.run("signing_key", token)
    assert_rotated(rotation, "signing_key", token, old, signing_json(SIGNING_NEW))
    assert not [r for r in rotation.sandbox.requests() if r.operation == "region"]


def test_the_webhook_accepts_both_keys_during_and_after_a_signing_key_rotation(
    rotation: RotationStack,
) -> None:
    store = SecretStore(client=rotation.sm, max_age=0)
    load = signing_key_loader(
        store,
        "cio-security/customerio/webhook-signing-key",
        grace_seconds=3600,
        clock=lambda: datetime.now(UTC),
    )
    rotation.stage("signing_key", signing_json(SIGNING_NEW))
    token = rotation.begin("signing_key")
    rotation.run("signing_key", token, ("createSecret", "setSecret", "testSecret"))
    assert load(True) == [SIGNING_CURRENT.encode(), SIGNING_NEW.encode()]  # AWSCURRENT, AWSPENDING
    rotation.invoke("signing_key", token, "finishSecret")
    assert load(True) == [SIGNING_NEW.encode(), SIGNING_CURRENT.encode()]  # AWSCURRENT, AWSPREVIOUS


def test_first_rotation_replaces_the_templates_placeholder(rotation: RotationStack) -> None:
    """Bootstrap: AWSCURRENT is the template's placeholder, so there is no workspace to compare;
    the pending credentials must still answer 200 in their declared region."""
    rotation.sm.put_secret_value(
        SecretId="cio-security/customerio/track-credentials",
        SecretString='{"site_id":"","api_key":"","region":"us"}',
    )
    placeholder = rotation.version_with("track", "AWSCURRENT")
    assert placeholder
    rotation.stage("track", track_json(OTHER_REGION))
    token = rotation.begin("track")
    rotation.run("track", token)
    assert_rotated(rotation, "track", token, placeholder, track_json(OTHER_REGION))


def test_first_rotation_still_refuses_a_misdeclared_region(rotation: RotationStack) -> None:
    rotation.sm.put_secret_value(
        SecretId="cio-security/customerio/track-credentials", SecretString='{"site_id":"","api_key":""}'
    )
    placeholder = rotation.version_with("track", "AWSCURRENT")
    rotation.stage("track", track_json(OTHER_REGION, region="us"))
    token = rotation.begin("track")
    rotation.run("track", token, ("createSecret", "setSecret"))
    with pytest.raises(RotationError, match=r"declare region us but Customer\.io reports region eu"):
        rotation.invoke("track", token, "testSecret")
    assert rotation.version_with("track", "AWSCURRENT") == placeholder
    assert_abandoned(rotation, "track", token)


# -- retries ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["track", "signing_key"])
def test_every_step_run_twice_reaches_the_same_end_state(rotation: RotationStack, kind: str) -> None:
    old = rotation.version_with(kind, "AWSCURRENT")
    assert old
    value = track_json(PENDING) if kind == "track" else signing_json(SIGNING_NEW)
    rotation.stage(kind, value)
    token = rotation.begin(kind)
    outcomes = []
    for step in STEPS:
        outcomes.append(rotation.invoke(kind, token, step)["outcome"])
        outcomes.append(rotation.invoke(kind, token, step)["outcome"])
    assert outcomes == [
        "completed",
        "unchanged",  # createSecret: the pending version already holds a value
        "completed",
        "completed",
        "completed",
        "completed",
        "completed",
        "already_current",  # finishSecret: the version is already AWSCURRENT
    ]
    assert_rotated(rotation, kind, token, old, value)


def test_create_secret_retried_after_the_operator_restaged_keeps_the_first_value(
    rotation: RotationStack,
) -> None:
    """A version's value never changes once written: the retry keeps what was copied first."""
    rotation.stage("track", track_json(PENDING))
    token = rotation.begin("track")
    rotation.invoke("track", token, "createSecret")
    rotation.stage("track", track_json(OTHER_WORKSPACE))
    assert rotation.invoke("track", token, "createSecret")["outcome"] == "unchanged"
    assert json.loads(rotation.value("track", "AWSPENDING")) == json.loads(track_json(PENDING))


# -- injected failures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "operation", "after"),
    [
        ("createSecret", "put_secret_value", 0),
        ("createSecret", "get_secret_value", 1),  # reading the staging secret
        ("setSecret", "describe_secret", 0),
        ("testSecret", "get_secret_value", 0),
        ("finishSecret", "update_secret_version_stage", 0),  # moving AWSCURRENT
    ],
)
def test_a_failure_at_any_step_leaves_awscurrent_working_and_a_retry_finishes(
    rotation: RotationStack, monkeypatch: pytest.MonkeyPatch, step: str, operation: str, after: int
) -> None:
    old = rotation.version_with("track", "AWSCURRENT")
    assert old
    flaky = FlakySecretsManager(rotation.sm)
    rotation.use_client(flaky, monkeypatch)
    rotation.stage("track", track_json(PENDING))
    token = rotation.begin("track")
    for earlier in STEPS[: STEPS.index(step)]:
        rotation.invoke("track", token, earlier)
    flaky.fail(operation, after=after)
    with pytest.raises(RotationError) as failure:
        rotation.invoke("track", token, step)
    assert failure.value.step == step
    assert_no_secret_values(str(failure.value))
    assert_unchanged(rotation, old)
    for retry in STEPS[STEPS.index(step) :]:
        rotation.invoke("track", token, retry)
    assert_rotated(rotation, "track", token, old, track_json(PENDING))


def test_customer_io_unavailable_at_test_secret_promotes_nothing(rotation: RotationStack) -> None:
    old = rotation.version_with("track", "AWSCURRENT")
    assert old
    rotation.stage("track", track_json(PENDING))
    token = rotation.begin("track")
    rotation.run("track", token, ("createSecret", "setSecret"))
    rotation.sandbox.fail_next(times=2, status=503, operation="region")
    with pytest.raises(RotationError, match="Secrets Manager retries") as failure:
        rotation.invoke("track", token, "testSecret")
    assert_no_secret_values(str(failure.value))
    assert_unchanged(rotation, old)
    assert_left_for_the_retry(rotation, "track", token)
    rotation.run("track", token, ("testSecret", "finishSecret"))
    assert_rotated(rotation, "track", token, old, track_json(PENDING))


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 429, "headers": {"Retry-After": "0"}},
        {"status": 500},
        {"kind": "reset"},
    ],
    ids=["429", "500", "connection-reset"],
)
def test_a_transient_customer_io_failure_keeps_awspending_for_the_retry(
    rotation: RotationStack, fault: dict[str, object]
) -> None:
    old = rotation.version_with("track", "AWSCURRENT")
    assert old
    rotation.stage("track", track_json(PENDING))
    token = rotation.begin("track")
    rotation.run("track", token, ("createSecret", "setSecret"))
    rotation.sandbox.fail_next(times=2, operation="region", **fault)  # type: ignore[arg-type]
    with pytest.raises(RotationError, match="Secrets Manager retries"):
        rotation.invoke("track", token, "testSecret")
    assert_left_for_the_retry(rotation, "track", token)
    rotation.run("track", token, ("testSecret", "finishSecret"))  # Secrets Manager's retry
    assert_rotated(rotation, "track", token, old, track_json(PENDING))


@pytest.mark.parametrize(
    ("step", "operation", "after"),
    [
        ("createSecret", "get_secret_value", 1),  # reading the staging secret
        ("createSecret", "put_secret_value", 0),
        ("testSecret", "get_secret_value", 0),
        ("finishSecret", "update_secret_version_stage", 0),
    ],
)
def test_a_secrets_manager_throttle_keeps_awspending_for_the_retry(
    rotation: RotationStack, monkeypatch: pytest.MonkeyPatch, step: str, operation: str, after: int
) -> None:
    old = rotation.version_with("track", "AWSCURRENT")
    assert old
    flaky = FlakySecretsManager(rotation.sm)
    rotation.use_client(flaky, monkeypatch)
    rotation.stage("track", track_json(PENDING))
    token = rotation.begin("track")
    for earlier in STEPS[: STEPS.index(step)]:
        rotation.invoke("track", token, earlier)
    flaky.fail(operation, after=after, code="ThrottlingException", status=400)
    with pytest.raises(RotationError, match="ThrottlingException"):
        rotation.invoke("track", token, step)
    assert_left_for_the_retry(rotation, "track", token)
    for retry in STEPS[STEPS.index(step) :]:
        rotation.invoke("track", token, retry)
    assert_rotated(rotation, "track", token, old, track_json(PENDING))


def test_a_secrets_manager_error_no_retry_fixes_abandons_the_rotation(
    rotation: RotationStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AccessDenied storing the pending version (a policy that lacks PutSecretValue): permanent."""
    flaky = FlakySecretsManager(rotation.sm)
    rotation.use_client(flaky, monkeypatch)
    rotation.stage("track", track_json(PENDING))
    token = rotation.begin("track")
    flaky.fail("put_secret_value", code="AccessDeniedException", status=400)
    with pytest.raises(RotationError, match="AccessDeniedException"):
        rotation.invoke("track", token, "createSecret")
    assert_abandoned(rotation, "track", token)


def test_when_removing_awspending_fails_the_error_says_so(
    rotation: RotationStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = FlakySecretsManager(rotation.sm)
    rotation.use_client(flaky, monkeypatch)
    token = rotation.begin("track")  # nothing staged
    flaky.fail("update_secret_version_stage", code="ThrottlingException", status=400)
    with pytest.raises(RotationError, match="nothing is staged") as failure:
        rotation.invoke("track", token, "createSecret")
    assert "removing AWSPENDING from version" in str(failure.value)
    assert "ThrottlingException" in str(failure.value)
    assert rotation.stages("track")[token] == ["AWSPENDING"]
    # Secrets Manager's retry fails the same way and removes it this time
    with pytest.raises(RotationError, match="nothing is staged"):
        rotation.invoke("track", token, "createSecret")
    assert_abandoned(rotation, "track", token)


def test_finish_interrupted_after_moving_awscurrent_converges_on_retry(
    rotation: RotationStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWSCURRENT moved, then removing AWSPENDING failed: the retry returns early (the version is
    current) and removes the stray AWSPENDING."""
    old = rotation.version_with("track", "AWSCURRENT")
    assert old
    flaky = FlakySecretsManager(rotation.sm)
    rotation.use_client(flaky, monkeypatch)
    rotation.stage("track", track_json(PENDING))
    token = rotation.begin("track")
    rotation.run("track", token, ("createSecret", "setSecret", "testSecret"))
    flaky.fail("update_secret_version_stage", after=1)
    with pytest.raises(RotationError):
        rotation.invoke("track", token, "finishSecret")
    # The failed step's own clean-up removed the label the step could not.
    assert rotation.stages("track")[token] == ["AWSCURRENT"]
    assert rotation.invoke("track", token, "finishSecret")["outcome"] == "already_current"
    assert json.loads(rotation.value("track")) == json.loads(track_json(PENDING))


def test_a_finish_whose_staging_reset_fails_still_promotes(
    rotation: RotationStack, monkeypatch: pytest.MonkeyPatch, captured_logs: LogCapture
) -> None:
    """The reset of the staging secret comes last and never fails the step: the promotion stands,
    and the value left staged is refused as the current one by the next rotation."""
    old = rotation.version_with("track", "AWSCURRENT")
    assert old
    token = finished_without_clearing_the_staging_secret(rotation, monkeypatch)
    assert "staging secret could not be cleared" in captured_logs.text
    stages = rotation.stages("track")
    assert stages[token] == ["AWSCURRENT"] and stages[old] == ["AWSPREVIOUS"]
    assert json.loads(rotation.staged("track")) == json.loads(track_json(PENDING))
    with pytest.raises(RotationError, match="is the current value"):
        rotation.run("track", rotation.begin("track"), ("createSecret",))


def test_secrets_managers_retry_of_the_whole_rotation_resumes_after_a_transient_failure(
    rotation: RotationStack,
) -> None:
    """Secrets Manager "retries the entire rotation process": the same token from createSecret on.
    The label removed by the failed attempt is put back because the value is still staged."""
    old = rotation.version_with("track", "AWSCURRENT")
    assert old
    token = failed_for_now(rotation)
    assert rotation.pending_left("track") == []
    outcomes = [rotation.invoke("track", token, step)["outcome"] for step in STEPS]
    assert outcomes == ["unchanged", "completed", "completed", "completed"]
    assert_rotated(rotation, "track", token, old, track_json(PENDING))


def test_a_value_promoted_since_is_never_resumed(
    rotation: RotationStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R1 fails for now; R2 promotes the same value; the value is still staged (the staging reset
    failed); Secrets Manager retries R1: resuming it would move AWSPREVIOUS off the real previous
    version (for a signing key, ending its grace window early)."""
    old = rotation.version_with("track", "AWSCURRENT")
    assert old
    first = failed_for_now(rotation)
    second = finished_without_clearing_the_staging_secret(rotation, monkeypatch)
    with pytest.raises(RotationError, match="has no stage for rotation"):
        rotation.invoke("track", first, "createSecret")
    stages = rotation.stages("track")
    assert stages[second] == ["AWSCURRENT"] and stages[old] == ["AWSPREVIOUS"]
    assert rotation.pending_left("track") == []


def test_a_finish_retried_after_the_promotion_clears_the_staging_secret(
    rotation: RotationStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = rotation.version_with("track", "AWSCURRENT")
    assert old
    token = finished_without_clearing_the_staging_secret(rotation, monkeypatch)
    assert rotation.staged("track") != "{}"
    assert rotation.invoke("track", token, "finishSecret")["outcome"] == "already_current"
    assert_rotated(rotation, "track", token, old, track_json(PENDING))


def test_an_old_version_is_never_resumed(rotation: RotationStack) -> None:
    """A token whose value is no longer the staged one (another rotation happened since, or the
    operator staged something else) stays refused: nothing but the staged value is promoted."""
    token = failed_for_now(rotation)
    rotation.stage("track", track_json(OTHER_WORKSPACE))
    with pytest.raises(RotationError, match="has no stage for rotation"):
        rotation.invoke("track", token, "testSecret")
    assert rotation.pending_left("track") == []


# -- refusals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("staged", "reason"),
    [
        (track_json(OTHER_WORKSPACE), "belong to another workspace"),
        (track_json(OTHER_REGION), "the pending credentials are for region eu, the current ones for us"),
        (track_json(OTHER_REGION, region="us"), "declare region us but Customer.io reports region eu"),
        (track_json(PENDING, api_key="revoked-or-mistyped-key-77"), "rejected the pending credentials"),
    ],
    ids=["wrong-workspace", "wrong-region", "misdeclared-region", "unauthorized"],
)
def test_test_secret_refuses_and_nothing_is_promoted(
    rotation: RotationStack, staged: str, reason: str
) -> None:
    old = rotation.version_with("track", "AWSCURRENT")
    assert old
    rotation.stage("track", staged)
    token = rotation.begin("track")
    rotation.run("track", token, ("createSecret", "setSecret"))
    with pytest.raises(RotationError, match=reason) as failure:
        rotation.invoke("track", token, "testSecret")
    assert failure.value.step == "testSecret"
    assert TRACK_HOWTO in str(failure.value)  # what to write where (the CLI adds its command)
    assert_no_secret_values(str(failure.value))
    assert "revoked-or-mistyped-key-77" not in str(failure.value)
    assert_unchanged(rotation, old)
    assert_abandoned(rotation, "track", token)


def test_403_for_the_pending_credentials_abandons_the_rotation(rotation: RotationStack) -> None:
    old = rotation.version_with("track", "AWSCURRENT")
    assert old
    rotation.stage("track", track_json(PENDING))
    token = rotation.begin("track")
    rotation.run("track", token, ("createSecret", "setSecret"))
    rotation.sandbox.fail_next(status=403, operation="region")
    with pytest.raises(RotationError, match=r"rejected the pending credentials \(status 403\)"):
        rotation.invoke("track", token, "testSecret")
    assert_unchanged(rotation, old)
    assert_abandoned(rotation, "track", token)


def test_401_for_the_current_credentials_refuses(rotation: RotationStack) -> None:
    """The current set was deleted in Customer.io too early: the workspace cannot be compared."""
    rotation.stage("track", track_json(PENDING))
    token = rotation.begin("track")
    rotation.run("track", token, ("createSecret", "setSecret"))
    rotation.sandbox.remove_credentials(CURRENT.site_id)
    with pytest.raises(RotationError, match="rejected the current credentials"):
        rotation.invoke("track", token, "testSecret")
    assert_abandoned(rotation, "track", token)


NOTHING = "nothing is staged for secret cio-security/customerio/track-credentials"
INVALID = "is not a valid TrackCredentials"
TRACK_HOWTO = (
    'write {"site_id": "...", "api_key": "...", "region": "us|eu"} to secret '
    "cio-security/customerio/track-credentials/staged and rotate again"
)
SIGNING_HOWTO = (
    'write {"signing_key": "..."} (32 to 512 printable ASCII characters, no whitespace) to secret '
    "cio-security/customerio/webhook-signing-key/staged and rotate again"
)


@pytest.mark.parametrize(
    ("staged", "reason"),
    [
        ("{}", NOTHING),
        ("", NOTHING),
        ("  {} \n", NOTHING),
        ("not json", INVALID + " (not a JSON object)"),
        ('{"site_id": "s", "region": "us"}', INVALID + " (invalid fields: api_key)"),
        (track_json(PENDING, region="ap"), INVALID + " (invalid fields: region)"),
        (track_json(PENDING, extra="x"), INVALID + " (invalid fields: extra)"),
        (track_json(CURRENT), "is the current value"),
        (track_json(CURRENT, region="eu"), "is the current value"),
    ],
)
def test_create_secret_says_what_to_stage(rotation: RotationStack, staged: str, reason: str) -> None:
    rotation.sm.put_secret_value(
        SecretId="cio-security/customerio/track-credentials/staged", SecretString=staged or " "
    )
    token = rotation.begin("track")
    with pytest.raises(RotationError) as failure:
        rotation.invoke("track", token, "createSecret")
    message = str(failure.value)
    assert message.startswith("createSecret: ")
    assert reason in message
    assert TRACK_HOWTO in message
    assert "ciosec" not in message  # the library names no CLI command
    assert_no_secret_values(message)
    assert_abandoned(rotation, "track", token)


@pytest.mark.parametrize(
    ("staged", "reason"),
    [
        ("{}", "nothing is staged"),
        (signing_json("too-short"), "invalid fields: signing_key"),
        (signing_json("has whitespace " + "x" * 40), "invalid fields: signing_key"),
        (signing_json(SIGNING_CURRENT), "is the current value"),
    ],
)
def test_signing_key_create_secret_says_what_to_stage(
    rotation: RotationStack, staged: str, reason: str
) -> None:
    rotation.stage("signing_key", staged)
    token = rotation.begin("signing_key")
    with pytest.raises(RotationError, match=reason) as failure:
        rotation.invoke("signing_key", token, "createSecret")
    assert SIGNING_HOWTO in str(failure.value)
    assert "cio-security/customerio/webhook-signing-key/staged" in str(failure.value)
    assert "ciosec" not in str(failure.value)  # the library names no CLI command
    assert_no_secret_values(str(failure.value))
    assert_abandoned(rotation, "signing_key", token)


# -- the protocol's validation ---------------------------------------------------------------------


def test_token_that_is_not_a_version_is_refused(rotation: RotationStack) -> None:
    rotation.begin("track")
    with pytest.raises(RotationError, match="has no stage for rotation"):
        rotation.invoke("track", "00000000-0000-4000-8000-000000000000", "createSecret")


def test_token_that_is_not_awspending_is_refused(rotation: RotationStack) -> None:
    rotation.stage("track", track_json(PENDING))
    token = rotation.begin("track")
    rotation.run("track", token)
    previous = rotation.version_with("track", "AWSPREVIOUS")
    assert previous
    with pytest.raises(RotationError, match="is not set as AWSPENDING"):
        rotation.invoke("track", previous, "createSecret")


@pytest.mark.parametrize("step", STEPS)
def test_token_already_current_returns_early(rotation: RotationStack, step: str) -> None:
    current = rotation.version_with("track", "AWSCURRENT")
    assert current
    before = rotation.stages("track")
    assert rotation.invoke("track", current, step)["outcome"] == "already_current"
    assert rotation.stages("track") == before


def test_rotation_not_enabled_is_refused(rotation: RotationStack) -> None:
    rotation.set_rotation_enabled("track", False)
    rotation.stage("track", track_json(PENDING))
    token = rotation.begin("track")
    with pytest.raises(RotationError, match="rotation is not enabled"):
        rotation.invoke("track", token, "createSecret")


def test_unknown_step_is_refused(rotation: RotationStack) -> None:
    token = rotation.begin("track")
    with pytest.raises(RotationError, match="unknown rotation step 'deleteSecret'"):
        rotation.invoke("track", token, "deleteSecret")


def test_a_secret_this_function_does_not_rotate_is_refused(rotation: RotationStack) -> None:
    token = rotation.begin("track")
    with pytest.raises(RotationError, match="not one this function rotates"):
        rotation.invoke("track", token, "createSecret", secret_id="cio-security/pepper")


@pytest.mark.parametrize("first", ["arn", "name"])
@pytest.mark.parametrize("kind", ["track", "signing_key"])
def test_the_secret_may_be_named_by_name_or_arn(
    rotation: RotationStack, captured_logs: LogCapture, kind: str, first: str
) -> None:
    """TRACK_CREDENTIALS_SECRET_ID holds the ARN and SIGNING_KEY_SECRET_ID the name (as the
    template configures them), and the event may name the secret either way (Secrets Manager
    sends the ARN): every step resolves the secret and its kind, its result names both, and the
    rotation completes."""
    assert os.environ["TRACK_CREDENTIALS_SECRET_ID"] == rotation.arns["track"]
    assert os.environ["SIGNING_KEY_SECRET_ID"] == SECRETS["signing_key"]
    old = rotation.version_with(kind, "AWSCURRENT")
    assert old
    value = track_json(PENDING) if kind == "track" else signing_json(SIGNING_NEW)
    rotation.stage(kind, value)
    token = rotation.begin(kind)
    ids = {"arn": rotation.arns[kind], "name": SECRETS[kind]}
    order = ["arn", "name"] if first == "arn" else ["name", "arn"]
    named_by = [order[i % 2] for i in range(len(STEPS))]  # alternate: each way names two steps
    results = [
        rotation.invoke(kind, token, step, secret_id=ids[way])
        for step, way in zip(STEPS, named_by, strict=True)
    ]
    assert results == [{"step": step, "outcome": "completed", "kind": kind} for step in STEPS]
    logged = [r for r in captured_logs.records if hasattr(r, "outcome") and hasattr(r, "secret")]
    assert [(r.secret, r.kind, r.outcome) for r in logged] == [(SECRETS[kind], kind, "completed")] * 4
    assert_rotated(rotation, kind, token, old, value)


def test_an_event_without_its_fields_is_refused(rotation: RotationStack) -> None:
    with pytest.raises(RotationError, match="needs SecretId, ClientRequestToken and Step"):
        rotation.app.handler({"Step": "createSecret"}, rotation.context)


# -- logs and metrics -------------------------------------------------------------------------------


def _emf(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def test_steps_and_failures_are_logged_and_counted(
    rotation: RotationStack, capsys: pytest.CaptureFixture[str], captured_logs: LogCapture
) -> None:
    rotation.stage("track", track_json(OTHER_WORKSPACE))
    token = rotation.begin("track")
    rotation.run("track", token, ("createSecret", "setSecret"))
    with pytest.raises(RotationError):
        rotation.invoke("track", token, "testSecret")
    out = capsys.readouterr().out
    metrics = _emf(out)

    def dims(name: str) -> list[tuple[tuple[str, ...], str | None]]:
        found = []
        for blob in metrics:
            definition = blob["_aws"]["CloudWatchMetrics"][0]  # type: ignore[index]
            if any(m["Name"] == name for m in definition["Metrics"]):
                for dimension_set in definition["Dimensions"]:
                    found.append((tuple(sorted(dimension_set)), blob.get("step")))  # type: ignore[arg-type]
        return found

    assert (("service",), None) in dims("RotationFailed")
    assert (("service", "step"), "testSecret") in dims("RotationFailed")
    assert (("service",), None) in dims("RotationStep")
    assert (("service", "step"), "createSecret") in dims("RotationStep")
    assert (("service", "step"), "setSecret") in dims("RotationStep")
    assert all(blob.get("service") == "cio-security-rotation" for blob in metrics)
    assert_no_secret_values(out)
    failed = [r for r in captured_logs.records if r.getMessage() == "rotation step failed"]
    assert len(failed) == 1
    assert failed[0].detail.startswith("testSecret: the pending credentials belong to another workspace")
    assert failed[0].error == "RotationError"
    assert failed[0].retryable is False
    assert_no_secret_values(captured_logs.text)


def test_finish_logs_that_the_old_credential_set_may_be_deleted(
    rotation: RotationStack, captured_logs: LogCapture
) -> None:
    rotation.stage("track", track_json(PENDING))
    token = rotation.begin("track")
    rotation.run("track", token)
    assert "the previous credential set may now be deleted in Customer.io" in captured_logs.text
    assert_no_secret_values(captured_logs.text)
