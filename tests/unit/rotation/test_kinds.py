"""cio_security.rotation.kinds: one object per kind of rotated secret (model, staged shape,
comparison, the test of a pending value, the note after promotion), and the registry."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cio_security.customerio.retry import RetryPolicy
from cio_security.errors import ConfigurationError, RotationError, SecretFormatError
from cio_security.rotation import (
    SECRET_KINDS,
    SIGNING_KEY,
    TRACK_CREDENTIALS,
    RetryableRotationError,
    RotationSettings,
    RotationTarget,
    SecretKind,
    SigningKeyKind,
    TrackCredentialsKind,
    secret_kind,
)
from cio_security.secrets.models import SigningKey, TrackCredentials
from fixtures.logs import sensitive

CUR_KEY = "kinds-current-key-1a2b3c4d"
NEW_KEY = "kinds-pending-key-5e6f7a8b"
SIGNING_A = "kinds-signing-key-a-abcdefghijklmnopqrstuvwxyz0123"
SIGNING_B = "kinds-signing-key-b-abcdefghijklmnopqrstuvwxyz0123"
CURRENT = TrackCredentials.model_validate({"site_id": "site-a", "api_key": CUR_KEY, "region": "us"})
PENDING = TrackCredentials.model_validate({"site_id": "site-b", "api_key": NEW_KEY, "region": "us"})
US_1 = {"url": "https://track.customer.io", "region": "us", "environment_id": 1}
"""The region call's body as Customer.io documents it (Journeys Track API; shared/CUSTOMERIO.md)."""
SECRET = "stack/customerio/track-credentials"


@pytest.fixture(autouse=True)
def _sensitive() -> None:
    sensitive(CUR_KEY, NEW_KEY, SIGNING_A, SIGNING_B)


def settings(
    handler: Callable[[httpx.Request], httpx.Response], *, retry: RetryPolicy | None = None
) -> RotationSettings:
    extra: dict[str, Any] = {} if retry is None else {"retry": retry}
    return RotationSettings(
        track_url="https://track.example.invalid",
        transport=httpx.MockTransport(handler),
        sleep=lambda _s: None,
        **extra,
    )


def by_site(
    answers: dict[str, tuple[int, dict[str, Any]]], calls: list[str] | None = None
) -> RotationSettings:
    """A Customer.io answering the region call per site id (the Basic auth user); 401 otherwise."""

    def handle(request: httpx.Request) -> httpx.Response:
        site = base64.b64decode(request.headers["authorization"].split()[1]).decode().split(":", 1)[0]
        if calls is not None:
            calls.append(site)
        status, body = answers.get(site, (401, {"meta": {"error": "Unauthorized"}}))
        return httpx.Response(status, json=body)

    return settings(handle)


def no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"unexpected request to {request.url}")


# -- the registry -----------------------------------------------------------------------------------


def test_one_object_per_kind_registered_by_its_name() -> None:
    assert dict(SECRET_KINDS) == {
        "track": TRACK_CREDENTIALS,
        "signing_key": SIGNING_KEY,
        "app_api_key": SECRET_KINDS["app_api_key"],  # tests/unit/rotation/test_app_api_key_kind.py
    }
    for name, kind in SECRET_KINDS.items():
        assert kind.name == name
        assert secret_kind(name) is kind
        assert isinstance(kind, SecretKind)
    assert isinstance(TRACK_CREDENTIALS, TrackCredentialsKind)
    assert isinstance(SIGNING_KEY, SigningKeyKind)
    assert repr(TRACK_CREDENTIALS) == "TrackCredentialsKind(name='track')"


def test_an_unknown_kind_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown secret kind 'signing-key'"):
        secret_kind("signing-key")


def test_a_kind_without_a_test_of_pending_values_cannot_exist() -> None:
    class Incomplete(SecretKind[SigningKey]):  # no verify_pending
        name = "signing_key"
        model = SigningKey
        shape = "{}"
        after_promotion = ""

    with pytest.raises(TypeError, match="verify_pending"):
        Incomplete()  # type: ignore[abstract]


def test_a_target_knows_its_kind_object() -> None:
    target = RotationTarget(arn="arn", name=SECRET, kind="track", rotation_enabled=True, versions={})
    assert target.secret_kind is TRACK_CREDENTIALS


# -- model, shape, parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "model", "shape"),
    [
        (TRACK_CREDENTIALS, TrackCredentials, '{"site_id": "...", "api_key": "...", "region": "us|eu"}'),
        (
            SIGNING_KEY,
            SigningKey,
            '{"signing_key": "..."} (32 to 512 printable ASCII characters, no whitespace)',
        ),
    ],
)
def test_each_kind_has_its_model_and_staged_shape(kind: SecretKind[Any], model: type, shape: str) -> None:
    assert kind.model is model
    assert kind.shape == shape
    assert kind.staging_instructions("s/x") == f"write {shape} to secret s/x/staged and rotate again"


def test_parse_returns_the_kinds_model() -> None:
    parsed = TRACK_CREDENTIALS.parse(f'{{"site_id": "s", "api_key": "{NEW_KEY}", "region": "eu"}}', name="n")
    assert isinstance(parsed, TrackCredentials)
    assert parsed.region == "eu"
    key = SIGNING_KEY.parse({"signing_key": SIGNING_A}, name="n")
    assert key.key_bytes() == SIGNING_A.encode()


@pytest.mark.parametrize(
    ("kind", "raw", "fields"),
    [
        (TRACK_CREDENTIALS, f'{{"site_id": "s", "api_key": "{NEW_KEY}", "region": "ap"}}', "region"),
        (SIGNING_KEY, '{"signing_key": "short"}', "signing_key"),
        (SIGNING_KEY, f'{{"site_id": "s", "api_key": "{NEW_KEY}"}}', "signing_key, site_id, api_key"),
    ],
)
def test_parse_names_the_fields_never_the_value(kind: SecretKind[Any], raw: str, fields: str) -> None:
    with pytest.raises(SecretFormatError) as failure:
        kind.parse(raw, name="stack/x/staged")
    message = str(failure.value)
    assert f"secret stack/x/staged is not a valid {kind.model.__name__}" in message
    for field in fields.split(", "):
        assert field in message
    assert NEW_KEY not in message


# -- comparison -------------------------------------------------------------------------------------


def test_track_credentials_are_the_same_secret_whatever_the_declared_region() -> None:
    moved = CURRENT.model_copy(update={"region": "eu"})
    assert TRACK_CREDENTIALS.same_value(CURRENT, moved)
    assert not TRACK_CREDENTIALS.same_value(CURRENT, PENDING)


def test_signing_keys_are_the_same_secret_when_the_key_is() -> None:
    a, b = (
        SigningKey.model_validate({"signing_key": SIGNING_A}),
        SigningKey.model_validate({"signing_key": SIGNING_B}),
    )
    assert SIGNING_KEY.same_value(a, SigningKey.model_validate({"signing_key": SIGNING_A}))
    assert not SIGNING_KEY.same_value(a, b)


# -- the test of a pending value -------------------------------------------------------------------


def test_a_signing_key_is_tested_by_its_shape_alone() -> None:
    pending = SigningKey.model_validate({"signing_key": SIGNING_B})
    current = SigningKey.model_validate({"signing_key": SIGNING_A})
    for previous in (current, None):
        message = SIGNING_KEY.verify_pending(
            pending, previous, secret_name="stack/key", settings=settings(no_network)
        )
        assert message == "the pending signing key of stack/key is valid"


def test_track_credentials_must_work_in_the_current_workspace() -> None:
    calls: list[str] = []
    check = by_site({"site-a": (200, US_1), "site-b": (200, US_1)}, calls)
    message = TRACK_CREDENTIALS.verify_pending(PENDING, CURRENT, secret_name=SECRET, settings=check)
    assert message == f"the pending credentials of {SECRET} work in the current workspace and region"
    assert calls == ["site-b", "site-a"]  # pending first, then current


def test_first_rotation_only_checks_the_pending_region() -> None:
    calls: list[str] = []
    check = by_site({"site-b": (200, US_1)}, calls)
    message = TRACK_CREDENTIALS.verify_pending(PENDING, None, secret_name=SECRET, settings=check)
    assert "work in region us" in message
    assert "first rotation" in message
    assert calls == ["site-b"]


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        ({"site-b": (200, {**US_1, "region": "eu"})}, "declare region us but Customer.io reports region eu"),
        (
            {"site-a": (200, US_1), "site-b": (200, {**US_1, "environment_id": 2})},
            "belong to another workspace",
        ),
        (
            {"site-a": (200, US_1), "site-b": (200, {**US_1, "environment_id": "2"})},
            "belong to another workspace",
        ),
        ({"site-a": (200, {**US_1, "region": "eu"}), "site-b": (200, US_1)}, "current ones for eu"),
        ({}, "rejected the pending credentials (status 401): check the site id and API key"),
        (
            {"site-b": (403, {"meta": {"error": "Forbidden"}})},
            "rejected the pending credentials (status 403): check the site id and API key",
        ),
    ],
    ids=[
        "misdeclared-region",
        "other-workspace",
        "other-workspace-as-a-string",
        "other-region",
        "pending-unauthorized",
        "pending-forbidden",
    ],
)
def test_track_refusals_say_what_to_stage(
    answers: dict[str, tuple[int, dict[str, Any]]], reason: str
) -> None:
    with pytest.raises(RotationError) as failure:
        TRACK_CREDENTIALS.verify_pending(PENDING, CURRENT, secret_name=SECRET, settings=by_site(answers))
    message = str(failure.value)
    assert failure.value.step == "testSecret"
    assert reason in message
    assert TRACK_CREDENTIALS.staging_instructions(SECRET) in message
    assert NEW_KEY not in message
    assert CUR_KEY not in message
    assert not isinstance(failure.value, RetryableRotationError)  # no retry fixes it


def test_current_credentials_rejected_means_keep_them_until_the_rotation_finished() -> None:
    with pytest.raises(
        RotationError, match=r"rejected the current credentials .*keep the current credential"
    ) as failure:
        TRACK_CREDENTIALS.verify_pending(
            PENDING, CURRENT, secret_name=SECRET, settings=by_site({"site-b": (200, US_1)})
        )
    assert not isinstance(failure.value, RetryableRotationError)


# Where the documentation is silent, every answer is safe: the same workspace whatever the
# spelling of its id or region, a refusal (never a promotion) for a body that cannot be compared.


@pytest.mark.parametrize(
    ("pending_body", "current_body"),
    [
        (US_1, US_1),
        ({**US_1, "environment_id": "1"}, US_1),  # environment_id sent as a string of digits
        (US_1, {**US_1, "environment_id": "1"}),
        ({**US_1, "region": "US"}, {**US_1, "region": " us "}),  # region in another case
        ({**US_1, "data_center": "eu", "extra": [1]}, US_1),  # unknown fields are ignored
        ({"region": "us", "environment_id": 1}, US_1),  # no url
    ],
    ids=["documented", "pending-id-string", "current-id-string", "region-case", "extra-fields", "no-url"],
)
def test_the_same_workspace_whatever_the_spelling(
    pending_body: dict[str, Any], current_body: dict[str, Any]
) -> None:
    check = by_site({"site-a": (200, current_body), "site-b": (200, pending_body)})
    message = TRACK_CREDENTIALS.verify_pending(PENDING, CURRENT, secret_name=SECRET, settings=check)
    assert message.endswith("work in the current workspace and region")


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://track.customer.io", "data_center": "us", "environment_id": 1},  # no region
        {**US_1, "environment_id": "ws-1"},
        {**US_1, "environment_id": None},
        {**US_1, "environment_id": True},
        {**US_1, "environment_id": 1.0},
        {**US_1, "region": "ap"},
        {"url": "https://track.customer.io", "region": "us"},
    ],
    ids=["data-center-only", "id-not-a-number", "id-null", "id-bool", "id-float", "unknown-region", "no-id"],
)
@pytest.mark.parametrize("which", ["pending", "current"])
def test_a_body_that_cannot_be_compared_is_refused_for_good(body: dict[str, Any], which: str) -> None:
    answers = {"site-a": (200, US_1), "site-b": (200, US_1)}
    answers["site-b" if which == "pending" else "site-a"] = (200, body)
    with pytest.raises(RotationError, match=f"checking the {which} credentials failed") as failure:
        TRACK_CREDENTIALS.verify_pending(PENDING, CURRENT, secret_name=SECRET, settings=by_site(answers))
    assert "unexpected region response body" in str(failure.value)
    assert not isinstance(failure.value, RetryableRotationError)


def test_the_first_rotation_accepts_the_documented_body_with_an_id_as_a_string() -> None:
    check = by_site({"site-b": (200, {**US_1, "environment_id": "3"})})
    assert "first rotation" in TRACK_CREDENTIALS.verify_pending(
        PENDING, None, secret_name=SECRET, settings=check
    )


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503),
        httpx.Response(500),
        httpx.Response(429, headers={"Retry-After": "0"}),
    ],
    ids=["503", "500", "429"],
)
def test_a_transient_answer_is_left_to_secrets_managers_retry(answer: httpx.Response) -> None:
    with pytest.raises(RetryableRotationError, match="Secrets Manager retries"):
        TRACK_CREDENTIALS.verify_pending(
            PENDING,
            CURRENT,
            secret_name=SECRET,
            settings=settings(lambda _r: answer, retry=RetryPolicy(max_attempts=1)),
        )


def test_a_timeout_is_left_to_secrets_managers_retry() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(RetryableRotationError, match="Secrets Manager retries"):
        TRACK_CREDENTIALS.verify_pending(
            PENDING, CURRENT, secret_name=SECRET, settings=settings(hang, retry=RetryPolicy(max_attempts=1))
        )


def test_track_calls_follow_the_settings_retry_policy() -> None:
    calls: list[str] = []

    def unavailable(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(503)

    with pytest.raises(RotationError, match="nothing was promoted, Secrets Manager retries"):
        TRACK_CREDENTIALS.verify_pending(
            PENDING,
            CURRENT,
            secret_name=SECRET,
            settings=settings(unavailable, retry=RetryPolicy(max_attempts=3, backoff_base=0.0)),
        )
    assert calls == ["/api/v1/accounts/region"] * 3


# -- after promotion --------------------------------------------------------------------------------


def test_each_kind_says_what_follows_its_promotion() -> None:
    assert TRACK_CREDENTIALS.after_promotion.startswith(
        "the previous credential set may now be deleted in Customer.io"
    )
    assert "SECRETS_CACHE_SECONDS" in TRACK_CREDENTIALS.after_promotion
    assert SIGNING_KEY.after_promotion.startswith("Customer.io signs with the new key")
    assert "SIGNING_KEY_GRACE_SECONDS" in SIGNING_KEY.after_promotion
