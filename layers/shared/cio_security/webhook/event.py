"""A Customer.io reporting webhook event after verification: the model and its parser."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from cio_security.errors import InvalidEventError
from cio_security.sanitizer.loggable import personal_data_shape
from cio_security.validation import field_names

__all__ = ["WebhookEvent", "parse_webhook_event"]

_LOGGABLE_ID = re.compile(r"[A-Za-z0-9_.:-]+").fullmatch


class WebhookEvent(BaseModel):
    """A Customer.io reporting webhook. Fields beyond these are ignored and never published:
    they are unknown to the sanitizer policy's authors."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]
    object_type: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    metric: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    timestamp: int = Field(ge=0, lt=10**12)
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def log_id(self) -> str:
        """``event_id`` for logs when it has an id's shape (Customer.io sends ULIDs) and not the
        shape of personal data (``personal_data_shape``: an email, a phone, card or social security
        number, an IBAN); otherwise a placeholder, so a signed but odd id never puts personal data
        in a log."""
        if _LOGGABLE_ID(self.event_id) and personal_data_shape(self.event_id) is None:
            return self.event_id
        return "(withheld: not an id)"


def parse_webhook_event(body: bytes) -> WebhookEvent:
    """Validate a verified body; InvalidEventError names the failing fields, never their values."""
    try:
        return WebhookEvent.model_validate_json(body)
    except ValidationError as exc:
        fields = field_names(exc, depth=None)
        raise InvalidEventError(f"invalid webhook event (fields: {', '.join(fields)[:200]})") from None
