"""Where Customer.io's documentation is silent, every answer is pinned: a 429's ``Retry-After``
(absent, delta-seconds, an HTTP-date, a date already past, something unreadable) and its body
(JSON, empty, text) are not documented (Journeys Track API, "Rate Limits": "not strictly
enforced", no 429 described: https://docs.customer.io/api/track/). The sandbox sends each form
and the client's behaviour under each is fixed here: the body never matters, a readable
``Retry-After`` is waited for (up to the policy's cap), anything else falls back to the backoff.

The track_client fixture: four attempts, backoff base 0.2 s with jitter 0.5 (so 0.1 s before the
first retry), Retry-After cap 20 s, sleeps recorded instead of slept.
"""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from cio_security.customerio.track import TrackClient
from cio_security.errors import RateLimitedError
from ciosec.sandbox import Sandbox

FIRST_BACKOFF = 0.1


def sleeps(client: TrackClient) -> list[float]:
    return client.sleeps  # type: ignore[attr-defined, no-any-return]


def retry_after_header(form: str) -> dict[str, str]:
    return {
        "absent": {},
        "seconds": {"Retry-After": "3"},
        "http-date": {"Retry-After": formatdate(time.time() + 3, usegmt=True)},
        "past-date": {"Retry-After": formatdate(time.time() - 60, usegmt=True)},
        "unreadable": {"Retry-After": "soon"},
    }[form]


FORMS = ["absent", "seconds", "http-date", "past-date", "unreadable"]
BODIES = ["json", "empty", "text"]


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("form", FORMS)
def test_one_429_then_success(sandbox: Sandbox, track_client: TrackClient, form: str, body: str) -> None:
    sandbox.fail_next(1, 429, headers=retry_after_header(form), body=body)  # type: ignore[arg-type]
    assert track_client.suppress("u1").status == 200
    (waited,) = sleeps(track_client)
    if form == "seconds":
        assert waited == 3.0
    elif form == "http-date":
        assert 1.5 <= waited <= 3.5
    else:  # nothing readable, or a moment already past: the backoff
        assert waited == FIRST_BACKOFF
    assert len(sandbox.requests()) == 2


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("form", FORMS)
def test_429_until_the_attempts_run_out(
    sandbox: Sandbox, track_client: TrackClient, form: str, body: str
) -> None:
    sandbox.fail_next(4, 429, headers=retry_after_header(form), body=body)  # type: ignore[arg-type]
    with pytest.raises(RateLimitedError) as caught:
        track_client.delete("u1")
    error = caught.value
    assert (error.status, error.operation) == (429, "delete")
    if form == "seconds":
        assert error.retry_after == 3.0
    elif form == "http-date":
        assert error.retry_after is not None
        assert 0 < error.retry_after <= 3.5
    elif form == "past-date":
        assert error.retry_after == 0.0
    else:
        assert error.retry_after is None
    assert "Too Many Requests" not in str(error)
    assert "scripted fault" not in str(error)  # the body never reaches the error text
    assert len(sandbox.requests()) == 4
    assert len(sleeps(track_client)) == 3


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_a_429_asking_more_than_the_cap_fails_at_once(
    sandbox: Sandbox, track_client: TrackClient, form: str, body: str
) -> None:
    value = "120" if form == "seconds" else formatdate(time.time() + 120, usegmt=True)
    sandbox.fail_next(1, 429, headers={"Retry-After": value}, body=body)  # type: ignore[arg-type]
    with pytest.raises(RateLimitedError) as caught:
        track_client.suppress("u1")
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 100
    assert sleeps(track_client) == []  # the caller defers the whole call instead
    assert len(sandbox.requests()) == 1


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("retry_after", ["seconds", "http-date", "none"])
def test_the_sandboxs_own_429_forms(
    sandbox: Sandbox, track_client: TrackClient, retry_after: str, body: str
) -> None:
    """The forms the sandbox generates itself (random faults; the rate limiter uses the same)."""
    sandbox.configure(
        faults={
            "rate_limited_rate": 1.0,
            "retry_after": 2,
            "retry_after_format": retry_after,
            "rate_limited_body": body,
        }
    )
    with pytest.raises(RateLimitedError) as caught:
        track_client.suppress("u1")
    expected = {"seconds": 2.0, "none": None}.get(retry_after, caught.value.retry_after)
    assert caught.value.retry_after == expected
    if retry_after == "http-date":
        assert caught.value.retry_after is not None
        assert 0 < caught.value.retry_after <= 2.5
        assert all(0 < s <= 2.5 for s in sleeps(track_client))
    assert len(sandbox.requests()) == 4
