"""events/webhook/*.json do what their names say, through the real handler."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

import cio_security.webhook.signature as signature_module
from fixtures.functions import EVENTS
from fixtures.logs import sensitive

from .conftest import SIGNING_SECRET, WebhookStack

EVENTS_KEY = "local-test-signing-key-DO-NOT-USE-IN-PRODUCTION"
EVENTS_TIMESTAMP = 1_795_000_000


@pytest.mark.parametrize(
    ("name", "status", "published", "kept"),
    [
        ("valid", 200, 1, 0),
        ("base64", 200, 1, 0),
        ("invalid", 200, 0, 1),  # signed, but not a reporting event: kept, not refused
        ("tampered", 401, 0, 0),
        ("stale", 401, 0, 0),  # signed nine days before the clock: past the 8-day tolerance
    ],
)
def test_sample_event(  # noqa: PLR0917 - pytest passes them by name
    webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch, name: str, status: int, published: int, kept: int
) -> None:
    sensitive(EVENTS_KEY)
    webhook.secretsmanager.put_secret_value(
        SecretId=SIGNING_SECRET, SecretString=json.dumps({"signing_key": EVENTS_KEY})
    )
    clock = SimpleNamespace(time=lambda: EVENTS_TIMESTAMP + 10, monotonic=time.monotonic)
    monkeypatch.setattr(signature_module, "time", clock)

    event = json.loads((EVENTS / "webhook" / f"{name}.json").read_text())
    assert webhook.invoke_raw(event)["statusCode"] == status
    assert len(webhook.published()) == published
    assert len(webhook.kept()) == kept
