"""Secrets loading through Powertools Parameters (moto Secrets Manager)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from cio_security.errors import ConfigurationError, SecretError, SecretFormatError, SecretNotFoundError
from cio_security.secrets.loaders import LoadedKeys, signing_key_loader, track_credentials_provider
from cio_security.secrets.store import SecretStore
from fixtures.aws import REGION
from fixtures.logs import sensitive

API_KEY = "track-api-key-secret-value"
KEY_A = "signing-key-A-0123456789abcdefghijklmnopq"
KEY_B = "signing-key-B-0123456789abcdefghijklmnopq"
KEY_C = "signing-key-C-0123456789abcdefghijklmnopq"


@pytest.fixture
def sm(aws: None):
    sensitive(API_KEY, KEY_A, KEY_B, KEY_C)
    return boto3.client("secretsmanager", region_name=REGION)


def test_track_credentials_are_typed_and_cached(sm, monkeypatch: pytest.MonkeyPatch) -> None:
    sm.create_secret(
        Name="track", SecretString=json.dumps({"site_id": "s1", "api_key": API_KEY, "region": "eu"})
    )
    monkeypatch.setenv("TRACK_CREDENTIALS_SECRET_ID", "track")
    store = SecretStore(client=sm)
    creds = store.track_credentials()
    assert (creds.site_id, creds.api_key.get_secret_value(), creds.region) == ("s1", API_KEY, "eu")

    sm.put_secret_value(SecretId="track", SecretString=json.dumps({"site_id": "s2", "api_key": API_KEY}))
    assert store.track_credentials().site_id == "s1"  # cached
    provider = track_credentials_provider(store)
    assert provider(False).site_id == "s1"
    assert provider(True).site_id == "s2"  # the 401 path re-reads


def test_cache_age_comes_from_the_environment(sm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETS_CACHE_SECONDS", "0")
    sm.create_secret(Name="pepper", SecretString=json.dumps({"pepper": "p" * 40}))
    store = SecretStore(client=sm)
    assert store.max_age == 0
    store.pepper("pepper")
    sm.put_secret_value(SecretId="pepper", SecretString=json.dumps({"pepper": "q" * 40}))
    assert store.pepper("pepper").key_bytes() == b"q" * 40


def test_invalid_secret_names_fields_never_the_value(sm) -> None:
    sm.create_secret(
        Name="track", SecretString=json.dumps({"site_id": "s", "api_key": API_KEY, "region": "mars"})
    )
    with pytest.raises(SecretFormatError) as err:
        SecretStore(client=sm).track_credentials("track")
    assert "region" in str(err.value) and API_KEY not in str(err.value)
    assert err.value.__cause__ is None  # the pydantic error, which may quote input, is not chained


@pytest.mark.parametrize("raw", ["not json", "[]", '"string"', "{}"])
def test_non_object_secrets_are_format_errors(sm, raw: str) -> None:
    sm.create_secret(Name="p", SecretString=raw)
    with pytest.raises(SecretFormatError):
        SecretStore(client=sm).pepper("p")


def test_missing_secret_and_missing_env(sm, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SecretError, match="could not be read"):
        SecretStore(client=sm).pepper("nope")
    monkeypatch.delenv("PEPPER_SECRET_ID", raising=False)
    with pytest.raises(ConfigurationError, match="PEPPER_SECRET_ID"):
        SecretStore(client=sm).pepper()


def test_each_stage_is_cached_separately(sm) -> None:
    sm.create_secret(Name="sk", SecretString=json.dumps({"signing_key": KEY_A}))
    sm.put_secret_value(
        SecretId="sk", SecretString=json.dumps({"signing_key": KEY_B}), VersionStages=["AWSPENDING"]
    )
    store = SecretStore(client=sm)
    assert store.signing_key("sk").key_bytes() == KEY_A.encode()
    assert store.signing_key("sk", stage="AWSPENDING").key_bytes() == KEY_B.encode()


class TestSigningKeyLoader:
    def test_current_only(self, sm) -> None:
        sm.create_secret(Name="sk", SecretString=json.dumps({"signing_key": KEY_A}))
        load = signing_key_loader(SecretStore(client=sm), "sk", grace_seconds=86400)
        assert load(False) == [KEY_A.encode()]

    def test_previous_inside_and_outside_the_grace_window(self, sm) -> None:
        sm.create_secret(Name="sk", SecretString=json.dumps({"signing_key": KEY_A}))
        old = next(iter(sm.describe_secret(SecretId="sk")["VersionIdsToStages"]))
        new = sm.put_secret_value(
            SecretId="sk", SecretString=json.dumps({"signing_key": KEY_B}), VersionStages=["AWSPENDING"]
        )["VersionId"]
        sm.update_secret_version_stage(
            SecretId="sk", VersionStage="AWSCURRENT", MoveToVersionId=new, RemoveFromVersionId=old
        )
        sm.update_secret_version_stage(SecretId="sk", VersionStage="AWSPENDING", RemoveFromVersionId=new)
        store = SecretStore(client=sm, max_age=0)
        now = [datetime.now(UTC)]
        load = signing_key_loader(store, "sk", grace_seconds=3600, clock=lambda: now[0])
        assert load(False) == [KEY_B.encode(), KEY_A.encode()]
        now[0] += timedelta(seconds=3601)
        assert load(True) == [KEY_B.encode()]
        assert signing_key_loader(store, "sk", grace_seconds=0)(False) == [KEY_B.encode()]

    def test_keys_with_the_previous_one_are_valid_for_the_rest_of_the_grace_window(self, sm) -> None:
        """The ring reads the keys again when the window ends, however warm it is."""
        sm.create_secret(Name="sk", SecretString=json.dumps({"signing_key": KEY_A}))
        old = next(iter(sm.describe_secret(SecretId="sk")["VersionIdsToStages"]))
        new = sm.put_secret_value(SecretId="sk", SecretString=json.dumps({"signing_key": KEY_B}))["VersionId"]
        assert new != old
        store = SecretStore(client=sm, max_age=0)
        store.signing_key("sk")  # records AWSCURRENT's CreatedDate
        created = store.current_version_created("sk")
        assert created is not None
        now = [created + timedelta(seconds=600)]
        load = signing_key_loader(store, "sk", grace_seconds=3600, clock=lambda: now[0])
        loaded = load(False)
        assert loaded == [KEY_B.encode(), KEY_A.encode()]
        assert isinstance(loaded, LoadedKeys) and loaded.valid_for == pytest.approx(3000)
        assert loaded.expiring == 1  # the last key, AWSPREVIOUS
        now[0] = created + timedelta(seconds=3600)
        loaded = load(False)
        assert loaded == [KEY_B.encode()] and loaded.valid_for is None and loaded.expiring == 0

    @pytest.mark.parametrize("stage", ["AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"])
    @pytest.mark.parametrize("several", [False, True])
    def test_a_stage_that_cannot_be_read_now_raises_instead_of_being_skipped(
        self, sm, stage: str, several: bool
    ) -> None:
        """A throttled or timed-out read is not an absent stage: the key it holds may have signed
        the request, so the caller answers 503 (Customer.io retries), never 401."""
        sm.create_secret(Name="sk", SecretString=json.dumps({"signing_key": KEY_A}))
        sm.put_secret_value(SecretId="sk", SecretString=json.dumps({"signing_key": KEY_B}))  # A is previous
        sm.put_secret_value(
            SecretId="sk", SecretString=json.dumps({"signing_key": KEY_C}), VersionStages=["AWSPENDING"]
        )

        def throttle(params: dict, **_: object) -> None:
            if params.get("VersionStage") == stage:
                raise ClientError(
                    {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetSecretValue"
                )

        sm.meta.events.register("before-parameter-build.secrets-manager.GetSecretValue", throttle)
        load = signing_key_loader(
            SecretStore(client=sm, max_age=0), "sk", grace_seconds=3600, one_of_several=several
        )
        with pytest.raises(SecretError, match="could not be read") as raised:
            load(False)
        assert not isinstance(raised.value, SecretNotFoundError)

    def test_absent_pending_and_previous_stages_are_skipped(self, sm) -> None:
        sm.create_secret(Name="sk", SecretString=json.dumps({"signing_key": KEY_A}))
        with pytest.raises(SecretNotFoundError):
            SecretStore(client=sm).signing_key("sk", stage="AWSPENDING")
        assert signing_key_loader(SecretStore(client=sm), "sk", grace_seconds=3600)(False) == [KEY_A.encode()]

    def test_a_missing_secret_raises_not_found(self, sm) -> None:
        for several in (False, True):
            load = signing_key_loader(
                SecretStore(client=sm), "absent", grace_seconds=0, one_of_several=several
            )
            with pytest.raises(SecretNotFoundError):
                load(False)

    def test_the_grace_window_costs_no_call_beyond_get_secret_value(self, sm) -> None:
        """The AWSCURRENT version's CreatedDate comes with its GetSecretValue response: no
        ListSecretVersionIds paging (an unpublished quota) and no DescribeSecret on any load."""
        sm.create_secret(Name="sk", SecretString=json.dumps({"signing_key": KEY_A}))
        calls: list[str] = []
        sm.meta.events.register("before-call.secrets-manager.*", lambda model, **_: calls.append(model.name))
        store = SecretStore(client=sm, max_age=0)
        load = signing_key_loader(store, "sk", grace_seconds=3600)
        assert load(False) == [KEY_A.encode()]
        assert load(True) == [KEY_A.encode()]
        assert set(calls) == {"GetSecretValue"}
        created = store.current_version_created("sk")
        assert created is not None and abs((datetime.now(UTC) - created).total_seconds()) < 60
        arn = sm.describe_secret(SecretId="sk")["ARN"]
        assert store.current_version_created(arn) == created  # configured by name or by ARN

    def test_invalid_pending_is_skipped_and_no_key_is_a_configuration_error(self, sm) -> None:
        sm.create_secret(Name="sk", SecretString=json.dumps({"signing_key": ""}))
        sm.put_secret_value(
            SecretId="sk", SecretString=json.dumps({"signing_key": "short"}), VersionStages=["AWSPENDING"]
        )
        with pytest.raises(ConfigurationError, match="no usable webhook signing key"):
            signing_key_loader(SecretStore(client=sm), "sk", grace_seconds=0)(False)
