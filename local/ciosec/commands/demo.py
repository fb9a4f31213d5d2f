"""``ciosec demo`` (``make demo``): start the local stack, drive one scenario end to end, tell it
as a short story on stderr (scenes: what happened, what to notice) with a JSON report on stdout,
stop everything.

The scenario: a valid and a forged webhook; a stream of webhooks delivered by the sandbox as
Customer.io delivers them (in order, each failure holding up the rest), one in the middle signed but
unprocessable, which is kept and must hold up nothing (and what a 400 for it would have cost); 100
deletion requests while the Customer.io sandbox injects faults (5xx, 429 with Retry-After,
connection resets); a Track credential rotation while those deletions run; then every request is
accounted for (completed, or in the DLQ with a reason).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx

from cio_security.config import boto_config
from cio_security.errors import RotationError
from cio_security.rotation import RotationSettings
from cio_security.secrets.models import TrackCredentials
from ciosec.commands import Subcommands
from ciosec.commands.sandbox import unprocessable_body
from ciosec.commands.webhook import sample_event, send_webhook
from ciosec.emulator.local_stack import LOCAL_SIGNING_KEY, LocalStack, LocalStackOptions
from ciosec.operations.deletion import audit_status, build_request, list_dead_letters, submit_bulk
from ciosec.operations.quarantine import StackClients, quarantine_for
from ciosec.operations.rotation import discard_stale_pending, rotate_locally, stage
from ciosec.options import seconds
from ciosec.sandbox import FastForwardClock, Sandbox, WebhookSender
from ciosec.sandbox.webhooks import ONE_HOUR_STATUSES

REQUESTS = 100
ROTATION_ATTEMPTS = 5
FAULTS = {"error_rate": 0.10, "rate_limited_rate": 0.05, "retry_after": 1, "reset_rate": 0.02, "seed": 7}
STREAM = 20
UNPROCESSABLE = 10  # the position (from 1) of the signed body that is no event
ONE_HOUR = 3600.0
EU_OUTAGE = 5  # 503s the EU sandbox answers: more than one delivery's attempts, so SQS redelivers


def _webhooks(stack: LocalStack) -> dict[str, int]:
    body = json.dumps(sample_event()).encode()
    return {
        "signed": send_webhook(stack.info.webhook_url, body, LOCAL_SIGNING_KEY.encode()).status_code,
        "forged": send_webhook(stack.info.webhook_url, body, None).status_code,
    }


def _stream() -> list[tuple[str, bytes]]:
    """(event id, body) of ``STREAM`` events; the ``UNPROCESSABLE``th is cut-off JSON."""
    events = [sample_event() for _ in range(STREAM)]
    return [
        (e["event_id"], unprocessable_body(e) if n == UNPROCESSABLE else json.dumps(e).encode())
        for n, e in enumerate(events, start=1)
    ]


def _webhook_stream(stack: LocalStack) -> dict[str, Any]:
    """The sandbox delivers the stream to the webhook as Customer.io would (its waits
    fast-forwarded); count what reached the bus and the quarantine and how long anything waited."""
    assert stack.sandbox is not None  # noqa: S101 - the demo always runs on the sandbox
    published = _subscribe(stack)
    sender = stack.sandbox.configure_webhooks(
        stack.info.webhook_url, LOCAL_SIGNING_KEY, fast_forward=True, max_real_wait=1.0
    )
    stream = _stream()
    ids = [sender.enqueue(body, event_id=event_id) for event_id, body in stream]
    sender.wait_idle(120)
    records = sender.deliveries(ids)
    attempts = sender.attempts(ids)
    valid = {event_id for n, (event_id, _) in enumerate(stream, start=1) if n != UNPROCESSABLE}
    clients = StackClients(
        s3=boto3.client("s3", config=boto_config()),
        secretsmanager=boto3.client("secretsmanager", config=boto_config()),
        events=boto3.client("events", config=boto_config()),
    )
    kept = Counter(k.reason for k in quarantine_for(stack.info, clients).list())
    return {
        "events": len(ids),
        "delivered_in_order": sum(r.state == "delivered" for r in records),
        "published": len(published(valid) & valid),
        "kept": dict(kept),
        "calls": len(attempts),
        "answers_to_the_unprocessable_one": [
            a.status for a in attempts if a.event_id == ids[UNPROCESSABLE - 1]
        ],
        "one_hour_statuses": sum(a.status in ONE_HOUR_STATUSES for a in attempts),
        "our_transient_failures": sum(
            a.outcome in {"refused", "timeout", "connection_error"} for a in attempts
        ),
        "longest_wait_seconds": round(max((r.waited or 0.0) for r in records), 3),
        "if_answered_400": _if_answered_400(stream),
    }


def _subscribe(stack: LocalStack) -> Any:
    """A queue receiving what the bus publishes; returns a function that waits (at most 15 s)
    until the given event ids have arrived and answers every event id that did."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    queue_url = sqs.create_queue(QueueName="demo-published-webhooks")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = stack.info.event_bus_name
    events.put_rule(Name="demo-all", EventBusName=bus, EventPattern=json.dumps({"source": ["customerio"]}))
    events.put_targets(Rule="demo-all", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])

    def arrived(expected: set[str]) -> set[str]:
        seen: set[str] = set()
        deadline = time.monotonic() + 15
        while not expected <= seen and time.monotonic() < deadline:
            for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            ):
                seen.add(json.loads(message["Body"])["detail"]["event_id"])
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            time.sleep(0.1)
        return seen

    return arrived


def _if_answered_400(stream: list[tuple[str, bytes]]) -> dict[str, Any]:
    """The same stream to a receiver that refuses a body that is not JSON with a 400: Customer.io
    waits an hour, retries for 7 days, and every event behind it waits that long."""

    def strict(request: httpx.Request) -> httpx.Response:
        try:
            json.loads(request.content)
        except ValueError:
            return httpx.Response(400)
        return httpx.Response(200)

    ticking = FastForwardClock()
    sender = WebhookSender(
        "http://127.0.0.1/webhooks/customerio",
        LOCAL_SIGNING_KEY,
        clock=ticking.now,
        sleep=ticking.sleep,
        transport=httpx.MockTransport(strict),
    )
    for event_id, body in stream:
        sender.enqueue(body, event_id=event_id)
    records = sender.deliver_pending(max_seconds=30)
    sender.stop()
    refused = records[UNPROCESSABLE - 1]
    behind = records[UNPROCESSABLE:]
    return {
        "calls_for_it": refused.attempts,
        "events_held_up": len(behind),
        "held_up_days": round(min((r.waited or 0.0) for r in behind) / 86400, 1),
    }


def _rotate_track(stack: LocalStack) -> str:
    """Issue a new credential set in the sandbox, stage it, and run the four steps."""
    assert stack.sandbox is not None  # noqa: S101 - the demo always runs on the sandbox
    issued = stack.sandbox.add_credentials()
    client = boto3.client("secretsmanager")
    secret_id = stack.info.track_credentials_secret_id
    new = TrackCredentials.model_validate(
        {"site_id": issued.site_id, "api_key": issued.api_key, "region": issued.region}
    )
    stage(client, secret_id, "track", new)
    settings = RotationSettings(
        track_credentials_secret_id=secret_id,
        signing_key_secret_id=stack.info.signing_key_secret_id,
        track_url=stack.info.sandbox_url,
    )
    # The sandbox is injecting faults: a step may fail (nothing is promoted then), and Secrets
    # Manager would retry the rotation, so the demo does too.
    for attempt in range(1, ROTATION_ATTEMPTS + 1):
        discard_stale_pending(client, secret_id)
        try:
            results = rotate_locally(client, secret_id, settings)
        except RotationError as exc:
            if attempt == ROTATION_ATTEMPTS:
                return f"failed after {attempt} attempts: {exc}"
            continue
        return ", ".join(f"{r.step} {r.outcome}" for r in results)
    return "did not finish"


def _account(stack: LocalStack, request_ids: list[str], timeout: float) -> tuple[Counter[str], float]:
    """Wait until every request is completed or dead-lettered; count the outcomes."""
    ddb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    started = time.monotonic()
    outcomes: Counter[str] = Counter()
    while time.monotonic() - started < timeout:
        dead = {d.request_id for d in list_dead_letters(sqs, stack.info.deletion_dlq_url, limit=None)}
        outcomes = Counter()
        for request_id in request_ids:
            record = audit_status(ddb, stack.info.audit_table, request_id)
            if request_id in dead:
                outcomes["dead-lettered"] += 1
            elif record and record.get("status") == "completed":
                outcomes["completed"] += 1
            else:
                outcomes["in progress"] += 1
        if not outcomes["in progress"]:
            break
        time.sleep(1.0)
    return outcomes, time.monotonic() - started


# -- the story: scenes, each told as it ends ------------------------------------------------------


@dataclass
class Demo:
    """One run of the scenario: the stack, the JSON report (for machines) and the narrative (for
    people), which each scene adds to."""

    stack: LocalStack
    args: argparse.Namespace
    report: dict[str, Any] = field(default_factory=dict)
    narrative: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def sandbox(self) -> Sandbox:
        assert self.stack.sandbox is not None  # noqa: S101 - the demo always runs on the sandbox
        return self.stack.sandbox

    def tell(self, title: str, lines: list[str], notice: str) -> None:
        """A scene's paragraph on stderr: what happened, then what a reader should notice."""
        text = [f"== {title}", *(f"   {line}" for line in lines), f"   Notice: {notice}", ""]
        self.narrative.extend(text)
        print("\n".join(text), file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Scene:
    """One part of the story: ``play`` drives the stack, fills the report and tells what happened."""

    name: str
    play: Callable[[Demo], None]


def _scene_workspace(demo: Demo) -> None:
    demo.people = [f"demo-user-{i:03d}" for i in range(REQUESTS)]
    for person in demo.people:
        demo.sandbox.add_person(person)
    credentials = demo.sandbox.credentials[0]
    demo.report["seeded_people"] = len(demo.people)
    demo.tell(
        "A Customer.io workspace",
        [
            f"The sandbox stands in for Customer.io: workspace {credentials.environment_id} "
            f"(region {credentials.region}), seeded with {len(demo.people)} people, "
            f"{demo.people[0]} to {demo.people[-1]}.",
        ],
        "the stack reaches it over HTTP with the Track and App API credentials it holds in "
        "Secrets Manager, as it would reach Customer.io.",
    )


def _scene_webhooks(demo: Demo) -> None:
    answers = _webhooks(demo.stack)
    demo.report["webhooks"] = answers
    demo.tell(
        "Two webhooks",
        [
            f"One signed with the workspace's key: answered {answers['signed']}, verified and published.",
            f"One signed with a key the stack does not hold: answered {answers['forged']}.",
        ],
        "a forged request is refused before anything is stored or published.",
    )


def _scene_stream(demo: Demo) -> None:
    stream = _webhook_stream(demo.stack)
    demo.report["webhook_stream"] = stream
    counterfactual = stream["if_answered_400"]
    kept = ", ".join(f"{n} {reason}" for reason, n in stream["kept"].items()) or "none"
    demo.tell(
        "A stream of webhooks, sent the way Customer.io sends them",
        [
            f"{stream['events']} events, one call at a time and strictly in order; number "
            f"{UNPROCESSABLE} is signed but is not JSON.",
            f"{stream['delivered_in_order']} delivered in order and {stream['published']} published; "
            f"the unprocessable one was answered {stream['answers_to_the_unprocessable_one'][-1]} "
            f"and kept in the quarantine ({kept}).",
            f"Longest wait behind an earlier event: {stream['longest_wait_seconds']} s "
            f"({stream['our_transient_failures']} transient failures of ours on the way).",
        ],
        f"Customer.io holds every later event behind a refused one: answered 400, the "
        f"{counterfactual['events_held_up']} events behind it would have waited "
        f"{counterfactual['held_up_days']} days. Kept and answered 200, nothing waited for it.",
    )


def _scene_deletions(demo: Demo) -> None:
    sandbox = demo.sandbox
    sandbox.configure(faults=FAULTS)
    requests = [build_request(f"demo-{i:03d}", person) for i, person in enumerate(demo.people)]
    submit_bulk(boto3.client("sqs"), demo.stack.info.deletion_queue_url, requests)
    rotation: dict[str, str] = {}
    rotator = threading.Thread(target=lambda: rotation.update(result=_rotate_track(demo.stack)))
    time.sleep(1.0)  # let deletions get under way first
    rotator.start()
    rotator.join(60)
    request_ids = [r.request_id for r in requests]
    demo.outcomes, seconds = _account(demo.stack, request_ids, timeout=demo.args.timeout)
    calls = sandbox.requests()
    faults = Counter(r.fault for r in calls if r.fault)
    ours = set(request_ids)
    dead = list_dead_letters(boto3.client("sqs"), demo.stack.info.deletion_dlq_url, limit=None)
    reasons = Counter(d.reason for d in dead if d.request_id in ours)
    redeliveries = _redeliveries(demo.stack, request_ids)
    remaining = [p for p in demo.people if p in sandbox.people()]
    result = rotation.get("result", "did not finish")
    demo.report.update(
        deletions={**demo.outcomes, "seconds": round(seconds, 1)},
        faults_injected=dict(faults),
        customerio_calls=len(calls),
        redeliveries=redeliveries,
        dead_letter_reasons=dict(reasons),
        people_left_in_customerio=len(remaining),
        rotation=result,
    )
    injected = ", ".join(f"{n} {kind.removeprefix('random:')}" for kind, n in sorted(faults.items()))
    dead_line = f"Dead letters: {sum(reasons.values())}"
    if reasons:
        dead_line += " (" + ", ".join(f"{n} {reason}" for reason, n in reasons.items()) + ")"
    demo.tell(
        f"{REQUESTS} erasures while Customer.io misbehaves, and a credential rotation meanwhile",
        [
            f"{REQUESTS} deletion requests sent to the deletion queue; the sandbox answers about 10% of "
            "Track requests with a 5xx and 5% with a 429, and resets 2% of connections.",
            f"Faults injected: {injected or 'none'}, in {len(calls)} calls to Customer.io.",
            "The client retried within each invocation (Retry-After honoured); what still failed went "
            f"back to SQS: {redeliveries} redeliver{'y' if redeliveries == 1 else 'ies'}.",
            dead_line + ".",
            f"Track credentials rotated while this ran: {result}.",
        ],
        "a transient failure is retried, never lost; a permanent one goes to the dead-letter queue "
        "with its reason; the rotation swapped the credentials without stopping the erasures.",
    )


def _scene_two_workspaces(demo: Demo) -> None:
    """One request erased in a US and an EU workspace, the EU one failing for a while (its sandbox
    answering 503 to the first EU_OUTAGE batch calls) then recovering: the US workspace is called
    once, the EU one again on the message's redelivery, and the audit record shows both."""
    stack = demo.stack
    us, eu = stack.sandboxes["us"], stack.sandboxes["eu"]
    us.clear_faults()  # the previous scene's random faults end here
    person, request_id = "demo-both-001", "demo-both-001"
    us.add_person(person)
    eu.add_person(person)
    seen_us, seen_eu = len(us.requests()), len(eu.requests())
    eu.fail_next(times=EU_OUTAGE, status=503, operation="batch")
    submit_bulk(boto3.client("sqs"), stack.info.deletion_queue_url, [build_request(request_id, person)])
    ddb = boto3.client("dynamodb")
    started, record = time.monotonic(), None
    while time.monotonic() - started < demo.args.timeout:
        record = audit_status(ddb, stack.info.audit_table, request_id)
        if record and record.get("status") in {"completed", "unverified", "failed", "dead_lettered"}:
            break
        time.sleep(1.0)
    us_calls = [r for r in us.requests()[seen_us:] if r.operation == "batch"]
    eu_calls = [r for r in eu.requests()[seen_eu:] if r.operation == "batch"]
    states = (record or {}).get("workspaces") or {}
    result: dict[str, Any] = {
        "status": (record or {}).get("status"),
        "workspaces": {
            name: {k: state.get(k) for k in ("status", "verification", "attempts")}
            for name, state in states.items()
        },
        "us_batch_calls": len(us_calls),
        "eu_batch_calls": len(eu_calls),
        "eu_503s": sum(1 for r in eu_calls if r.status == 503),
        "person_left": {"us": person in us.people(), "eu": person in eu.people()},
        "seconds": round(time.monotonic() - started, 1),
    }
    demo.report["workspaces"] = result
    per_workspace = "; ".join(
        f"{name}: {state.get('status')}, {state.get('verification')}, {state.get('attempts')} "
        f"call{'s' if state.get('attempts') != 1 else ''}"
        for name, state in result["workspaces"].items()
    )
    demo.tell(
        "One erasure in two workspaces, one of them failing for a while",
        [
            f"The local stack serves two Customer.io workspaces: us (US sandbox) and eu (EU sandbox), "
            f"each with its own credentials, App API key and request budget. {person} exists in both.",
            f"One deletion request without a workspaces field: it goes to both. The EU sandbox answers "
            f"503 to its next {EU_OUTAGE} batch calls.",
            f"US: {result['us_batch_calls']} call, accepted at once. EU: {result['eu_batch_calls']} "
            f"calls, {result['eu_503s']} of them 503 (retried, then the message went back to SQS and "
            "came again), then accepted.",
            f"Audit record: {result['status']} after {result['seconds']} s ({per_workspace}). "
            f"Person still in US: {result['person_left']['us']}, in EU: {result['person_left']['eu']}.",
        ],
        "the redelivery called only the workspace that had not accepted the erasure; the request "
        "completed when every workspace had, and one audit record tells both stories.",
    )


def _scene_accounting(demo: Demo) -> None:
    outcomes = demo.outcomes
    demo.tell(
        "Every request accounted for",
        [
            f"{outcomes['completed']} completed (audit record written, person gone from Customer.io), "
            f"{outcomes['dead-lettered']} dead-lettered with a reason, {outcomes['in progress']} still "
            f"in progress after {demo.report['deletions']['seconds']} s.",
            f"People left in the workspace: {demo.report['people_left_in_customerio']} (only a "
            "dead-lettered request leaves its person there).",
        ],
        "no request disappeared: each ended completed or in the dead-letter queue, where "
        "`ciosec dlq list` shows why and `ciosec dlq redrive` sends it back once fixed.",
    )


SCENES: tuple[Scene, ...] = (
    Scene("workspace", _scene_workspace),
    Scene("webhooks", _scene_webhooks),
    Scene("webhook stream", _scene_stream),
    Scene("deletions", _scene_deletions),
    Scene("two workspaces", _scene_two_workspaces),
    Scene("accounting", _scene_accounting),
)
"""The story, in order; each scene sees what the ones before it did (``Demo``)."""


def _redeliveries(stack: LocalStack, request_ids: list[str]) -> int:
    """Deliveries beyond the first that worked on a request (from its audit record's attempts)."""
    ddb = boto3.client("dynamodb")
    total = 0
    for request_id in request_ids:
        record = audit_status(ddb, stack.info.audit_table, request_id)
        if record:
            total += max(0, int(record.get("attempts", 0)) - 1)
    return total


def _run(args: argparse.Namespace) -> int:
    # The narrative goes to stderr as each scene ends, the JSON report to stdout; the functions' own
    # logs and metrics (stdout) stay quiet.
    logging.getLogger().setLevel(logging.ERROR)
    print("starting the local stack and running the scenario...\n", file=sys.stderr, flush=True)
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        demo = _scenario(args)
    report, outcomes = demo.report, demo.outcomes
    print(json.dumps(report, indent=2))
    stream = report["webhook_stream"]
    print(_stream_line(stream))
    answers = stream["answers_to_the_unprocessable_one"]
    ok = (
        report["webhooks"] == {"signed": 200, "forged": 401}
        and stream["delivered_in_order"] == stream["events"] == STREAM
        and stream["published"] == STREAM - 1
        and stream["kept"].get("not_json", 0) >= 1
        and answers[-1:] == [200]
        and stream["one_hour_statuses"] == 0
        and (stream["longest_wait_seconds"] < ONE_HOUR or stream["our_transient_failures"] > 0)
        and outcomes["in progress"] == 0
        and outcomes["completed"] + outcomes["dead-lettered"] == REQUESTS
        and _two_workspaces_ok(report["workspaces"])
    )
    print("demo: every request accounted for" if ok else "demo: something is off (see above)")
    return 0 if ok else 1


def _two_workspaces_ok(result: dict[str, Any]) -> bool:
    """The erasure completed in both workspaces, the US one called once, the EU one after its outage."""
    return (
        result["status"] == "completed"
        and set(result["workspaces"]) == {"us", "eu"}
        and all(state["status"] == "completed" for state in result["workspaces"].values())
        and result["us_batch_calls"] == 1
        and result["eu_503s"] == EU_OUTAGE
        and result["eu_batch_calls"] == EU_OUTAGE + 1
        and not any(result["person_left"].values())
    )


def _stream_line(stream: dict[str, Any]) -> str:
    """The webhook stream in one sentence."""
    counterfactual = stream["if_answered_400"]
    kept = sum(stream["kept"].values())
    if stream["our_transient_failures"]:
        waited = (
            f"the stream waited only on our own {stream['our_transient_failures']} transient failures "
            f"(503 or over 4 s on this loaded machine), retried on the plain backoff"
        )
    else:
        waited = f"so nothing waited behind it (longest wait {stream['longest_wait_seconds']} s)"
    return (
        f"webhooks: {stream['delivered_in_order']} of {stream['events']} delivered in order, "
        f"{stream['published']} published; the unprocessable one was kept ({kept} in the quarantine) "
        f"and answered 200, {waited}; a 400 would have held the {counterfactual['events_held_up']} "
        f"behind it for {counterfactual['held_up_days']} days ({counterfactual['calls_for_it']} calls)"
    )


def _scenario(args: argparse.Namespace) -> Demo:
    options = LocalStackOptions(webhook_port=0, state_file=Path(args.state))
    with LocalStack(options) as stack:
        demo = Demo(stack, args)
        for scene in SCENES:
            scene.play(demo)
    return demo


def register(groups: Subcommands) -> None:
    parser = groups.add_parser("demo", help="run one end-to-end scenario on a fresh local stack")
    parser.add_argument(
        "--timeout",
        type=seconds(allow_zero=False),
        default=180,
        help="seconds to wait for the deletions (default 180)",
    )
    parser.set_defaults(func=_run)
