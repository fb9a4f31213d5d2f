"""WebhookSettings: DESIGN section 7's defaults and the tolerance/dedupe invariant."""

from __future__ import annotations

import pytest

from cio_security import config
from cio_security.errors import ConfigurationError
from cio_security.webhook.settings import WebhookSettings

REQUIRED = {
    "SIGNING_KEY_SECRET_ID": "sk",
    "EVENT_BUS_NAME": "bus",
    "IDEMPOTENCY_TABLE": "t",
    "WEBHOOK_QUARANTINE_BUCKET": "b",
}
EIGHT_DAYS = 8 * 24 * 3600


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (value for key, value in vars(config).items() if key == value):
        monkeypatch.delenv(name, raising=False)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_defaults(env: pytest.MonkeyPatch) -> None:
    settings = WebhookSettings.from_env()
    assert settings.dedupe_seconds == EIGHT_DAYS  # Customer.io retries for 7 days
    assert settings.tolerance_seconds == settings.dedupe_seconds
    assert settings.future_skew_seconds == 300
    assert settings.max_body_bytes == 6 * 1024 * 1024  # Lambda's synchronous payload limit
    assert settings.key_refresh_seconds == 5
    assert settings.allowed_source_cidrs == ""
    assert settings.quarantine_bucket == "b"


def test_the_tolerance_follows_the_dedupe_window_unless_set(env: pytest.MonkeyPatch) -> None:
    env.setenv("WEBHOOK_DEDUPE_SECONDS", "3600")
    assert WebhookSettings.from_env().tolerance_seconds == 3600
    env.setenv("WEBHOOK_TOLERANCE_SECONDS", "0")  # the template's "same as the dedupe window"
    assert WebhookSettings.from_env().tolerance_seconds == 3600
    env.setenv("WEBHOOK_TOLERANCE_SECONDS", "600")
    assert WebhookSettings.from_env().tolerance_seconds == 600


def test_a_tolerance_longer_than_the_dedupe_window_is_cut_to_it(
    env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """From the environment (a stack parameter CloudFormation cannot compare with the other) the
    dedupe window is used, with a warning: refusing every delivery would stall Customer.io's
    stream. Built by hand, the settings refuse it."""
    env.setenv("WEBHOOK_DEDUPE_SECONDS", "3600")
    env.setenv("WEBHOOK_TOLERANCE_SECONDS", "3601")
    with caplog.at_level("WARNING", logger="cio_security.webhook.settings"):
        assert WebhookSettings.from_env().tolerance_seconds == 3600
    assert "dedupe window is used" in caplog.text
    with pytest.raises(ConfigurationError, match="WEBHOOK_TOLERANCE_SECONDS"):
        WebhookSettings("sk", "bus", "t", "b", tolerance_seconds=10, dedupe_seconds=5)


def test_an_event_is_remembered_for_the_window_plus_the_future_skew(env: pytest.MonkeyPatch) -> None:
    """A timestamp accepted 300 s ahead stays acceptable until it is a window old: its record must
    outlive the window by the skew."""
    settings = WebhookSettings.from_env()
    assert settings.record_seconds == EIGHT_DAYS + 300
    assert settings.record_seconds >= settings.tolerance_seconds + settings.future_skew_seconds


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_required_settings(env: pytest.MonkeyPatch, name: str) -> None:
    env.delenv(name)
    with pytest.raises(ConfigurationError, match=name):
        WebhookSettings.from_env()
