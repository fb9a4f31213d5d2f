"""One concept, one place: the settings' budget (``DeletionSettings.rate_limit_rps``,
``VerificationSettings.app_rate_limit_rps``) is the budget of every workspace without its own, set
from the environment or by hand; a workspace's own budget (``CUSTOMERIO_WORKSPACE_RATE_LIMITS``,
``CUSTOMERIO_WORKSPACE_APP_RATE_LIMITS``) wins. Checked down to the token buckets the functions'
clients are built with."""

from __future__ import annotations

from typing import Any

import pytest

from cio_security.customerio import ratelimit
from cio_security.deletion.routing import deletion_routes
from cio_security.deletion.settings import DeletionSettings
from cio_security.deletion.verification_settings import VerificationSettings, app_clients
from cio_security.errors import ConfigurationError
from cio_security.secrets.store import SecretStore
from cio_security.workspaces import Workspace, Workspaces, workspaces_from_env

US, EU = "prod-us", "prod-eu"
PREFIX = "s/customerio/"  # the other workspaces' secrets are under it (never read here)
STACK_ENV = {
    "CUSTOMERIO_WORKSPACES": f"{US},{EU}",
    "CUSTOMERIO_WORKSPACE_SECRET_PREFIX": PREFIX,
    "TRACK_CREDENTIALS_SECRET_ID": "s/customerio/track-credentials",
    "APP_API_KEY_SECRET_ID": "s/customerio/app-api-key",
    # the stack-wide defaults a hand-built settings object must override
    "CUSTOMERIO_RATE_LIMIT_RPS": "60",
    "CUSTOMERIO_APP_RATE_LIMIT_RPS": "8",
    # EU has a Track budget of its own, US an App API budget of its own
    "CUSTOMERIO_WORKSPACE_RATE_LIMITS": f"{EU}=30",
    "CUSTOMERIO_WORKSPACE_APP_RATE_LIMITS": f"{US}=4",
}


@pytest.fixture
def stack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in STACK_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def bucket_rates(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The rate of every token bucket built from now on, in order."""
    rates: list[float] = []

    class Recording(ratelimit.TokenBucket):
        def __init__(self, rate: float, *args: Any, **kwargs: Any) -> None:
            rates.append(rate)
            super().__init__(rate, *args, **kwargs)

    monkeypatch.setattr(ratelimit, "TokenBucket", Recording)
    return rates


@pytest.mark.usefixtures("stack_env")
def test_a_hand_built_track_budget_is_every_workspace_without_its_own(bucket_rates: list[float]) -> None:
    stack = workspaces_from_env()
    settings = DeletionSettings(
        audit_table="t", dead_letter_queue_url="q", rate_limit_rps=40, max_concurrency=4
    )
    # US has no Track budget of its own: the settings' 40 (not the environment's 60); EU keeps its 30.
    assert (settings.rate_for(stack.get(US)), settings.rate_for(stack.get(EU))) == (10.0, 7.5)
    routes = deletion_routes(stack, SecretStore(), settings)
    try:
        routes.client(US)
        routes.client(EU)
    finally:
        routes.close()
    assert bucket_rates == [10.0, 7.5]
    assert (settings.budget_for(stack.get(US)), settings.budget_for(stack.get(EU))) == (40.0, 30.0)
    assert settings.rate_per_invocation == 10.0
    # The dataclass's own default (100) too is the default budget, whatever the environment says.
    default = DeletionSettings(audit_table="t", dead_letter_queue_url="q", max_concurrency=4)
    assert default.rate_for(stack.get(US)) == 25.0


@pytest.mark.usefixtures("stack_env")
def test_the_track_budget_from_the_environment_is_the_same_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIT_TABLE", "audit")
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", "q")
    monkeypatch.setenv("DELETION_MAX_CONCURRENCY", "3")
    settings, stack = DeletionSettings.from_env(), workspaces_from_env()
    assert settings.rate_limit_rps == 60.0
    assert (settings.rate_for(stack.get(US)), settings.rate_for(stack.get(EU))) == (20.0, 10.0)


@pytest.mark.usefixtures("stack_env")
def test_a_hand_built_app_api_budget_is_every_workspace_without_its_own(bucket_rates: list[float]) -> None:
    stack = workspaces_from_env()
    settings = VerificationSettings(
        queue_url="q",
        dead_letter_queue_url="d",
        audit_table="t",
        app_api_key_secret_id="s/customerio/app-api-key",
        app_rate_limit_rps=6,
        max_concurrency=2,
    )
    # EU has no App API budget of its own: the settings' 6 (not the environment's 8); US keeps its 4.
    assert (settings.rate_for(stack.get(US)), settings.rate_for(stack.get(EU))) == (2.0, 3.0)
    clients = app_clients(stack, SecretStore(), settings)
    clients.get(US)
    clients.get(EU)
    for client in clients.clear():
        client.close()
    assert bucket_rates == [2.0, 3.0]
    assert (settings.budget_for(stack.get(US)), settings.budget_for(stack.get(EU))) == (4.0, 6.0)


def test_workspaces_built_by_hand_take_the_settings_defaults() -> None:
    stack = Workspaces((Workspace(US, primary=True), Workspace(EU, rate_limit_rps=10, app_rate_limit_rps=1)))
    deletion = DeletionSettings(
        audit_table="t", dead_letter_queue_url="q", rate_limit_rps=40, max_concurrency=4
    )
    assert (deletion.rate_for(stack.get(US)), deletion.rate_for(stack.get(EU))) == (10.0, 2.5)
    verification = VerificationSettings(
        queue_url="q",
        dead_letter_queue_url="d",
        audit_table="t",
        app_api_key_secret_id="s",
        app_rate_limit_rps=6,
        max_concurrency=2,
    )
    assert (verification.rate_for(stack.get(US)), verification.rate_for(stack.get(EU))) == (3.0, 0.5)


@pytest.mark.parametrize("value", ["fast", "nan", "0", "-1", "inf", "-inf", "1e400"])
@pytest.mark.parametrize(
    ("variable", "settings"),
    [
        ("CUSTOMERIO_RATE_LIMIT_RPS", DeletionSettings),
        ("CUSTOMERIO_APP_RATE_LIMIT_RPS", VerificationSettings),
    ],
)
def test_an_invalid_default_budget_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    settings: type[DeletionSettings] | type[VerificationSettings],
    value: str,
) -> None:
    for name in ("AUDIT_TABLE", "DEAD_LETTER_QUEUE_URL", "VERIFICATION_QUEUE_URL"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("VERIFICATION_DEAD_LETTER_QUEUE_URL", "x")
    monkeypatch.setenv("APP_API_KEY_SECRET_ID", "x")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=variable) as caught:
        settings.from_env()
    assert value not in str(caught.value)
