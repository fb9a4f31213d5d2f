"""``ciosec sanitize FILE``: run a JSON document through the sanitizer policy, print the result."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3

from cio_security.config import boto_config
from cio_security.errors import CioSecurityError
from cio_security.sanitizer.attributes import sanitize
from cio_security.sanitizer.policy import SanitizerPolicy
from cio_security.secrets.store import SecretStore
from ciosec.commands import Subcommands
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


def _sanitize(args: argparse.Namespace) -> int:
    source = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
    try:
        document: Any = json.loads(source)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"{args.file}: not JSON (line {exc.lineno})") from None
    if not isinstance(document, dict):
        raise SystemExit(f"{args.file}: the top level must be a JSON object")
    policy = SanitizerPolicy.from_file(args.policy) if args.policy else SanitizerPolicy.default()
    try:
        result = sanitize(document, pepper=_pepper(args), policy=policy)
    except CioSecurityError as exc:
        raise SystemExit(str(exc)) from None
    output: dict[str, Any] = {"data": result.data}
    if args.report:
        output["report"] = {"dropped": list(result.report.dropped), "hashed": list(result.report.hashed)}
    print(json.dumps(output if args.report else result.data, indent=2, ensure_ascii=False))
    return 0


def register(groups: Subcommands) -> None:
    parser = groups.add_parser("sanitize", help="sanitize a JSON file with the configured policy")
    parser.add_argument("file", help="a JSON object, or - for standard input")
    parser.add_argument("--policy", help="a sanitizer policy JSON file (default: the built-in policy)")
    parser.add_argument("--report", action="store_true", help="also print the dropped and hashed paths")
    parser.add_argument("--pepper-env", help="read the pepper from this environment variable, not the stack")
    parser.set_defaults(func=_sanitize)
