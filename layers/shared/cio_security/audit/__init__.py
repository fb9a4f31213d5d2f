"""The audit trail of deletion requests: records, their lease state machine, storage.

Public names are re-exported lazily: importing the package loads none of its modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cio_security import lazy_exports

_EXPORTS: dict[str, str] = {
    "AuditBackend": "store",
    "AuditRecord": "store",
    "AuditStore": "store",
    "DEFAULT_RETENTION_DAYS": "store",
    "MIN_RETENTION_DAYS": "store",
    "MemoryAuditStore": "store",
    "RecordStatus": "store",
    "StepName": "store",
    "StepRecord": "store",
    "StepStatus": "store",
    "expiry_for": "store",
    "iso": "store",
    "subject_hash": "store",
}

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "MIN_RETENTION_DAYS",
    "AuditBackend",
    "AuditRecord",
    "AuditStore",
    "MemoryAuditStore",
    "RecordStatus",
    "StepName",
    "StepRecord",
    "StepStatus",
    "expiry_for",
    "iso",
    "subject_hash",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from cio_security.audit.store import (
        DEFAULT_RETENTION_DAYS,
        MIN_RETENTION_DAYS,
        AuditBackend,
        AuditRecord,
        AuditStore,
        MemoryAuditStore,
        RecordStatus,
        StepName,
        StepRecord,
        StepStatus,
        expiry_for,
        iso,
        subject_hash,
    )
