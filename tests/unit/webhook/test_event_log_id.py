"""The webhook event's log guard (issue 16): ``event_id`` reaches a log only when it has an id's
shape and not the shape of personal data; Customer.io's ULIDs and other ids pass."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cio_security.webhook.event import parse_webhook_event
from unit.sanitizer.samples import card_numbers, us_ssns

WITHHELD = "(withheld: not an id)"


def event_with(event_id: str) -> bytes:
    body = {"event_id": event_id, "object_type": "email", "metric": "sent", "timestamp": 1_700_000_000}
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    "event_id",
    ["01ARZ3NDEKTSV4RRFFQ69G5FAV", "01JDA8Z3K5W7HQ2XK5N3V9C1F4", "evt_123", "dgKZAgAAAAGT:42", "a.b-c"],
)
def test_ids_are_logged_as_they_are(event_id: str) -> None:
    assert parse_webhook_event(event_with(event_id)).log_id == event_id


@pytest.mark.parametrize(
    "event_id",
    [
        "someone.else@example.com",
        "4111-1111-1111-1111",
        "4111111111111111",
        "123-45-6789",
        "evt-123456789",
        "GB82WEST12345698765432",
        "415-555-0100",
        "a,b",
    ],
)
def test_personal_data_shaped_and_odd_ids_are_withheld(event_id: str) -> None:
    assert parse_webhook_event(event_with(event_id)).log_id == WITHHELD


@settings(derandomize=True, database=None, deadline=None)
@given(st.one_of(card_numbers(), us_ssns()), st.from_regex(r"[A-Za-z0-9_.:-]{0,12}", fullmatch=True))
def test_card_and_ssn_shaped_ids_are_withheld(value: str, prefix: str) -> None:
    event_id = f"{prefix}-{value}".replace(" ", "-")
    assert parse_webhook_event(event_with(event_id)).log_id == WITHHELD
