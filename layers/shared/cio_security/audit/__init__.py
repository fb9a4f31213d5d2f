"""The audit trail of deletion requests: records (``record``), their lease state machine
(``transitions``), the store that applies it (``base``) and its DynamoDB backend (``dynamodb``).

Public names are re-exported lazily: importing the package loads none of its modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cio_security import lazy_exports

_EXPORTS: dict[str, str] = {
    "AuditBackend": "base",
    "BaseAuditStore": "base",
    "AuditStore": "dynamodb",
    "DEFAULT_RETENTION_DAYS": "record",
    "FINISHED_STATUSES": "record",
    "MIN_RETENTION_DAYS": "record",
    "AuditRecord": "record",
    "RecordStatus": "record",
    "StepName": "record",
    "StepRecord": "record",
    "StepStatus": "record",
    "Verification": "record",
    "WorkspaceState": "record",
    "WorkspaceStatus": "record",
    "expiry_for": "record",
    "iso": "record",
    "subject_hash": "record",
    "submission_step": "record",
}

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "FINISHED_STATUSES",
    "MIN_RETENTION_DAYS",
    "AuditBackend",
    "AuditRecord",
    "AuditStore",
    "BaseAuditStore",
    "RecordStatus",
    "StepName",
    "StepRecord",
    "StepStatus",
    "Verification",
    "WorkspaceState",
    "WorkspaceStatus",
    "expiry_for",
    "iso",
    "subject_hash",
    "submission_step",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from cio_security.audit.base import AuditBackend, BaseAuditStore
    from cio_security.audit.dynamodb import AuditStore
    from cio_security.audit.record import (
        DEFAULT_RETENTION_DAYS,
        FINISHED_STATUSES,
        MIN_RETENTION_DAYS,
        AuditRecord,
        RecordStatus,
        StepName,
        StepRecord,
        StepStatus,
        Verification,
        WorkspaceState,
        WorkspaceStatus,
        expiry_for,
        iso,
        subject_hash,
        submission_step,
    )
