"""Customer.io's reporting webhooks for one workspace, sent the way Customer.io sends them
(shared/CUSTOMERIO.md, "Reporting webhooks"; docs.customer.io, Reporting Webhooks).

Documented, and modelled as documented:

- Each event is one ``POST`` of its body to the webhook URL, signed: ``X-CIO-Timestamp`` (unix
  seconds, when the request is sent) and ``X-CIO-Signature``, hex HMAC-SHA256 with the
  workspace's webhook signing key over ``v0:<timestamp>:<raw body>``
  (``cio_security.webhook.signature.sign_webhook``).
- A call gets **4 seconds**; no complete answer by then is a failure.
- Anything but a 2xx is retried with exponential backoff for **7 days** from the first attempt,
  and **later webhook calls are backlogged** until that call succeeds or its 7 days run out: the
  sender delivers one event at a time, strictly in order, and the head of the queue holds up
  everything behind it.
- After a 400, 401, 402, 403, 404, 405, 410, 429, 500, 502 or 521, Customer.io first waits
  **one hour** (here: the next attempt comes one hour later, or the backoff's delay if longer).

Not documented, so a setting here: the backoff's first delay, factor and cap (``DeliveryPolicy``:
30 s, doubling, at most 4 h), and whether a retry is re-signed (``retry_signing``: ``"resign"``
gives every attempt a new timestamp and signature, ``"reuse"`` repeats the first attempt's headers
byte for byte). The end-to-end tests run under both.

Time is injected: ``clock`` (seconds) and ``sleep`` schedule the retries, so a test or the demo
runs the hour and the 7 days in milliseconds (``FastForwardClock``). The signing timestamp comes
from ``wall`` (the real ``time.time`` by default), because the receiver checks it against its own
real clock; the 4 s timeout is real time too.

The sender reports each attempt (``DeliveryAttempt``: event id, attempt number, status, outcome,
when) and each event's fate (``DeliveryRecord``: delivered, gave up or pending, and how long it
waited behind the events before it), never a body or the key. Nothing is logged.

>>> sender = WebhookSender(url, "signing-key", clock=ff.now, sleep=ff.sleep)  # doctest: +SKIP
>>> sender.enqueue(b'{"event_id": "01J..."}')                                # doctest: +SKIP
'01J...'
>>> sender.deliver_pending()                                                   # doctest: +SKIP
[DeliveryRecord(event_id='01J...', state='delivered', attempts=1, ...)]
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cio_security.webhook.signature import sign_webhook

__all__ = [
    "ONE_HOUR_STATUSES",
    "AttemptOutcome",
    "DeliveryAttempt",
    "DeliveryPolicy",
    "DeliveryRecord",
    "DeliveryState",
    "FastForwardClock",
    "QueuedWebhook",
    "ReportingWebhook",
    "RetrySigning",
    "WebhookSender",
]

TIMEOUT_SECONDS: Final = 4.0
"""Customer.io's documented timeout per webhook call."""
RETRY_PERIOD_SECONDS: Final = 7 * 24 * 3600.0
"""How long Customer.io retries a failed call (documented: 7 days), holding up the rest."""
ONE_HOUR_SECONDS: Final = 3600.0
ONE_HOUR_STATUSES: Final = frozenset({400, 401, 402, 403, 404, 405, 410, 429, 500, 502, 521})
"""The statuses after which Customer.io first waits one hour (documented)."""
MAX_LOST_RESPONSES: Final = 10
MAX_REAL_SLEEP: Final = 2.0
"""The most real time a fast-forwarded wait may take (``FastForwardClock``)."""
MAX_KEPT_RECORDS: Final = 10_000
"""Attempts and events kept for reports: a long ``make local`` session stays small."""
USER_AGENT: Final = "cio-sandbox-webhooks"
_EVENT_ID: Final = re.compile(r"[A-Za-z0-9_.:-]{1,128}").fullmatch

RetrySigning = Literal["resign", "reuse"]
"""Whether a retry carries a new timestamp and signature (``resign``) or the first attempt's
(``reuse``): Customer.io does not document which."""
AttemptOutcome = Literal["delivered", "refused", "timeout", "connection_error", "response_lost"]
"""``delivered``: a 2xx within the timeout; ``refused``: any other status; ``timeout``: no complete
answer within the timeout; ``connection_error``: no connection, or it broke; ``response_lost``: the
receiver answered, but the answer was dropped on the way back (injected, see
``WebhookSender.enqueue``): Customer.io sees a timeout and retries what was already processed."""
DeliveryState = Literal["pending", "delivered", "gave_up"]


class DeliveryPolicy(BaseModel):
    """When Customer.io gives up on a call and when it tries again.

    - ``timeout``: seconds per call (documented: 4).
    - ``retry_period``: seconds after an event's first attempt during which it is retried
      (documented: 7 days); then it is dropped and the events behind it move on.
    - ``one_hour_wait`` / ``one_hour_statuses``: the documented wait after those statuses.
    - ``first_retry_delay``, ``backoff_factor``, ``max_retry_delay``: the exponential backoff,
      not documented (30 s, doubling, at most 4 h).
    - ``max_attempts``: a bound on the attempts per event, whatever the clock does.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout: float = Field(default=TIMEOUT_SECONDS, gt=0, le=60)
    retry_period: float = Field(default=RETRY_PERIOD_SECONDS, ge=0, le=30 * 24 * 3600)
    one_hour_wait: float = Field(default=ONE_HOUR_SECONDS, ge=0, le=24 * 3600)
    one_hour_statuses: frozenset[int] = ONE_HOUR_STATUSES
    first_retry_delay: float = Field(default=30.0, ge=0, le=24 * 3600)
    backoff_factor: float = Field(default=2.0, ge=1, le=10)
    max_retry_delay: float = Field(default=4 * 3600.0, ge=0, le=7 * 24 * 3600)
    max_attempts: int = Field(default=500, ge=1, le=10_000)

    def retry_delay(self, failures: int, status: int | None) -> float:
        """Seconds before the next attempt, after ``failures`` failed attempts (the last one
        answered ``status``, None for no answer)."""
        exponent = min(max(failures - 1, 0), 64)
        delay = min(self.first_retry_delay * self.backoff_factor**exponent, self.max_retry_delay)
        if status is not None and status in self.one_hour_statuses:
            delay = max(delay, self.one_hour_wait)
        return delay


class FastForwardClock:
    """Real time, except that sleeping takes none: ``sleep(seconds)`` moves the clock ``seconds``
    ahead at once. Give ``now`` and ``sleep`` to a ``WebhookSender`` to run Customer.io's hour
    and 7 days in milliseconds, with the real time its calls take still counted.

    The receiver's own time is not fast-forwarded: a lock it holds while a slow call finishes
    would see fifty retries in a second where Customer.io spreads them over days. With
    ``max_real_sleep``, each sleep still takes up to that many real seconds (``real_sleep``)."""

    def __init__(
        self,
        base: Callable[[], float] = time.monotonic,
        *,
        max_real_sleep: float = 0.0,
        real_sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if not 0.0 <= max_real_sleep <= MAX_REAL_SLEEP:
            raise ValueError(f"max_real_sleep must be between 0 and {MAX_REAL_SLEEP} seconds")
        self._base = base
        self._max_real_sleep = max_real_sleep
        self._real_sleep = real_sleep
        self._skipped = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._base() + self._skipped

    def sleep(self, seconds: float) -> None:
        wanted = max(0.0, seconds)
        real = min(wanted, self._max_real_sleep)
        started = self._base()
        if real > 0:
            self._real_sleep(real)
        with self._lock:
            self._skipped += max(0.0, wanted - (self._base() - started))

    @property
    def skipped(self) -> float:
        """Seconds slept so far (skipped, not waited)."""
        with self._lock:
            return self._skipped


@dataclass(frozen=True)
class DeliveryAttempt:
    """One call: the event's id, its attempt number, when it started (``at``: seconds on the
    sender's clock since the sender was created), the status (None when none reached the sender),
    the outcome, the real seconds the call took, and the ``X-CIO-Timestamp`` it was signed with."""

    event_id: str
    attempt: int
    at: float
    status: int | None
    outcome: AttemptOutcome
    seconds: float
    signed_at: int

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "at": round(self.at, 3), "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class DeliveryRecord:
    """What became of one event: ``delivered``, ``gave_up`` (its retry period ran out) or
    ``pending``; its attempts; when it was queued, first tried and finished (sender's clock, as
    in ``DeliveryAttempt.at``); and ``waited``, the seconds between being queued and its first
    attempt (the time it was held up behind the events before it; None before its first
    attempt)."""

    event_id: str
    state: DeliveryState
    attempts: int
    queued_at: float
    first_attempt_at: float | None
    finished_at: float | None

    @property
    def waited(self) -> float | None:
        return None if self.first_attempt_at is None else self.first_attempt_at - self.queued_at

    def as_dict(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {
            "event_id": self.event_id,
            "state": self.state,
            "attempts": self.attempts,
            "queued_at": rounded(self.queued_at),
            "first_attempt_at": rounded(self.first_attempt_at),
            "finished_at": rounded(self.finished_at),
            "waited": rounded(self.waited),
        }


class ReportingWebhook(BaseModel):
    """A workspace's reporting webhook as set up in Customer.io (the URL, the signing key, which
    workspace), plus the sandbox's settings: ``retry_signing``, ``fast_forward`` (waits take no
    time: the hour and the 7 days pass at once; ``max_real_wait``: each still takes up to that
    many real seconds, see ``FastForwardClock``) and the ``policy``. The admin API's
    ``POST /_sandbox/webhooks`` body."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(min_length=1, max_length=2048)
    signing_key: str = Field(min_length=1, max_length=1024, repr=False)
    environment_id: int | str | None = None
    retry_signing: RetrySigning = "resign"
    fast_forward: bool = False
    max_real_wait: float = Field(default=0.0, ge=0, le=MAX_REAL_SLEEP)
    policy: DeliveryPolicy = Field(default_factory=DeliveryPolicy)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _http_url(value)


class QueuedWebhook(BaseModel):
    """One event to send (the admin API's ``POST /_sandbox/webhooks/events`` items): its ``body``
    as text (sent UTF-8 encoded, exactly as given), an ``event_id`` for the reports (default: the
    body's own, or ``event-<n>``), and ``lost_responses`` (see ``WebhookSender.enqueue``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    body: str = Field(max_length=6 * 1024 * 1024)
    event_id: str | None = Field(default=None, max_length=128)
    lost_responses: int = Field(default=0, ge=0, le=MAX_LOST_RESPONSES)


def _http_url(value: str) -> str:
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        raise ValueError("not a URL") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise ValueError("must be an http or https URL")
    return value


class _Event:
    """An event in the sender's queue, with its delivery state (guarded by the sender's lock)."""

    __slots__ = (
        "attempts",
        "body",
        "event_id",
        "finished_at",
        "first_attempt_at",
        "headers",
        "lost_responses",
        "queued_at",
        "state",
    )

    def __init__(self, event_id: str, body: bytes, lost_responses: int, queued_at: float) -> None:
        self.event_id = event_id
        self.body = body
        self.lost_responses = lost_responses
        self.queued_at = queued_at
        self.attempts = 0
        self.first_attempt_at: float | None = None
        self.finished_at: float | None = None
        self.headers: dict[str, str] | None = None
        self.state: DeliveryState = "pending"

    def record(self) -> DeliveryRecord:
        return DeliveryRecord(
            event_id=self.event_id,
            state=self.state,
            attempts=self.attempts,
            queued_at=self.queued_at,
            first_attempt_at=self.first_attempt_at,
            finished_at=self.finished_at,
        )


class WebhookSender:
    """Customer.io's webhook sender for one workspace: ``enqueue`` events, then either
    ``deliver_pending()`` in the calling thread or ``start()`` a background thread that delivers
    them as they come (``wait_idle``, ``stop``). One event at a time, strictly in order; a failed
    one is retried (``policy``) and holds up every event behind it until it succeeds or its
    retry period runs out.

    ``clock`` (seconds) and ``sleep`` schedule the retries (default: real time, a sleep that
    ``stop()`` interrupts); ``wall`` gives the signing timestamp; ``transport`` replaces httpx's
    network transport (tests)."""

    def __init__(
        self,
        url: str,
        signing_key: bytes | str,
        *,
        policy: DeliveryPolicy | None = None,
        retry_signing: RetrySigning = "resign",
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], object] | None = None,
        wall: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if retry_signing not in ("resign", "reuse"):
            raise ValueError("retry_signing must be 'resign' or 'reuse'")
        self.url = _http_url(url)
        self.policy = policy or DeliveryPolicy()
        self.retry_signing: RetrySigning = retry_signing
        self._key = signing_key.encode() if isinstance(signing_key, str) else bytes(signing_key)
        self._stopping = threading.Event()
        self._clock = clock or time.monotonic
        self._sleep: Callable[[float], object] = sleep or self._stopping.wait
        self._wall = wall
        self._epoch = self._clock()
        self._changed = threading.Condition()
        self._queue: deque[_Event] = deque()
        self._events: deque[_Event] = deque(maxlen=MAX_KEPT_RECORDS)
        self._attempts: deque[DeliveryAttempt] = deque(maxlen=MAX_KEPT_RECORDS)
        self._sequence = 0
        self._delivering = False
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.policy.timeout),
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    def __repr__(self) -> str:
        return f"WebhookSender(url={self.url!r}, retry_signing={self.retry_signing!r})"

    # -- the queue -------------------------------------------------------------------------------

    def enqueue(self, body: bytes, *, event_id: str | None = None, lost_responses: int = 0) -> str:
        """Queue ``body`` (sent exactly as given) behind every event already queued; return the id
        the reports use: ``event_id``, else the body's own ``event_id`` when it has an id's
        shape, else ``event-<n>``. The first ``lost_responses`` answers to it are dropped on the
        way back, as when the receiver answers after the timeout: Customer.io then retries an
        event the receiver already processed."""
        if not isinstance(body, bytes):
            raise TypeError("body must be bytes")
        if not 0 <= lost_responses <= MAX_LOST_RESPONSES:
            raise ValueError(f"lost_responses must be between 0 and {MAX_LOST_RESPONSES}")
        with self._changed:
            if self._stopping.is_set():
                raise RuntimeError("the webhook sender is stopped")
            self._sequence += 1
            label = event_id or _event_id_of(body) or f"event-{self._sequence}"
            event = _Event(label, body, lost_responses, self._now())
            self._queue.append(event)
            self._events.append(event)
            self._changed.notify_all()
            return label

    def pending(self) -> int:
        """Events not yet delivered or given up (the one being delivered included)."""
        with self._changed:
            return len(self._queue)

    def attempts(self, event_ids: Sequence[str] | None = None) -> list[DeliveryAttempt]:
        """Every attempt so far (the newest ``MAX_KEPT_RECORDS``), oldest first; only those of
        ``event_ids`` when given."""
        with self._changed:
            found = list(self._attempts)
        wanted = None if event_ids is None else set(event_ids)
        return [a for a in found if wanted is None or a.event_id in wanted]

    def deliveries(self, event_ids: Sequence[str] | None = None) -> list[DeliveryRecord]:
        """What became of each queued event (the newest ``MAX_KEPT_RECORDS``), in queue order."""
        with self._changed:
            found = [e.record() for e in self._events]
        wanted = None if event_ids is None else set(event_ids)
        return [r for r in found if wanted is None or r.event_id in wanted]

    def public(self) -> dict[str, Any]:
        """The sender's settings and queue length, JSON-ready; never the signing key."""
        return {
            "url": self.url,
            "retry_signing": self.retry_signing,
            "policy": self.policy.model_dump(mode="json"),
            "pending": self.pending(),
            "running": self.running,
        }

    def report(self, event_ids: Sequence[str] | None = None) -> dict[str, Any]:
        """``public()`` with the deliveries and attempts (of ``event_ids`` when given)."""
        return {
            **self.public(),
            "deliveries": [r.as_dict() for r in self.deliveries(event_ids)],
            "attempts": [a.as_dict() for a in self.attempts(event_ids)],
        }

    # -- delivering --------------------------------------------------------------------------------

    def deliver_pending(self, *, max_seconds: float | None = None) -> list[DeliveryRecord]:
        """Deliver the queue in this thread until it is empty (each event delivered or given up),
        the sender stops, or ``max_seconds`` of real time pass (the event being retried then stays
        at the head). Returns the records of the events that left the queue."""
        if self.running:
            raise RuntimeError("the sender's background thread is delivering")
        until = None if max_seconds is None else time.monotonic() + max_seconds
        finished: list[DeliveryRecord] = []
        while not self._stopping.is_set() and (until is None or time.monotonic() < until):
            with self._changed:
                if not self._queue:
                    break
                head = self._queue[0]
                self._delivering = True
            try:
                done = self._deliver(head, until)
            finally:
                with self._changed:
                    self._delivering = False
                    self._changed.notify_all()
            if done:
                finished.append(head.record())
        return finished

    def start(self) -> WebhookSender:
        """Deliver in a background thread, as events are queued, until ``stop()``."""
        if self._stopping.is_set():
            raise RuntimeError("the webhook sender is stopped")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cio-sandbox-webhooks", daemon=True)
            self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def wait_idle(self, timeout: float) -> bool:
        """Wait (real time, at most ``timeout`` seconds) until every queued event is delivered or
        given up; True if so."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._queue or self._delivering:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.2))
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop delivering (an event being retried stays pending), join the thread, close the
        connection pool. Final: a stopped sender cannot be started again."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self._client.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._changed:
                if not self._queue:
                    self._changed.wait(0.2)
                    continue
                head = self._queue[0]
                self._delivering = True
            try:
                self._deliver(head, None)
            finally:
                with self._changed:
                    self._delivering = False
                    self._changed.notify_all()

    def _now(self) -> float:
        return self._clock() - self._epoch

    def _deliver(self, event: _Event, until: float | None) -> bool:
        """Try the head of the queue until it is delivered or given up (True: it left the queue),
        or the sender stops or ``until`` (real time) passes (False: it stays at the head)."""
        while not self._stopping.is_set() and (until is None or time.monotonic() < until):
            attempt = self._attempt(event)
            if attempt.outcome == "delivered":
                return self._finish(event, "delivered")
            if event.attempts >= self.policy.max_attempts:
                return self._finish(event, "gave_up")
            assert event.first_attempt_at is not None  # noqa: S101 - set by the attempt
            give_up_at = event.first_attempt_at + self.policy.retry_period
            failures = event.attempts
            delay = self.policy.retry_delay(failures, attempt.status)
            if self._now() + delay > give_up_at:
                self._sleep(max(0.0, give_up_at - self._now()))
                if self._stopping.is_set():
                    return False
                return self._finish(event, "gave_up")
            self._sleep(delay)
        return False

    def _finish(self, event: _Event, state: DeliveryState) -> bool:
        with self._changed:
            event.state = state
            event.finished_at = self._now()
            event.body = b""  # delivered or dropped: nothing keeps it any longer
            if self._queue and self._queue[0] is event:
                self._queue.popleft()
            self._changed.notify_all()
        return True

    def _attempt(self, event: _Event) -> DeliveryAttempt:
        at = self._now()
        with self._changed:
            event.attempts += 1
            if event.first_attempt_at is None:
                event.first_attempt_at = at
            number = event.attempts
        if event.headers is None or self.retry_signing == "resign":
            event.headers = sign_webhook(self._key, event.body, timestamp=int(self._wall()))
        headers = {"Content-Type": "application/json", **event.headers}
        status: int | None = None
        outcome: AttemptOutcome
        started = time.monotonic()
        try:
            response = self._client.post(self.url, content=event.body, headers=headers)
        except httpx.TimeoutException:
            outcome = "timeout"
        except httpx.HTTPError:
            outcome = "connection_error"
        else:
            status = response.status_code
            outcome = "delivered" if 200 <= status < 300 else "refused"
        seconds = time.monotonic() - started
        if status is not None and seconds > self.policy.timeout:
            status, outcome = None, "timeout"  # Customer.io had hung up by then
        elif status is not None and event.lost_responses > 0:
            event.lost_responses -= 1
            status, outcome = None, "response_lost"
        attempt = DeliveryAttempt(
            event_id=event.event_id,
            attempt=number,
            at=at,
            status=status,
            outcome=outcome,
            seconds=seconds,
            signed_at=int(event.headers["X-CIO-Timestamp"]),
        )
        with self._changed:
            self._attempts.append(attempt)
        return attempt


def _event_id_of(body: bytes) -> str | None:
    """The body's ``event_id`` when it is JSON with an id-shaped one (never any other value)."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    value = parsed.get("event_id") if isinstance(parsed, dict) else None
    return value if isinstance(value, str) and _EVENT_ID(value) else None
