"""Environment variable names and defaults: the contract between template.yaml, the local stack
and the code (DESIGN section 7). Explicit arguments always win over these."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from cio_security.errors import ConfigurationError

if TYPE_CHECKING:
    from botocore.config import Config

TRACK_CREDENTIALS_SECRET_ID: Final = "TRACK_CREDENTIALS_SECRET_ID"
SIGNING_KEY_SECRET_ID: Final = "SIGNING_KEY_SECRET_ID"
PEPPER_SECRET_ID: Final = "PEPPER_SECRET_ID"
CUSTOMERIO_TRACK_URL: Final = "CUSTOMERIO_TRACK_URL"
APP_API_KEY_SECRET_ID: Final = "APP_API_KEY_SECRET_ID"
CUSTOMERIO_APP_URL: Final = "CUSTOMERIO_APP_URL"
CUSTOMERIO_RATE_LIMIT_RPS: Final = "CUSTOMERIO_RATE_LIMIT_RPS"
IDEMPOTENCY_TABLE: Final = "IDEMPOTENCY_TABLE"
EVENT_BUS_NAME: Final = "EVENT_BUS_NAME"
WEBHOOK_TOLERANCE_SECONDS: Final = "WEBHOOK_TOLERANCE_SECONDS"
WEBHOOK_MAX_BODY_BYTES: Final = "WEBHOOK_MAX_BODY_BYTES"
SIGNING_KEY_GRACE_SECONDS: Final = "SIGNING_KEY_GRACE_SECONDS"
AUDIT_TABLE: Final = "AUDIT_TABLE"
DEAD_LETTER_QUEUE_URL: Final = "DEAD_LETTER_QUEUE_URL"
DELETION_MAX_CONCURRENCY: Final = "DELETION_MAX_CONCURRENCY"
SECRETS_CACHE_SECONDS: Final = "SECRETS_CACHE_SECONDS"
SANITIZER_POLICY: Final = "SANITIZER_POLICY"
WEBHOOK_DEDUPE_SECONDS: Final = "WEBHOOK_DEDUPE_SECONDS"
SIGNING_KEY_REFRESH_SECONDS: Final = "SIGNING_KEY_REFRESH_SECONDS"
AUDIT_RETENTION_DAYS: Final = "AUDIT_RETENTION_DAYS"
DELETION_DEADLINE_WARNING_DAYS: Final = "DELETION_DEADLINE_WARNING_DAYS"
DELETION_MAX_RECEIVE_COUNT: Final = "DELETION_MAX_RECEIVE_COUNT"
CUSTOMERIO_TIMEOUT_SECONDS: Final = "CUSTOMERIO_TIMEOUT_SECONDS"
CUSTOMERIO_MAX_ATTEMPTS: Final = "CUSTOMERIO_MAX_ATTEMPTS"
CUSTOMERIO_BACKOFF_BASE_SECONDS: Final = "CUSTOMERIO_BACKOFF_BASE_SECONDS"
CUSTOMERIO_BACKOFF_CAP_SECONDS: Final = "CUSTOMERIO_BACKOFF_CAP_SECONDS"
CUSTOMERIO_RETRY_AFTER_CAP_SECONDS: Final = "CUSTOMERIO_RETRY_AFTER_CAP_SECONDS"
WEBHOOK_FUTURE_SKEW_SECONDS: Final = "WEBHOOK_FUTURE_SKEW_SECONDS"
WEBHOOK_QUARANTINE_BUCKET: Final = "WEBHOOK_QUARANTINE_BUCKET"
WEBHOOK_ALLOWED_SOURCE_CIDRS: Final = "WEBHOOK_ALLOWED_SOURCE_CIDRS"
# Erasure verification (cio_security.deletion.verification_settings).
CUSTOMERIO_APP_RATE_LIMIT_RPS: Final = "CUSTOMERIO_APP_RATE_LIMIT_RPS"
VERIFICATION_QUEUE_URL: Final = "VERIFICATION_QUEUE_URL"
VERIFICATION_DEAD_LETTER_QUEUE_URL: Final = "VERIFICATION_DEAD_LETTER_QUEUE_URL"
VERIFICATION_MAX_CONCURRENCY: Final = "VERIFICATION_MAX_CONCURRENCY"
VERIFICATION_MAX_RECEIVE_COUNT: Final = "VERIFICATION_MAX_RECEIVE_COUNT"
VERIFICATION_FIRST_CHECK_SECONDS: Final = "VERIFICATION_FIRST_CHECK_SECONDS"
VERIFICATION_WINDOW_SECONDS: Final = "VERIFICATION_WINDOW_SECONDS"
VERIFICATION_MAX_INTERVAL_SECONDS: Final = "VERIFICATION_MAX_INTERVAL_SECONDS"
VERIFICATION_RETRY_SECONDS: Final = "VERIFICATION_RETRY_SECONDS"

# Customer.io retries a failed delivery for 7 days and may not re-sign a retry (unconfirmed), so
# an event_id is remembered for 8 days and the past tolerance defaults to that same window: every
# accepted timestamp is either new or a remembered duplicate (DESIGN section 3).
DEFAULT_WEBHOOK_DEDUPE_SECONDS: Final = 8 * 24 * 3600
DEFAULT_WEBHOOK_TOLERANCE_SECONDS: Final = DEFAULT_WEBHOOK_DEDUPE_SECONDS
DEFAULT_WEBHOOK_FUTURE_SKEW_SECONDS: Final = 300
# Lambda's synchronous invocation payload limit (6 MB, the whole event: headers and base64
# included), https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html: no body the function
# receives is larger, so by default the limit never refuses anything Customer.io signed.
DEFAULT_WEBHOOK_MAX_BODY_BYTES: Final = 6 * 1024 * 1024
DEFAULT_SIGNING_KEY_GRACE_SECONDS: Final = 86_400
DEFAULT_RATE_LIMIT_RPS: Final = 100.0
DEFAULT_SECRETS_CACHE_SECONDS: Final = 300
# A few seconds: the window a regenerated signing key is refused shrinks to the operator's own
# steps, and forged traffic costs at most a few GetSecretValue calls per execution environment
# every interval (README, Secrets and rotation: the arithmetic against the 10,000/s quota).
DEFAULT_SIGNING_KEY_REFRESH_SECONDS: Final = 5


def require_env(name: str) -> str:
    """Return the environment variable ``name`` or raise a ConfigurationError naming it."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is required")
    return value


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """Read an integer setting, with a clear error for a non-integer or out-of-range value."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name} must be an integer") from None
    if value < minimum:
        raise ConfigurationError(f"environment variable {name} must be >= {minimum}")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    """Read a float setting, with a clear error for a non-number or out-of-range value."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name} must be a number") from None
    if not value >= minimum:  # also rejects NaN
        raise ConfigurationError(f"environment variable {name} must be >= {minimum}")
    return value


def positive_float(raw: str, *, what: str) -> float:
    """``raw`` as a positive finite number, else a ConfigurationError saying that ``what`` (the
    setting's name, e.g. ``"environment variable CUSTOMERIO_RATE_LIMIT_RPS"``) must be one. The
    message never repeats the value: a mistyped setting may be a secret pasted in the wrong place.

    >>> positive_float(" 2.5 ", what="X")
    2.5
    >>> positive_float("nan", what="X")
    Traceback (most recent call last):
    ...
    cio_security.errors.ConfigurationError: X must be a positive number
    """
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{what} must be a number") from None
    if not (math.isfinite(value) and value > 0):  # also rejects NaN and infinity
        raise ConfigurationError(f"{what} must be a positive number")
    return value


def env_positive_float(name: str, default: float, environ: Mapping[str, str] | None = None) -> float:
    """Read a setting that must be a positive finite number (a request budget): ``default`` when
    unset or blank, else ``positive_float`` with an error naming the variable. ``environ``: the
    variables to read (default ``os.environ``)."""
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return default
    return positive_float(raw, what=f"environment variable {name}")


def boto_config() -> Config:
    """The botocore settings every AWS client of the project uses: explicit timeouts and a
    bounded, standard retry mode, so a function's Timeout always exceeds the sum of its calls."""
    # Imported here: the webhook reads its configuration and workspaces without loading botocore.
    from botocore.config import Config  # noqa: PLC0415

    return Config(
        connect_timeout=2,
        read_timeout=5,
        retries={"max_attempts": 3, "mode": "standard"},
    )


def env_str(name: str, default: str = "") -> str:
    """A string setting, stripped; ``default`` when unset or blank."""
    return os.environ.get(name, "").strip() or default
