"""GDPR/CCPA deletion requests (DESIGN section 4): parsing, settings, processing, dead letters.

Public names are re-exported lazily: importing the package loads none of its modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cio_security import lazy_exports

_EXPORTS: dict[str, str] = {
    "DeadLetterQueue": "dead_letters",
    "DeadlineStatus": "outcome",
    "DeletionClient": "processor",
    "DeletionOutcome": "outcome",
    "DeletionProcessor": "processor",
    "DeletionRequest": "request",
    "DeletionSettings": "settings",
    "OutcomeKind": "outcome",
    "StepCall": "outcome",
    "add_one_month": "request",
    "infer_identifier_type": "request",
    "parse_deletion_message": "request",
    "rate_per_invocation": "settings",
}

__all__ = [
    "DeadLetterQueue",
    "DeadlineStatus",
    "DeletionClient",
    "DeletionOutcome",
    "DeletionProcessor",
    "DeletionRequest",
    "DeletionSettings",
    "OutcomeKind",
    "StepCall",
    "add_one_month",
    "infer_identifier_type",
    "parse_deletion_message",
    "rate_per_invocation",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from cio_security.deletion.dead_letters import DeadLetterQueue
    from cio_security.deletion.outcome import DeadlineStatus, DeletionOutcome, OutcomeKind, StepCall
    from cio_security.deletion.processor import DeletionClient, DeletionProcessor
    from cio_security.deletion.request import (
        DeletionRequest,
        add_one_month,
        infer_identifier_type,
        parse_deletion_message,
    )
    from cio_security.deletion.settings import DeletionSettings, rate_per_invocation
