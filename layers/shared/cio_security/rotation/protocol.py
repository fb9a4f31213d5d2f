"""The four-step rotation of the Track API credentials and the webhook signing key (DESIGN 5).

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

What differs between Track credentials and a signing key (model, staged shape, comparison, the
test of a pending value) is the target's ``SecretKind`` (``kinds``); the Secrets Manager calls
are in ``versions``. Every step is safe to retry and leaves AWSCURRENT alone until
``finish_secret``; a failed test never promotes. Failures raise RotationError(step, message)
whose message tells the operator what to do. Secret values never appear in messages or logs.

A failed step always removes AWSPENDING from the version, because Secrets Manager refuses every
later rotation (and stack update) while it is left there (``failures``). A step that fails for a
reason a retry can get past raises a RetryableRotationError, and Secrets Manager's retry of the
rotation (same token) puts the label back and resumes while the value is still staged
(``_resumed``); a step that fails for good (nothing or the wrong thing staged, a refused test)
raises a RotationError that says what to do.

Which workspace and kind a secret is, is configuration (``cio_security.workspaces``: the first
workspace's ``TRACK_CREDENTIALS_SECRET_ID``, ``SIGNING_KEY_SECRET_ID``, ``APP_API_KEY_SECRET_ID``,
names or ARNs; the others' ``{prefix}workspaces/{name}/{kind}``): any other secret is refused.
testSecret also keeps workspaces apart (``isolation``): a value of one workspace is never
promoted into another's secret; createSecret and testSecret both refuse a value labelled
(``"workspace"``, written by ``ciosec secrets stage --workspace``) for another workspace than the
secret's owner.

>>> settings = RotationSettings.from_env()                                          # doctest: +SKIP
>>> rotate(client, secret_id=arn, token=token, step="createSecret", settings=settings)  # doctest: +SKIP
StepResult(step='createSecret', kind='track', ..., outcome='completed', ...)
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Final

from cio_security.errors import RotationError, SecretFormatError
from cio_security.rotation.isolation import check_distinct, check_label, workspace_peers
from cio_security.rotation.kinds import canonical_json
from cio_security.rotation.outcome import STEPS, Step, StepOutcome, StepResult
from cio_security.rotation.staging import is_nothing_staged
from cio_security.rotation.versions import (
    AWSCURRENT,
    AWSPENDING,
    RotationTarget,
    abandon,
    describe_target,
    move_stage,
    parse_current,
    parse_pending,
    read_current,
    read_pending,
    read_secret_string,
    reset_staging,
    store_pending,
)

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from cio_security.rotation.settings import RotationSettings

__all__ = ["create_secret", "finish_secret", "rotate", "set_secret", "test_secret"]

logger = logging.getLogger(__name__)

CONFIGURATION_TEST: Final = (
    "no new pending value to test (Secrets Manager's configuration test); nothing promoted"
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
        RetryableRotationError: the step failed for a reason Secrets Manager's retry can get
            past; AWSPENDING was removed, and the retry puts it back (``_resumed``).
        RotationError: an unknown step; the secret is not configured; rotation is not enabled;
            the token is not a version of the secret or not AWSPENDING; or the step failed for
            good, in which case AWSPENDING was removed from the version (the message says so).
    """
    if step not in STEPS:
        raise RotationError(step, f"unknown rotation step {step!r}: expected one of {', '.join(STEPS)}")
    target = describe_target(client, secret_id, settings, step=step)
    if not target.rotation_enabled:
        raise RotationError(step, f"rotation is not enabled for secret {target.name}")
    stages = target.versions.get(token) or _resumed_or_abandoned(client, step, target, token)
    if stages is None:
        raise RotationError(step, f"version {token} has no stage for rotation of secret {target.name}")
    if AWSCURRENT in stages:
        if step == "finishSecret":
            # A finishSecret retried after it moved AWSCURRENT: finish what it left.
            if AWSPENDING in stages:
                move_stage(client, step, target, AWSPENDING, from_version=token)
            _clear_staging_after_promotion(client, step, target, token)
        return _result(
            step,
            target,
            token,
            "already_current",
            f"version {token} is already AWSCURRENT for secret {target.name}: nothing to do",
        )
    if AWSPENDING not in stages:
        raise RotationError(
            step,
            f"version {token} is not set as AWSPENDING for rotation of secret {target.name} (a "
            "rotation that failed for good no longer is: stage a value and start a new one)",
        )
    try:
        if step == "createSecret":
            return create_secret(client, target, token)
        if step == "setSecret":
            return set_secret(client, target, token)
        if step == "testSecret":
            return test_secret(client, target, token, settings)
        return finish_secret(client, target, token)
    except RotationError as failure:
        raise abandon(client, target, token, failure) from failure
    except Exception as defect:
        # A defect: whether a retry helps is unknown, but a left label would block every later
        # rotation and stack update; the error itself goes on unchanged.
        abandon(client, target, token, RotationError(step, type(defect).__name__))
        raise


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
        RotationError: nothing is staged (``{}`` or empty), the staged value is invalid, labelled
            for another workspace than the secret's owner (``isolation.check_label``) or the same
            as the current one (each message says what to stage and where), or a Secrets Manager
            call failed.
    """
    step: Step = "createSecret"
    kind = target.secret_kind
    # By version id alone: ``rotate`` checked the label (or is resuming a rotation whose label a
    # failed attempt removed before any value was stored: ``_resumed``).
    if read_secret_string(client, step, target.arn, version_id=token) is not None:
        return _result(
            step, target, token, "unchanged", f"version {token} of secret {target.name} already holds a value"
        )
    staging = target.staging_secret_id
    instructions = kind.staging_instructions(target.name)
    raw = read_secret_string(client, step, staging, stage=AWSCURRENT)
    if raw is None:
        raise RotationError(
            step, f"the staging secret {staging} does not exist: deploy the template, then {instructions}"
        )
    if is_nothing_staged(raw):
        raise RotationError(step, f"nothing is staged for secret {target.name}: {instructions}")
    try:
        staged = kind.parse(raw, name=staging)
    except SecretFormatError as exc:
        raise RotationError(step, f"{exc}: {instructions}") from None
    check_label(step, target, staged, where=staging)
    current = read_current(client, step, target)
    if current is not None and kind.same_value(staged, current):
        raise RotationError(
            step,
            f"the value staged in {staging} is the current value of secret {target.name}: create a "
            f"new one in Customer.io, then {instructions}",
        )
    store_pending(client, step, target, token, canonical_json(staged))
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

    The check is the kind's ``verify_pending``:

    - Track credentials: ``GET /api/v1/accounts/region`` with the pending credentials must answer
      200 with a ``region`` equal to their declared region; then the same call with the current
      credentials must report the same ``region`` and ``environment_id`` (workspace): a key of
      another workspace or region is refused. First rotation: when AWSCURRENT is not a valid
      credential set (the template's placeholder), there is nothing to compare with and only the
      first check applies.
    - Signing key: the model's length and character checks, and not the current key.

    First of all (no call), the pending value must not be labelled for another workspace than
    the secret's owner (``isolation.check_label``), whatever Customer.io would answer for it.
    Then workspace isolation (``isolation``): the pending value is no other workspace's value of
    the same kind (AWSCURRENT, AWSPENDING, AWSPREVIOUS), and the kind's ``verify_isolation``
    (Track credentials: not another workspace's region and ``environment_id``, first rotation
    included; App API key: its account lists its own workspace).

    A pending version without a value, or holding the current value, is Secrets Manager's
    configuration test (createSecret never leaves either): it passes without promoting anything.
    The current value is compared with the pending one as it is stored, before either is
    parsed, because before the first rotation it is the template's placeholder, which is not a
    valid value.

    Args:
        client: a boto3 Secrets Manager client.
        target: the secret being rotated.
        token: the version id of the pending version.
        settings: the Track URL override and the retry policy of the Customer.io calls.

    Raises:
        RetryableRotationError: Customer.io or Secrets Manager could not be reached this time
            (Secrets Manager retries; nothing is promoted).
        RotationError: the pending version is invalid, is rejected by Customer.io, or belongs to
            another workspace or region.
    """
    step: Step = "testSecret"
    kind = target.secret_kind
    # createSecret never leaves a version without a value or with the current value, so either
    # can only be Secrets Manager's own configuration test, run when a RotationSchedule is
    # created without rotating at once: "The test creates an AWSPENDING version of the secret
    # and then removes it" (RotateImmediately in
    # https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html).
    # AWS does not say whether that version is empty or a copy of the current value, so both
    # pass, without promoting anything and without touching the label (Secrets Manager removes
    # the version itself).
    raw_pending = read_secret_string(client, step, target.arn, version_id=token, stage=AWSPENDING)
    if raw_pending is None:
        return _result(step, target, token, "unchanged", CONFIGURATION_TEST)
    raw_current = read_secret_string(client, step, target.arn, stage=AWSCURRENT)
    if raw_current is not None and _same_json(raw_pending, raw_current):
        return _result(step, target, token, "unchanged", CONFIGURATION_TEST)
    pending = parse_pending(step, target, raw_pending)
    # Before the "same as current" shortcut: the current value relabelled for another workspace
    # would otherwise pass as Secrets Manager's configuration test and be promoted.
    check_label(step, target, pending, where=f"version {token} (AWSPENDING)")
    current = parse_current(target, raw_current)
    if current is not None and kind.same_value(pending, current):
        return _result(step, target, token, "unchanged", CONFIGURATION_TEST)
    peers = workspace_peers(client, target, settings)
    check_distinct(target, pending, peers)  # Secrets Manager reads only: before any Customer.io call
    message = kind.verify_pending(pending, current, secret_name=target.name, settings=settings)
    note = kind.verify_isolation(pending, peers, secret_name=target.name, settings=settings)
    return _result(step, target, token, "completed", f"{message}; {note}" if note else message)


test_secret.__test__ = False  # type: ignore[attr-defined]  # a protocol step, not a pytest test


def finish_secret(client: SecretsManagerClient, target: RotationTarget, token: str) -> StepResult:
    """finishSecret: make ``token`` AWSCURRENT and tidy up.

    In order: check that the version holds a value (an empty version is never promoted); move
    AWSCURRENT to ``token`` with ``update_secret_version_stage(MoveToVersionId=token,
    RemoveFromVersionId=<current>)``, which moves AWSPREVIOUS to the old version; remove
    AWSPENDING from ``token``; reset the staging secret to ``{}`` when it still holds the promoted
    value (a different value, staged meanwhile for the next rotation, is left in place; a reset
    that fails is logged, the promotion stands). Each part is skipped when already done, so a
    retry converges.

    Args:
        client: a boto3 Secrets Manager client.
        target: the secret being rotated.
        token: the version id to promote.

    Raises:
        RotationError: the version holds no value, or a Secrets Manager call failed (retry).
    """
    step: Step = "finishSecret"
    promoted = read_pending(client, step, target, token)
    if promoted is None:
        raise RotationError(
            step,
            f"version {token} of secret {target.name} holds no value: createSecret has not run for "
            "it; start the rotation again",
        )
    staging = target.staging_secret_id
    current_version = target.current_version
    if current_version != token:
        move_stage(client, step, target, AWSCURRENT, to_version=token, from_version=current_version)
    move_stage(client, step, target, AWSPENDING, from_version=token)
    cleared = _clear_staging_after_promotion(client, step, target, token, promoted)
    if cleared is None:
        staged_note = f"{staging} could not be cleared: it still holds the promoted value"
    elif cleared:
        staged_note = f"{staging} is empty ({{}})"
    else:
        staged_note = f"{staging} holds another value, left in place for the next rotation"
    return _result(
        step,
        target,
        token,
        "completed",
        f"version {token} is now AWSCURRENT of secret {target.name} ({staged_note}); "
        f"{target.secret_kind.after_promotion}",
    )


# -- helpers ----------------------------------------------------------------------------------------


def _resumed_or_abandoned(
    client: SecretsManagerClient, step: Step, target: RotationTarget, token: str
) -> tuple[str, ...] | None:
    """``_resumed``; when it fails, putting the label back may have half-happened: removed again."""
    try:
        return _resumed(client, step, target, token)
    except RotationError as failure:
        raise abandon(client, target, token, failure) from failure


def _resumed(
    client: SecretsManagerClient, step: Step, target: RotationTarget, token: str
) -> tuple[str, ...] | None:
    """The stages of ``token`` when this invocation resumes a rotation whose AWSPENDING label a
    failed attempt removed (``abandon``), else None.

    A failed step always removes the label, because a label left behind blocks every later
    rotation and stack update, and AWS does not say how many retries follow nor which is the
    last. Secrets Manager retries a failed rotation with the same token; it may resume when
    nothing else is being rotated (no version but ``token`` could carry AWSPENDING) and either

    - the step is createSecret and ``token`` holds no value yet: createSecret runs as it always
      does (every check of the staged value, then the value is stored under AWSPENDING); or
    - ``token`` holds exactly the value still staged (the staging secret is cleared only once a
      rotation is promoted) and that value is not the current one: AWSPENDING is put back on it.
      An old version cannot be resumed this way (its value is no longer the staged one), nor a
      value another rotation has promoted since (resuming it would move AWSPREVIOUS off the real
      previous version).
    """
    if any(AWSPENDING in stages for stages in target.versions.values()):
        return None
    raw = read_secret_string(client, step, target.arn, version_id=token)
    if raw is None:
        if step != "createSecret":
            return None
        return _put_back(client, step, target, token)
    staged_raw = read_secret_string(client, step, target.staging_secret_id, stage=AWSCURRENT)
    if staged_raw is None or is_nothing_staged(staged_raw):
        return None
    kind = target.secret_kind
    try:
        staged, held = (
            kind.parse(staged_raw, name=target.staging_secret_id),
            kind.parse(raw, name=target.name),
        )
    except SecretFormatError:
        return None
    if not kind.same_value(staged, held):
        return None
    current = read_current(client, step, target)
    if current is not None and kind.same_value(held, current):
        return None  # promoted since (by another rotation): nothing left to resume
    return _put_back(client, step, target, token)


def _put_back(
    client: SecretsManagerClient, step: Step, target: RotationTarget, token: str
) -> tuple[str, ...]:
    move_stage(client, step, target, AWSPENDING, to_version=token)
    logger.info(
        "resuming a rotation after a failed attempt: AWSPENDING is back on its version",
        extra={"step": step, "secret_name": target.name, "version_id": token, "workspace": target.workspace},
    )
    return (AWSPENDING,)


def _same_json(a: str, b: str) -> bool:
    """True when two secret strings hold the same JSON (or, not JSON, the same text)."""
    if a == b:
        return True
    try:
        return bool(json.loads(a) == json.loads(b))
    except (ValueError, RecursionError):
        return False


def _clear_staging_after_promotion(
    client: SecretsManagerClient, step: Step, target: RotationTarget, token: str, promoted: Any = None
) -> bool | None:
    """``_clear_staging`` once ``token`` is promoted; None when it failed (logged, never a failure
    of the step: the value staged is what lets a retry resume a rotation that failed before the
    promotion, and left in place it is refused as the current value by the next createSecret)."""
    try:
        if promoted is None:
            promoted = read_pending(client, step, target, token, stage=None)
            if promoted is None:
                return None
        return _clear_staging(client, step, target, promoted)
    except RotationError as exc:
        logger.warning(
            "the staging secret could not be cleared after the promotion",
            extra={"secret_name": target.name, "error": str(exc)},
        )
        return None


def _clear_staging(client: SecretsManagerClient, step: Step, target: RotationTarget, promoted: Any) -> bool:
    """Reset the staging secret to ``{}`` when it holds ``promoted`` or nothing; True if it is
    empty afterwards."""
    kind = target.secret_kind
    staging = target.staging_secret_id
    raw = read_secret_string(client, step, staging, stage=AWSCURRENT)
    if raw is None or is_nothing_staged(raw):
        return True
    try:
        staged = kind.parse(raw, name=staging)
    except SecretFormatError:
        return False
    if not kind.same_value(staged, promoted):
        return False
    reset_staging(client, step, target)
    return True


def _result(step: Step, target: RotationTarget, token: str, outcome: StepOutcome, message: str) -> StepResult:
    # DEBUG: the rotation function logs the result itself (one line per step, Powertools Logger).
    logger.debug(
        message,
        extra={
            "step": step,
            "kind": target.kind,
            "secret_name": target.name,
            "version_id": token,
            "workspace": target.workspace,
        },
    )
    return StepResult(step, target.kind, target.name, token, outcome, message, target.workspace)
