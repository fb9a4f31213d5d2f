"""``python -m ciosec.sandbox``: run the sandbox on its own until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import secrets as random_tokens
import signal
import threading
from collections.abc import Sequence

from pydantic import ValidationError

from ciosec.options import OneLineErrorParser, at_least, integer, port, probability, seconds
from ciosec.sandbox.admin_api import ADMIN_PREFIX
from ciosec.sandbox.config import MAX_LATENCY_SECONDS, MAX_PROCESSING_DELAY_SECONDS, SandboxConfig
from ciosec.sandbox.faults import MAX_HANG_SECONDS, Faults
from ciosec.sandbox.models import AppApiKey, CredentialSet
from ciosec.sandbox.sandbox import Sandbox


class SandboxArgumentParser(OneLineErrorParser):
    label = "ciosec.sandbox"


def build_parser() -> argparse.ArgumentParser:
    parser = SandboxArgumentParser(
        prog="python -m ciosec.sandbox",
        description="A Customer.io sandbox on 127.0.0.1: Track API v1 and v2, and the App API under /app.",
    )
    parser.add_argument("--port", type=port, default=0, help="port on 127.0.0.1 (default 0: a free one)")
    parser.add_argument("--site-id", default="sandbox-site")
    parser.add_argument("--api-key", default=None, help="default: a random key, printed at start")
    parser.add_argument(
        "--app-api-key",
        default=None,
        help="the App API key (Bearer); default: a random key, printed at start",
    )
    parser.add_argument("--environment-id", default="100001")
    parser.add_argument("--region", choices=("us", "eu"), default="us")
    parser.add_argument(
        "--latency",
        type=seconds(MAX_LATENCY_SECONDS),
        default=0.0,
        help=f"seconds added to every request (0 to {MAX_LATENCY_SECONDS:g})",
    )
    parser.add_argument(
        "--rps", type=at_least(0.0, above=True), default=None, help="rate limit (requests per second)"
    )
    parser.add_argument("--error-rate", type=probability, default=0.0, help="probability of a 5xx")
    parser.add_argument("--rate-limited-rate", type=probability, default=0.0, help="probability of a 429")
    parser.add_argument("--timeout-rate", type=probability, default=0.0, help="probability of a hang")
    parser.add_argument(
        "--reset-rate", type=probability, default=0.0, help="probability of a connection reset"
    )
    parser.add_argument(
        "--hang-seconds",
        type=seconds(MAX_HANG_SECONDS),
        default=5.0,
        help=f"how long a hang lasts (0 to {MAX_HANG_SECONDS:g})",
    )
    parser.add_argument("--seed", type=integer, default=None)
    parser.add_argument(
        "--processing-delay",
        type=seconds(MAX_PROCESSING_DELAY_SECONDS),
        default=0.0,
        help="seconds before the App API sees a Track change (Track is asynchronous)",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, stopped: threading.Event | None = None) -> int:
    """Serve until Ctrl-C, SIGTERM or ``stopped`` is set, printing the URLs, the credential set and
    the App API key (fresh local keys unless ``--api-key`` / ``--app-api-key`` are given)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    environment_id: int | str = (
        int(args.environment_id) if args.environment_id.isdigit() else args.environment_id
    )
    credentials = CredentialSet(
        site_id=args.site_id,
        api_key=args.api_key or "sandbox-" + random_tokens.token_hex(16),
        environment_id=environment_id,
        region=args.region,
    )
    app_key = AppApiKey(
        key=args.app_api_key or "sandbox-app-" + random_tokens.token_hex(16),
        environment_id=environment_id,
        region=args.region,
    )
    try:
        config = SandboxConfig(
            latency=args.latency,
            rate_limit_rps=args.rps,
            processing_delay=args.processing_delay,
            faults=Faults(
                error_rate=args.error_rate,
                rate_limited_rate=args.rate_limited_rate,
                timeout_rate=args.timeout_rate,
                reset_rate=args.reset_rate,
                hang_seconds=args.hang_seconds,
                seed=args.seed,
            ),
        )
    except ValidationError as exc:
        parser.error(f"invalid settings: {exc.error_count()} error(s): {exc.errors()[0]['msg']}")
    stop = stopped or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Sandbox([credentials], app_keys=[app_key], port=args.port, config=config) as sandbox:
        print(f"Customer.io sandbox on {sandbox.url} (admin API: {sandbox.url}{ADMIN_PREFIX}/state)")
        print(f"App API on {sandbox.app_url}; key: {app_key.key}")
        print("credentials: " + credentials.model_dump_json(), flush=True)
        try:
            while not stop.wait(0.2):
                pass
        except KeyboardInterrupt:
            pass
    return 0
