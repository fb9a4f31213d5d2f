"""Webhooks from several Customer.io workspaces (issue #15), through the real handler with moto.

The stack serves ``alpha`` (the primary: the stack's original signing key secret) and ``beta``
(``{prefix}workspaces/beta/webhook-signing-key``). Each workspace's key verifies its own
deliveries, which are published with ``detail.workspace``; event ids are unique per workspace
only, so the same event id from both is two events; a forged request is still 401.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from cio_security.webhook.dedupe import KEY_PREFIX
from fixtures.aws import REGION
from fixtures.functions import load_function
from fixtures.logs import sensitive

from .conftest import (
    SIGNING_KEY,
    SIGNING_SECRET,
    TABLE,
    WebhookStack,
    create_webhook_resources,
    sample_event,
)
from .test_handler import large_sent_event

PREFIX = "cio-security/customerio/"
BETA_SECRET = f"{PREFIX}workspaces/beta/webhook-signing-key"
ALPHA_KEY = SIGNING_KEY
BETA_KEY = "beta-signing-key-zyxwvutsrqponmlkjihgfedcba98"
BETA_NEXT = "beta-signing-key-next-0011223344556677889900aa"
GAMMA_KEY = "gamma-signing-key-not-configured-in-this-stack-0"
ULID_1 = "01JWS00000000000000000000A"


def workspace_secret(name: str) -> str:
    return f"{PREFIX}workspaces/{name}/webhook-signing-key"


def record_key(event_id: str, workspace: str | None = None) -> str:
    """The idempotency record's id: the bare event id's hash for the primary (a single-workspace
    stack's key), the hash of ``[workspace, event_id]`` for another workspace."""
    key: Any = event_id if workspace is None else [workspace, event_id]
    digest = hashlib.md5(json.dumps(key, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
    return f"{KEY_PREFIX}#{digest}"


def completed(webhook: WebhookStack, record: str) -> bool:
    item = webhook.dynamodb.get_item(TableName=TABLE, Key={"id": {"S": record}})
    return item.get("Item", {}).get("status", {}).get("S") == "COMPLETED"


@pytest.fixture
def workspaces(webhook_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookStack]:
    monkeypatch.setenv("CUSTOMERIO_WORKSPACES", "alpha,beta")
    monkeypatch.setenv("CUSTOMERIO_WORKSPACE_SECRET_PREFIX", PREFIX)
    monkeypatch.setenv("SIGNING_KEY_REFRESH_SECONDS", "0")
    sensitive(BETA_KEY, BETA_NEXT, GAMMA_KEY)
    with mock_aws():
        queue_url, sqs, sm = create_webhook_resources()
        sm.create_secret(Name=BETA_SECRET, SecretString=json.dumps({"signing_key": BETA_KEY}))
        yield WebhookStack(
            app=load_function("webhook"),
            queue_url=queue_url,
            sqs=sqs,
            secretsmanager=sm,
            s3=boto3.client("s3", region_name=REGION),
            dynamodb=boto3.client("dynamodb", region_name=REGION),
        )


def test_an_event_signed_with_a_workspaces_key_is_tagged_with_it(workspaces: WebhookStack) -> None:
    assert workspaces.send(sample_event("01JWS0000000000000000000B1"), key=BETA_KEY)["statusCode"] == 200
    assert workspaces.send(sample_event("01JWS0000000000000000000A1"), key=ALPHA_KEY)["statusCode"] == 200
    tags = {e["detail"]["event_id"]: e["detail"]["workspace"] for e in workspaces.published()}
    assert tags == {"01JWS0000000000000000000B1": "beta", "01JWS0000000000000000000A1": "alpha"}


def test_the_same_event_id_from_two_workspaces_is_two_events(workspaces: WebhookStack) -> None:
    for key in (ALPHA_KEY, BETA_KEY, BETA_KEY, ALPHA_KEY):
        assert workspaces.send(sample_event(ULID_1), key=key)["statusCode"] == 200
    published = workspaces.published()
    assert sorted(e["detail"]["workspace"] for e in published) == ["alpha", "beta"]  # the rest: duplicates
    # the primary keeps a single-workspace stack's record, the other is namespaced
    assert completed(workspaces, record_key(ULID_1))
    assert completed(workspaces, record_key(ULID_1, "beta"))


def test_a_forged_request_is_still_401(workspaces: WebhookStack) -> None:
    assert workspaces.send(sample_event(), key="forged-key-0123456789abcdefghijklmnop")["statusCode"] == 401
    assert workspaces.send(sample_event(), key=GAMMA_KEY)["statusCode"] == 401  # not a workspace of ours
    assert workspaces.published() == []


def test_one_workspaces_key_rotates_while_the_other_continues(workspaces: WebhookStack) -> None:
    assert workspaces.send(sample_event("01JWSR000000000000000000A1"), key=ALPHA_KEY)["statusCode"] == 200
    assert workspaces.send(sample_event("01JWSR000000000000000000B1"), key=BETA_KEY)["statusCode"] == 200
    # beta's rotation: createSecret stages the new key, finishSecret promotes it
    version = workspaces.secretsmanager.put_secret_value(
        SecretId=BETA_SECRET,
        SecretString=json.dumps({"signing_key": BETA_NEXT}),
        VersionStages=["AWSPENDING"],
    )["VersionId"]
    assert workspaces.send(sample_event("01JWSR000000000000000000B2"), key=BETA_NEXT)["statusCode"] == 200
    current = next(
        v
        for v, s in workspaces.secretsmanager.describe_secret(SecretId=BETA_SECRET)[
            "VersionIdsToStages"
        ].items()
        if "AWSCURRENT" in s
    )
    workspaces.secretsmanager.update_secret_version_stage(
        SecretId=BETA_SECRET, VersionStage="AWSCURRENT", MoveToVersionId=version, RemoveFromVersionId=current
    )
    assert workspaces.send(sample_event("01JWSR000000000000000000B3"), key=BETA_NEXT)["statusCode"] == 200
    assert (
        workspaces.send(sample_event("01JWSR000000000000000000B4"), key=BETA_KEY)["statusCode"] == 200
    )  # grace
    assert workspaces.send(sample_event("01JWSR000000000000000000A2"), key=ALPHA_KEY)["statusCode"] == 200
    tags = {e["detail"]["event_id"][-2:]: e["detail"]["workspace"] for e in workspaces.published()}
    assert tags == {"A1": "alpha", "B1": "beta", "B2": "beta", "B3": "beta", "B4": "beta", "A2": "alpha"}


def test_a_workspace_without_a_key_yet_holds_nobody_up(
    workspaces: WebhookStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gamma was just added: its secret holds the template's placeholder."""
    workspaces.secretsmanager.create_secret(Name=workspace_secret("gamma"), SecretString='{"signing_key":""}')
    monkeypatch.setenv("CUSTOMERIO_WORKSPACES", "alpha,gamma,beta")
    workspaces.reset()
    assert workspaces.send(sample_event("01JWSG000000000000000000B1"), key=BETA_KEY)["statusCode"] == 200
    assert workspaces.send(sample_event("01JWSG000000000000000000X1"), key=GAMMA_KEY)["statusCode"] == 401
    assert [e["detail"]["workspace"] for e in workspaces.published()] == ["beta"]


def test_a_workspace_whose_key_cannot_be_read_gets_a_retry_not_a_401(
    workspaces: WebhookStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """delta's secret is missing: a request no readable key verifies may be delta's, so 503
    (Customer.io retries); the other workspaces' deliveries go through."""
    monkeypatch.setenv("CUSTOMERIO_WORKSPACES", "alpha,delta,beta")
    workspaces.reset()
    assert workspaces.send(sample_event("01JWSD000000000000000000A1"), key=ALPHA_KEY)["statusCode"] == 200
    assert workspaces.send(sample_event("01JWSD000000000000000000B1"), key=BETA_KEY)["statusCode"] == 200
    assert workspaces.send(sample_event("01JWSD000000000000000000X1"), key=GAMMA_KEY)["statusCode"] == 503


def test_claim_checks_and_kept_bodies_record_the_workspace(workspaces: WebhookStack) -> None:
    event_id = "01JWSLARGE0000000000000000"
    for key in (ALPHA_KEY, BETA_KEY):
        assert workspaces.send(large_sent_event(event_id, 300_000), key=key)["statusCode"] == 200
    pointers = {e["detail"]["workspace"]: e["detail"]["claim_check"] for e in workspaces.published()}
    assert set(pointers) == {"alpha", "beta"}
    assert pointers["alpha"]["key"] != pointers["beta"]["key"]  # one object per workspace's event
    assert pointers["beta"]["workspace"] == "beta"
    stored = workspaces.objects("claims/")
    assert stored[pointers["beta"]["key"]]["metadata"] == {"workspace": "beta"}
    assert json.loads(stored[pointers["beta"]["key"]]["body"])["workspace"] == "beta"
    assert workspaces.send(b"not json", key=BETA_KEY)["statusCode"] == 200
    (kept,) = workspaces.kept().values()
    assert kept["metadata"]["workspace"] == "beta"


def test_a_single_workspace_stack_tags_its_events_default(webhook: WebhookStack) -> None:
    assert webhook.send(sample_event(ULID_1))["statusCode"] == 200
    (published,) = webhook.published()
    assert published["detail"]["workspace"] == "default"
    assert webhook.is_remembered(ULID_1)  # the idempotency key a single-workspace stack always had
    assert webhook.app.settings().signing_key_secret_id == SIGNING_SECRET


NAMES = ("alpha", "beta", "gamma", "delta")
KEYS = {name: f"{name}-signing-key-{hashlib.sha256(name.encode()).hexdigest()[:32]}" for name in NAMES}
PROPERTY = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def configured_and_signer(draw: st.DrawFn) -> tuple[list[str], str]:
    configured = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    return configured, draw(st.sampled_from(configured))


@PROPERTY
@given(case=configured_and_signer(), suffix=st.integers(0, 10**9))
def test_the_tag_is_always_the_signing_workspace(
    webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch, case: tuple[list[str], str], suffix: int
) -> None:
    """For any ordered set of workspaces (the first the primary) and any of them signing, the
    published event carries the signer's name."""
    configured, signer = case
    sensitive(*KEYS.values())
    for name in NAMES:
        with contextlib.suppress(webhook.secretsmanager.exceptions.ResourceExistsException):
            webhook.secretsmanager.create_secret(
                Name=workspace_secret(name), SecretString=json.dumps({"signing_key": KEYS[name]})
            )
    monkeypatch.setenv("CUSTOMERIO_WORKSPACES", ",".join(configured))
    monkeypatch.setenv("CUSTOMERIO_WORKSPACE_SECRET_PREFIX", PREFIX)
    monkeypatch.setenv("SIGNING_KEY_SECRET_ID", workspace_secret(configured[0]))
    webhook.reset()
    event_id = f"01JWSP{suffix:020d}"
    assert webhook.send(sample_event(event_id), key=KEYS[signer])["statusCode"] == 200
    tags = [e["detail"]["workspace"] for e in webhook.published() if e["detail"]["event_id"] == event_id]
    assert tags in ([signer], [])  # [] only when this event id of this signer was already published
    for outsider in set(NAMES) - set(configured):
        assert webhook.send(sample_event(event_id), key=KEYS[outsider])["statusCode"] == 401
