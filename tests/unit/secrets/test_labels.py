"""The reorder guard where secrets are used: a Track credential set or App API key labelled for
another workspace is refused (a SecretError naming both workspaces, never the value); a signing
key labelled for another workspace is still used, with one warning per load."""

from __future__ import annotations

import json
import logging

import boto3
import pytest

from cio_security.deletion.verification_settings import VerificationSettings, app_clients
from cio_security.errors import SecretError
from cio_security.secrets import WorkspaceMismatchError
from cio_security.secrets.loaders import app_key_provider, signing_key_loader, track_credentials_provider
from cio_security.secrets.store import SecretStore
from cio_security.webhook.keys import workspace_key_loader
from cio_security.workspaces import workspaces_from_env
from fixtures.aws import REGION
from fixtures.logs import LogCapture, sensitive

API_KEY = "track-api-key-of-produs-7c1e"
APP_KEY = "app-api-key-of-produs-3b9d"
KEY_A = "signing-key-A-0123456789abcdefghijklmnopq"
KEY_B = "signing-key-B-0123456789abcdefghijklmnopq"


@pytest.fixture
def sm(aws: None):
    sensitive(API_KEY, APP_KEY, KEY_A, KEY_B)
    return boto3.client("secretsmanager", region_name=REGION)


def track(workspace: str | None = None) -> str:
    value = {"site_id": "site-produs", "api_key": API_KEY, "region": "us"}
    return json.dumps(value if workspace is None else {**value, "workspace": workspace})


def app_key(workspace: str | None = None) -> str:
    value = {"app_api_key": APP_KEY, "region": "us"}
    return json.dumps(value if workspace is None else {**value, "workspace": workspace})


def errors(logs: LogCapture) -> list[logging.LogRecord]:
    return [r for r in logs.records if r.levelno >= logging.ERROR]


class TestTrackCredentialsProvider:
    def test_credentials_labelled_for_another_workspace_are_refused(
        self, sm, captured_logs: LogCapture
    ) -> None:
        sm.create_secret(Name="original/track-credentials", SecretString=track("produs"))
        provide = track_credentials_provider(
            SecretStore(client=sm), "original/track-credentials", workspace="prodeu"
        )
        with pytest.raises(WorkspaceMismatchError) as err:
            provide(False)
        assert isinstance(err.value, SecretError)  # the deletion function's "unreadable secret" path
        assert (err.value.expected, err.value.labelled) == ("prodeu", "produs")
        message = str(err.value)
        assert "produs" in message and "prodeu" in message and "Workspaces" in message
        assert "order" in message and API_KEY not in message
        with pytest.raises(WorkspaceMismatchError):
            provide(True)  # the 401 path's re-read is checked the same way
        (logged, _) = errors(captured_logs)
        assert logged.getMessage() == message
        assert (logged.workspace, logged.labelled_workspace) == ("prodeu", "produs")  # type: ignore[attr-defined]

    @pytest.mark.parametrize("label", [None, "produs"])
    def test_unlabelled_or_own_credentials_are_used(self, sm, label: str | None) -> None:
        sm.create_secret(Name="t", SecretString=track(label))
        creds = track_credentials_provider(SecretStore(client=sm), "t", workspace="produs")(False)
        assert (creds.site_id, creds.workspace) == ("site-produs", label)

    def test_without_a_workspace_nothing_is_checked(self, sm, monkeypatch: pytest.MonkeyPatch) -> None:
        """Callers that do not say which workspace reads (a user's own Lambda) keep what they had."""
        sm.create_secret(Name="t", SecretString=track("produs"))
        monkeypatch.setenv("TRACK_CREDENTIALS_SECRET_ID", "t")
        assert track_credentials_provider(SecretStore(client=sm))(False).workspace == "produs"


class TestAppKeyProvider:
    def test_a_key_labelled_for_another_workspace_is_refused(self, sm, captured_logs: LogCapture) -> None:
        sm.create_secret(Name="a", SecretString=app_key("produs"))
        with pytest.raises(WorkspaceMismatchError) as err:
            app_key_provider(SecretStore(client=sm), "a", workspace="prodeu")(False)
        assert "produs" in str(err.value) and "prodeu" in str(err.value) and APP_KEY not in str(err.value)
        assert len(errors(captured_logs)) == 1

    @pytest.mark.parametrize("label", [None, "prodeu"])
    def test_unlabelled_or_own_keys_are_used(self, sm, label: str | None) -> None:
        sm.create_secret(Name="a", SecretString=app_key(label))
        key = app_key_provider(SecretStore(client=sm), "a", workspace="prodeu")(False)
        assert key.app_api_key.get_secret_value() == APP_KEY


class TestSigningKeys:
    """A mislabelled signing key only mislabels events: the webhook keeps verifying with it."""

    def pending(self, sm, name: str, value: dict[str, str]) -> None:
        sm.put_secret_value(SecretId=name, SecretString=json.dumps(value), VersionStages=["AWSPENDING"])

    def test_single_workspace_loader_warns_once_per_load_and_keeps_the_keys(
        self, sm, captured_logs: LogCapture
    ) -> None:
        sm.create_secret(Name="sk", SecretString=json.dumps({"signing_key": KEY_A, "workspace": "produs"}))
        self.pending(sm, "sk", {"signing_key": KEY_B, "workspace": "prodeu"})
        load = signing_key_loader(
            SecretStore(client=sm, max_age=0), "sk", grace_seconds=0, workspace="prodeu"
        )
        assert load(False) == [KEY_A.encode(), KEY_B.encode()]
        warnings = [r for r in captured_logs.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        text = warnings[0].getMessage()
        assert "produs" in text and "prodeu" in text and "Workspaces" in text
        assert load(True) == [KEY_A.encode(), KEY_B.encode()]
        assert len([r for r in captured_logs.records if r.levelno == logging.WARNING]) == 2  # one per load
        assert not errors(captured_logs)

    def test_several_workspaces_loader_warns_and_keeps_the_keys(self, sm, captured_logs: LogCapture) -> None:
        sm.create_secret(Name="sk", SecretString=json.dumps({"signing_key": KEY_A, "workspace": "produs"}))
        load = workspace_key_loader(SecretStore(client=sm), "sk", grace_seconds=0, workspace="prodeu")
        assert load(False) == [KEY_A.encode()]
        (warning,) = [r for r in captured_logs.records if r.levelno == logging.WARNING]
        assert "produs" in warning.getMessage() and "prodeu" in warning.getMessage()

    @pytest.mark.parametrize("label", [None, "prodeu"])
    def test_unlabelled_or_own_keys_log_nothing(
        self, sm, captured_logs: LogCapture, label: str | None
    ) -> None:
        value = {"signing_key": KEY_A} if label is None else {"signing_key": KEY_A, "workspace": label}
        sm.create_secret(Name="sk", SecretString=json.dumps(value))
        store = SecretStore(client=sm)
        assert signing_key_loader(store, "sk", grace_seconds=0, workspace="prodeu")(False) == [KEY_A.encode()]
        assert workspace_key_loader(store, "sk", grace_seconds=0, workspace="prodeu")(False) == [
            KEY_A.encode()
        ]
        assert not [r for r in captured_logs.records if r.levelno >= logging.WARNING]


def test_the_verification_functions_clients_refuse_another_workspaces_key(sm) -> None:
    """After a reorder, the verification function's prodeu client would read produs's App API key
    (which would find nobody and so "verify" every erasure): the lookup fails with the mismatch
    before any request (the sandbox URL below has nobody listening)."""
    sm.create_secret(Name="s/customerio/app-api-key", SecretString=app_key("produs"))
    sm.create_secret(Name="s/customerio/workspaces/produs/app-api-key", SecretString=app_key("produs"))
    reordered = workspaces_from_env(
        {
            "CUSTOMERIO_WORKSPACES": "prodeu,produs",
            "CUSTOMERIO_WORKSPACE_SECRET_PREFIX": "s/customerio/",
            "APP_API_KEY_SECRET_ID": "s/customerio/app-api-key",
        }
    )
    settings = VerificationSettings(
        queue_url="q",
        dead_letter_queue_url="d",
        audit_table="t",
        app_api_key_secret_id="s/customerio/app-api-key",
    )
    clients = app_clients(reordered, SecretStore(client=sm), settings, app_urls="http://127.0.0.1:9")
    with pytest.raises(WorkspaceMismatchError, match="staged for workspace produs, but workspace prodeu"):
        clients.get("prodeu").existing_ids(["user-1"])
    clients.get("produs").close()  # its own key: built as before
