"""Sending many requests' operations to Customer.io in Track API v2 batches, and what each
request's share of the answer means (DESIGN section 4).

``submit(client, operations, may_call=...)`` sends the operations in as few ``POST /api/v2/batch``
requests as the documented limits allow (``customerio.v2.chunk``: 500 KB per request, 32 KB per
operation) and answers one ``Accepted`` or ``Refused`` per operation, in order:

==================================  =============================================================
Customer.io's answer                what it means for each request in it
==================================  =============================================================
200                                 accepted
207                                 the operations its ``errors[].batch_index`` names are refused
                                    for good (``customerio_rejected_<reason>``); the others are
                                    accepted
400 for the whole request           split in halves and re-sent, until the operation it refuses is
                                    alone (``customerio_400``, permanent); one malformed request
                                    never sinks its neighbours
429, 5xx, timeouts, resets          transient for every request in it (after the client's own
                                    retries, Retry-After honoured): retried through SQS
401 (after one credential re-read), permanent for every request in it; a 404 is a wrong base URL or
403, 404, a redirect                a proxy (the Track API never says whether a person existed)
==================================  =============================================================

A request is never sent when ``may_call()`` says there is no time left for a call at its worst
(``out_of_time``, retried), and a configuration or secret failure (``configuration``) or a bug
(``unexpected_error``) sends nothing more and is retried. Suppress and delete are idempotent, so
a request retried after an uncertain answer (a timeout, a 207 that names nothing usable) is
simply sent again.

No identifier is logged or returned: only request ids' indices, statuses and reason codes.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from cio_security.customerio.v2 import BatchResult, PersonOperation, chunk
from cio_security.errors import (
    BadRequestError,
    ConfigurationError,
    CustomerIOError,
    PermanentError,
    SecretError,
    TransientError,
)

__all__ = [
    "Accepted",
    "BatchClient",
    "Refused",
    "SubmissionResult",
    "customerio_reason",
    "rejected_reason",
    "submit",
]

logger = logging.getLogger(__name__)

_REASON_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class BatchClient(Protocol):
    """The Track call a deletion needs (``cio_security.customerio.TrackClient.batch``)."""

    def batch(self, operations: Sequence[PersonOperation]) -> BatchResult: ...


@dataclass(frozen=True, slots=True)
class Accepted:
    """Customer.io accepted the operation: the status of the request that carried it (200 or
    207) and Customer.io's request id."""

    status: int
    customerio_request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """The operation was not accepted. ``kind``: ``retry`` or ``permanent``; ``reason`` a short
    code; ``status`` and ``customerio_request_id`` of the request that carried it, when there was
    an answer. ``sent`` is False when no request carried it (no time, no credentials, a bug): its
    audit record's step is then left untouched."""

    kind: Literal["retry", "permanent"]
    reason: str
    status: int | None = None
    customerio_request_id: str | None = None
    sent: bool = True


SubmissionResult = Accepted | Refused


def customerio_reason(exc: CustomerIOError) -> str:
    """``customerio_<status>``, or ``customerio_unreachable`` / ``customerio_rejected`` without one."""
    if exc.status is not None:
        return f"customerio_{exc.status}"
    return "customerio_unreachable" if isinstance(exc, TransientError) else "customerio_rejected"


def rejected_reason(reason: str) -> str:
    """The short code for an operation a 207 refused: ``customerio_rejected_<reason>`` when
    Customer.io's reason is a short code (it becomes a message attribute and a log field), else
    ``customerio_rejected_unknown``."""
    return f"customerio_rejected_{reason if _REASON_CODE.match(reason) else 'unknown'}"


def submit(
    client: BatchClient,
    operations: Sequence[PersonOperation],
    *,
    may_call: Callable[[], bool] = lambda: True,
) -> list[SubmissionResult]:
    """Send ``operations`` in v2 batches; one result per operation, in order (module docstring)."""
    results: list[SubmissionResult | None] = [None] * len(operations)
    sendable: list[int] = []
    for index, operation in enumerate(operations):
        try:
            operation.encoded()
        except BadRequestError:  # over 32 KB or not UTF-8: the request schema rules both out
            results[index] = Refused("permanent", "operation_invalid", sent=False)
        else:
            sendable.append(index)
    start = 0
    for group in chunk([operations[index] for index in sendable]):  # contiguous runs, in order
        indices, start = sendable[start : start + len(group)], start + len(group)
        _send(client, operations, indices, results, may_call)
    return [
        result if result is not None else Refused("retry", "unexpected_error", sent=False)
        for result in results
    ]


def _send(
    client: BatchClient,
    operations: Sequence[PersonOperation],
    indices: list[int],
    results: list[SubmissionResult | None],
    may_call: Callable[[], bool],
) -> None:
    """One batch request for ``operations[indices]``, its answer written into ``results``; a
    whole-request 400 splits the batch in halves (recursively) to isolate what it refuses."""

    def every(result: SubmissionResult) -> None:
        for index in indices:
            results[index] = result

    if not may_call():
        logger.warning(
            "not enough time left for a Customer.io batch; %d operations left for later", len(indices)
        )
        every(Refused("retry", "out_of_time", sent=False))
        return
    try:
        answer = client.batch([operations[index] for index in indices])
    except BadRequestError as exc:
        if len(indices) > 1:
            half = len(indices) // 2
            logger.warning(
                "Customer.io refused a batch of %d operations (status %s); splitting it",
                len(indices),
                exc.status,
            )
            _send(client, operations, indices[:half], results, may_call)
            _send(client, operations, indices[half:], results, may_call)
            return
        every(Refused("permanent", customerio_reason(exc), exc.status, exc.request_id))
    except TransientError as exc:
        every(Refused("retry", customerio_reason(exc), exc.status, exc.request_id))
    except PermanentError as exc:
        every(Refused("permanent", customerio_reason(exc), exc.status, exc.request_id))
    except (ConfigurationError, SecretError) as exc:
        logger.error("Customer.io batch not sent: %s", type(exc).__name__)
        every(Refused("retry", "configuration", sent=False))
    except Exception as exc:  # noqa: BLE001 - one batch's bug must not sink the others: retried
        # The type and the stack only: an exception's text may quote an identifier.
        logger.error(
            "unexpected error while sending a Customer.io batch",
            extra={"error": type(exc).__name__, "stack": "".join(traceback.format_tb(exc.__traceback__))},
        )
        every(Refused("retry", "unexpected_error", sent=False))
    else:
        for offset, index in enumerate(indices):
            error = answer.failed(offset)
            results[index] = (
                Accepted(answer.status, answer.request_id)
                if error is None
                else Refused("permanent", rejected_reason(error.reason), answer.status, answer.request_id)
            )
        logger.info(
            "Customer.io batch: %d operations, status %d, %d refused",
            len(indices),
            answer.status,
            len(answer.errors),
            extra={"customerio_request_id": answer.request_id},
        )
