"""``ciosec sandbox``: drive the local Customer.io sandbox (new credential sets, faults, state,
and its reporting webhooks: ``ciosec sandbox webhooks send | log``)."""

from __future__ import annotations

import argparse
import json
import secrets as random_tokens
import time
from typing import Any

import boto3
import httpx

from cio_security.config import boto_config
from cio_security.secrets.store import SecretStore
from ciosec.commands import Subcommands
from ciosec.commands.webhook import sample_event
from ciosec.mistakes import Mistake
from ciosec.operations.stack import resolve
from ciosec.options import at_least, count, integer, integer_between, probability, seconds
from ciosec.sandbox.config import MAX_LATENCY_SECONDS


def _admin(args: argparse.Namespace, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    stack = resolve(args)
    if not stack.sandbox_url:
        raise SystemExit("the local stack is using the real Customer.io: there is no sandbox")
    response = httpx.request(method, f"{stack.sandbox_url}/_sandbox{path}", json=body, timeout=10.0)
    if response.is_error:
        raise Mistake(f"the sandbox refused it: {_refusal(response)}")
    return response.json() if response.content else None


def _refusal(response: httpx.Response) -> str:
    """What the admin API said was wrong, in one line (pydantic's messages name the setting)."""
    try:
        answer = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    meta = answer.get("meta") if isinstance(answer, dict) else None
    if isinstance(meta, dict) and meta.get("error"):
        return str(meta["error"])
    return f"HTTP {response.status_code}"


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
    if args.reset:
        changed = [name for name in _FAULT_OPTIONS if getattr(args, name) is not None]
        if changed:
            raise Mistake(
                f"--reset clears every fault and rate setting: give it alone (not with "
                f"--{changed[0].replace('_', '-')})"
            )
        print(json.dumps(_admin(args, "POST", "/faults/reset", {}), indent=2))
        return 0
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


_FAULT_OPTIONS = (
    "error_rate",
    "rate_limited_rate",
    "timeout_rate",
    "reset_rate",
    "seed",
    "latency",
    "rate_limit_rps",
)
MAX_STREAM = 1000
MAX_REAL_WAIT = 2.0


def unprocessable_body(event: dict[str, Any]) -> bytes:
    """A body Customer.io could sign but that is no event: ``event``'s JSON cut in half."""
    whole = json.dumps(event).encode()
    return whole[: len(whole) // 2]


def _webhooks_send(args: argparse.Namespace) -> int:
    """Have the sandbox deliver a stream of events to the stack's webhook, as Customer.io does."""
    beyond = [n for n in [*args.unprocessable, *args.lose_response] if n > args.count]
    if beyond:
        raise Mistake(
            f"--unprocessable and --lose-response take positions from 1 to --count ({args.count}) "
            f"(got {beyond[0]})"
        )
    stack = resolve(args)
    url = args.url or stack.webhook_url
    if args.forge:
        key = random_tokens.token_hex(32)  # a workspace whose key the stack does not hold
    else:
        store = SecretStore(client=boto3.client("secretsmanager", config=boto_config()), max_age=0)
        key = store.signing_key(stack.signing_key_secret_id).key_bytes().decode("ascii")
    setup = {
        "url": url,
        "signing_key": key,
        "retry_signing": args.retry_signing,
        "fast_forward": not args.real_time,
        "max_real_wait": args.max_real_wait,
    }
    _admin(args, "POST", "/webhooks", setup)
    unprocessable, lost = set(args.unprocessable), set(args.lose_response)
    events: list[dict[str, Any]] = []
    for position in range(1, args.count + 1):
        event = sample_event(args.metric)
        body = unprocessable_body(event) if position in unprocessable else json.dumps(event).encode()
        events.append(
            {
                "body": body.decode(),
                "event_id": event["event_id"],
                "lost_responses": 1 if position in lost else 0,
            }
        )
    queued: list[str] = _admin(args, "POST", "/webhooks/events", {"events": events})["queued"]
    report = _wait_for_deliveries(args, queued, args.wait)
    states = [d["state"] for d in report["deliveries"]]
    if args.json:
        listed = [
            {
                "event_id": event_id,
                "position": n,
                "unprocessable": n in unprocessable,
                "lost_responses": n in lost,
            }
            for n, event_id in enumerate(queued, start=1)
        ]
        shown = {"queued": listed, "deliveries": report["deliveries"], "attempts": report["attempts"]}
        print(json.dumps({**shown, "fast_forward": not args.real_time}, indent=2))
    else:
        _print_attempts(report["attempts"])
        _print_summary(report, fast_forward=not args.real_time)
    if args.forge:
        return 0 if "pending" not in states else 1
    return 0 if all(state == "delivered" for state in states) else 1


def _wait_for_deliveries(args: argparse.Namespace, event_ids: list[str], seconds: float) -> dict[str, Any]:
    """The sandbox's report on ``event_ids`` once none is pending, or after ``seconds``."""
    wanted = set(event_ids)
    deadline = time.monotonic() + seconds
    while True:
        report: dict[str, Any] = _admin(args, "GET", "/webhooks")
        report["deliveries"] = [d for d in report["deliveries"] if d["event_id"] in wanted]
        report["attempts"] = [a for a in report["attempts"] if a["event_id"] in wanted]
        done = all(d["state"] != "pending" for d in report["deliveries"])
        if done or time.monotonic() >= deadline:
            return report
        time.sleep(0.2)


def _duration(seconds: float) -> str:
    """``1d 02:03:04.500``: a time on the sandbox's clock, days included (the retry period is 7)."""
    days, rest = divmod(max(0.0, seconds), 86400.0)
    hours, rest = divmod(rest, 3600.0)
    minutes, rest = divmod(rest, 60.0)
    return f"{int(days)}d {int(hours):02d}:{int(minutes):02d}:{rest:06.3f}"


def _print_attempts(attempts: list[dict[str, Any]]) -> None:
    for a in attempts:
        status = a["status"] if a["status"] is not None else "-"
        print(
            f"+{_duration(a['at'])}  {a['event_id']}  attempt {a['attempt']:<3} {status!s:>3} {a['outcome']}"
        )


def _print_summary(report: dict[str, Any], *, fast_forward: bool) -> None:
    deliveries = report["deliveries"]
    states = [d["state"] for d in deliveries]
    waits = [d["waited"] for d in deliveries if d["waited"] is not None]
    clock = " (sandbox clock, waits fast-forwarded)" if fast_forward else ""
    print(
        f"{len(deliveries)} events: {states.count('delivered')} delivered, "
        f"{states.count('gave_up')} given up, {states.count('pending')} pending; "
        f"{len(report['attempts'])} attempts; longest wait behind earlier events "
        f"{_duration(max(waits, default=0.0))}{clock}"
    )


def _webhooks_log(args: argparse.Namespace) -> int:
    report = _admin(args, "GET", "/webhooks")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    _print_attempts(report["attempts"])
    _print_summary(report, fast_forward=False)
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
    faults = commands.add_parser(
        "faults",
        help="inject faults: probabilities per Track request, latency, a rate limit; --reset clears them",
        description=(
            "Probabilities are shares of Track requests (0 to 1, adding up to at most 1); the settings "
            "given change, the others stay. --reset clears every fault and rate setting (people, "
            "credentials and webhooks stay). Prints the sandbox's settings."
        ),
    )
    faults.add_argument("--error-rate", type=probability, help="share of 5xx answers (0 to 1)")
    faults.add_argument(
        "--rate-limited-rate", type=probability, help="share of 429 answers with Retry-After (0 to 1)"
    )
    faults.add_argument(
        "--timeout-rate", type=probability, help="share of requests that hang past the timeout (0 to 1)"
    )
    faults.add_argument("--reset-rate", type=probability, help="share of connections reset (0 to 1)")
    faults.add_argument("--seed", type=integer, help="seed of the fault RNG")
    faults.add_argument(
        "--latency",
        type=seconds(MAX_LATENCY_SECONDS),
        help=f"seconds added to every request (0 to {MAX_LATENCY_SECONDS:g})",
    )
    faults.add_argument(
        "--rate-limit-rps", type=at_least(0.0), help="requests per second before 429 (0 = off)"
    )
    faults.add_argument(
        "--reset",
        action="store_true",
        help="clear every fault, scripted fault, latency and rate limit: a healthy Customer.io again",
    )
    faults.set_defaults(func=_faults)

    webhooks = commands.add_parser(
        "webhooks", help="the sandbox's reporting webhooks: deliver a stream as Customer.io does"
    )
    hooks = webhooks.add_subparsers(dest="webhooks_command", required=True)
    send = hooks.add_parser(
        "send",
        help="deliver a stream of signed events in order (4 s timeout, retries, backlog, one-hour wait)",
    )
    send.add_argument(
        "--count",
        type=integer_between(1, MAX_STREAM),
        default=5,
        help=f"events in the stream, 1 to {MAX_STREAM} (default 5)",
    )
    send.add_argument(
        "--unprocessable",
        type=count,
        action="append",
        default=[],
        metavar="N",
        help="the Nth event (from 1) is signed but not an event (cut-off JSON); repeatable",
    )
    send.add_argument(
        "--lose-response",
        type=count,
        action="append",
        default=[],
        metavar="N",
        help="the first answer to the Nth event is lost, so it is sent again; repeatable",
    )
    send.add_argument("--metric", default="delivered", help="metric of the sample events")
    send.add_argument(
        "--retry-signing",
        choices=["resign", "reuse"],
        default="resign",
        help="retries get a new timestamp and signature, or repeat the first (undocumented)",
    )
    send.add_argument(
        "--real-time", action="store_true", help="wait the real hour and backoff (default: fast-forward)"
    )
    send.add_argument(
        "--max-real-wait",
        type=seconds(MAX_REAL_WAIT),
        default=0.0,
        metavar="SECONDS",
        help="fast-forwarded waits still take up to SECONDS (at most 2) of real time each, so the "
        "webhook's own timers (a slow call's lock) see retries spread out (default 0)",
    )
    send.add_argument("--forge", action="store_true", help="sign with a key the stack does not hold")
    send.add_argument("--url", help="webhook URL (default: the stack's WebhookUrl)")
    send.add_argument(
        "--wait", type=seconds(), default=60.0, help="seconds to wait for the stream (default 60)"
    )
    send.add_argument("--json", action="store_true", help="the deliveries and attempts as JSON")
    send.set_defaults(func=_webhooks_send)
    log = hooks.add_parser("log", help="every delivery attempt so far: event id, status, time")
    log.add_argument("--json", action="store_true")
    log.set_defaults(func=_webhooks_log)
