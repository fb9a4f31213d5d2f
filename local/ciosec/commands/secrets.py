"""``ciosec secrets stage|rotate|status|incident``: rotate the Track credentials or the signing key.

The operator flow (DESIGN section 5): create the new credential set (or regenerate the signing
key) in Customer.io, ``ciosec secrets stage track`` (a hidden prompt, or the JSON on standard
input; never an argument), then ``ciosec secrets rotate track``. Against a deployed stack the
rotation runs in the rotation function; against the local stack the CLI drives the four steps.

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
    StageInputError,
    discard_stale_pending,
    format_status,
    read_new_value,
    rotate_locally,
    secret_status,
    stage,
    start_rotation,
    wait_for_rotation,
)
from ciosec.operations.stack import StackInfo, resolve

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


def _client() -> SecretsManagerClient:
    client: SecretsManagerClient = boto3.client("secretsmanager", config=boto_config())
    return client


def _secret_id(stack: StackInfo, kind: KindName) -> str:
    # StackInfo's field for the kind: track_credentials_secret_id, signing_key_secret_id, and
    # app_api_key_secret_id where the stack has an App API key secret.
    field = "track_credentials_secret_id" if kind == "track" else f"{kind}_secret_id"
    secret_id = str(getattr(stack, field, ""))
    if not secret_id:
        raise SystemExit(f"the stack has no {kind} secret")
    return secret_id


def _stage(args: argparse.Namespace) -> int:
    kind = CLI_KINDS[args.kind]
    stack = resolve(args)
    interactive = sys.stdin.isatty()
    try:
        value, ignored = read_new_value(kind, sys.stdin, interactive=interactive)
        if ignored:
            print(f"ignored field(s): {', '.join(ignored)}", file=sys.stderr)
        staging = stage(_client(), _secret_id(stack, kind), kind, value)
    except StageInputError as exc:
        print(f"not staged: {exc}", file=sys.stderr)
        return 1
    print(f"staged in {staging}; now run: ciosec secrets rotate {args.kind}")
    return 0


def _print_step(result: StepResult) -> None:
    print(f"{result.step:<13} {result.outcome:<15} {result.message}")


def _rotate(args: argparse.Namespace) -> int:
    kind = CLI_KINDS[args.kind]
    stack = resolve(args)
    client = _client()
    secret_id = _secret_id(stack, kind)
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
    settings = RotationSettings(
        track_credentials_secret_id=stack.track_credentials_secret_id,
        signing_key_secret_id=stack.signing_key_secret_id,
        track_url=stack.sandbox_url or os.environ.get(CUSTOMERIO_TRACK_URL) or None,
    )
    try:
        rotate_locally(client, secret_id, settings, on_step=_print_step)
    except RotationError as exc:
        print(f"rotation failed, nothing was promoted: {exc}", file=sys.stderr)
        if isinstance(exc, RetryableRotationError):  # no Secrets Manager here to retry it
            print(
                f"the pending version keeps AWSPENDING; to retry: ciosec secrets rotate {args.kind}",
                file=sys.stderr,
            )
        elif STAGING_SUFFIX in str(exc):  # the library says what to stage where; this is the command
            print(f"to stage a new value: ciosec secrets stage {args.kind}", file=sys.stderr)
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
    kinds = [CLI_KINDS[args.kind]] if args.kind else list(CLI_KINDS.values())
    reports = [format_status(secret_status(client, _secret_id(stack, kind), kind)) for kind in kinds]
    print("\n\n".join(reports))
    return 0


def register(groups: Subcommands) -> None:
    parser = groups.add_parser("secrets", help="stage and rotate the Track credentials and the signing key")
    commands = parser.add_subparsers(dest="command", required=True)
    kinds = sorted(CLI_KINDS)

    staged = commands.add_parser(
        "stage",
        help="write a new value to the staging secret (hidden prompt, or JSON on standard input)",
        description=(
            'track: {"site_id": "...", "api_key": "...", "region": "us|eu"}; signing-key: '
            '{"signing_key": "..."} or the bare key. Read from a hidden prompt in a terminal, else '
            "from standard input; never from the command line."
        ),
    )
    staged.add_argument("kind", choices=kinds)
    staged.set_defaults(func=_stage)

    rotate = commands.add_parser("rotate", help="validate the staged value and promote it to AWSCURRENT")
    rotate.add_argument("kind", choices=kinds)
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
    incident.add_argument("kind", choices=kinds)
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
    status.set_defaults(func=_status)
