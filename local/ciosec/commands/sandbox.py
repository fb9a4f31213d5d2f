"""``ciosec sandbox``: drive the local Customer.io sandbox (new credential sets, faults, state)."""

from __future__ import annotations

import argparse
import json
from typing import Any

import httpx

from ciosec.commands import Subcommands
from ciosec.operations.stack import resolve


def _admin(args: argparse.Namespace, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    stack = resolve(args)
    if not stack.sandbox_url:
        raise SystemExit("the local stack is using the real Customer.io: there is no sandbox")
    response = httpx.request(method, f"{stack.sandbox_url}/_sandbox{path}", json=body, timeout=10.0)
    response.raise_for_status()
    return response.json() if response.content else None


def _new_credentials(args: argparse.Namespace) -> int:
    """Print a new credential set of the same workspace as JSON, ready for `secrets stage track`."""
    fields: dict[str, Any] = {}
    if args.environment_id is not None:
        fields["environment_id"] = args.environment_id
    if args.region:
        fields["region"] = args.region
    created = _admin(args, "POST", "/credentials", fields)
    print(
        json.dumps(
            {"site_id": created["site_id"], "api_key": created["api_key"], "region": created["region"]}
        )
    )
    return 0


def _state(args: argparse.Namespace) -> int:
    state = _admin(args, "GET", "/state")
    if not args.log:
        state.pop("log", None)
    print(json.dumps(state, indent=2))
    return 0


def _faults(args: argparse.Namespace) -> int:
    faults = {
        "error_rate": args.error_rate,
        "rate_limited_rate": args.rate_limited_rate,
        "timeout_rate": args.timeout_rate,
        "reset_rate": args.reset_rate,
        "seed": args.seed,
    }
    config: dict[str, Any] = {"faults": {k: v for k, v in faults.items() if v is not None}}
    if args.latency is not None:
        config["latency"] = args.latency
    if args.rate_limit_rps is not None:
        config["rate_limit_rps"] = args.rate_limit_rps or None
    print(json.dumps(_admin(args, "POST", "/config", config), indent=2))
    return 0


def register(groups: Subcommands) -> None:
    parser = groups.add_parser("sandbox", help="drive the local Customer.io sandbox")
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new-credentials", help="issue a new Track credential set (JSON on stdout)")
    new.add_argument("--environment-id", help="workspace (default: the first credential set's)")
    new.add_argument("--region", choices=["us", "eu"], help="region (default: the first set's)")
    new.set_defaults(func=_new_credentials)
    state = commands.add_parser("state", help="people, suppressed ids, credential sets (no keys), config")
    state.add_argument("--log", action="store_true", help="include the request log")
    state.set_defaults(func=_state)
    faults = commands.add_parser("faults", help="inject faults: probabilities per Track request")
    faults.add_argument("--error-rate", type=float, help="share of 5xx answers")
    faults.add_argument("--rate-limited-rate", type=float, help="share of 429 answers with Retry-After")
    faults.add_argument("--timeout-rate", type=float, help="share of requests that hang past the timeout")
    faults.add_argument("--reset-rate", type=float, help="share of connections reset")
    faults.add_argument("--seed", type=int, help="seed of the fault RNG")
    faults.add_argument("--latency", type=float, help="seconds added to every request")
    faults.add_argument("--rate-limit-rps", type=float, help="requests per second before 429 (0 = off)")
    faults.set_defaults(func=_faults)
