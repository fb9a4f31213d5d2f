"""GDPR/CCPA deletion requests (DESIGN section 4): parsing, settings, Track v2 submission, the
processor, outcomes, erasure events, the verifier interface, the dead-letter queue and the routes to
each Customer.io workspace.

Public names are re-exported lazily: importing the package loads none of its modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cio_security import lazy_exports

_EXPORTS: dict[str, str] = {
    "Accepted": "submission",
    "BatchClient": "submission",
    "DeadLetterQueue": "dead_letters",
    "DeadlineStatus": "outcome",
    "DeletionOutcome": "outcome",
    "DeletionProcessor": "processor",
    "DeletionRequest": "request",
    "DeletionSettings": "settings",
    "ErasureEvent": "events",
    "ErasureEvents": "events",
    "ErasureVerifier": "verification_protocol",
    "OutcomeKind": "outcome",
    "PerWorkspace": "routing",
    "QueueMessage": "outcome",
    "Refused": "submission",
    "StepCall": "outcome",
    "WorkspaceRoutes": "routing",
    "add_one_month": "request",
    "erasure_detail": "events",
    "infer_identifier_type": "request",
    "parse_deletion_message": "request",
    "rate_per_invocation": "settings",
    "submit": "submission",
}

__all__ = [
    "Accepted",
    "BatchClient",
    "DeadLetterQueue",
    "DeadlineStatus",
    "DeletionOutcome",
    "DeletionProcessor",
    "DeletionRequest",
    "DeletionSettings",
    "ErasureEvent",
    "ErasureEvents",
    "ErasureVerifier",
    "OutcomeKind",
    "PerWorkspace",
    "QueueMessage",
    "Refused",
    "StepCall",
    "WorkspaceRoutes",
    "add_one_month",
    "erasure_detail",
    "infer_identifier_type",
    "parse_deletion_message",
    "rate_per_invocation",
    "submit",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from cio_security.deletion.dead_letters import DeadLetterQueue
    from cio_security.deletion.events import ErasureEvent, ErasureEvents, erasure_detail
    from cio_security.deletion.outcome import (
        DeadlineStatus,
        DeletionOutcome,
        OutcomeKind,
        QueueMessage,
        StepCall,
    )
    from cio_security.deletion.processor import DeletionProcessor
    from cio_security.deletion.request import (
        DeletionRequest,
        add_one_month,
        infer_identifier_type,
        parse_deletion_message,
    )
    from cio_security.deletion.routing import PerWorkspace, WorkspaceRoutes
    from cio_security.deletion.settings import DeletionSettings, rate_per_invocation
    from cio_security.deletion.submission import Accepted, BatchClient, Refused, submit
    from cio_security.deletion.verification_protocol import ErasureVerifier
