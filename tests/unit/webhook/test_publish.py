"""EventBridge entries: the documented size, the claim-check envelope, refused versus failed."""

from __future__ import annotations

import pytest

from cio_security.errors import InvalidEventError, PayloadLimitError, PublishError
from cio_security.webhook.claims import ClaimPointer
from cio_security.webhook.event import WebhookEvent
from cio_security.webhook.publish import (
    MAX_ENTRY_BYTES,
    claim_check_entry,
    entry_size,
    event_bridge_entry,
    publish_entry,
    serialize_detail,
)

EVENT = WebhookEvent(event_id="01J0000000000000000000000A", object_type="email", metric="sent", timestamp=1)


def test_entry_size_counts_utf8_bytes_of_source_detail_type_detail_resources_and_time() -> None:
    entry = {
        "Source": "customerio",
        "DetailType": "sent",
        "Detail": '{"é":1}',
        "Resources": ["r1"],
        "Time": 1,
    }
    assert entry_size(entry) == len("customerio") + len("sent") + len('{"é":1}'.encode()) + 2 + 14


def test_an_entry_at_the_limit_is_refused_for_a_claim_check() -> None:
    overhead = len("customerio") + len("sent") + len(serialize_detail({"data": {"x": ""}}))
    fits = {"x": "a" * (MAX_ENTRY_BYTES - overhead - 200)}
    assert entry_size(event_bridge_entry(EVENT, fits, bus_name="b")) < MAX_ENTRY_BYTES
    with pytest.raises(PayloadLimitError):
        event_bridge_entry(EVENT, {"x": "a" * MAX_ENTRY_BYTES}, bus_name="b")


def test_non_finite_numbers_are_invalid() -> None:
    with pytest.raises(InvalidEventError):
        event_bridge_entry(EVENT, {"x": float("nan")}, bus_name="b")


def test_the_claim_check_envelope_replaces_data_with_the_pointer() -> None:
    pointer = ClaimPointer(bucket="bucket", key="claims/abc.json", size=300_000, sha256="0" * 64)
    entry = claim_check_entry(EVENT, pointer, bus_name="b")
    assert entry["DetailType"] == "sent" and entry["Source"] == "customerio"
    assert entry_size(entry) < 1024
    assert '"claim_check":{"bucket":"bucket","key":"claims/abc.json","size":300000' in entry["Detail"]
    assert '"data"' not in entry["Detail"]


class _Events:
    def __init__(self, code: str | None) -> None:
        self.code = code

    def put_events(self, **_: object) -> dict:
        if self.code is None:
            return {"FailedEntryCount": 0, "Entries": [{"EventId": "id-1"}]}
        return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": self.code}]}


@pytest.mark.parametrize("code", ["InvalidArgument", "MalformedDetail"])
def test_an_entry_refused_for_itself_is_an_invalid_event(code: str) -> None:
    with pytest.raises(InvalidEventError, match=code):
        publish_entry(_Events(code), {})


@pytest.mark.parametrize(
    "code",
    ["InternalFailure", "ThrottlingException", "AccessDeniedException", "NotAuthorizedForSourceException"],
)
def test_other_entry_errors_are_ours_to_retry(code: str) -> None:
    with pytest.raises(PublishError, match=code):
        publish_entry(_Events(code), {})


def test_a_published_entry_returns_its_id() -> None:
    assert publish_entry(_Events(None), {}) == "id-1"
