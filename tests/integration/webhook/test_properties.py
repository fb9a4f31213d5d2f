"""Generated requests through the real handler: no request that verifies ever gets a 4xx (it is
published, a duplicate or kept: 200), never a 5xx, never an unsigned body accepted or stored.

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


# Python's json writes Infinity (not JSON): such a body is kept (200), never a 4xx or 5xx.
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
    assert response["statusCode"] == 401
    assert webhook.published() == []
    assert webhook.kept() == {}  # an unverified body is never stored


# Anywhere inside the tolerance: up to 8 days old (the dedupe window), up to 300 s ahead.
signed_ages = st.integers(-300, 8 * 86_400 - 60)
header_case = st.sampled_from(
    [
        ("X-CIO-Timestamp", "X-CIO-Signature"),
        ("x-cio-timestamp", "x-cio-signature"),
        ("X-Cio-Timestamp", "x-CIO-signature"),
    ]
)


@FUZZ
@pytest.mark.fuzz
@given(
    body=bodies,
    shape=st.sampled_from(["http", "rest"]),
    b64=st.booleans(),
    age=signed_ages,
    names=header_case,
)
def test_no_request_that_verifies_ever_gets_a_4xx(  # noqa: PLR0917 - hypothesis passes them by name
    webhook: WebhookStack, body: bytes, shape: str, b64: bool, age: int, names: tuple[str, str]
) -> None:
    """DESIGN section 3: a request Customer.io signed is published, a duplicate or kept (200); with
    AWS healthy (moto) nothing else is possible, and a 4xx never is."""
    signed = sign_webhook(SIGNING_KEY, body, timestamp=int(time.time()) - age)
    headers = {names[0]: signed["X-CIO-Timestamp"], names[1]: signed["X-CIO-Signature"]}

    response = webhook.send(body, shape=shape, base64_encoded=b64, headers=headers)

    assert response["statusCode"] == 200
    published = webhook.published()
    # Published once, a duplicate of an earlier example, or kept: never silently dropped.
    assert len(published) <= 1
    if not published:
        event_id = _event_id(body)
        assert webhook.is_kept(body) or (event_id is not None and webhook.is_remembered(event_id))


def _event_id(body: bytes) -> str | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    value = parsed.get("event_id") if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else None


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
