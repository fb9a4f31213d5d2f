"""TokenBucket on a fake clock, plus one short real-time check with threads."""

from __future__ import annotations

import threading
import time

import pytest

from cio_security.customerio.ratelimit import TokenBucket
from cio_security.errors import ConfigurationError


class FakeClock:
    """A monotonic clock that only moves when slept on (thread-safe)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def bucket(rate: float, burst: float | None = None) -> tuple[TokenBucket, FakeClock]:
    clock = FakeClock()
    return TokenBucket(rate, burst, clock=clock, sleep=clock.sleep), clock


@pytest.mark.parametrize("rate", [0, -1, float("nan"), float("inf"), "10"])
def test_invalid_rate_is_a_configuration_error(rate) -> None:
    with pytest.raises(ConfigurationError):
        TokenBucket(rate)


@pytest.mark.parametrize("burst", [0, 0.5, -1, float("nan"), float("inf")])
def test_invalid_burst_is_a_configuration_error(burst: float) -> None:
    with pytest.raises(ConfigurationError):
        TokenBucket(10, burst)


def test_default_burst_is_one_token() -> None:
    limiter, clock = bucket(10)
    assert limiter.burst == 1.0
    assert [limiter.acquire() for _ in range(4)] == pytest.approx([0.0, 0.1, 0.1, 0.1])
    assert clock.sleeps == pytest.approx([0.1, 0.1, 0.1])


def test_burst_then_steady_rate() -> None:
    limiter, _ = bucket(4, burst=3)
    waits = [limiter.acquire() for _ in range(5)]
    assert waits == pytest.approx([0, 0, 0, 0.25, 0.25])


def test_idle_time_refills_up_to_the_burst_only() -> None:
    limiter, clock = bucket(10, burst=2)
    limiter.acquire()
    limiter.acquire()
    clock.advance(60)
    assert [limiter.acquire() for _ in range(3)] == pytest.approx([0, 0, 0.1])


def test_partial_refill_waits_only_for_the_rest() -> None:
    limiter, clock = bucket(2)
    limiter.acquire()
    clock.advance(0.3)
    assert limiter.acquire() == pytest.approx(0.2)


def test_try_acquire_never_blocks() -> None:
    limiter, clock = bucket(5)
    assert limiter.try_acquire()
    assert not limiter.try_acquire()
    assert limiter.seconds_until_available() == pytest.approx(0.2)
    clock.advance(0.2)
    assert limiter.seconds_until_available() == 0.0
    assert limiter.try_acquire()
    assert clock.sleeps == []


def test_concurrent_acquires_are_spaced_by_the_rate() -> None:
    limiter, clock = bucket(10)
    threads = [threading.Thread(target=limiter.acquire) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    # 20 tokens at 10/s with one in the bucket: the reservations add up to (20 - 1) / 10 seconds.
    assert sum(clock.sleeps) == pytest.approx(1.9)


def test_real_clock_with_threads_holds_the_rate() -> None:
    limiter = TokenBucket(200)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(stamps) == 40
    assert max(stamps) - started >= 39 / 200 * 0.95
