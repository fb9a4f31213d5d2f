"""The rotated secret in Secrets Manager: which secret and kind an event names, its versions and
stages, and every Secrets Manager call the steps make.

Each call turns a ClientError into a RotationError for the step that made it, whose message
names the secret and the error code and says the step is safe to retry; values never appear.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from cio_security import config
from cio_security.errors import RotationError, SecretFormatError
from cio_security.rotation.kinds import KindName, SecretKind, secret_kind
from cio_security.rotation.staging import NOTHING_STAGED, staging_secret_name

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from cio_security.rotation.settings import RotationSettings

__all__ = [
    "AWSCURRENT",
    "AWSPENDING",
    "AWSPREVIOUS",
    "RotationTarget",
    "describe_target",
    "move_stage",
    "read_current",
    "read_pending",
    "read_secret_string",
    "reset_staging",
    "store_pending",
]

AWSCURRENT: Final = "AWSCURRENT"
AWSPENDING: Final = "AWSPENDING"
AWSPREVIOUS: Final = "AWSPREVIOUS"
_NOT_FOUND: Final = frozenset({"ResourceNotFoundException"})


@dataclass(frozen=True)
class RotationTarget:
    """A secret this function rotates, as ``describe_secret`` reported it."""

    arn: str
    name: str
    kind: KindName
    rotation_enabled: bool
    versions: Mapping[str, tuple[str, ...]]

    @property
    def secret_kind(self) -> SecretKind[Any]:
        """The kind object: model, staged shape, and how testSecret checks a pending value."""
        return secret_kind(self.kind)

    @property
    def staging_secret_id(self) -> str:
        """The staging secret: this secret's name + ``/staged``."""
        return staging_secret_name(self.name)

    @property
    def current_version(self) -> str | None:
        """The version id labelled AWSCURRENT (None only for a secret without versions)."""
        return next((v for v, stages in self.versions.items() if AWSCURRENT in stages), None)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


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
    configured = settings.configured_secrets()
    kinds = [kind for kind, sid in configured if sid in (arn, name)]
    if not kinds:
        for kind, sid in configured:
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


# -- reads ------------------------------------------------------------------------------------------


def read_secret_string(
    client: SecretsManagerClient,
    step: str,
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


def read_current(client: SecretsManagerClient, step: str, target: RotationTarget) -> Any | None:
    """The AWSCURRENT value, or None when it is absent or not a value of the target's kind (the
    template's placeholder before the first rotation: the bootstrap case)."""
    raw = read_secret_string(client, step, target.arn, stage=AWSCURRENT)
    if raw is None:
        return None
    try:
        return target.secret_kind.parse(raw, name=target.name)
    except SecretFormatError:
        return None


def read_pending(client: SecretsManagerClient, step: str, target: RotationTarget, token: str) -> Any | None:
    """The value of version ``token`` (AWSPENDING), or None when it holds none yet.

    Raises RotationError when the value is not of the target's kind (nothing is promoted).
    """
    raw = read_secret_string(client, step, target.arn, version_id=token, stage=AWSPENDING)
    if raw is None:
        return None
    try:
        return target.secret_kind.parse(raw, name=f"{target.name} (AWSPENDING)")
    except SecretFormatError as exc:
        instructions = target.secret_kind.staging_instructions(target.name)
        raise RotationError(step, f"{exc}; {instructions} (nothing was promoted)") from None


# -- writes -----------------------------------------------------------------------------------------


def store_pending(
    client: SecretsManagerClient, step: str, target: RotationTarget, token: str, secret_string: str
) -> None:
    """``put_secret_value(ClientRequestToken=token, VersionStages=[AWSPENDING])``."""
    try:
        client.put_secret_value(
            SecretId=target.arn,
            ClientRequestToken=token,
            SecretString=secret_string,
            VersionStages=[AWSPENDING],
        )
    except ClientError as exc:
        raise RotationError(
            step, f"storing the pending version of secret {target.name} failed ({_error_code(exc)}); retry"
        ) from exc


def move_stage(
    client: SecretsManagerClient,
    step: str,
    target: RotationTarget,
    stage: str,
    *,
    to_version: str | None = None,
    from_version: str | None = None,
) -> None:
    """``update_secret_version_stage``: move ``stage`` to ``to_version`` and/or remove it from
    ``from_version`` (moving AWSCURRENT also moves AWSPREVIOUS to the version it leaves)."""
    kwargs: dict[str, str] = {}
    if to_version is not None:
        kwargs["MoveToVersionId"] = to_version
    if from_version is not None:
        kwargs["RemoveFromVersionId"] = from_version
    try:
        client.update_secret_version_stage(SecretId=target.arn, VersionStage=stage, **kwargs)
    except ClientError as exc:
        raise RotationError(
            step,
            f"moving a version stage of secret {target.arn} failed ({_error_code(exc)}); retry the step",
        ) from exc


def reset_staging(client: SecretsManagerClient, step: str, target: RotationTarget) -> None:
    """Write ``{}`` (nothing staged) to the target's staging secret."""
    staging = target.staging_secret_id
    try:
        client.put_secret_value(SecretId=staging, SecretString=NOTHING_STAGED)
    except ClientError as exc:
        raise RotationError(step, f"resetting {staging} failed ({_error_code(exc)}); retry the step") from exc
