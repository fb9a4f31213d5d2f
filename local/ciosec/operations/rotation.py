"""The operator's side of rotation (``ciosec secrets ...``): stage a new value, start a rotation,
show where a rotation stands. Secret values are read from a prompt or standard input, never from
the command line, and never printed.

Against AWS, ``start_rotation`` calls RotateSecret and Secrets Manager invokes the rotation
function. Against the local stack (moto, which cannot run the function), ``rotate_locally``
plays Secrets Manager's part: it announces a new version id labelled AWSPENDING that holds no
value yet (what real Secrets Manager does when a rotation starts, see ``PendingVersionOverlay``),
then runs the four steps through ``cio_security.rotation.rotate``, the code the function runs.

Every command targets one workspace's secret (``secret_for``): the primary's by default (the
stack's original secrets), or another workspace's, named by ``cio_security.workspaces``.
"""

from __future__ import annotations

import getpass
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TextIO, cast

from botocore.exceptions import ClientError

from cio_security.errors import RotationError, SecretFormatError
from cio_security.rotation import (
    AWSCURRENT,
    AWSPENDING,
    STEPS,
    KindName,
    RotatedValue,
    RotationSettings,
    StepResult,
    canonical_json,
    rotate,
    secret_kind,
    staging_secret_name,
)
from cio_security.workspaces import SecretKind, UnknownWorkspaceError, Workspace

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from ciosec.operations.stack import StackInfo

CLI_KINDS: dict[str, KindName] = {
    "track": "track",
    "signing-key": "signing_key",
    "app-api-key": "app_api_key",
}
_FIELDS: dict[KindName, tuple[str, ...]] = {
    "track": ("site_id", "api_key", "region"),
    "signing_key": ("signing_key",),
    "app_api_key": ("app_api_key", "region"),
}
WORKSPACE_KINDS: dict[KindName, SecretKind] = {
    "track": "track-credentials",
    "signing_key": "webhook-signing-key",
    "app_api_key": "app-api-key",
}
"""How ``cio_security.workspaces`` names each rotated kind (its secrets' names end in it)."""
StagedState = Literal["nothing", "valid", "invalid", "missing"]


class StageInputError(ValueError):
    """The value given to ``stage`` cannot be used; the message never quotes it."""


class TargetError(ValueError):
    """The secret a command names does not exist in the stack: an unknown workspace (the message
    lists the stack's), or a kind the stack has no secret of."""


def workspace_for(stack: StackInfo, workspace: str | None = None) -> Workspace:
    """The stack's workspace called ``workspace`` (None: the primary), with its secrets.

    Raises TargetError, in one line naming the stack's workspaces, for one it does not have.
    """
    workspaces = stack.workspace_set()
    try:
        return workspaces.primary if workspace is None else workspaces.get(workspace)
    except UnknownWorkspaceError:
        raise TargetError(
            f"unknown workspace {workspace!r}: the stack's workspaces are {', '.join(workspaces.names)}"
        ) from None


def secret_for(stack: StackInfo, kind: KindName, workspace: str | None = None) -> str:
    """The id of ``workspace``'s secret of ``kind`` (None: the primary's): the stack's original
    secret for the primary, ``{prefix}workspaces/{name}/{kind}`` for any other.

    Raises TargetError, in one line, for a workspace the stack does not have (naming the ones it
    has) or a kind the stack holds no secret of.
    """
    target = workspace_for(stack, workspace)
    secret_id = target.secret_id(WORKSPACE_KINDS[kind])
    if not secret_id:
        raise TargetError(f"the stack has no {kind.replace('_', '-')} secret for workspace {target.name}")
    return secret_id


# -- reading a new value ---------------------------------------------------------------------------


def read_new_value(
    kind: KindName,
    stdin: TextIO,
    *,
    interactive: bool,
    secret_prompt: Callable[[str], str] = getpass.getpass,
    ask: Callable[[str], str] = input,
) -> tuple[RotatedValue, list[str]]:
    """Read and validate a new value of ``kind``; returns it and the names of ignored fields.

    Interactive (a terminal): the site id and region are asked for, the API key or signing key
    read with a hidden prompt. Otherwise standard input holds a JSON object (only the kind's
    fields are used, so ``ciosec sandbox new-credentials`` output can be piped in) or, for a
    signing key, the bare key on one line.

    Raises StageInputError (naming fields, never values).
    """
    ignored: list[str] = []
    if interactive:
        if kind == "track":
            data: dict[str, Any] = {
                "site_id": ask("Customer.io site id: ").strip(),
                "api_key": secret_prompt("Track API key (hidden): ").strip(),
                "region": (ask("Region, us or eu [us]: ").strip() or "us").lower(),
            }
        elif kind == "app_api_key":
            data = {
                "app_api_key": secret_prompt("App API key (hidden): ").strip(),
                "region": (ask("Region, us or eu [us]: ").strip() or "us").lower(),
            }
        else:
            data = {"signing_key": secret_prompt("Webhook signing key (hidden): ").strip()}
    else:
        text = stdin.read().strip()
        if not text:
            raise StageInputError("nothing on standard input: pipe the new value in, or run in a terminal")
        try:
            parsed: Any = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            data = {k: v for k, v in parsed.items() if k in _FIELDS[kind]}
            ignored = sorted(str(k) for k in parsed if k not in _FIELDS[kind])
        elif kind == "signing_key" and "\n" not in text:
            data = {"signing_key": text}
        else:
            shapes = {
                "track": ' {"site_id", "api_key", "region"}',
                "app_api_key": ' {"app_api_key", "region"}',
                "signing_key": " or a single-line key",
            }
            raise StageInputError("standard input is not a JSON object" + shapes[kind])
    try:
        return secret_kind(kind).parse(data, name="the new value"), ignored
    except SecretFormatError as exc:
        raise StageInputError(str(exc)) from None


# -- staging ---------------------------------------------------------------------------------------


def _name(client: SecretsManagerClient, secret_id: str) -> str:
    return str(client.describe_secret(SecretId=secret_id)["Name"])


def stage(
    client: SecretsManagerClient,
    secret_id: str,
    kind: KindName,
    value: RotatedValue,
    *,
    workspace: str | None = None,
) -> str:
    """Write ``value`` to the staging secret of ``secret_id`` and return the staging secret's name.

    ``workspace``: the workspace the secret belongs to (``workspace_for``), written into the value
    as its ``"workspace"`` label, so the rotation and the functions refuse the value if it ever
    ends up read for another workspace (a reordered ``Workspaces``). None: the value is staged
    without a label (accepted as before).

    Raises StageInputError when ``value`` is the secret's current value (rotating to it would
    be refused by createSecret anyway).
    """
    if workspace is not None:
        value = value.model_copy(update={"workspace": workspace})
    name = _name(client, secret_id)
    try:
        current_raw = client.get_secret_value(SecretId=secret_id, VersionStage=AWSCURRENT)["SecretString"]
        current: RotatedValue | None = secret_kind(kind).parse(current_raw, name=name)
    except (ClientError, KeyError, SecretFormatError):
        current = None
    if current is not None and secret_kind(kind).same_value(value, current):
        raise StageInputError(f"this is the current value of {name}: create a new one in Customer.io first")
    staging = staging_secret_name(name)
    client.put_secret_value(SecretId=staging, SecretString=canonical_json(value))
    return staging


def discard_stale_pending(client: SecretsManagerClient, secret_id: str) -> list[str]:
    """Remove AWSPENDING from versions an unfinished rotation left behind.

    A rotation that failed for good removes its own label; one left for Secrets Manager's retry
    (Customer.io or Secrets Manager unavailable) keeps it, and while it does Secrets Manager
    refuses a new RotateSecret ("A previous rotation isn't complete"). The operator asking for a
    new rotation replaces it. Returns the version ids cleaned.
    """
    meta = client.describe_secret(SecretId=secret_id)
    cleaned = []
    for version_id, stages in meta.get("VersionIdsToStages", {}).items():
        if AWSPENDING in stages:
            client.update_secret_version_stage(
                SecretId=secret_id, VersionStage=AWSPENDING, RemoveFromVersionId=version_id
            )
            cleaned.append(version_id)
    return cleaned


# -- rotating --------------------------------------------------------------------------------------


def _not_found(operation: str, what: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ResourceNotFoundException", "Message": f"no value for {what}"}}, operation
    )


class PendingVersionOverlay:
    """A Secrets Manager client that adds what RotateSecret does in real Secrets Manager.

    Real Secrets Manager, when a rotation starts, lists the new token in ``VersionIdsToStages``
    with AWSPENDING but stores no value for it until createSecret puts one (reading it answers
    ResourceNotFoundException), and reports ``RotationEnabled``. moto's RotateSecret instead
    copies the current value into the pending version, which would fool createSecret's "does the
    pending version already hold a value?" check. This wrapper shows the real behaviour for one
    secret and token; every call is passed to the wrapped client, and once createSecret has
    written the version the wrapped client's own answers are used. Removing AWSPENDING from the
    token before createSecret wrote it (a rotation that failed for good) ends the rotation: the
    token is no longer shown.
    """

    def __init__(self, client: SecretsManagerClient, secret_id: str, token: str) -> None:
        self._client = client
        meta = client.describe_secret(SecretId=secret_id)
        self._ids = {meta["ARN"], meta["Name"], secret_id}
        self._token = token
        self._released = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def _written(self) -> bool:
        meta = self._client.describe_secret(SecretId=next(iter(self._ids)))
        return self._token in meta.get("VersionIdsToStages", {})

    def describe_secret(self, **kwargs: Any) -> Any:
        meta: dict[str, Any] = dict(self._client.describe_secret(**kwargs))
        if kwargs.get("SecretId") in self._ids:
            meta["RotationEnabled"] = True
            versions = {k: list(v) for k, v in meta.get("VersionIdsToStages", {}).items()}
            if self._token not in versions and not self._released:
                for stages in versions.values():
                    if AWSPENDING in stages:
                        stages.remove(AWSPENDING)
                versions[self._token] = [AWSPENDING]
            meta["VersionIdsToStages"] = versions
        return meta

    def update_secret_version_stage(self, **kwargs: Any) -> Any:
        releases_token = (
            kwargs.get("SecretId") in self._ids
            and kwargs.get("VersionStage") == AWSPENDING
            and kwargs.get("RemoveFromVersionId") == self._token
            and "MoveToVersionId" not in kwargs
        )
        if releases_token and not self._written():
            self._released = True
            meta = self._client.describe_secret(SecretId=next(iter(self._ids)))
            return {"ARN": meta["ARN"], "Name": meta["Name"]}
        return self._client.update_secret_version_stage(**kwargs)

    def get_secret_value(self, **kwargs: Any) -> Any:
        if kwargs.get("SecretId") in self._ids and not self._written():
            asks_token = kwargs.get("VersionId") == self._token
            asks_pending = kwargs.get("VersionStage") == AWSPENDING and "VersionId" not in kwargs
            if asks_token or asks_pending:
                raise _not_found("GetSecretValue", "the pending version")
        return self._client.get_secret_value(**kwargs)


def new_token() -> str:
    """A ClientRequestToken (the version id of the value being rotated in)."""
    return str(uuid.uuid4())


def rotate_locally(
    client: SecretsManagerClient,
    secret_id: str,
    settings: RotationSettings,
    *,
    token: str | None = None,
    steps: Iterable[str] = STEPS,
    on_step: Callable[[StepResult], None] | None = None,
) -> list[StepResult]:
    """Rotate ``secret_id`` the way Secrets Manager would, for a stack without the service
    (moto): a new token announced as AWSPENDING without a value, then each step through
    ``cio_security.rotation.rotate``. Raises RotationError at the first failing step; as in
    Secrets Manager, AWSCURRENT is untouched. A step that failed for good has removed AWSPENDING
    from the version; one Secrets Manager would retry (RetryableRotationError) leaves it, and the
    next ``ciosec secrets rotate`` discards it (``discard_stale_pending``).
    """
    token = token or new_token()
    overlay = cast("SecretsManagerClient", PendingVersionOverlay(client, secret_id, token))
    results = []
    for step in steps:
        result = rotate(overlay, secret_id=secret_id, token=token, step=step, settings=settings)
        results.append(result)
        if on_step is not None:
            on_step(result)
    return results


def start_rotation(client: SecretsManagerClient, secret_id: str, *, token: str | None = None) -> str:
    """Ask Secrets Manager to rotate ``secret_id`` now (it invokes the rotation function);
    returns the token (the version id being rotated in)."""
    token = token or new_token()
    client.rotate_secret(SecretId=secret_id, ClientRequestToken=token)
    return token


def wait_for_rotation(
    client: SecretsManagerClient,
    secret_id: str,
    token: str,
    *,
    timeout: float,
    interval: float = 2.0,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """True once version ``token`` is AWSCURRENT; False when ``timeout`` seconds pass first."""
    deadline = clock() + timeout
    while True:
        stages = client.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {}).get(token, [])
        if AWSCURRENT in stages:
            return True
        if clock() >= deadline:
            return False
        sleep(interval)


# -- status ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionInfo:
    version_id: str
    stages: tuple[str, ...]
    created: datetime | None


@dataclass(frozen=True)
class SecretStatus:
    """Where a rotated secret stands; no values, only whether they are valid."""

    kind: KindName
    name: str
    rotation_enabled: bool
    last_rotated: datetime | None
    next_rotation: datetime | None
    current_valid: bool
    staged: StagedState
    versions: list[VersionInfo] = field(default_factory=list)

    @property
    def pending(self) -> list[str]:
        """Version ids labelled AWSPENDING but not AWSCURRENT (an unfinished rotation)."""
        return [v.version_id for v in self.versions if AWSPENDING in v.stages and AWSCURRENT not in v.stages]


def secret_status(client: SecretsManagerClient, secret_id: str, kind: KindName) -> SecretStatus:
    """Describe a rotated secret and its staging secret (values are validated, never returned)."""
    meta = client.describe_secret(SecretId=secret_id)
    name = meta["Name"]
    created: dict[str, datetime] = {}
    try:
        for version in client.list_secret_version_ids(SecretId=secret_id, MaxResults=100).get("Versions", []):
            if "CreatedDate" in version:
                created[version["VersionId"]] = version["CreatedDate"]
    except ClientError:
        pass
    versions = [
        VersionInfo(vid, tuple(stages), created.get(vid))
        for vid, stages in meta.get("VersionIdsToStages", {}).items()
        if stages
    ]
    return SecretStatus(
        kind=kind,
        name=name,
        rotation_enabled=bool(meta.get("RotationEnabled")),
        last_rotated=meta.get("LastRotatedDate"),
        next_rotation=meta.get("NextRotationDate"),
        current_valid=_state(client, secret_id, kind, name) == "valid",
        staged=_state(client, staging_secret_name(name), kind, name),
        versions=versions,
    )


def _state(client: SecretsManagerClient, secret_id: str, kind: KindName, name: str) -> StagedState:
    try:
        raw = client.get_secret_value(SecretId=secret_id, VersionStage=AWSCURRENT).get("SecretString") or ""
    except ClientError:
        return "missing"
    if raw.strip() in ("", "{}"):
        return "nothing"
    try:
        secret_kind(kind).parse(raw, name=name)
    except SecretFormatError:
        return "invalid"
    return "valid"


def format_status(status: SecretStatus) -> str:
    """A few human-readable lines about one secret."""

    def when(moment: datetime | None) -> str:
        return moment.isoformat(timespec="seconds") if moment else "-"

    staged = {
        "nothing": "nothing staged",
        "valid": "a valid value is staged: rotate to promote it",
        "invalid": "an INVALID value is staged: stage again",
        "missing": f"staging secret {staging_secret_name(status.name)} is missing",
    }[status.staged]
    current = "valid" if status.current_valid else "NOT a valid value (stage one and rotate)"
    lines = [
        f"{status.name} ({status.kind})",
        f"  current value   {current}",
        f"  staged          {staged}",
        f"  rotation        {'enabled' if status.rotation_enabled else 'not enabled'}; "
        f"last {when(status.last_rotated)}, next {when(status.next_rotation)}",
    ]
    if status.pending:
        lines.append(
            f"  unfinished      {', '.join(status.pending)} (AWSPENDING; the next rotate discards it)"
        )
    for version in sorted(status.versions, key=lambda v: v.created.timestamp() if v.created else 0.0):
        lines.append(
            f"  version         {version.version_id}  {','.join(version.stages)}  {when(version.created)}"
        )
    return "\n".join(lines)


__all__ = [
    "CLI_KINDS",
    "PendingVersionOverlay",
    "RotationError",
    "SecretStatus",
    "StageInputError",
    "discard_stale_pending",
    "format_status",
    "new_token",
    "read_new_value",
    "rotate_locally",
    "secret_status",
    "stage",
    "start_rotation",
    "wait_for_rotation",
]
