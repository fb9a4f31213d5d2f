"""Secrets Manager rotation of the Track API credentials and the webhook signing key (DESIGN 5).

Customer.io issues keys in its own UI, so this rotation does not generate anything: the operator
writes the new value to the secret's staging secret (the secret's name + ``/staged``) and the
four steps validate and promote it. The structure follows AWS's rotation templates
(aws-samples/aws-secrets-manager-rotation-lambdas) line by line:

- ``rotate`` is the template's ``lambda_handler``: it checks that rotation is enabled, that the
  token is a version of the secret, returns early when that version is already AWSCURRENT,
  refuses a version that is not AWSPENDING, then dispatches one step;
- ``create_secret`` copies the staged value into the AWSPENDING version of the token;
- ``set_secret`` has nothing to do: the key is already live in Customer.io;
- ``test_secret`` proves the pending value works and belongs where the current one does;
- ``finish_secret`` moves AWSCURRENT to the token (AWSPREVIOUS follows), removes AWSPENDING and
  clears the staging secret.

Every step is safe to retry and leaves AWSCURRENT alone until ``finish_secret``; a failed test
never promotes. Failures raise RotationError(step, message) whose message tells the operator
what to do. Secret values never appear in messages or logs.

Which kind a secret is, is configuration (``TRACK_CREDENTIALS_SECRET_ID``,
``SIGNING_KEY_SECRET_ID``, names or ARNs): a secret that is neither is refused.

>>> settings = RotationSettings.from_env()                                          # doctest: +SKIP
>>> rotate(client, secret_id=arn, token=token, step="createSecret", settings=settings)  # doctest: +SKIP
StepResult(step='createSecret', kind='track', ..., outcome='completed', ...)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

import httpx
from botocore.exceptions import ClientError
from pydantic import BaseModel, SecretStr

from cio_security import config
from cio_security.customerio.track import RegionInfo, TrackClient
from cio_security.errors import (
    AuthenticationError,
    ConfigurationError,
    CustomerIOError,
    RotationError,
    SecretFormatError,
    TransientError,
)
from cio_security.secrets.models import SigningKey, TrackCredentials
from cio_security.secrets.store import parse_secret

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = [
    "AWSCURRENT",
    "AWSPENDING",
    "AWSPREVIOUS",
    "STAGING_SUFFIX",
    "STEPS",
    "RotatedValue",
    "RotationSettings",
    "RotationTarget",
    "SecretKind",
    "Step",
    "StepResult",
    "canonical_json",
    "create_secret",
    "describe_target",
    "finish_secret",
    "kind_model",
    "parse_kind",
    "rotate",
    "same_value",
    "set_secret",
    "staging_instructions",
    "staging_secret_name",
    "test_secret",
]

logger = logging.getLogger(__name__)

AWSCURRENT: Final = "AWSCURRENT"
AWSPENDING: Final = "AWSPENDING"
AWSPREVIOUS: Final = "AWSPREVIOUS"
STAGING_SUFFIX: Final = "/staged"
NOTHING_STAGED: Final = "{}"

SecretKind = Literal["track", "signing_key"]
Step = Literal["createSecret", "setSecret", "testSecret", "finishSecret"]
STEPS: Final[tuple[Step, ...]] = ("createSecret", "setSecret", "testSecret", "finishSecret")
Outcome = Literal["completed", "unchanged", "already_current"]
CONFIGURATION_TEST = "no new pending value to test (Secrets Manager's configuration test); nothing promoted"
RotatedValue = TrackCredentials | SigningKey

_MODELS: Final[Mapping[SecretKind, type[TrackCredentials] | type[SigningKey]]] = {
    "track": TrackCredentials,
    "signing_key": SigningKey,
}
_SHAPES: Final[Mapping[SecretKind, str]] = {
    "track": '{"site_id": "...", "api_key": "...", "region": "us|eu"}',
    "signing_key": '{"signing_key": "..."} (32 to 512 printable ASCII characters, no whitespace)',
}
_CLI_NAMES: Final[Mapping[SecretKind, str]] = {"track": "track", "signing_key": "signing-key"}
_NOT_FOUND: Final = frozenset({"ResourceNotFoundException"})
DEFAULT_TEST_TIMEOUT: Final = httpx.Timeout(connect=3.0, read=5.0, write=5.0, pool=3.0)


# -- configuration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RotationSettings:
    """What the rotation needs besides the Secrets Manager client.

    ``track_url`` overrides the Track API host of the credentials' region (the sandbox);
    ``timeout``, ``max_attempts``, ``retry_after_cap``, ``transport`` and ``sleep`` configure the
    testSecret calls: a rotation step is retried by Secrets Manager, so few attempts and short
    waits are enough, and the defaults keep testSecret's worst case (two region calls) well
    inside the function's 60 s timeout.
    """

    track_credentials_secret_id: str = ""
    signing_key_secret_id: str = ""
    track_url: str | None = None
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TEST_TIMEOUT)
    max_attempts: int = 2
    retry_after_cap: float = 5.0
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], object] = field(default=time.sleep, repr=False)

    @classmethod
    def from_env(cls) -> RotationSettings:
        """``TRACK_CREDENTIALS_SECRET_ID``, ``SIGNING_KEY_SECRET_ID`` (at least one) and
        ``CUSTOMERIO_TRACK_URL``. Raises ConfigurationError when neither secret is configured."""
        settings = cls(
            track_credentials_secret_id=config.env_str(config.TRACK_CREDENTIALS_SECRET_ID),
            signing_key_secret_id=config.env_str(config.SIGNING_KEY_SECRET_ID),
            track_url=config.env_str(config.CUSTOMERIO_TRACK_URL) or None,
        )
        if not (settings.track_credentials_secret_id or settings.signing_key_secret_id):
            raise ConfigurationError(
                f"environment variable {config.TRACK_CREDENTIALS_SECRET_ID} or "
                f"{config.SIGNING_KEY_SECRET_ID} is required"
            )
        return settings


@dataclass(frozen=True)
class RotationTarget:
    """A secret this function rotates, as ``describe_secret`` reported it."""

    arn: str
    name: str
    kind: SecretKind
    rotation_enabled: bool
    versions: Mapping[str, tuple[str, ...]]

    @property
    def staging_secret_id(self) -> str:
        """The staging secret: this secret's name + ``/staged``."""
        return staging_secret_name(self.name)

    @property
    def current_version(self) -> str | None:
        """The version id labelled AWSCURRENT (None only for a secret without versions)."""
        return next((v for v, stages in self.versions.items() if AWSCURRENT in stages), None)


@dataclass(frozen=True)
class StepResult:
    """What a step did: ``completed``, ``unchanged`` (a retry found it done) or
    ``already_current`` (the token's version is already AWSCURRENT). ``message`` is for the
    operator's log: it never holds a secret value."""

    step: Step
    kind: SecretKind
    secret_name: str
    version_id: str
    outcome: Outcome
    message: str


# -- helpers ---------------------------------------------------------------------------------------


def staging_secret_name(secret_name: str) -> str:
    """The staging secret of a rotated secret: its name + ``/staged`` (DESIGN 5)."""
    return secret_name + STAGING_SUFFIX


def kind_model(kind: SecretKind) -> type[TrackCredentials] | type[SigningKey]:
    """The pydantic model a secret kind's JSON must validate against."""
    return _MODELS[kind]


def parse_kind(kind: SecretKind, raw: str | bytes | dict[str, Any], *, name: str) -> RotatedValue:
    """Validate a value of ``kind``; SecretFormatError names the fields, never the value."""
    return parse_secret(kind_model(kind), raw, name=name)


def canonical_json(value: BaseModel) -> str:
    """The secret string stored for a model: compact, sorted keys, SecretStr unwrapped."""
    data = {
        key: item.get_secret_value() if isinstance(item, SecretStr) else item
        for key, item in value.model_dump().items()
    }
    return json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def same_value(a: RotatedValue, b: RotatedValue) -> bool:
    """True when two values are the same secret: the same site id and API key (whatever the
    declared region) for Track credentials, the same key for a signing key."""
    if isinstance(a, TrackCredentials) and isinstance(b, TrackCredentials):
        return a.same_as(b)
    return canonical_json(a) == canonical_json(b)


def staging_instructions(kind: SecretKind, secret_name: str) -> str:
    """What the operator must do to rotate a secret: the shape to write and where (no values)."""
    return (
        f"write {_SHAPES[kind]} to secret {staging_secret_name(secret_name)} "
        f"(ciosec secrets stage {_CLI_NAMES[kind]}) and rotate again"
    )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _is_nothing_staged(raw: str) -> bool:
    text = raw.strip()
    if not text:
        return True
    try:
        return json.loads(text) in ({}, None)
    except ValueError:
        return False


def _read(
    client: SecretsManagerClient,
    step: Step,
    secret_id: str,
    *,
    version_id: str | None = None,
    stage: str | None = None,
) -> str | None:
    """One version's secret string; None when it holds no value (ResourceNotFoundException)."""
    kwargs: dict[str, str] = {"SecretId": secret_id}
    if version_id is not None:
        kwargs["VersionId"] = version_id
    if stage is not None:
        kwargs["VersionStage"] = stage
    try:
        response = client.get_secret_value(**kwargs)
    except ClientError as exc:
        if _error_code(exc) in _NOT_FOUND:
            return None
        raise RotationError(
            step, f"reading secret {secret_id} failed ({_error_code(exc)}); the step is safe to retry"
        ) from exc
    value = response.get("SecretString")
    if value is None:
        raise RotationError(step, f"secret {secret_id} holds binary data, not a JSON string")
    return value


def _update_stage(client: SecretsManagerClient, step: Step, secret_id: str, **kwargs: str) -> None:
    try:
        client.update_secret_version_stage(SecretId=secret_id, **kwargs)
    except ClientError as exc:
        raise RotationError(
            step, f"moving a version stage of secret {secret_id} failed ({_error_code(exc)}); retry the step"
        ) from exc


def _current(client: SecretsManagerClient, step: Step, target: RotationTarget) -> RotatedValue | None:
    """The AWSCURRENT value, or None when it is absent or not valid (the template's placeholder
    before the first rotation: the bootstrap case)."""
    raw = _read(client, step, target.arn, stage=AWSCURRENT)
    if raw is None:
        return None
    try:
        return parse_kind(target.kind, raw, name=target.name)
    except SecretFormatError:
        return None


def _pending(client: SecretsManagerClient, step: Step, target: RotationTarget, token: str) -> RotatedValue:
    raw = _read(client, step, target.arn, version_id=token, stage=AWSPENDING)
    if raw is None:
        raise RotationError(
            step,
            f"version {token} of secret {target.name} holds no value: createSecret has not run for "
            "it; start the rotation again",
        )
    try:
        return parse_kind(target.kind, raw, name=f"{target.name} (AWSPENDING)")
    except SecretFormatError as exc:
        raise RotationError(
            step, f"{exc}; {staging_instructions(target.kind, target.name)} (nothing was promoted)"
        ) from None


def _result(step: Step, target: RotationTarget, token: str, outcome: Outcome, message: str) -> StepResult:
    # DEBUG: the rotation function logs the result itself (one line per step, Powertools Logger).
    logger.debug(
        message,
        extra={"step": step, "kind": target.kind, "secret_name": target.name, "version_id": token},
    )
    return StepResult(step, target.kind, target.name, token, outcome, message)


# -- the handler ----------------------------------------------------------------------------------


def describe_target(
    client: SecretsManagerClient, secret_id: str, settings: RotationSettings, *, step: str = "describe"
) -> RotationTarget:
    """Describe ``secret_id`` and decide its kind from the configured secret ids.

    Secrets Manager passes the secret's ARN; the configuration may hold an ARN or a name, so both
    are compared (and a configured id that is neither string is resolved through
    describe_secret). Raises RotationError when the secret does not exist or is not one of the
    two configured secrets.
    """
    try:
        meta = client.describe_secret(SecretId=secret_id)
    except ClientError as exc:
        raise RotationError(step, f"secret {secret_id} cannot be described ({_error_code(exc)})") from exc
    arn, name = meta["ARN"], meta["Name"]
    configured: list[tuple[SecretKind, str]] = [
        ("track", settings.track_credentials_secret_id),
        ("signing_key", settings.signing_key_secret_id),
    ]
    kinds = [kind for kind, sid in configured if sid and sid in (arn, name)]
    if not kinds:
        for kind, sid in configured:
            if not sid:
                continue
            try:
                if client.describe_secret(SecretId=sid)["ARN"] == arn:
                    kinds.append(kind)
            except ClientError:
                continue
    if len(kinds) != 1:
        raise RotationError(
            step,
            f"secret {name} is {'configured twice' if kinds else 'not one this function rotates'}: "
            f"it rotates only {config.TRACK_CREDENTIALS_SECRET_ID} and {config.SIGNING_KEY_SECRET_ID}",
        )
    versions = {vid: tuple(stages) for vid, stages in meta.get("VersionIdsToStages", {}).items()}
    return RotationTarget(
        arn=arn,
        name=name,
        kind=kinds[0],
        rotation_enabled=bool(meta.get("RotationEnabled")),
        versions=versions,
    )


def rotate(
    client: SecretsManagerClient,
    *,
    secret_id: str,
    token: str,
    step: str,
    settings: RotationSettings,
) -> StepResult:
    """Run one rotation step, exactly as AWS's templates' ``lambda_handler`` does.

    Args:
        client: a boto3 Secrets Manager client.
        secret_id: the event's ``SecretId`` (an ARN from Secrets Manager, or a name).
        token: the event's ``ClientRequestToken``: the version id being rotated in.
        step: the event's ``Step``.
        settings: which secrets are rotated, and how testSecret calls Customer.io.

    Returns the StepResult of the step; ``already_current`` when the version is already
    AWSCURRENT (a finishSecret retry also removes a left-over AWSPENDING label then).

    Raises:
        RotationError: an unknown step; the secret is not configured; rotation is not enabled;
            the token is not a version of the secret or not AWSPENDING; or the step refused.
    """
    if step not in STEPS:
        raise RotationError(step, f"unknown rotation step {step!r}: expected one of {', '.join(STEPS)}")
    target = describe_target(client, secret_id, settings, step=step)
    if not target.rotation_enabled:
        raise RotationError(step, f"rotation is not enabled for secret {target.name}")
    stages = target.versions.get(token)
    if stages is None:
        raise RotationError(step, f"version {token} has no stage for rotation of secret {target.name}")
    if AWSCURRENT in stages:
        if step == "finishSecret" and AWSPENDING in stages:
            # A finishSecret retried after it moved AWSCURRENT but before it removed AWSPENDING.
            _update_stage(client, step, target.arn, VersionStage=AWSPENDING, RemoveFromVersionId=token)
        return _result(
            step,
            target,
            token,
            "already_current",
            f"version {token} is already AWSCURRENT for secret {target.name}: nothing to do",
        )
    if AWSPENDING not in stages:
        raise RotationError(
            step, f"version {token} is not set as AWSPENDING for rotation of secret {target.name}"
        )
    if step == "createSecret":
        return create_secret(client, target, token)
    if step == "setSecret":
        return set_secret(client, target, token)
    if step == "testSecret":
        return test_secret(client, target, token, settings)
    return finish_secret(client, target, token)


# -- the four steps --------------------------------------------------------------------------------


def create_secret(client: SecretsManagerClient, target: RotationTarget, token: str) -> StepResult:
    """createSecret: copy the staged value into the AWSPENDING version of ``token``.

    When that version already holds a value (a retry), nothing is done. Otherwise the staging
    secret is read, validated against the kind's model and compared with AWSCURRENT, then stored
    as canonical JSON with ``put_secret_value(ClientRequestToken=token, VersionStages=[AWSPENDING])``.

    Args:
        client: a boto3 Secrets Manager client.
        target: the secret being rotated (see ``describe_target``).
        token: the ClientRequestToken, i.e. the version id of the pending version.

    Raises:
        RotationError: nothing is staged (``{}`` or empty), the staged value is invalid or the
            same as the current one (each message says what to stage and where), or a Secrets
            Manager call failed.
    """
    step: Step = "createSecret"
    if _read(client, step, target.arn, version_id=token, stage=AWSPENDING) is not None:
        return _result(
            step, target, token, "unchanged", f"version {token} of secret {target.name} already holds a value"
        )
    staging = target.staging_secret_id
    instructions = staging_instructions(target.kind, target.name)
    raw = _read(client, step, staging, stage=AWSCURRENT)
    if raw is None:
        raise RotationError(
            step, f"the staging secret {staging} does not exist: deploy the template, then {instructions}"
        )
    if _is_nothing_staged(raw):
        raise RotationError(step, f"nothing is staged for secret {target.name}: {instructions}")
    try:
        staged = parse_kind(target.kind, raw, name=staging)
    except SecretFormatError as exc:
        raise RotationError(step, f"{exc}: {instructions}") from None
    current = _current(client, step, target)
    if current is not None and same_value(staged, current):
        raise RotationError(
            step,
            f"the value staged in {staging} is the current value of secret {target.name}: create a "
            f"new one in Customer.io, then {instructions}",
        )
    try:
        client.put_secret_value(
            SecretId=target.arn,
            ClientRequestToken=token,
            SecretString=canonical_json(staged),
            VersionStages=[AWSPENDING],
        )
    except ClientError as exc:
        raise RotationError(
            step, f"storing the pending version of secret {target.name} failed ({_error_code(exc)}); retry"
        ) from exc
    return _result(
        step,
        target,
        token,
        "completed",
        f"the value staged in {staging} is now version {token} (AWSPENDING) of secret {target.name}",
    )


def set_secret(client: SecretsManagerClient, target: RotationTarget, token: str) -> StepResult:
    """setSecret: nothing to set. Customer.io issued the key in its own UI, so it is already live
    there; the operator staged it after creating it.

    Args:
        client: a boto3 Secrets Manager client (unused: kept for the protocol's signature).
        target: the secret being rotated.
        token: the version id of the pending version.

    Raises:
        Nothing.
    """
    del client
    return _result(
        "setSecret",
        target,
        token,
        "completed",
        f"nothing to set for secret {target.name}: the new value is already live in Customer.io",
    )


def test_secret(
    client: SecretsManagerClient, target: RotationTarget, token: str, settings: RotationSettings
) -> StepResult:
    """testSecret: prove the pending value works and belongs where the current one does.

    - Track credentials: ``GET /api/v1/accounts/region`` with the pending credentials must answer
      200 with a ``data_center`` equal to their declared region; then the same call with the
      current credentials must report the same ``data_center`` and ``environment_id``
      (workspace): a key of another workspace or region is refused. Bootstrap: when AWSCURRENT
      is not a valid credential set (the template's placeholder before the first rotation),
      there is nothing to compare with and only the first check applies.
    - Signing key: the model's length and character checks, and not the current key.

    The base URL is ``settings.track_url`` (``CUSTOMERIO_TRACK_URL``) or the region's Track host.

    Args:
        client: a boto3 Secrets Manager client.
        target: the secret being rotated.
        token: the version id of the pending version.
        settings: the Track URL override and the HTTP client's settings.

    A pending version without a value, or holding the current value, is Secrets Manager's
    configuration test (createSecret refuses both): it passes without promoting anything.

    Raises:
        RotationError: the pending version is invalid, is rejected by Customer.io, belongs to
            another workspace or region, or Customer.io could not be reached (Secrets Manager
            retries; nothing is promoted).
    """
    step: Step = "testSecret"
    # createSecret never leaves a version without a value or with the current value, so either
    # can only be Secrets Manager's own configuration test (run when a rotation schedule is
    # created without rotating at once): nothing new to test, and nothing is promoted by it.
    if _read(client, step, target.arn, version_id=token, stage=AWSPENDING) is None:
        return _result(step, target, token, "unchanged", CONFIGURATION_TEST)
    pending = _pending(client, step, target, token)
    current = _current(client, step, target)
    if current is not None and same_value(pending, current):
        return _result(step, target, token, "unchanged", CONFIGURATION_TEST)
    if isinstance(pending, SigningKey):
        return _result(step, target, token, "completed", f"the pending signing key of {target.name} is valid")
    assert isinstance(pending, TrackCredentials)  # noqa: S101 - narrowed by the kind
    instructions = staging_instructions(target.kind, target.name)
    pending_info = _region(step, pending, settings, which="pending", instructions=instructions)
    if pending_info.data_center.strip().lower() != pending.region:
        raise RotationError(
            step,
            f"the pending credentials declare region {pending.region} but their workspace is in data "
            f"center {pending_info.data_center}: {instructions}",
        )
    if current is None:
        return _result(
            step,
            target,
            token,
            "completed",
            f"the pending credentials of {target.name} work in region {pending.region}; the current "
            "value is not a credential set (first rotation), so there is no workspace to compare with",
        )
    assert isinstance(current, TrackCredentials)  # noqa: S101 - same kind as pending
    current_info = _region(step, current, settings, which="current", instructions=instructions)
    if current_info.data_center.strip().lower() != pending_info.data_center.strip().lower():
        raise RotationError(
            step,
            f"the pending credentials are for region {pending_info.data_center}, the current ones for "
            f"{current_info.data_center}: stage a credential set of the same workspace; {instructions}",
        )
    if str(current_info.environment_id) != str(pending_info.environment_id):
        raise RotationError(
            step,
            "the pending credentials belong to another workspace (environment_id) than the current "
            f"ones: create the new credential set in the same workspace; {instructions}",
        )
    return _result(
        step,
        target,
        token,
        "completed",
        f"the pending credentials of {target.name} work in the current workspace and region",
    )


test_secret.__test__ = False  # type: ignore[attr-defined]  # a protocol step, not a pytest test


def _region(
    step: Step, credentials: TrackCredentials, settings: RotationSettings, *, which: str, instructions: str
) -> RegionInfo:
    """``GET /api/v1/accounts/region`` with ``credentials``, every failure a RotationError."""
    try:
        with TrackClient(
            credentials,
            base_url=settings.track_url,
            timeout=settings.timeout,
            max_attempts=settings.max_attempts,
            backoff_cap=1.0,
            retry_after_cap=settings.retry_after_cap,
            transport=settings.transport,
            sleep=settings.sleep,
        ) as track:
            return track.region()
    except AuthenticationError as exc:
        hint = (
            f"check the site id and API key of the staged credential set; {instructions}"
            if which == "pending"
            else "keep the current credential set in Customer.io until the rotation has finished"
        )
        raise RotationError(
            step, f"Customer.io rejected the {which} credentials (status {exc.status}): {hint}"
        ) from exc
    except TransientError as exc:
        raise RotationError(
            step,
            f"Customer.io could not check the {which} credentials ({exc}); nothing was promoted, "
            "Secrets Manager retries the rotation",
        ) from exc
    except (CustomerIOError, ConfigurationError) as exc:
        raise RotationError(step, f"checking the {which} credentials failed ({exc})") from exc


def finish_secret(client: SecretsManagerClient, target: RotationTarget, token: str) -> StepResult:
    """finishSecret: make ``token`` AWSCURRENT and tidy up.

    In order: check that the version holds a value (an empty version is never promoted); reset
    the staging secret to ``{}`` when it still holds the promoted value (a different value, staged
    meanwhile for the next rotation, is left in place); move AWSCURRENT to ``token`` with
    ``update_secret_version_stage(MoveToVersionId=token, RemoveFromVersionId=<current>)``, which
    moves AWSPREVIOUS to the old version; remove AWSPENDING from ``token``. Each part is skipped
    when already done, so a retry converges.

    Args:
        client: a boto3 Secrets Manager client.
        target: the secret being rotated.
        token: the version id to promote.

    Raises:
        RotationError: the version holds no value, or a Secrets Manager call failed (retry).
    """
    step: Step = "finishSecret"
    promoted = _pending(client, step, target, token)
    staging = target.staging_secret_id
    cleared = _clear_staging(client, step, target, promoted)
    current_version = target.current_version
    if current_version != token:
        kwargs = {"VersionStage": AWSCURRENT, "MoveToVersionId": token}
        if current_version is not None:
            kwargs["RemoveFromVersionId"] = current_version
        _update_stage(client, step, target.arn, **kwargs)
    _update_stage(client, step, target.arn, VersionStage=AWSPENDING, RemoveFromVersionId=token)
    if target.kind == "track":
        after = (
            "the previous credential set may now be deleted in Customer.io, once the functions have "
            f"re-read the secret (after {config.SECRETS_CACHE_SECONDS}, or at their next 401)"
        )
    else:
        after = (
            "Customer.io signs with the new key; the webhook accepts the previous one for "
            f"{config.SIGNING_KEY_GRACE_SECONDS} more"
        )
    staged_note = (
        f"{staging} is empty ({{}})"
        if cleared
        else f"{staging} holds another value, left in place for the next rotation"
    )
    return _result(
        step,
        target,
        token,
        "completed",
        f"version {token} is now AWSCURRENT of secret {target.name} ({staged_note}); {after}",
    )


def _clear_staging(
    client: SecretsManagerClient, step: Step, target: RotationTarget, promoted: RotatedValue
) -> bool:
    """Reset the staging secret to ``{}`` when it holds ``promoted`` or nothing; True if it is
    empty afterwards."""
    staging = target.staging_secret_id
    raw = _read(client, step, staging, stage=AWSCURRENT)
    if raw is None or _is_nothing_staged(raw):
        return True
    try:
        staged = parse_kind(target.kind, raw, name=staging)
    except SecretFormatError:
        return False
    if not same_value(staged, promoted):
        return False
    try:
        client.put_secret_value(SecretId=staging, SecretString=NOTHING_STAGED)
    except ClientError as exc:
        raise RotationError(step, f"resetting {staging} failed ({_error_code(exc)}); retry the step") from exc
    return True
