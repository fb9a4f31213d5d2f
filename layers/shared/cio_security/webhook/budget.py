"""The webhook's time budget: every AWS call's timeouts, so a delivery is answered inside
Customer.io's 4 s, cold start included (DESIGN section 3).

Customer.io gives a reporting webhook 4 seconds; a delivery that times out is retried and holds up
every later delivery behind it. So the webhook's AWS clients do not use the project's shared
botocore settings (2 s connect, 5 s read, 3 attempts: 21 s for one call at its worst) but these:

- **one attempt per call**: botocore's standard retry mode sleeps up to 1 s before a retry, which
  the budget cannot afford; a failed call answers 503 instead, and Customer.io retries a 503 with
  its own backoff (503 is not in its one-hour list).
- **short connect and read timeouts**: in-region calls answer in tens of milliseconds; the limits
  only bound the rare stuck call.

The longest request (a cold execution environment inside a signing key's grace window, a
claim-checked event) makes, one after the other: three GetSecretValue calls for the key ring and
one for the pepper, the idempotency PutItem, the claim's PutObject, PutEvents and the idempotency
UpdateItem. A client keeps its connection open within an invocation, so each service's connect
timeout counts once::

    >>> WEBHOOK_TIME_BUDGET.worst_case_seconds()   # 4 connects + 8 reads + CPU allowance
    2.85

The function's Timeout (template.yaml, 3 s) is at least that, so the function always answers
itself (a Lambda timeout becomes API Gateway's 502, which Customer.io answers with a one-hour
wait), and it leaves ``COLD_START_ALLOWANCE_SECONDS`` of the 4 s for a cold start and API Gateway
(``tests/iac/test_webhook_budget.py`` checks both; BENCHMARKS.md has the measured cold start).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from botocore.config import Config

__all__ = [
    "COLD_START_ALLOWANCE_SECONDS",
    "CUSTOMERIO_TIMEOUT_SECONDS",
    "WEBHOOK_TIME_BUDGET",
    "CallBudget",
    "Service",
    "WebhookTimeBudget",
]

CUSTOMERIO_TIMEOUT_SECONDS = 4.0
"""Customer.io's timeout for one reporting-webhook call (CUSTOMERIO.md, Reporting webhooks)."""

COLD_START_ALLOWANCE_SECONDS = 1.0
"""What the budget leaves, out of the 4 s, for a cold start (runtime start, imports, client
creation) and API Gateway. Measured by ``make bench`` on a workstation; not measured on Lambda."""

Service = Literal["secretsmanager", "dynamodb", "s3", "events"]


@dataclass(frozen=True)
class CallBudget:
    """Timeouts of one AWS service's client: ``connect`` and ``read`` in seconds, one attempt."""

    connect: float
    read: float

    def boto_config(self) -> Config:
        """The botocore settings: these timeouts and no retry (``total_max_attempts`` 1)."""
        from botocore.config import Config  # noqa: PLC0415 - botocore is loaded by then; keeps this module light

        return Config(
            connect_timeout=self.connect,
            read_timeout=self.read,
            retries={"mode": "standard", "total_max_attempts": 1},
        )


@dataclass(frozen=True)
class WebhookTimeBudget:
    """Per-service timeouts and the calls of the longest request, in order of service."""

    services: dict[Service, CallBudget] = field(
        default_factory=lambda: {
            # GetSecretValue decrypts with KMS on every read: a little longer than the others.
            "secretsmanager": CallBudget(connect=0.15, read=0.2),
            "dynamodb": CallBudget(connect=0.15, read=0.15),
            "events": CallBudget(connect=0.15, read=0.25),
            # A kept body or a claim-checked event is up to Lambda's 6 MB; Python's sendall counts
            # the whole upload against the socket timeout, so S3 gets longer (12 MB/s at least).
            "s3": CallBudget(connect=0.15, read=0.5),
        }
    )
    worst_path: tuple[tuple[Service, int], ...] = (
        ("secretsmanager", 4),  # AWSCURRENT, AWSPENDING, AWSPREVIOUS (grace window), the pepper
        ("dynamodb", 2),  # idempotency record: in progress, then completed
        ("s3", 1),  # the claim check of an event above EventBridge's entry limit
        ("events", 1),  # PutEvents
    )
    cpu_seconds: float = 0.4
    """Allowance for the handler's own work on the largest body: verifying, parsing, sanitizing
    (about 25 MiB/s on the benchmark machine, BENCHMARKS.md) and serialising up to 6 MB."""

    def boto_config(self, service: Service) -> Config:
        """The botocore Config of ``service``'s client."""
        return self.services[service].boto_config()

    def worst_case_seconds(self) -> float:
        """The longest a request can take before it is answered, cold start excluded: each
        service's connect timeout once, every call's read timeout, and the CPU allowance."""
        total = self.cpu_seconds
        for service, calls in self.worst_path:
            budget = self.services[service]
            total += budget.connect + calls * budget.read
        return round(total, 3)


WEBHOOK_TIME_BUDGET = WebhookTimeBudget()
