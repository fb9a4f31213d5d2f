"""RetryPolicy: full-jitter backoff, Retry-After, the worst case (with the 401 refresh request),
the presets and validation. The last tests hold the worst case against what TrackClient does."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from cio_security.customerio import DEFAULT_TIMEOUT, RetryPolicy, TrackClient
from cio_security.customerio.retry import DEFAULT, DELETION, ROTATION_TEST
from cio_security.errors import ConfigurationError, ServerError
from cio_security.secrets.models import TrackCredentials
from fixtures.sandbox import RecordedSleep

ONE_SECOND_READS = httpx.Timeout(connect=1.0, read=2.0, write=2.0, pool=1.0)


def test_backoff_is_full_jitter_capped() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=3.0)
    assert [policy.backoff(n, 1.0) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.backoff(3, 0.5) == 1.5
    assert policy.backoff(3, 0.0) == 0.0


def test_wait_honours_a_longer_retry_after() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=4.0)
    assert policy.wait(1, 1.0, None) == 2.0
    assert policy.wait(1, 1.0, 7.0) == 7.0
    assert policy.wait(1, 1.0, 0.5) == 2.0


def test_worst_case_counts_every_attempt_the_refresh_request_and_the_longest_waits() -> None:
    # one attempt: the request and the 401 re-send, 1 + 2 s each, no wait
    assert RetryPolicy(max_attempts=1, timeout=ONE_SECOND_READS).worst_case() == 6.0
    # three attempts + the re-send of 3 s, two waits of max(backoff <= 5, retry-after cap 4) each
    policy = RetryPolicy(
        max_attempts=3, backoff_base=1.0, backoff_cap=5.0, retry_after_cap=4.0, timeout=ONE_SECOND_READS
    )
    assert policy.worst_case() == 4 * 3.0 + max(1.0, 4.0) + max(2.0, 4.0)
    # a backoff longer than the Retry-After cap is the longest wait
    policy = dataclasses.replace(policy, backoff_base=8.0, backoff_cap=6.0)
    assert policy.worst_case() == 4 * 3.0 + 6.0 + 6.0


def test_presets() -> None:
    assert DELETION.worst_case() == 4 * (2.0 + 5.0) + 2 * 10.0  # 48 s: SQS redelivers the rest
    assert ROTATION_TEST.worst_case() == 3 * (3.0 + 5.0) + 5.0  # 29 s: Secrets Manager retries
    assert RetryPolicy() == DEFAULT
    assert DEFAULT.timeout == DEFAULT_TIMEOUT
    assert DEFAULT.worst_case() == 5 * (2.0 + 5.0) + 3 * 20.0
    for preset in (DEFAULT, DELETION, ROTATION_TEST):
        assert None not in (
            preset.timeout.connect,
            preset.timeout.read,
            preset.timeout.write,
            preset.timeout.pool,
        )
        with pytest.raises(dataclasses.FrozenInstanceError):
            preset.max_attempts = 9  # type: ignore[misc]


@pytest.mark.parametrize(
    "changes",
    [
        {"max_attempts": 0},
        {"max_attempts": True},
        {"max_attempts": 2.0},
        {"backoff_base": -0.1},
        {"backoff_cap": float("nan")},
        {"retry_after_cap": float("inf")},
        {"timeout": 5.0},
        {"timeout": httpx.Timeout(None)},
        {"timeout": httpx.Timeout(5.0, read=None)},
    ],
)
def test_invalid_policies_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        RetryPolicy(**changes)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        DEFAULT.with_changes(**changes)


def test_with_timeout_seconds_keeps_a_shorter_connect_timeout() -> None:
    assert DELETION.with_timeout_seconds(DELETION.timeout_seconds) == DELETION
    long = DELETION.with_timeout_seconds(9.0).timeout
    assert (long.connect, long.read, long.write, long.pool) == (2.0, 9.0, 9.0, 9.0)
    short = DELETION.with_timeout_seconds(0.5).timeout
    assert (short.connect, short.read) == (0.5, 0.5)


# -- the worst case is what TrackClient really does ---------------------------------------------------


class Provider:
    """Stale credentials until asked to refresh, then fresh ones."""

    def __init__(self) -> None:
        self.refreshed = False

    def __call__(self, refresh: bool) -> TrackCredentials:
        self.refreshed = self.refreshed or refresh
        return TrackCredentials(site_id="site", api_key="fresh-key" if self.refreshed else "stale-key")


@pytest.mark.parametrize("policy", [DELETION, ROTATION_TEST, DEFAULT])
def test_the_longest_path_sends_one_request_more_than_the_attempts(policy: RetryPolicy) -> None:
    """A 401 answered with rotated credentials, then a server asking for the longest accepted
    wait until the attempts run out: the requests and waits worst_case() adds up."""
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if len(requests) == 1:
            return httpx.Response(401)
        return httpx.Response(503, headers={"Retry-After": f"{policy.retry_after_cap:.0f}"})

    sleep = RecordedSleep()
    with (
        TrackClient(
            Provider(), retry=policy, transport=httpx.MockTransport(handler), sleep=sleep, random=lambda: 1.0
        ) as client,
        pytest.raises(ServerError),
    ):
        client.delete("user")
    assert len(requests) == policy.max_attempts + 1
    assert len(sleep.calls) == policy.max_attempts - 1
    assert policy.worst_case() == pytest.approx(len(requests) * policy.attempt_seconds + sum(sleep.calls))
