"""The response to a leaked credential (``ciosec secrets incident track|signing-key``): replace it,
prove the stack works with the new one, revoke the old one and prove it no longer works, and write
down what was done (who, when, which secret, which versions; never a value).

The steps, each recorded as one JSON line in an append-only file (``IncidentLog``):

1. ``started``: the secret and the version that holds the leaked value (AWSCURRENT).
2. ``created``: the operator has created the new credential in Customer.io (a new Track credential
   set or App API key in the same workspace; for the signing key, regenerated it: Customer.io then
   signs with the new key at once, so go on without a pause).
3. ``staged``: the new value, read from a hidden prompt or standard input, is in the staging secret.
4. ``rotated``: the rotation ran at once (the four steps; through Secrets Manager for a deployed
   stack) and the new version is AWSCURRENT.
5. ``grace_window_closed`` (signing key): AWSPREVIOUS is removed from the leaked key's version, so
   the webhook stops accepting it (it would for ``SIGNING_KEY_GRACE_SECONDS`` otherwise).
6. ``new_credential_works``: the stack's current value works: the Track region call answers 200
   (an App API key: the workspace list), or the webhook accepts a request signed with the new key.
7. ``old_credential_deleted``: the operator has deleted the old credential in Customer.io (a
   signing key needs nothing more: regenerating it replaced it).
8. ``old_credential_refused``: the old value no longer works, checked until ``revocation_timeout``
   seconds have passed: the region call (or the workspace list) answers 401 or 403, or the webhook
   answers 401 to a request signed with the old key.

The response stops at the first step that fails (recorded as ``failed``, with why); the record then
says how far it got. Values are read once, kept in memory, never printed nor written.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets as random_tokens
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import httpx

from cio_security.customerio.retry import DEFAULT
from cio_security.customerio.track import TrackClient
from cio_security.errors import AuthenticationError, CioSecurityError, RotationError, TransientError
from cio_security.rotation import AWSCURRENT, KindName, RotatedValue, RotationSettings, secret_kind
from cio_security.secrets.models import SigningKey, TrackCredentials
from cio_security.webhook.signature import sign_webhook
from ciosec.operations.rotation import (
    discard_stale_pending,
    rotate_locally,
    stage,
    start_rotation,
    wait_for_rotation,
)

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from ciosec.operations.stack import StackInfo

__all__ = [
    "AWSPREVIOUS",
    "IncidentLog",
    "IncidentResult",
    "Operator",
    "operator_identity",
    "respond",
]

AWSPREVIOUS = "AWSPREVIOUS"
Outcome = Literal["done", "failed", "confirmed", "not_confirmed", "skipped"]
# One attempt per call: the response's own loop waits and tries again.
_ONE_ATTEMPT = DEFAULT.with_changes(max_attempts=1)
_PROBE_TIMEOUT = 10.0
# How long a webhook execution environment waits before it re-reads its keys on a mismatch (the
# default SIGNING_KEY_REFRESH_SECONDS is 5), plus a margin.
_REFRESH_WAIT = 6.0


class IncidentLog:
    """The record of one response: JSON lines appended to ``path`` (created with its directories;
    never rewritten), each ``{"incident", "at", "who", "kind", "secret", "secret_arn", "step",
    "outcome", "versions", "detail"}``: ``versions`` names the Secrets Manager version ids involved
    (``leaked``, ``new``); ``detail`` is a sentence about what happened, never a value."""

    def __init__(
        self,
        path: Path,
        *,
        who: str,
        kind: KindName,
        secret: str,
        secret_arn: str = "",
        incident_id: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.path = path
        self.who = who
        self.kind = kind
        self.secret = secret
        self.secret_arn = secret_arn
        self.incident_id = incident_id or str(uuid.uuid4())
        self._clock = clock
        self.entries: list[dict[str, Any]] = []

    def record(self, step: str, outcome: Outcome, detail: str = "", **versions: str) -> dict[str, Any]:
        """Append one step to the file (and to ``entries``) and return it."""
        entry = {
            "incident": self.incident_id,
            "at": self._clock().isoformat(timespec="seconds").replace("+00:00", "Z"),
            "who": self.who,
            "kind": self.kind,
            "secret": self.secret,
            "secret_arn": self.secret_arn,
            "step": step,
            "outcome": outcome,
            "versions": {name: version for name, version in versions.items() if version},
            "detail": detail,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(entry, sort_keys=False) + "\n")
            file.flush()
            os.fsync(file.fileno())
        self.entries.append(entry)
        return entry


def operator_identity(stack: StackInfo, sts: Callable[[], Any]) -> str:
    """Who runs the response: the AWS caller identity's ARN for a deployed stack (``sts`` makes an
    STS client), the local user for the local stack (or when AWS cannot say)."""
    local_user = f"local user {getpass.getuser()}"
    if stack.endpoint_url:
        return local_user
    try:
        return str(sts().get_caller_identity()["Arn"])
    except Exception:  # noqa: BLE001 - who is asked for the record only; any failure falls back
        return local_user


@dataclass
class Operator:
    """How the response talks to the person running it: ``say`` prints a line; ``confirm`` asks a
    yes/no question (True without asking when the operator passed ``--yes``); ``new_value``
    reads the new value (a hidden prompt or standard input); ``wait_for_deletion`` lets the
    operator delete the old credential in Customer.io (a prompt; nothing when not interactive, as
    the check that follows waits for the deletion to take effect)."""

    say: Callable[[str], None]
    confirm: Callable[[str], bool]
    new_value: Callable[[KindName], RotatedValue]
    wait_for_deletion: Callable[[str], None] = field(default=lambda _message: None)


@dataclass
class IncidentResult:
    """How the response ended: ``complete`` when every step succeeded and the old credential is
    proven refused; ``entries`` is the record."""

    complete: bool
    entries: list[dict[str, Any]]


@dataclass
class _Context:
    client: SecretsManagerClient
    secret_id: str
    kind: KindName
    stack: StackInfo
    operator: Operator
    log: IncidentLog
    settings: RotationSettings
    revocation_timeout: float
    rotation_wait: float
    poster: Callable[..., httpx.Response]
    sleep: Callable[[float], object]
    clock: Callable[[], float]
    old_version: str = ""
    new_version: str = ""


class _Stop(Exception):  # noqa: N818 - control flow: a step failed and was recorded
    """A step failed; it has been recorded."""


# -- the checks -------------------------------------------------------------------------------------


def _track_answers(credentials: TrackCredentials, context: _Context) -> bool | None:
    """True when the region call answers 200, False on 401/403, None when Customer.io could not
    say (a 5xx, a timeout)."""
    try:
        with TrackClient(credentials, base_url=context.settings.track_url, retry=_ONE_ATTEMPT) as track:
            track.region()
    except AuthenticationError:
        return False
    except TransientError:
        return None
    return True


def _app_key_answers(key: Any, context: _Context) -> bool | None:
    """As ``_track_answers``, for an App API key: ``GET /v1/workspaces``."""
    from cio_security.customerio.app_api import AppClient  # noqa: PLC0415 - only for App API keys

    try:
        with AppClient(key, base_url=context.settings.app_url, retry=_ONE_ATTEMPT) as app:
            app.check()
    except AuthenticationError:
        return False
    except TransientError:
        return None
    return True


def _webhook_answer(url: str, key: bytes, context: _Context) -> int:
    """The status the webhook answers a probe signed with ``key``: a body that is no event, so an
    accepted probe is kept (``ciosec webhook quarantine list``), never published."""
    body = json.dumps({"ciosec_incident_probe": context.log.incident_id}).encode()
    headers = {"Content-Type": "application/json", **sign_webhook(key, body)}
    response = context.poster(url, content=body, headers=headers, timeout=_PROBE_TIMEOUT)
    return response.status_code


def _works(value: RotatedValue, context: _Context) -> bool | None:
    if isinstance(value, TrackCredentials):
        return _track_answers(value, context)
    if isinstance(value, SigningKey):
        url = context.stack.webhook_url
        if not url:
            return None
        status = _webhook_answer(url, value.key_bytes(), context)
        return True if status < 300 else False if status == 401 else None
    return _app_key_answers(value, context)


# -- the steps -------------------------------------------------------------------------------------------


def _value(context: _Context, version: str) -> RotatedValue:
    raw = context.client.get_secret_value(SecretId=context.secret_id, VersionId=version)["SecretString"]
    return cast("RotatedValue", secret_kind(context.kind).parse(raw, name=context.secret_id))


def _current_version(context: _Context) -> str:
    versions = context.client.describe_secret(SecretId=context.secret_id).get("VersionIdsToStages", {})
    return next((v for v, stages in versions.items() if AWSCURRENT in stages), "")


def _fail(context: _Context, step: str, detail: str) -> _Stop:
    context.log.record(step, "failed", detail, leaked=context.old_version, new=context.new_version)
    context.operator.say(f"{step}: FAILED: {detail}")
    return _Stop(detail)


_CREATE = {
    "track": (
        "Create a new Track API credential set in the same workspace in Customer.io (Settings > "
        "Account Settings > API Credentials). Keep the leaked one for now: the rotation checks the "
        "new set against it."
    ),
    "signing_key": (
        "Regenerate the reporting webhook's signing key in Customer.io and copy it. Customer.io "
        "signs with it at once: deliveries are refused until the rotation stores it, so go on "
        "without a pause."
    ),
    "app_api_key": (
        "Create a new App API key in Customer.io, in the workspace of the Track credentials, with "
        "the same scope. Keep the leaked one for now: the rotation checks the new key against it."
    ),
}


def _start(context: _Context) -> RotatedValue:
    context.old_version = _current_version(context)
    try:
        old = _value(context, context.old_version)
    except CioSecurityError as exc:
        raise _fail(context, "started", f"the current value is not a credential to replace ({exc})") from None
    context.log.record("started", "done", "response to a leaked credential begun", leaked=context.old_version)
    return old


def _create_and_stage(context: _Context) -> None:
    context.operator.say(_CREATE[context.kind])
    if not context.operator.confirm("Done in Customer.io?"):
        raise _fail(context, "created", "the operator did not confirm the new credential in Customer.io")
    context.log.record("created", "done", "the operator created the new credential in Customer.io")
    try:
        value = context.operator.new_value(context.kind)
        # Labelled with its workspace (the incident commands serve the primary's secrets), so a
        # reordered Workspaces parameter can never hand the new credential to another workspace.
        primary = context.stack.workspace_set().primary.name
        staging = stage(context.client, context.secret_id, context.kind, value, workspace=primary)
    except ValueError as exc:  # StageInputError: names fields, never values
        raise _fail(context, "staged", str(exc)) from None
    context.log.record("staged", "done", f"staged in {staging}", leaked=context.old_version)
    context.operator.say(f"staged in {staging}")


def _rotate(context: _Context) -> None:
    for version in discard_stale_pending(context.client, context.secret_id):
        context.operator.say(f"discarded the unfinished rotation of version {version}")
    try:
        if context.stack.rotation_function:
            token = start_rotation(context.client, context.secret_id)
            if not wait_for_rotation(context.client, context.secret_id, token, timeout=context.rotation_wait):
                raise RotationError(
                    "finishSecret", f"version {token} is not AWSCURRENT: see the rotation function's log"
                )
        else:
            for result in rotate_locally(context.client, context.secret_id, context.settings):
                context.operator.say(f"{result.step:<13} {result.outcome:<15} {result.message}")
    except RotationError as exc:
        raise _fail(context, "rotated", f"nothing was promoted: {exc}") from None
    context.new_version = _current_version(context)
    context.log.record(
        "rotated", "done", "the new value is AWSCURRENT", leaked=context.old_version, new=context.new_version
    )


def _close_grace_window(context: _Context) -> None:
    """Signing key: remove AWSPREVIOUS from the leaked key's version, so that the webhook's next key
    read leaves it out (it keeps AWSPREVIOUS for SIGNING_KEY_GRACE_SECONDS otherwise)."""
    stages = context.client.describe_secret(SecretId=context.secret_id).get("VersionIdsToStages", {})
    if AWSPREVIOUS in stages.get(context.old_version, []):
        context.client.update_secret_version_stage(
            SecretId=context.secret_id, VersionStage=AWSPREVIOUS, RemoveFromVersionId=context.old_version
        )
    context.log.record(
        "grace_window_closed",
        "done",
        "AWSPREVIOUS removed from the leaked key's version: the webhook no longer loads it",
        leaked=context.old_version,
    )


def _check_new(context: _Context) -> None:
    new = _value(context, context.new_version)
    works = _works(new, context)
    for _ in range(2 if context.kind == "signing_key" else 0):
        if works is not False:
            break
        # The environment the probe reached read its keys less than a refresh interval ago.
        context.sleep(_REFRESH_WAIT)
        works = _works(new, context)
    if works is None and context.kind == "signing_key" and not context.stack.webhook_url:
        context.log.record(
            "new_credential_works", "skipped", "no webhook URL to probe", new=context.new_version
        )
        return
    if works is None:
        raise _fail(
            context,
            "new_credential_works",
            "the check could not be made (Customer.io or the webhook did not answer, or the webhook "
            "refuses this address): check again before deleting the leaked credential",
        )
    if not works:
        raise _fail(context, "new_credential_works", "the stack's new credential was refused")
    what = (
        "the webhook accepted a request signed with the new key"
        if context.kind == "signing_key"
        else ("Customer.io accepted the new credential")
    )
    context.log.record("new_credential_works", "confirmed", what, new=context.new_version)
    context.operator.say(f"confirmed: {what}")


def _hint(old: RotatedValue) -> str:
    """Which credential to delete, without its secret part: a site id is public (it is in every
    tracked page), its last four characters are enough to tell sets apart."""
    if isinstance(old, TrackCredentials):
        return f"the set whose site id ends in {old.site_id[-4:]}"
    return "the key created before this one"


def _delete_old(context: _Context, old: RotatedValue) -> None:
    if context.kind == "signing_key":
        context.log.record(
            "old_credential_deleted",
            "skipped",
            "regenerating the key in Customer.io replaced it",
            leaked=context.old_version,
        )
        return
    what = "credential set" if context.kind == "track" else "App API key"
    message = f"Delete the leaked {what} in Customer.io now ({_hint(old)})."
    context.operator.say(message)
    context.operator.wait_for_deletion(message)
    context.log.record(
        "old_credential_deleted", "done", "the operator deleted it in Customer.io", leaked=context.old_version
    )


def _refused(old: RotatedValue, context: _Context) -> bool | None:
    if isinstance(old, SigningKey):
        url = context.stack.webhook_url
        if not url:
            return None
        # A request signed with a random key makes the execution environment it reaches re-read its
        # keys (at most once per refresh interval); then the old key's request finds it missing.
        _webhook_answer(url, random_tokens.token_bytes(32), context)
        context.sleep(_REFRESH_WAIT)
        status = _webhook_answer(url, old.key_bytes(), context)
        return True if status == 401 else False if status < 300 else None
    works = _works(old, context)
    return None if works is None else not works


def _check_old_refused(context: _Context, old: RotatedValue) -> bool:
    if context.kind == "signing_key" and not context.stack.webhook_url:
        context.log.record(
            "old_credential_refused", "skipped", "no webhook URL to probe", leaked=context.old_version
        )
        return False
    deadline = context.clock() + context.revocation_timeout
    while True:
        refused = _refused(old, context)
        if refused:
            what = (
                "the webhook refused a request signed with the leaked key (401)"
                if context.kind == "signing_key"
                else "Customer.io refused the leaked credential (401/403)"
            )
            context.log.record("old_credential_refused", "confirmed", what, leaked=context.old_version)
            context.operator.say(f"confirmed: {what}")
            return True
        if context.clock() >= deadline:
            detail = (
                f"the leaked credential still works after {context.revocation_timeout:g} s"
                if refused is False
                else f"it could not be checked within {context.revocation_timeout:g} s"
            )
            context.log.record("old_credential_refused", "not_confirmed", detail, leaked=context.old_version)
            context.operator.say(f"NOT confirmed: {detail}; delete it in Customer.io and run the check again")
            return False
        context.sleep(min(10.0, max(1.0, context.revocation_timeout / 10)))


def respond(
    client: SecretsManagerClient,
    secret_id: str,
    kind: KindName,
    *,
    stack: StackInfo,
    operator: Operator,
    log: IncidentLog,
    settings: RotationSettings,
    revocation_timeout: float = 300.0,
    rotation_wait: float = 120.0,
    poster: Callable[..., httpx.Response] = httpx.post,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> IncidentResult:
    """Run the response (module docstring) for the secret ``secret_id`` of ``kind``. ``settings``
    says where Customer.io is (the sandbox's URLs locally); ``poster`` sends the webhook probes
    (``httpx.post``); ``sleep`` and ``clock`` pace the revocation check."""
    context = _Context(
        client=client,
        secret_id=secret_id,
        kind=kind,
        stack=stack,
        operator=operator,
        log=log,
        settings=settings,
        revocation_timeout=revocation_timeout,
        rotation_wait=rotation_wait,
        poster=poster,
        sleep=sleep,
        clock=clock,
    )
    try:
        old = _start(context)
        _create_and_stage(context)
        _rotate(context)
        if kind == "signing_key":
            _close_grace_window(context)
        _check_new(context)
        _delete_old(context, old)
        complete = _check_old_refused(context, old)
    except _Stop:
        complete = False
    return IncidentResult(complete=complete, entries=list(log.entries))
