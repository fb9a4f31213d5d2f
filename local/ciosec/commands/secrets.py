"""``ciosec secrets stage|rotate|status|incident``: rotate the Track credentials, the signing key or
the App API key of a workspace.

The operator flow (DESIGN section 5): create the new credential set (or regenerate the signing
key, or create an App API key) in Customer.io, ``ciosec secrets stage track`` (a hidden prompt, or
the JSON on standard input; never an argument), then ``ciosec secrets rotate track``. Against a
deployed stack the rotation runs in the rotation function; against the local stack the CLI drives
the four steps. ``--workspace NAME`` targets that workspace's secret (default: the primary's, the
stack's original secrets); an unknown name is refused in one line that lists the stack's. The
staged value is labelled with that workspace (``"workspace": NAME``, the primary's name too): the
rotation and the functions refuse it if it is ever read for another workspace (a reordered
``Workspaces`` parameter).

``ciosec secrets incident track|signing-key``: the guided response to a credential that leaked
(``ciosec.operations.incident``): stage and rotate at once, confirm the new value works, revoke the
old one and confirm it is refused, with every step recorded in a JSON lines file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import boto3

from cio_security.config import CUSTOMERIO_APP_URL, CUSTOMERIO_TRACK_URL, boto_config
from cio_security.customerio.urls import BaseUrlOverride
from cio_security.errors import RotationError
from cio_security.rotation import (
    STAGING_SUFFIX,
    KindName,
    RetryableRotationError,
    RotatedValue,
    RotationSettings,
    StepResult,
)
from ciosec.commands import Subcommands
from ciosec.operations.incident import IncidentLog, Operator, operator_identity, respond
from ciosec.operations.rotation import (
    CLI_KINDS,
    WORKSPACE_KINDS,
    StageInputError,
    TargetError,
    discard_stale_pending,
    format_status,
    read_new_value,
    rotate_locally,
    secret_for,
    secret_status,
    stage,
    start_rotation,
    wait_for_rotation,
    workspace_for,
)
from ciosec.operations.stack import StackInfo, resolve
from ciosec.sandbox import APP_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


def _client() -> SecretsManagerClient:
    client: SecretsManagerClient = boto3.client("secretsmanager", config=boto_config())
    return client


def _secret_id(stack: StackInfo, kind: KindName, workspace: str | None = None) -> str:
    """The targeted secret; a one-line error (exit 1) naming the stack's workspaces otherwise."""
    try:
        return secret_for(stack, kind, workspace)
    except TargetError as exc:
        raise SystemExit(str(exc)) from None


def _with_workspace(args: argparse.Namespace) -> str:
    """`` --workspace NAME`` for the next command the operator is told to run (none: primary)."""
    workspace: str | None = getattr(args, "workspace", None)
    return f" --workspace {workspace}" if workspace else ""


def _local_overrides(stack: StackInfo) -> tuple[BaseUrlOverride, BaseUrlOverride]:
    """Where a local rotation's testSecret calls Customer.io: the local stack's sandbox of each
    region (Track, and the App API under /app), else CUSTOMERIO_TRACK_URL / CUSTOMERIO_APP_URL."""
    sandboxes = stack.sandbox_urls()
    if sandboxes:
        return dict(sandboxes), {region: url + APP_PREFIX for region, url in sandboxes.items()}
    return os.environ.get(CUSTOMERIO_TRACK_URL) or None, os.environ.get(CUSTOMERIO_APP_URL) or None


def _local_settings(stack: StackInfo) -> RotationSettings:
    """The rotation settings of the local stack: every workspace's secrets, its sandboxes."""
    track_url, app_url = _local_overrides(stack)
    return RotationSettings(
        track_credentials_secret_id=stack.track_credentials_secret_id,
        signing_key_secret_id=stack.signing_key_secret_id,
        app_api_key_secret_id=stack.app_api_key_secret_id,
        track_url=track_url,
        app_url=app_url,
        workspaces=stack.workspace_set(),
    )


def _stage(args: argparse.Namespace) -> int:
    kind = CLI_KINDS[args.kind]
    stack = resolve(args)
    interactive = sys.stdin.isatty()
    try:
        value, ignored = read_new_value(kind, sys.stdin, interactive=interactive)
        if ignored:
            print(f"ignored field(s): {', '.join(ignored)}", file=sys.stderr)
        try:
            target = workspace_for(stack, args.workspace)
        except TargetError as exc:
            raise SystemExit(str(exc)) from None
        # The value is labelled with its workspace ("workspace": NAME, the primary's name too): a
        # value read for another workspace (a reordered Workspaces) is then refused, not used.
        staging = stage(_client(), _secret_id(stack, kind, target.name), kind, value, workspace=target.name)
    except StageInputError as exc:
        print(f"not staged: {exc}", file=sys.stderr)
        return 1
    print(f"staged in {staging}; now run: ciosec secrets rotate {args.kind}{_with_workspace(args)}")
    return 0


def _print_step(result: StepResult) -> None:
    print(f"{result.step:<13} {result.outcome:<15} {result.message}")


def _rotate(args: argparse.Namespace) -> int:
    kind = CLI_KINDS[args.kind]
    stack = resolve(args)
    client = _client()
    secret_id = _secret_id(stack, kind, args.workspace)
    for version_id in discard_stale_pending(client, secret_id):
        print(f"discarded the unfinished rotation of version {version_id} (AWSPENDING removed)")
    if stack.rotation_function:
        token = start_rotation(client, secret_id)
        print(f"Secrets Manager is rotating {secret_id} to version {token}")
        if args.wait <= 0:
            return 0
        if wait_for_rotation(client, secret_id, token, timeout=args.wait):
            print(f"version {token} is now AWSCURRENT")
            return 0
        print(
            f"version {token} is not AWSCURRENT after {args.wait:g} s: see `ciosec secrets status` and "
            "the rotation function's log (RotationFailed alarm)",
            file=sys.stderr,
        )
        return 1
    try:
        rotate_locally(client, secret_id, _local_settings(stack), on_step=_print_step)
    except RotationError as exc:
        print(f"rotation failed, nothing was promoted: {exc}", file=sys.stderr)
        if isinstance(exc, RetryableRotationError):  # no Secrets Manager here to retry it
            print(
                "the value is still staged; to retry: "
                f"ciosec secrets rotate {args.kind}{_with_workspace(args)}",
                file=sys.stderr,
            )
        elif STAGING_SUFFIX in str(exc):  # the library says what to stage where; this is the command
            print(
                f"to stage a new value: ciosec secrets stage {args.kind}{_with_workspace(args)}",
                file=sys.stderr,
            )
        return 1
    return 0


def _incident(args: argparse.Namespace) -> int:
    kind = CLI_KINDS[args.kind]
    stack = resolve(args)
    client = _client()
    secret_id = _secret_id(stack, kind)
    interactive = sys.stdin.isatty()
    if not interactive and not args.yes:
        raise SystemExit(
            "standard input is not a terminal: pass --yes to confirm the steps you take in Customer.io, "
            "and the new value on standard input"
        )
    meta = client.describe_secret(SecretId=secret_id)
    who = operator_identity(stack, lambda: boto3.client("sts", config=boto_config()))
    log = IncidentLog(Path(args.record), who=who, kind=kind, secret=meta["Name"], secret_arn=meta["ARN"])

    def confirm(question: str) -> bool:
        return bool(args.yes) or input(f"{question} [y/N] ").strip().lower() in {"y", "yes"}

    def new_value(value_kind: KindName) -> RotatedValue:
        value, ignored = read_new_value(value_kind, sys.stdin, interactive=interactive)
        if ignored:
            print(f"ignored field(s): {', '.join(ignored)}", file=sys.stderr)
        return value

    def wait_for_deletion(_message: str) -> None:
        if interactive:
            input("Press Enter once it is deleted in Customer.io... ")
        else:
            print(f"waiting up to {args.revocation_timeout:g} s for it to stop working")

    print(f"incident {log.incident_id}: {kind} secret {meta['Name']}; recording to {args.record}")
    settings = RotationSettings(
        track_credentials_secret_id=stack.track_credentials_secret_id,
        signing_key_secret_id=stack.signing_key_secret_id,
        track_url=stack.sandbox_url or os.environ.get(CUSTOMERIO_TRACK_URL) or None,
        app_url=(stack.sandbox_url + "/app" if stack.sandbox_url else None)
        or os.environ.get(CUSTOMERIO_APP_URL),
        workspaces=stack.workspace_set(),
    )
    result = respond(
        client,
        secret_id,
        kind,
        stack=stack,
        operator=Operator(
            say=print, confirm=confirm, new_value=new_value, wait_for_deletion=wait_for_deletion
        ),
        log=log,
        settings=settings,
        revocation_timeout=args.revocation_timeout,
        rotation_wait=args.wait,
    )
    if result.complete:
        print(f"done: the leaked credential is replaced and refused; the record is in {args.record}")
        return 0
    print(f"the response is not complete: see {args.record} (incident {log.incident_id})", file=sys.stderr)
    return 1


def _status(args: argparse.Namespace) -> int:
    stack = resolve(args)
    client = _client()
    try:
        workspace = workspace_for(stack, args.workspace)
    except TargetError as exc:
        raise SystemExit(str(exc)) from None
    kinds = [CLI_KINDS[args.kind]] if args.kind else list(CLI_KINDS.values())
    # Every kind the workspace has a secret of (a stack file from before the App API key: two).
    targets = [(kind, workspace.secret_id(WORKSPACE_KINDS[kind])) for kind in kinds]
    if args.kind and not targets[0][1]:
        raise SystemExit(f"the stack has no {args.kind} secret for workspace {workspace.name}")
    reports = [
        format_status(secret_status(client, secret_id, kind)) for kind, secret_id in targets if secret_id
    ]
    print("\n\n".join(reports))
    return 0


def register(groups: Subcommands) -> None:
    parser = groups.add_parser(
        "secrets", help="stage and rotate a workspace's Track credentials, signing key or App API key"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    kinds = sorted(CLI_KINDS)
    workspace_help = "the workspace whose secret this is (default: the primary, the first of Workspaces)"

    staged = commands.add_parser(
        "stage",
        help="write a new value to the staging secret (hidden prompt, or JSON on standard input)",
        description=(
            'track: {"site_id": "...", "api_key": "...", "region": "us|eu"}; signing-key: '
            '{"signing_key": "..."} or the bare key; app-api-key: {"app_api_key": "...", "region": '
            '"us|eu"}. Read from a hidden prompt in a terminal, else from standard input; never from '
            "the command line."
        ),
    )
    staged.add_argument("kind", choices=kinds)
    staged.add_argument("--workspace", metavar="NAME", help=workspace_help)
    staged.set_defaults(func=_stage)

    rotate = commands.add_parser("rotate", help="validate the staged value and promote it to AWSCURRENT")
    rotate.add_argument("kind", choices=kinds)
    rotate.add_argument("--workspace", metavar="NAME", help=workspace_help)
    rotate.add_argument(
        "--wait",
        type=float,
        default=120.0,
        help="deployed stack: seconds to wait for the rotation to finish (0: do not wait)",
    )
    rotate.set_defaults(func=_rotate)

    incident = commands.add_parser(
        "incident",
        help="respond to a leaked credential: replace, rotate, confirm, revoke, confirm; recorded",
        description=(
            "The guided response to a credential that leaked: create a new one in Customer.io, stage "
            "it (hidden prompt, or standard input), rotate at once, confirm the stack works with it, "
            "delete the old one in Customer.io and confirm it no longer authenticates (a signing key: "
            "the webhook refuses it). Every step is appended to --record as a JSON line (who, when, "
            "which secret and versions; never a value). Without a terminal, --yes confirms the steps "
            "taken in Customer.io and standard input holds the new value."
        ),
    )
    # The primary workspace's Track credentials or signing key.
    incident.add_argument("kind", choices=["signing-key", "track"])
    incident.add_argument("--yes", action="store_true", help="confirm the Customer.io steps without asking")
    incident.add_argument(
        "--record",
        default="ciosec-incidents.jsonl",
        help="the JSON lines file the steps are appended to (default: %(default)s)",
    )
    incident.add_argument(
        "--revocation-timeout",
        type=float,
        default=300.0,
        help="seconds to keep checking that the old credential is refused (default: %(default)s)",
    )
    incident.add_argument(
        "--wait",
        type=float,
        default=120.0,
        help="deployed stack: seconds to wait for the rotation to finish (default: %(default)s)",
    )
    incident.set_defaults(func=_incident)

    status = commands.add_parser("status", help="versions, staged value and rotation state (no values)")
    status.add_argument("kind", nargs="?", choices=kinds)
    status.add_argument("--workspace", metavar="NAME", help=workspace_help)
    status.set_defaults(func=_status)
