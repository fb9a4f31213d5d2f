"""The secrets' models (DESIGN section 2)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from cio_security.deletion.verification_settings import is_placeholder
from cio_security.errors import SecretFormatError
from cio_security.rotation.kinds import canonical_json
from cio_security.secrets.models import AppApiKey, Pepper, SigningKey, TrackCredentials, WorkspaceLabelled
from cio_security.secrets.store import parse_secret


class TestSecrets:
    def test_track_credentials_hide_the_key(self) -> None:
        creds = TrackCredentials.model_validate(
            {"site_id": "site", "api_key": "key-value-123", "region": "eu"}
        )
        assert "key-value-123" not in repr(creds) and "key-value-123" not in str(creds.model_dump())
        assert creds.same_as(TrackCredentials(site_id="site", api_key="key-value-123", region="us"))  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "body",
        [
            {"site_id": "", "api_key": "k"},
            {"site_id": "s", "api_key": ""},
            {"site_id": "s", "api_key": "k", "region": "ap"},
            {"site_id": "s", "api_key": "k\n"},
            {"site_id": "s"},
        ],
    )
    def test_invalid_track_credentials(self, body: dict[str, str]) -> None:
        with pytest.raises(ValidationError):
            TrackCredentials.model_validate(body)

    @pytest.mark.parametrize("key", ["", "short", "x" * 31, "has space " + "x" * 40, "é" * 40, "x" * 513])
    def test_signing_key_shape(self, key: str) -> None:
        with pytest.raises(ValidationError):
            SigningKey.model_validate({"signing_key": key})

    def test_signing_key_ok_and_hidden(self) -> None:
        key = SigningKey.model_validate({"signing_key": "A" * 32})
        assert key.key_bytes() == b"A" * 32 and "AAAA" not in repr(key)

    def test_pepper_length(self) -> None:
        with pytest.raises(ValidationError):
            Pepper.model_validate({"pepper": "p" * 31})
        assert Pepper.model_validate({"pepper": "p" * 32}).key_bytes() == b"p" * 32


class TestWorkspaceLabel:
    """The optional ``workspace`` field (DESIGN section 2: an optional field, added): the workspace
    a Track credential set, App API key or signing key was staged for."""

    LABELLED = (
        (TrackCredentials, {"site_id": "site", "api_key": "key-value-123", "region": "eu"}),
        (AppApiKey, {"app_api_key": "app-key-value-123", "region": "eu"}),
        (SigningKey, {"signing_key": "K" * 40}),
    )

    @pytest.mark.parametrize(("model", "body"), LABELLED)
    @pytest.mark.parametrize("name", ["produs", "prod-eu", "default", "a", "x" * 32])
    def test_accepted_and_round_tripped(
        self, model: type[WorkspaceLabelled], body: dict[str, str], name: str
    ) -> None:
        value = model.model_validate({**body, "workspace": name})
        assert value.workspace == name
        stored = canonical_json(value)
        assert json.loads(stored) == {**body, "workspace": name}
        again = model.model_validate_json(stored)
        assert again == value and again.workspace == name

    @pytest.mark.parametrize(("model", "body"), LABELLED)
    def test_older_values_without_it_parse_and_are_stored_as_before(
        self, model: type[WorkspaceLabelled], body: dict[str, str]
    ) -> None:
        value = model.model_validate(body)
        assert value.workspace is None
        # No "workspace": null: a value staged without a label is stored exactly as before.
        assert "workspace" not in json.loads(canonical_json(value))

    @pytest.mark.parametrize(("model", "body"), LABELLED)
    @pytest.mark.parametrize("name", ["", "Prod-US", "prod us", "-prod", "prod-", "x" * 33, "prod\n", 7])
    def test_a_label_that_is_no_workspace_name_is_refused(
        self, model: type[WorkspaceLabelled], body: dict[str, str], name: object
    ) -> None:
        with pytest.raises(SecretFormatError, match=r"invalid fields: workspace\)") as err:
            parse_secret(model, {**body, "workspace": name}, name="s")
        assert not any(
            secret in str(err.value) for secret in ("key-value-123", "app-key-value-123", "K" * 40)
        )

    def test_the_templates_placeholders_are_read_as_before(self) -> None:
        with pytest.raises(SecretFormatError):
            parse_secret(TrackCredentials, '{"site_id":"","api_key":"","region":"us"}', name="s")
        with pytest.raises(SecretFormatError):
            parse_secret(SigningKey, '{"signing_key":""}', name="s")
        assert is_placeholder('{"app_api_key":""}')

    def test_the_label_does_not_make_another_secret(self) -> None:
        """Two values are the same secret whatever their labels: a key labelled for another
        workspace is still that key (the rotation's "same as current" and isolation checks)."""
        creds = TrackCredentials.model_validate({"site_id": "s", "api_key": "key-1", "workspace": "produs"})
        assert creds.same_as(TrackCredentials.model_validate({"site_id": "s", "api_key": "key-1"}))
        key = SigningKey.model_validate({"signing_key": "K" * 40, "workspace": "produs"})
        assert key.same_as(SigningKey.model_validate({"signing_key": "K" * 40, "workspace": "prodeu"}))
        assert not key.same_as(SigningKey.model_validate({"signing_key": "L" * 40, "workspace": "produs"}))
        app = AppApiKey.model_validate({"app_api_key": "app-1", "workspace": "produs"})
        assert app.same_as(AppApiKey.model_validate({"app_api_key": "app-1"}))

    def test_the_label_is_not_hidden_the_value_is(self) -> None:
        creds = TrackCredentials.model_validate(
            {"site_id": "s", "api_key": "key-value-123", "workspace": "prodeu"}
        )
        assert "prodeu" in repr(creds) and "key-value-123" not in repr(creds)
