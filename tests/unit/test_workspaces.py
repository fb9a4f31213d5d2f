"""The stack's workspaces from the environment (cio_security.workspaces)."""

from __future__ import annotations

import pytest

from cio_security.errors import ConfigurationError
from cio_security.workspaces import (
    UnknownWorkspaceError,
    region_url_overrides,
    secret_name,
    workspaces_from_env,
)

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:"
PRIMARY_ENV = {
    "TRACK_CREDENTIALS_SECRET_ID": ARN + "s/customerio/track-credentials-AbC123",
    "SIGNING_KEY_SECRET_ID": "s/customerio/webhook-signing-key",
}


def two(**extra: str) -> dict[str, str]:
    return {
        "CUSTOMERIO_WORKSPACES": "prod-us, prod-eu",
        "CUSTOMERIO_WORKSPACE_SECRET_PREFIX": "s/customerio/",
        **PRIMARY_ENV,
        **extra,
    }


def test_unset_is_one_workspace_named_default_with_the_original_secrets() -> None:
    ws = workspaces_from_env(PRIMARY_ENV)
    assert ws.names == ("default",)
    assert ws.primary.primary
    assert ws.primary.track_credentials_secret_id == PRIMARY_ENV["TRACK_CREDENTIALS_SECRET_ID"]
    assert ws.primary.app_api_key_secret_id is None  # not given to this function


def test_other_workspaces_secrets_follow_the_naming_convention() -> None:
    ws = workspaces_from_env(two())
    assert ws.names == ("prod-us", "prod-eu")
    eu = ws.get("prod-eu")
    assert not eu.primary
    assert eu.secret_id("track-credentials") == "s/customerio/workspaces/prod-eu/track-credentials"
    assert eu.secret_id("webhook-signing-key") == "s/customerio/workspaces/prod-eu/webhook-signing-key"
    assert eu.secret_id("app-api-key") == "s/customerio/workspaces/prod-eu/app-api-key"


def test_owner_of_a_secret_by_name_or_arn() -> None:
    ws = workspaces_from_env(two())
    arn = ARN + "s/customerio/workspaces/prod-eu/app-api-key-Zz9Yy8"
    assert ws.owner_of(arn) == (ws.get("prod-eu"), "app-api-key")
    assert ws.owner_of("s/customerio/track-credentials") == (ws.primary, "track-credentials")
    # the staging secret is nobody's credential secret
    assert ws.owner_of("s/customerio/workspaces/prod-eu/app-api-key/staged") is None
    assert secret_name("plain-name") == "plain-name"


def test_select_all_a_subset_and_unknown_names() -> None:
    ws = workspaces_from_env(two())
    assert [w.name for w in ws.select(None)] == ["prod-us", "prod-eu"]
    assert [w.name for w in ws.select(["prod-eu"])] == ["prod-eu"]
    assert [w.name for w in ws.select(["prod-eu", "prod-us"])] == ["prod-us", "prod-eu"]
    with pytest.raises(UnknownWorkspaceError) as caught:
        ws.select(["prod-eu", "staging", "qa"])
    assert caught.value.names == ("staging", "qa")
    with pytest.raises(ConfigurationError):
        ws.select([])


@pytest.mark.parametrize("raw", ["Prod", "prod_us", "-prod", "prod-", "a" * 33, "prod us", "é"])
def test_invalid_names_are_refused(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="CUSTOMERIO_WORKSPACES"):
        workspaces_from_env({"CUSTOMERIO_WORKSPACES": raw, "CUSTOMERIO_WORKSPACE_SECRET_PREFIX": "p/"})


def test_a_name_twice_and_a_missing_prefix_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="twice"):
        workspaces_from_env({"CUSTOMERIO_WORKSPACES": "a,a", "CUSTOMERIO_WORKSPACE_SECRET_PREFIX": "p/"})
    with pytest.raises(ConfigurationError, match="PREFIX"):
        workspaces_from_env({"CUSTOMERIO_WORKSPACES": "a,b"})


def test_a_workspace_without_a_budget_of_its_own_has_none() -> None:
    # None: the stack-wide default, which the deletion and verification settings hold
    # (tests/unit/deletion/test_budgets.py). Their variables are theirs to read and check: they
    # neither set a workspace's budget here nor stop the functions that spend none (the webhook).
    ws = workspaces_from_env(
        two(
            CUSTOMERIO_RATE_LIMIT_RPS="fast",
            CUSTOMERIO_APP_RATE_LIMIT_RPS="80",
            CUSTOMERIO_WORKSPACE_RATE_LIMITS="prod-eu=20",
            CUSTOMERIO_WORKSPACE_APP_RATE_LIMITS="prod-us=5",
        )
    )
    assert (ws.get("prod-us").rate_limit_rps, ws.get("prod-eu").rate_limit_rps) == (None, 20.0)
    assert (ws.get("prod-us").app_rate_limit_rps, ws.get("prod-eu").app_rate_limit_rps) == (5.0, None)


@pytest.mark.parametrize(
    "raw", ["prod-eu", "=5", "prod-eu=0", "prod-eu=-1", "prod-eu=nan", "prod-eu=inf", "prod-eu=fast"]
)
def test_invalid_budgets_are_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="CUSTOMERIO_WORKSPACE_RATE_LIMITS") as caught:
        workspaces_from_env(two(CUSTOMERIO_WORKSPACE_RATE_LIMITS=raw))
    assert raw not in str(caught.value)


def test_region_url_overrides_prefer_the_regions_own() -> None:
    env = {"CUSTOMERIO_TRACK_URL": "http://127.0.0.1:1", "CUSTOMERIO_TRACK_URL_EU": "http://127.0.0.1:2/"}
    assert region_url_overrides("CUSTOMERIO_TRACK_URL", env) == {
        "us": "http://127.0.0.1:1",
        "eu": "http://127.0.0.1:2",
    }
    assert region_url_overrides("CUSTOMERIO_TRACK_URL", {}) is None
    with pytest.raises(ConfigurationError):
        region_url_overrides("CUSTOMERIO_TRACK_URL", {"CUSTOMERIO_TRACK_URL_US": "ftp://x"})


def test_a_budget_for_a_workspace_the_stack_does_not_serve_is_ignored_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A typo or a removed workspace must not stop every function (the webhook included).
    with caplog.at_level("WARNING", logger="cio_security.workspaces"):
        ws = workspaces_from_env(two(CUSTOMERIO_WORKSPACE_RATE_LIMITS="prodeux=5,prod-eu=20"))
    assert (ws.get("prod-us").rate_limit_rps, ws.get("prod-eu").rate_limit_rps) == (None, 20.0)
    (record,) = [r for r in caplog.records if "does not serve" in r.getMessage()]
    assert (record.variable, record.workspace) == ("CUSTOMERIO_WORKSPACE_RATE_LIMITS", "prodeux")  # type: ignore[attr-defined]
