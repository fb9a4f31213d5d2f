"""``ciosec sanitize FILE``: run a JSON document through the sanitizer policy, print the result.

``ciosec sanitize --suggest-policy FILE...``: survey sample events or attribute files (JSON or JSON
lines), list every key path with how the policy treats it and what the detectors found under it
(paths and counts, never values), and write a starting minimum-necessary policy
(``ciosec.operations.policy_suggestion``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3

from cio_security.config import boto_config
from cio_security.errors import CioSecurityError, ConfigurationError
from cio_security.sanitizer.attributes import sanitize
from cio_security.sanitizer.policy import SanitizerPolicy
from cio_security.secrets.store import SecretStore
from ciosec.commands import Subcommands
from ciosec.mistakes import Mistake
from ciosec.operations.policy_suggestion import (
    DocumentError,
    attributes_of,
    format_survey,
    load_documents,
    suggest_policy,
    survey_documents,
)
from ciosec.operations.stack import resolve


def _pepper(args: argparse.Namespace) -> bytes:
    if args.pepper_env:
        value = os.environ.get(args.pepper_env, "")
        if not value:
            raise SystemExit(f"environment variable {args.pepper_env} is empty")
        return value.encode()
    stack = resolve(args)
    store = SecretStore(client=boto3.client("secretsmanager", config=boto_config()))
    return store.pepper(stack.pepper_secret_id).key_bytes()


def _suggest(args: argparse.Namespace, policy: SanitizerPolicy) -> int:
    output = Path(args.output)
    if output.exists() and not args.force:
        raise SystemExit(f"{output} exists: choose another --output, or pass --force to replace it")
    try:
        survey = survey_documents(load_documents(args.suggest_policy), policy)
    except DocumentError as exc:
        raise SystemExit(str(exc)) from None
    print(format_survey(survey))
    suggestion = suggest_policy(survey)
    output.write_text(json.dumps(suggestion, indent=2) + "\n")
    print(
        f"suggested policy written to {output}: mode deny_unknown, {len(suggestion['allow'])} allowed "
        f"({len(suggestion['trusted'])} trusted, not scanned), {len(suggestion['hash'])} hashed, every other "
        "key dropped. Review it before use: remove what you do not need, and try it with "
        f"`ciosec sanitize FILE --policy {output} --report`."
    )
    return 0


def _policy(args: argparse.Namespace) -> SanitizerPolicy:
    if not args.policy:
        return SanitizerPolicy.default()
    try:
        return SanitizerPolicy.from_file(args.policy)
    except ConfigurationError as exc:
        if isinstance(exc.__context__, OSError):
            raise  # ciosec.mistakes tells it, naming the file
        raise Mistake(f"{args.policy}: {exc}") from None


def _sanitize(args: argparse.Namespace) -> int:
    policy = _policy(args)
    if args.suggest_policy:
        if args.file:
            raise SystemExit("give either FILE or --suggest-policy FILE..., not both")
        return _suggest(args, policy)
    if not args.file:
        raise SystemExit("give a FILE to sanitize (or - for standard input), or --suggest-policy FILE...")
    source = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
    try:
        document: Any = json.loads(source)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"{args.file}: not JSON (line {exc.lineno})") from None
    document = attributes_of(document)
    if not isinstance(document, dict):
        raise SystemExit(f"{args.file}: the top level must be a JSON object (or an event holding one)")
    try:
        result = sanitize(document, pepper=_pepper(args), policy=policy)
    except CioSecurityError as exc:
        raise SystemExit(str(exc)) from None
    output: dict[str, Any] = {"data": result.data}
    if args.report:
        output["report"] = {
            "dropped": list(result.report.dropped),
            "reasons": list(result.report.reasons),
            "hashed": list(result.report.hashed),
        }
    print(json.dumps(output if args.report else result.data, indent=2, ensure_ascii=False))
    return 0


def register(groups: Subcommands) -> None:
    parser = groups.add_parser(
        "sanitize",
        help="sanitize a JSON file with the configured policy, or suggest a policy from samples",
        description=(
            "ciosec sanitize FILE [--policy P] [--report]: the sanitized document (an API Gateway "
            "event or a reporting webhook event: its data, what the webhook sanitizes). "
            "ciosec sanitize --suggest-policy FILE... [--policy P] [--output OUT]: every key path in "
            "the samples (JSON objects, arrays of them, or JSON lines; API Gateway events and "
            "reporting webhook events are read as what the webhook sanitizes, their data) with how "
            "the policy treats it and what the detectors found, paths and counts only, and a "
            "starting deny_unknown policy written to OUT."
        ),
    )
    parser.add_argument("file", nargs="?", help="a JSON object, or - for standard input")
    parser.add_argument("--policy", help="a sanitizer policy JSON file (default: the built-in policy)")
    parser.add_argument(
        "--report", action="store_true", help="also print the dropped (with reasons) and hashed paths"
    )
    parser.add_argument("--pepper-env", help="read the pepper from this environment variable, not the stack")
    parser.add_argument(
        "--suggest-policy",
        nargs="+",
        metavar="FILE",
        help="survey these sample files and write a starting minimum-necessary policy",
    )
    parser.add_argument(
        "--output",
        default="sanitizer-policy.suggested.json",
        help="where --suggest-policy writes the policy (default: %(default)s)",
    )
    parser.add_argument("--force", action="store_true", help="let --suggest-policy replace --output")
    parser.set_defaults(func=_sanitize)
