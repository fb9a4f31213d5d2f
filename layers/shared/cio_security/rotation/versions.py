"""The rotated secret in Secrets Manager: which secret and kind an event names, its versions and
stages, and every Secrets Manager call the steps make.

Each call turns a Secrets Manager failure into a RotationError for the step that made it, whose
message names the secret and the error code; values never appear. A failure a later call can get
past (a throttle, a server-side error, a timeout: ``failures.is_transient``) is a
RetryableRotationError, which Secrets Manager's retry can resume (``protocol._resumed``); any
other (AccessDenied, a KMS key the function may not use, ...) is permanent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from cio_security import config
from cio_security.errors import RotationError, SecretFormatError
from cio_security.rotation.failures import RetryableRotationError, aws_error_code, is_transient
from cio_security.rotation.kinds import KindName, SecretKind, secret_kind
from cio_security.rotation.staging import NOTHING_STAGED, staging_secret_name
from cio_security.workspaces import DEFAULT_WORKSPACE, SECRET_KINDS, secret_name

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from cio_security.rotation.settings import RotationSettings
    from cio_security.workspaces import SecretKind as WorkspaceSecretKind
    from cio_security.workspaces import Workspaces

__all__ = [
    "AWSCURRENT",
    "AWSPENDING",
    "AWSPREVIOUS",
    "RotationTarget",
    "abandon",
    "describe_target",
    "kind_name",
    "move_stage",
    "parse_current",
    "parse_pending",
    "read_current",
    "read_pending",
    "read_secret_string",
    "reset_staging",
    "store_pending",
]

logger = logging.getLogger(__name__)

AWSCURRENT: Final = "AWSCURRENT"
AWSPENDING: Final = "AWSPENDING"
AWSPREVIOUS: Final = "AWSPREVIOUS"
_NOT_FOUND: Final = frozenset({"ResourceNotFoundException"})
_ACCESS: Final = frozenset({"AccessDeniedException", "DecryptionFailure", "EncryptionFailure"})
_KIND_NAMES: Final[Mapping[WorkspaceSecretKind, KindName]] = {
    "track-credentials": "track",
    "webhook-signing-key": "signing_key",
    "app-api-key": "app_api_key",
}


def kind_name(kind: WorkspaceSecretKind) -> KindName:
    """The rotation's name of a workspace secret kind (``track-credentials`` -> ``track``)."""
    return _KIND_NAMES[kind]


def workspace_kind(kind: KindName) -> WorkspaceSecretKind:
    """The workspace secret kind of a rotation kind (``track`` -> ``track-credentials``)."""
    return next(k for k, name in _KIND_NAMES.items() if name == kind)


@dataclass(frozen=True)
class RotationTarget:
    """A secret this function rotates, as ``describe_secret`` reported it, and the workspace
    (``cio_security.workspaces``) it belongs to."""

    arn: str
    name: str
    kind: KindName
    rotation_enabled: bool
    versions: Mapping[str, tuple[str, ...]]
    workspace: str = DEFAULT_WORKSPACE

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


def _failed(step: str, what: str, exc: ClientError | BotoCoreError) -> RotationError:
    """The RotationError for a failed Secrets Manager call: retryable when a later call may
    succeed, permanent otherwise."""
    code = aws_error_code(exc)
    if is_transient(exc):
        return RetryableRotationError(
            step, f"{what} failed ({code}); the step is safe to retry and Secrets Manager retries it"
        )
    hint = ": check the rotation function's permissions and the secret's KMS key" if code in _ACCESS else ""
    return RotationError(step, f"{what} failed ({code}); a retry cannot fix this{hint}")


def describe_target(
    client: SecretsManagerClient, secret_id: str, settings: RotationSettings, *, step: str = "describe"
) -> RotationTarget:
    """Describe ``secret_id`` and find which workspace's secret, of which kind, it is.

    Secrets Manager passes the secret's ARN; the configuration may hold an ARN or a name, so the
    secret's name is compared (``Workspaces.owner_of``), and a configured id that is neither
    (a partial ARN) is resolved through describe_secret. Raises RotationError when the secret does
    not exist, is no configured workspace's secret, or is configured twice.
    """
    try:
        meta = client.describe_secret(SecretId=secret_id)
    except (ClientError, BotoCoreError) as exc:
        raise _failed(step, f"describing secret {secret_id}", exc) from exc
    arn, name = meta["ARN"], meta["Name"]
    workspaces = settings.workspace_set()
    owners = _owners(workspaces, arn, name)
    if not owners:
        for workspace in workspaces:
            for kind in SECRET_KINDS:
                configured = workspace.secret_id(kind)
                if configured is None or configured in (arn, name) or not configured.startswith("arn:"):
                    continue
                try:
                    if client.describe_secret(SecretId=configured)["ARN"] == arn:
                        owners.append((workspace.name, kind_name(kind)))
                except (ClientError, BotoCoreError):
                    continue
    if len(owners) != 1:
        raise RotationError(
            step,
            f"secret {name} is {'configured twice' if owners else 'not one this function rotates'}: "
            f"it rotates only the configured workspaces' secrets ({config.TRACK_CREDENTIALS_SECRET_ID}, "
            f"{config.SIGNING_KEY_SECRET_ID}, {config.APP_API_KEY_SECRET_ID} for the first workspace, "
            "{prefix}workspaces/{name}/{kind} for the others)",
        )
    owner, rotated_kind = owners[0]
    versions = {vid: tuple(stages) for vid, stages in meta.get("VersionIdsToStages", {}).items()}
    return RotationTarget(
        arn=arn,
        name=name,
        kind=rotated_kind,
        rotation_enabled=bool(meta.get("RotationEnabled")),
        versions=versions,
        workspace=owner,
    )


def _owners(workspaces: Workspaces, arn: str, name: str) -> list[tuple[str, KindName]]:
    """Every (workspace, kind) whose configured secret id is this secret, by ARN or name (more
    than one is a configuration error the caller reports)."""
    owners: list[tuple[str, KindName]] = []
    for workspace in workspaces:
        for kind in SECRET_KINDS:
            configured = workspace.secret_id(kind)
            if configured is not None and (configured == arn or secret_name(configured) == name):
                owners.append((workspace.name, kind_name(kind)))
    return owners


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
        if aws_error_code(exc) in _NOT_FOUND:
            return None
        raise _failed(step, f"reading secret {secret_id}", exc) from exc
    except BotoCoreError as exc:
        raise _failed(step, f"reading secret {secret_id}", exc) from exc
    value = response.get("SecretString")
    if value is None:
        raise RotationError(step, f"secret {secret_id} holds binary data, not a JSON string")
    return value


def read_current(client: SecretsManagerClient, step: str, target: RotationTarget) -> Any | None:
    """The AWSCURRENT value, or None when it is absent or not a value of the target's kind (the
    template's placeholder before the first rotation: the bootstrap case)."""
    return parse_current(target, read_secret_string(client, step, target.arn, stage=AWSCURRENT))


def parse_current(target: RotationTarget, raw: str | None) -> Any | None:
    """The AWSCURRENT string ``raw`` as a value of the target's kind, or None when it is absent
    or not one (the template's placeholder before the first rotation)."""
    if raw is None:
        return None
    try:
        return target.secret_kind.parse(raw, name=target.name)
    except SecretFormatError:
        return None


def read_pending(
    client: SecretsManagerClient,
    step: str,
    target: RotationTarget,
    token: str,
    *,
    stage: str | None = AWSPENDING,
) -> Any | None:
    """The value of version ``token`` (labelled ``stage``; None: whatever its labels), or None
    when it holds none yet.

    Raises RotationError when the value is not of the target's kind (nothing is promoted).
    """
    raw = read_secret_string(client, step, target.arn, version_id=token, stage=stage)
    return None if raw is None else parse_pending(step, target, raw)


def parse_pending(step: str, target: RotationTarget, raw: str) -> Any:
    """A pending version's string as a value of the target's kind; RotationError (permanent:
    the version's value never changes) when it is not one."""
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
    except (ClientError, BotoCoreError) as exc:
        raise _failed(step, f"storing the pending version of secret {target.name}", exc) from exc


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
    except (ClientError, BotoCoreError) as exc:
        raise _failed(step, f"moving {stage} of secret {target.name}", exc) from exc


def reset_staging(client: SecretsManagerClient, step: str, target: RotationTarget) -> None:
    """Write ``{}`` (nothing staged) to the target's staging secret."""
    staging = target.staging_secret_id
    try:
        client.put_secret_value(SecretId=staging, SecretString=NOTHING_STAGED)
    except (ClientError, BotoCoreError) as exc:
        raise _failed(step, f"resetting {staging}", exc) from exc


def _stages_of(client: SecretsManagerClient, target: RotationTarget, token: str) -> tuple[str, ...]:
    """The stages version ``token`` carries now (a failed step may have failed before the label
    was put back on it, or after it was removed)."""
    versions = client.describe_secret(SecretId=target.arn).get("VersionIdsToStages", {})
    return tuple(versions.get(token, ()))


def abandon(
    client: SecretsManagerClient, target: RotationTarget, token: str, failure: RotationError
) -> RotationError:
    """End a failed step: remove AWSPENDING from version ``token`` and return ``failure`` (of
    the same class: a RetryableRotationError stays one) with what became of the label added to
    its message (the error to raise).

    Secrets Manager refuses every later RotateSecret while AWSPENDING is on a version other than
    AWSCURRENT (``failures``), and nothing says which of its retries is the last, so the label
    goes whatever the failure; a retry of a rotation that can still succeed puts it back
    (``protocol._resumed``). When removing it fails, the message says so.
    """
    detail = str(failure).removeprefix(f"{failure.step}: ")
    error = type(failure) if isinstance(failure, RetryableRotationError) else RotationError
    try:
        if AWSPENDING in _stages_of(client, target, token):
            client.update_secret_version_stage(
                SecretId=target.arn, VersionStage=AWSPENDING, RemoveFromVersionId=token
            )
    except (ClientError, BotoCoreError) as exc:
        code = aws_error_code(exc)
        logger.warning(
            "removing AWSPENDING from a failed rotation's version failed",
            extra={"secret_name": target.name, "version_id": token, "error_code": code},
        )
        return error(
            failure.step,
            f"{detail}; removing AWSPENDING from version {token} failed ({code}): Secrets Manager "
            f"refuses a new rotation of {target.name} until it is removed (UpdateSecretVersionStage, "
            f"RemoveFromVersionId {token}); its retry of this rotation tries again",
        )
    if error is not RotationError:
        return error(
            failure.step,
            f"{detail}; AWSPENDING was removed from version {token} so that nothing blocks a new "
            f"rotation of {target.name}; Secrets Manager's retry resumes this one while the value "
            "is still staged",
        )
    return RotationError(
        failure.step,
        f"{detail}; AWSPENDING was removed from version {token}, so a new rotation of "
        f"{target.name} can start",
    )
