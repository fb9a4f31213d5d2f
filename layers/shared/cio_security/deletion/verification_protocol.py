"""What the deletion processor needs of erasure verification: ``ErasureVerifier``.

Track is asynchronous: a 200 (or a 207 without an error for the operation) means Customer.io
accepted the suppress or delete, not that the person is gone. Where an App API key is configured,
a verifier checks later that the App API no longer finds the person (DESIGN section 4). The
processor calls ``schedule`` once per batch, after the submissions are recorded (each record's
submission step done, ``submitted_at`` set, the lease still held) and before the records move to
``submitted`` with verification ``pending``:

- ``schedule`` returns: every record is marked ``submitted`` / ``pending`` and its lease released;
- ``schedule`` raises a ``CioSecurityError`` (a ``TransientError``, an ``AuditError`` ...): every
  request of the call is released and retried; its redelivery finds the submission recorded, calls
  no Track API again, and schedules again. ``schedule`` must therefore be idempotent per
  ``request_id`` (a request may be scheduled twice; a check that finds it gone twice is harmless).

Without a verifier the processor completes each request with verification ``not_verified``.

The records hold no identifier (only ``subject_hash``), so the identifiers to look up come beside
them in ``requests`` (request_id -> the parsed ``DeletionRequest``, with ``identifier`` and its
stated or inferred ``identifier_type``). They are personal data: a verifier may put them where its
checks need them (an encrypted queue), never in a log, a metric, an error text or the audit
record.

>>> class Recorder:
...     def __init__(self): self.scheduled = []
...     def schedule(self, records, now, *, requests):
...         self.scheduled += [r.request_id for r in records]
>>> isinstance(Recorder(), ErasureVerifier)
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from datetime import datetime

    from cio_security.audit.record import AuditRecord
    from cio_security.deletion.request import DeletionRequest

__all__ = ["ErasureVerifier"]


@runtime_checkable
class ErasureVerifier(Protocol):
    """Schedules the later checks that erasures Customer.io accepted really happened."""

    def schedule(
        self,
        records: Sequence[AuditRecord],
        now: datetime,
        *,
        requests: Mapping[str, DeletionRequest],
    ) -> None:
        """Enqueue a check of each record's subject (``requests[record.request_id]`` names it).
        Raise a ``CioSecurityError`` when the checks could not be scheduled: those requests are
        then retried (module docstring)."""
