"""Track API v2 person operations and batches (``POST /api/v2/batch``), as Customer.io documents
them (docs.customer.io, Journeys Track API, "Track v2": ``/api/v2/entity`` and ``/api/v2/batch``).

- An operation names its person with exactly one explicit identifier type: ``id``, ``email``,
  ``cio_id`` (sent without the ``cio_`` prefix that v1 paths need) or ``phone``. v2 never infers
  a type from a value's shape.
- A batch request is at most 500 KB and each operation at most 32 KB. The documentation does not
  say whether a KB is 1,000 or 1,024 bytes: the limits here are the smaller reading (bytes of the
  compact JSON encoding), so a request within them is within either.
- The maximum number of operations per batch is not documented beyond the size cap; ``chunk``
  also caps the count (``MAX_BATCH_OPERATIONS``) so one failed request never covers too much.
- 200: every operation was accepted. 207: ``{"errors": [{"batch_index", "reason", "field",
  "message"}]}`` names the operations that failed; all others were accepted. 400/401: the whole
  request. ``field`` and ``message`` may quote what was sent (an identifier): they are never
  logged or stored, only ``reason`` as a short code and the index.

>>> op = PersonOperation("suppress", "cio_id", "cio_03000001")
>>> op.payload()
{'type': 'person', 'action': 'suppress', 'identifiers': {'cio_id': '03000001'}}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from cio_security.errors import BadRequestError

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_OPERATIONS",
    "MAX_OPERATION_BYTES",
    "BatchResult",
    "IdentifierType",
    "OperationError",
    "PersonAction",
    "PersonOperation",
    "batch_body",
    "chunk",
    "parse_batch_errors",
]

IdentifierType = Literal["id", "email", "cio_id", "phone"]
PersonAction = Literal["suppress", "delete", "unsuppress"]

MAX_BATCH_BYTES: Final = 500_000
MAX_OPERATION_BYTES: Final = 32_000
MAX_BATCH_OPERATIONS: Final = 1_000
_ENVELOPE_BYTES: Final = len(b'{"batch":[]}')
_REASON: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


@dataclass(frozen=True, slots=True)
class PersonOperation:
    """One person operation of a v2 batch: ``action`` on the person ``identifier`` of
    ``identifier_type``. A ``cio_id`` may be given with or without its ``cio_`` prefix."""

    action: PersonAction
    identifier_type: IdentifierType
    identifier: str

    def payload(self) -> dict[str, Any]:
        """The operation's JSON object."""
        value = self.identifier
        if self.identifier_type == "cio_id" and value.startswith("cio_"):
            value = value[len("cio_") :]
        return {"type": "person", "action": self.action, "identifiers": {self.identifier_type: value}}

    def encoded(self) -> bytes:
        """The compact JSON bytes of ``payload()``; BadRequestError when over 32 KB or not UTF-8."""
        try:
            data = _encode(self.payload())
        except UnicodeEncodeError:  # a lone surrogate, which JSON text may escape but UTF-8 cannot hold
            raise BadRequestError("a batch operation is not valid UTF-8", operation="batch") from None
        if len(data) > MAX_OPERATION_BYTES:
            raise BadRequestError("a batch operation exceeds 32 KB", operation="batch")
        return data


@dataclass(frozen=True, slots=True)
class OperationError:
    """One failed operation of a 207: its index in the request and Customer.io's reason code
    (``unknown`` when the reason is missing or not a short code). The error's ``field`` and
    ``message`` are dropped on purpose: they may quote the identifier."""

    batch_index: int
    reason: str


@dataclass(frozen=True, slots=True)
class BatchResult:
    """A batch request's outcome: the status (200 or 207), Customer.io's request id, and the
    failed operations by index (empty for a 200)."""

    status: int
    request_id: str | None = None
    errors: Mapping[int, OperationError] = field(default_factory=dict)

    def failed(self, index: int) -> OperationError | None:
        """The error of operation ``index``, or None when it was accepted."""
        return self.errors.get(index)


def batch_body(encoded: Sequence[bytes]) -> bytes:
    """The request body for already-encoded operations: ``{"batch":[...]}``."""
    return b'{"batch":[' + b",".join(encoded) + b"]}"


def chunk(
    operations: Iterable[PersonOperation],
    *,
    max_bytes: int = MAX_BATCH_BYTES,
    max_operations: int = MAX_BATCH_OPERATIONS,
) -> list[list[PersonOperation]]:
    """Split ``operations`` (in order) into batches within ``max_bytes`` and ``max_operations``.
    Raises BadRequestError for a single operation over 32 KB (it fits no batch).

    >>> ops = [PersonOperation("delete", "id", str(i)) for i in range(5)]
    >>> [len(c) for c in chunk(ops, max_operations=2)]
    [2, 2, 1]
    """
    batches: list[list[PersonOperation]] = []
    current: list[PersonOperation] = []
    size = _ENVELOPE_BYTES
    for operation in operations:
        length = len(operation.encoded()) + (1 if current else 0)
        if current and (size + length > max_bytes or len(current) >= max_operations):
            batches.append(current)
            current, size, length = [], _ENVELOPE_BYTES, length - 1
        current.append(operation)
        size += length
    if current:
        batches.append(current)
    return batches


def parse_batch_errors(content: bytes, count: int) -> dict[int, OperationError] | None:
    """The per-operation errors of a 207 body for a request of ``count`` operations, or None when
    the body does not say which operations failed (not JSON, no ``errors`` list, an index out of
    range): the caller must then treat every operation of the request as not accepted."""
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):
        return None
    items = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        return None
    errors: dict[int, OperationError] = {}
    for item in items:
        index = item.get("batch_index") if isinstance(item, dict) else None
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
            return None
        reason = item.get("reason")
        code = reason if isinstance(reason, str) and _REASON.match(reason) else "unknown"
        errors.setdefault(index, OperationError(index, code))
    return errors
