"""ciosec.sandbox.webhooks: Customer.io's reporting webhooks as the sandbox sends them (signed,
strictly in order, 4 s timeout, exponential backoff, the backlog behind a failed call, the one-hour
wait list, 7 days), against a small receiver of our own on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from cio_security.webhook.signature import SigningKeyRing, compute_signature
from ciosec.sandbox import (
    DeliveryPolicy,
    FastForwardClock,
    ReportingWebhook,
    Sandbox,
    WebhookSender,
)
from ciosec.sandbox.webhooks import ONE_HOUR_STATUSES
from fixtures.logs import sensitive

SIGNING_KEY = "sandbox-webhook-signing-key-5d2e8f"
WEEK = 7 * 24 * 3600.0
HOUR = 3600.0
HANG = -1
"""A reply that answers nothing for ``Receiver.hang_seconds``."""


# -- a webhook receiver of our own -------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    body: bytes
    headers: dict[str, str]


class Receiver:
    """A webhook endpoint on 127.0.0.1: answers each request with ``respond(body, n)`` (n: how
    many times that body arrived before), a status or ``HANG``; records what arrived and the most
    requests it ever had in flight at once."""

    def __init__(self) -> None:
        self.respond: Callable[[bytes, int], int] = lambda body, n: 200
        self.received: list[Received] = []
        self.hang_seconds = 1.0
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.in_flight += 1
                    receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
                    seen = sum(1 for r in receiver.received if r.body == body)
                    receiver.received.append(Received(body, dict(self.headers.items())))
                try:
                    status = receiver.respond(body, seen)
                    if status == HANG:
                        receiver._closing.wait(receiver.hang_seconds)
                        self.close_connection = True
                        return
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                finally:
                    with receiver._lock:
                        receiver.in_flight -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/customerio"

    def bodies(self) -> list[bytes]:
        with self._lock:
            return [r.body for r in self.received]

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    sensitive(SIGNING_KEY)
    server = Receiver()
    try:
        yield server
    finally:
        server.close()


class ManualClock:
    """Time that moves only when slept: every sleep is recorded and returns at once."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def sender_for(receiver: Receiver, clock: ManualClock, **kwargs: Any) -> WebhookSender:
    return WebhookSender(receiver.url, SIGNING_KEY, clock=clock.clock, sleep=clock.sleep, **kwargs)


def event(n: int) -> bytes:
    return json.dumps({"event_id": f"01EVENT{n:019d}", "metric": "delivered"}).encode()


# -- signing and order -------------------------------------------------------------------------------


def test_each_event_is_signed_as_customerio_signs_it(receiver: Receiver) -> None:
    clock = ManualClock()
    sender = sender_for(receiver, clock, wall=lambda: 1_700_000_000.0)
    body = b'{"event_id": "01J9ZZZZZZZZZZZZZZZZZZZZZZ", "data": {"x": "\xc3\xa9"}}'
    assert sender.enqueue(body) == "01J9ZZZZZZZZZZZZZZZZZZZZZZ"
    [record] = sender.deliver_pending()
    assert record.state == "delivered"
    [arrived] = receiver.received
    assert arrived.body == body  # exactly the bytes queued
    assert arrived.headers["X-CIO-Timestamp"] == "1700000000"
    assert arrived.headers["X-CIO-Signature"] == compute_signature(SIGNING_KEY.encode(), "1700000000", body)
    assert arrived.headers["Content-Type"] == "application/json"
    ring = SigningKeyRing(lambda refresh: [SIGNING_KEY.encode()])
    assert ring.verify(arrived.headers, body, now=1_700_000_001) == 1_700_000_000
    sender.stop()


def test_events_go_one_at_a_time_strictly_in_order(receiver: Receiver) -> None:
    receiver.respond = lambda body, n: (time.sleep(0.005), 200)[1]
    sender = WebhookSender(receiver.url, SIGNING_KEY).start()
    bodies = [event(n) for n in range(25)]
    for body in bodies:
        sender.enqueue(body)
    assert sender.wait_idle(10)
    sender.stop()
    assert receiver.bodies() == bodies
    assert receiver.most_in_flight == 1
    assert [r.state for r in sender.deliveries()] == ["delivered"] * 25


def test_the_report_ids_come_from_the_body_or_the_queue(receiver: Receiver) -> None:
    sender = sender_for(receiver, ManualClock())
    assert sender.enqueue(event(1)) == f"01EVENT{1:019d}"
    assert sender.enqueue(b"not json") == "event-2"
    assert sender.enqueue(b'{"event_id": "has spaces and a@b.c"}') == "event-3"
    assert sender.enqueue(b"{}", event_id="mine") == "mine"
    sender.stop()


# -- failures: backoff, the one-hour wait, the backlog, 7 days ------------------------------------------


def test_a_failed_call_holds_up_every_later_event_and_backs_off_exponentially(receiver: Receiver) -> None:
    first, failing, last = event(1), event(2), event(3)
    receiver.respond = lambda body, n: 503 if body == failing and n < 3 else 200
    clock = ManualClock()
    sender = sender_for(receiver, clock)
    ids = [sender.enqueue(b) for b in (first, failing, last)]
    sender.deliver_pending()
    assert receiver.bodies() == [first, failing, failing, failing, failing, last]
    assert clock.sleeps == [30.0, 60.0, 120.0]  # 503 is not on the one-hour list
    outcomes = [(a.event_id, a.attempt, a.status, a.outcome) for a in sender.attempts()]
    assert outcomes == [
        (ids[0], 1, 200, "delivered"),
        (ids[1], 1, 503, "refused"),
        (ids[1], 2, 503, "refused"),
        (ids[1], 3, 503, "refused"),
        (ids[1], 4, 200, "delivered"),
        (ids[2], 1, 200, "delivered"),
    ]
    held_up = sender.deliveries()[2]
    assert held_up.waited == pytest.approx(210.0)  # queued at once, first tried after the retries
    sender.stop()


@pytest.mark.parametrize("status", sorted(ONE_HOUR_STATUSES | {408, 409, 422, 501, 503, 504, 302}))
def test_customerio_first_waits_an_hour_after_the_listed_statuses(receiver: Receiver, status: int) -> None:
    receiver.respond = lambda body, n: status if n == 0 else 200
    clock = ManualClock()
    sender = sender_for(receiver, clock)
    sender.enqueue(event(1))
    [record] = sender.deliver_pending()
    assert record.state == "delivered"
    assert record.attempts == 2
    expected = HOUR if status in {400, 401, 402, 403, 404, 405, 410, 429, 500, 502, 521} else 30.0
    assert clock.sleeps == [expected]
    assert sender.attempts()[1].at - sender.attempts()[0].at == pytest.approx(expected)
    sender.stop()


def test_an_event_is_given_up_after_seven_days_and_the_backlog_moves_on(receiver: Receiver) -> None:
    doomed, behind = event(1), event(2)
    receiver.respond = lambda body, n: 400 if body == doomed else 200
    clock = ManualClock()
    sender = sender_for(receiver, clock)
    sender.enqueue(doomed)
    sender.enqueue(behind)
    gave_up, delivered = sender.deliver_pending()
    assert gave_up.state == "gave_up"
    assert gave_up.first_attempt_at is not None and gave_up.finished_at is not None
    assert gave_up.finished_at - gave_up.first_attempt_at == pytest.approx(WEEK)
    assert delivered.state == "delivered"
    assert delivered.waited == pytest.approx(WEEK)  # held up for the whole 7 days
    tries = [a.at for a in sender.attempts() if a.event_id == gave_up.event_id]
    assert len(tries) == gave_up.attempts
    gaps = [b - a for a, b in pairwise(tries)]
    assert all(gap >= HOUR for gap in gaps)  # 400: at least an hour before every retry
    assert max(gaps) == DeliveryPolicy().max_retry_delay  # the (undocumented) backoff cap
    assert tries[-1] - tries[0] <= WEEK
    assert 30 < len(tries) < 60
    sender.stop()


def test_retries_are_bounded_whatever_the_clock_does(receiver: Receiver) -> None:
    receiver.respond = lambda body, n: 503
    policy = DeliveryPolicy(first_retry_delay=0, max_retry_delay=0, max_attempts=5)
    sender = sender_for(receiver, ManualClock(), policy=policy)
    sender.enqueue(event(1))
    [record] = sender.deliver_pending()
    assert (record.state, record.attempts) == ("gave_up", 5)
    sender.stop()


def test_no_answer_within_the_timeout_is_a_failure(receiver: Receiver) -> None:
    assert DeliveryPolicy().timeout == 4.0  # Customer.io's documented timeout
    receiver.hang_seconds = 1.0
    receiver.respond = lambda body, n: HANG if n == 0 else 200
    clock = ManualClock()
    sender = sender_for(receiver, clock, policy=DeliveryPolicy(timeout=0.3))
    sender.enqueue(event(1))
    [record] = sender.deliver_pending()
    assert record.state == "delivered"
    first, second = sender.attempts()
    assert (first.status, first.outcome) == (None, "timeout")
    assert 0.25 < first.seconds < 0.9
    assert (second.status, second.outcome) == (200, "delivered")
    assert clock.sleeps == [30.0]
    sender.stop()


def test_an_answer_after_the_timeout_counts_as_none() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(0.15)
        return httpx.Response(200)

    sender = WebhookSender(
        "http://127.0.0.1:9/hook",
        SIGNING_KEY,
        policy=DeliveryPolicy(timeout=0.1, max_attempts=1),
        transport=httpx.MockTransport(slow),
        sleep=lambda s: None,
    )
    sender.enqueue(b"{}")
    [record] = sender.deliver_pending()
    assert record.state == "gave_up"
    assert [(a.status, a.outcome) for a in sender.attempts()] == [(None, "timeout")]
    sender.stop()


def test_an_unreachable_endpoint_is_retried() -> None:
    clock = ManualClock()
    closed = Receiver()
    url = closed.url
    closed.close()
    sender = WebhookSender(
        url, SIGNING_KEY, clock=clock.clock, sleep=clock.sleep, policy=DeliveryPolicy(max_attempts=3)
    )
    sender.enqueue(event(1))
    [record] = sender.deliver_pending()
    assert record.state == "gave_up"
    assert [a.outcome for a in sender.attempts()] == ["connection_error"] * 3
    assert clock.sleeps == [30.0, 60.0]
    sender.stop()


def test_a_lost_answer_makes_customerio_send_a_processed_event_again(receiver: Receiver) -> None:
    sender = sender_for(receiver, ManualClock())
    sender.enqueue(event(1), lost_responses=1)
    sender.enqueue(event(2))
    sender.deliver_pending()
    assert receiver.bodies() == [event(1), event(1), event(2)]
    assert [(a.attempt, a.status, a.outcome) for a in sender.attempts()] == [
        (1, None, "response_lost"),
        (2, 200, "delivered"),
        (1, 200, "delivered"),
    ]
    sender.stop()


# -- re-signing: undocumented, so both ----------------------------------------------------------------


@pytest.mark.parametrize("retry_signing", ["resign", "reuse"])
def test_retries_are_resigned_or_repeat_the_first_signature(receiver: Receiver, retry_signing: str) -> None:
    receiver.respond = lambda body, n: 500 if n < 2 else 200
    wall = iter(range(1_700_000_000, 1_700_100_000, 3600))
    sender = sender_for(receiver, ManualClock(), retry_signing=retry_signing, wall=lambda: float(next(wall)))
    sender.enqueue(event(1))
    sender.deliver_pending()
    sent = [(r.headers["X-CIO-Timestamp"], r.headers["X-CIO-Signature"]) for r in receiver.received]
    assert len(sent) == 3
    for timestamp, signature in sent:
        assert signature == compute_signature(SIGNING_KEY.encode(), timestamp, event(1))
    if retry_signing == "resign":
        assert [t for t, _ in sent] == ["1700000000", "1700003600", "1700007200"]
        assert len({s for _, s in sent}) == 3
    else:
        assert len(set(sent)) == 1
        assert [a.signed_at for a in sender.attempts()] == [1_700_000_000] * 3
    sender.stop()


def test_retry_signing_is_one_of_two_modes(receiver: Receiver) -> None:
    with pytest.raises(ValueError, match="retry_signing"):
        WebhookSender(receiver.url, SIGNING_KEY, retry_signing="sometimes")  # type: ignore[arg-type]


# -- reports, time, threads -----------------------------------------------------------------------------


def test_reports_hold_ids_statuses_and_times_never_a_body_or_the_key(receiver: Receiver) -> None:
    secret_body = b'{"event_id": "01J9ZZZZZZZZZZZZZZZZZZZZZZ", "data": {"email": "x@example.com"}}'
    receiver.respond = lambda body, n: 500 if n == 0 else 200
    sender = sender_for(receiver, ManualClock())
    sender.enqueue(secret_body)
    sender.deliver_pending()
    report = json.dumps(sender.report())
    assert "x@example.com" not in report
    assert SIGNING_KEY not in report and SIGNING_KEY not in repr(sender)
    assert json.loads(report)["attempts"] == [
        {
            "event_id": "01J9ZZZZZZZZZZZZZZZZZZZZZZ",
            "attempt": 1,
            "at": 0.0,
            "status": 500,
            "outcome": "refused",
            "seconds": pytest.approx(0.0, abs=1.0),
            "signed_at": pytest.approx(time.time(), abs=60),
        },
        {
            "event_id": "01J9ZZZZZZZZZZZZZZZZZZZZZZ",
            "attempt": 2,
            "at": HOUR,
            "status": 200,
            "outcome": "delivered",
            "seconds": pytest.approx(0.0, abs=1.0),
            "signed_at": pytest.approx(time.time(), abs=60),
        },
    ]
    sender.stop()


def test_fast_forward_runs_the_hour_and_the_week_in_milliseconds(receiver: Receiver) -> None:
    doomed = event(1)
    receiver.respond = lambda body, n: 429 if body == doomed else 200
    ticking = FastForwardClock()
    sender = WebhookSender(receiver.url, SIGNING_KEY, clock=ticking.now, sleep=ticking.sleep).start()
    sender.enqueue(doomed)
    sender.enqueue(event(2))
    started = time.monotonic()
    assert sender.wait_idle(30)
    assert time.monotonic() - started < 15
    sender.stop()
    gave_up, delivered = sender.deliveries()
    assert gave_up.state == "gave_up" and delivered.state == "delivered"
    assert ticking.skipped == pytest.approx(WEEK, abs=15)  # less the real time the calls took
    assert delivered.waited is not None and delivered.waited >= WEEK


def test_fast_forward_may_still_take_some_real_time() -> None:
    real = ManualClock()
    ticking = FastForwardClock(real.clock, max_real_sleep=0.5, real_sleep=real.sleep)
    start = ticking.now()
    ticking.sleep(HOUR)
    ticking.sleep(0.2)
    assert real.sleeps == [0.5, 0.2]
    assert ticking.now() - start == pytest.approx(HOUR + 0.2)
    assert ticking.skipped == pytest.approx(HOUR - 0.5)
    with pytest.raises(ValueError, match="max_real_sleep"):
        FastForwardClock(max_real_sleep=60)


def test_stop_interrupts_the_one_hour_wait_and_leaves_the_event_pending(receiver: Receiver) -> None:
    receiver.respond = lambda body, n: 410
    sender = WebhookSender(receiver.url, SIGNING_KEY).start()  # real time: the hour is real
    sender.enqueue(event(1))
    deadline = time.monotonic() + 5
    while not sender.attempts() and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    sender.stop()
    assert time.monotonic() - started < 1.0
    assert not sender.running
    [record] = sender.deliveries()
    assert (record.state, record.attempts) == ("pending", 1)
    with pytest.raises(RuntimeError):
        sender.enqueue(event(2))


def test_deliver_pending_is_bounded_in_real_time(receiver: Receiver) -> None:
    receiver.respond = lambda body, n: 503
    sender = WebhookSender(receiver.url, SIGNING_KEY, sleep=lambda s: time.sleep(0.01))
    sender.enqueue(event(1))
    started = time.monotonic()
    assert sender.deliver_pending(max_seconds=0.3) == []
    assert time.monotonic() - started < 2
    assert sender.pending() == 1
    sender.stop()


def test_settings_are_validated() -> None:
    with pytest.raises(ValidationError):
        ReportingWebhook(url="ftp://127.0.0.1/x", signing_key="k")
    with pytest.raises(ValidationError):
        DeliveryPolicy(timeout=0)
    with pytest.raises(ValueError, match="http"):
        WebhookSender("file:///etc/passwd", SIGNING_KEY)
    assert "k3y" not in repr(ReportingWebhook(url="http://127.0.0.1/x", signing_key="k3y"))


# -- the sandbox's webhooks: Python API and admin API -----------------------------------------------------


def test_the_sandbox_sends_a_workspaces_webhooks(sandbox: Sandbox, receiver: Receiver) -> None:
    sender = sandbox.configure_webhooks(receiver.url, SIGNING_KEY, fast_forward=True)
    assert sandbox.configure_webhooks(receiver.url, SIGNING_KEY, fast_forward=True) is sender
    assert sandbox.webhooks() is sender
    sender.enqueue(event(1))
    assert sender.wait_idle(10)
    assert receiver.bodies() == [event(1)]
    assert sandbox.state()["webhooks"]["100001"]["pending"] == 0
    assert SIGNING_KEY not in json.dumps(sandbox.state())
    other = sandbox.configure_webhooks(receiver.url, SIGNING_KEY, retry_signing="reuse")
    assert other is not sender and not sender.running
    sandbox.reset()
    with pytest.raises(LookupError):
        sandbox.webhooks()
    assert not other.running


def test_stopping_the_sandbox_stops_its_webhook_senders(receiver: Receiver) -> None:
    server = Sandbox().start()
    sender = server.configure_webhooks(receiver.url, SIGNING_KEY)
    assert sender.thread in server.threads()
    server.stop()
    assert not sender.running
    assert not [t for t in threading.enumerate() if t.name.startswith("cio-sandbox")]


def admin(sandbox: Sandbox, method: str, path: str, body: object = None) -> httpx.Response:
    return httpx.request(method, f"{sandbox.url}/_sandbox{path}", json=body, timeout=5.0)


def test_the_admin_api_sets_up_queues_and_reports_webhooks(sandbox: Sandbox, receiver: Receiver) -> None:
    receiver.respond = lambda body, n: 400 if body == b"not json" and n == 0 else 200
    assert admin(sandbox, "GET", "/webhooks").status_code == 404
    early = admin(sandbox, "POST", "/webhooks/events", {"events": [{"body": "{}"}]})
    assert early.status_code == 409
    assert admin(sandbox, "POST", "/webhooks", {"url": "gopher://x", "signing_key": "k"}).status_code == 400

    setup = admin(
        sandbox,
        "POST",
        "/webhooks",
        {"url": receiver.url, "signing_key": SIGNING_KEY, "fast_forward": True, "retry_signing": "reuse"},
    )
    assert setup.status_code == 200
    assert setup.json()["retry_signing"] == "reuse" and setup.json()["fast_forward"] is True
    assert SIGNING_KEY not in setup.text

    queued = admin(
        sandbox,
        "POST",
        "/webhooks/events",
        {"events": [{"body": event(1).decode()}, {"body": "not json", "event_id": "bad-1"}]},
    )
    assert queued.json() == {"queued": [f"01EVENT{1:019d}", "bad-1"]}
    assert sandbox.webhooks().wait_idle(10)
    report = admin(sandbox, "GET", "/webhooks").json()
    assert admin(sandbox, "GET", "/webhooks/report/100001").json() == report
    assert [(d["event_id"], d["state"], d["attempts"]) for d in report["deliveries"]] == [
        (f"01EVENT{1:019d}", "delivered", 1),
        ("bad-1", "delivered", 2),
    ]
    assert report["attempts"][2]["at"] - report["attempts"][1]["at"] >= HOUR  # 400: the hour, fast-forwarded
    assert "not json" not in json.dumps(report) and SIGNING_KEY not in json.dumps(report)
    assert receiver.received[1].headers == receiver.received[2].headers  # reuse: the same signature
    bad = admin(sandbox, "POST", "/webhooks/events", {"events": [{"body": "{}", "lost_responses": 99}]})
    assert bad.status_code == 400
