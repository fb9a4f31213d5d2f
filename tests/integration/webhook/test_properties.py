"""Generated requests through the real handler: never a 5xx, never an unsigned body accepted.

The example count is FUZZ_EXAMPLES (make fuzz: 100,000 with the fuzz marker); make test runs a
smaller, deterministic sample.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cio_security.webhook.signature import sign_webhook

from .conftest import SIGNING_KEY, WebhookStack, sample_event

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

header_names = st.sampled_from(
    ["X-CIO-Timestamp", "X-CIO-Signature", "x-cio-signature", "Content-Type"]
) | st.text(max_size=30)
header_values = st.one_of(
    st.text(max_size=100),
    st.integers(-(10**13), 10**13).map(str),
    st.text("0123456789abcdef", min_size=64, max_size=64),
    st.just(str(int(time.time()))),
)


def json_of(floats: st.SearchStrategy[float]) -> st.SearchStrategy[object]:
    return st.recursive(
        st.none() | st.booleans() | st.integers() | floats | st.text(max_size=40),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
        ),
        max_leaves=20,
    )


# Python's json writes Infinity (not JSON): such a body must get a 400, never a 5xx.
json_values = json_of(st.floats(allow_nan=False))
finite_json_values = json_of(st.floats(allow_nan=False, allow_infinity=False))
bodies = st.one_of(
    st.binary(max_size=512),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda d: json.dumps({**sample_event(), "data": d}).encode(),
        st.dictionaries(st.text(max_size=12), json_values),
    ),
)


@FUZZ
@pytest.mark.fuzz
@given(
    headers=st.dictionaries(header_names, header_values, max_size=4),
    body=bodies,
    shape=st.sampled_from(["http", "rest"]),
    b64=st.booleans(),
)
def test_unsigned_requests_are_refused_without_5xx(
    webhook: WebhookStack, headers: dict[str, str], body: bytes, shape: str, b64: bool
) -> None:
    response = webhook.send(body, headers=headers, shape=shape, base64_encoded=b64)
    assert response["statusCode"] in {401, 413}
    assert webhook.published() == []


@FUZZ
@pytest.mark.fuzz
@given(body=bodies, shape=st.sampled_from(["http", "rest"]), b64=st.booleans())
def test_signed_requests_never_5xx(webhook: WebhookStack, body: bytes, shape: str, b64: bool) -> None:
    response = webhook.send(body, shape=shape, base64_encoded=b64, headers=sign_webhook(SIGNING_KEY, body))
    assert response["statusCode"] in {200, 400, 413}
    published = webhook.published()
    if response["statusCode"] != 200:
        assert published == []


@FUZZ
@pytest.mark.fuzz
@given(
    data=st.dictionaries(st.text(max_size=12), finite_json_values, max_size=6),
    event_id=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
)
def test_signed_valid_events_are_published_once(webhook: WebhookStack, data: dict, event_id: str) -> None:
    event = {**sample_event(event_id), "data": data}
    first = webhook.send(event)
    again = webhook.send(event)
    assert first["statusCode"] == again["statusCode"] == 200
    published = webhook.published()
    assert len(published) <= 1  # once, or already published by an earlier example with this id
    assert all(p["detail"]["event_id"] == event_id for p in published)
