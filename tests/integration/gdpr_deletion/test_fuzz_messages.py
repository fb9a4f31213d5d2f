"""Arbitrary deletion-queue messages through the real handler (issue 7, "Fuzzing"): whatever a
message body holds, the batch never crashes, every invalid record goes to the dead-letter queue at
once with its reason (never into ``batchItemFailures``), and every valid record of the same batch
completes.

Bodies: text and decoded bytes, JSON of any shape, near-valid requests with one field broken,
huge strings and deep nesting, all within what the deletion queue accepts (SQS's character set,
the template's MaximumMessageSize).
Which records are valid is decided by ``parse_deletion_message``: the handler's routing is under
test here, the parser's rules in tests/unit. Where a body is invalid by construction (not JSON, not
an object, a required field missing, an unknown field...), the parser must agree.

The hypothesis test (marker ``fuzz``) runs ``FUZZ_EXAMPLES / 50`` batches of 2 to 10 messages, at
least 30 (``make test``: 30 batches, ~10 s; ``make fuzz``: 2,000 batches, ~12,000 messages, ~8 min
on two cores: each batch is a full invocation against moto and the sandbox). Deterministic.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cio_security.deletion.request import DeletionRequest, parse_deletion_message
from cio_security.errors import InvalidDeletionRequestError
from fixtures.logs import sensitive
from fixtures.template import queue_attributes

from .conftest import DeletionStack

BATCHES = max(30, int(os.environ.get("FUZZ_EXAMPLES", "0")) // 50)
FUZZ = settings(
    max_examples=BATCHES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
SQS_MAX_BYTES = int(queue_attributes("DeletionQueue")["MaximumMessageSize"])
PERSON_PREFIX = "fuzzperson-"
PERMANENT_REASONS = {"invalid_json", "schema_error"}
_serial = itertools.count()


# -- strategies -------------------------------------------------------------------------------------

# The characters SQS accepts in a message body: #x9 #xA #xD, #x20-#xD7FF, #xE000-#xFFFD, #x10000+.
sqs_chars = st.one_of(
    st.sampled_from("\t\n\r"),
    st.characters(min_codepoint=0x20, max_codepoint=0xD7FF),
    st.characters(min_codepoint=0xE000, max_codepoint=0xFFFD),
    st.characters(min_codepoint=0x10000),
)
sqs_text = st.text(sqs_chars, max_size=200)
body_text = st.text(sqs_chars, min_size=1, max_size=200)  # SQS refuses an empty body


def sqs_safe(text: str) -> str:
    """``text`` with every character SQS refuses replaced by U+FFFD."""
    return "".join(
        c
        if c in "\t\n\r" or 0x20 <= ord(c) <= 0xD7FF or 0xE000 <= ord(c) <= 0xFFFD or ord(c) >= 0x10000
        else "\ufffd"
        for c in text
    )


def _plain(text: str) -> bool:
    """No '@' and no long digit run: a value the handler may log (a request id) must not look like
    an email or a card number to the suite's log check."""
    return "@" not in text and not any(
        len(run) >= 12 for run in "".join(c if c.isdigit() else " " for c in text).split()
    )


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | sqs_text
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(sqs_text, children, max_size=5),
    max_leaves=25,
)
huge_text = st.builds(
    lambda c, n: c * n, st.sampled_from("aZ9 -"), st.integers(10_000, SQS_MAX_BYTES - 1_000)
)


def _deep(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


# Up to the queue's size limit either way: 2 bytes a level for a list, 6 for an object.
deep_json = st.builds(_deep, st.integers(1, SQS_MAX_BYTES // 2 - 100), st.just("list")) | st.builds(
    _deep, st.integers(1, SQS_MAX_BYTES // 6 - 100), st.just("object")
)


@dataclass(frozen=True)
class Body:
    """A generated message body; ``invalid`` when it is invalid by construction."""

    text: str
    invalid: bool = False


def _valid_fields(serial: int) -> dict[str, Any]:
    return {
        "request_id": f"fuzz-near-{serial}",
        "identifier": f"{PERSON_PREFIX}near-{serial}",
        "requested_at": "2026-11-28T10:00:00Z",
    }


def _break(breakage: tuple[str, str, Any]) -> Body:
    """A valid request with one field broken: removed, of the wrong type, out of range, or an extra
    unknown field (whose name could itself be personal data)."""
    how, name, value = breakage
    serial = next(_serial)
    fields = _valid_fields(serial)
    if how == "remove":
        fields.pop(name)
    elif how == "extra":
        fields[name if name not in DeletionRequest.model_fields else f"{name}_"] = value
    elif how == "replace" and name == "request_id" and isinstance(value, str):
        # Still arbitrary, but never an earlier example's request id (that would be a conflict).
        fields[name] = f"{value}#{serial}"
    else:
        fields[name] = value
    return Body(json.dumps(fields), invalid=how != "replace")


wrong_type = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.lists(json_scalars, max_size=3)
)
breakages = st.one_of(
    st.tuples(st.just("remove"), st.sampled_from(["request_id", "identifier"]), st.none()),
    st.tuples(st.just("extra"), sqs_text, json_values),
    st.tuples(
        st.just("invalid"), st.sampled_from(["request_id", "identifier", "action", "regulation"]), wrong_type
    ),
    st.tuples(
        st.just("invalid"),
        st.just("request_id"),
        st.sampled_from(["", "r" * 129, "dsar\n1", "dsar\x001", "dsar\u200b1", "dsar\ud8001"]),
    ),
    st.tuples(
        st.just("invalid"),
        st.just("identifier"),
        st.sampled_from(["", "   ", "u" * 513, "user\x07", "user\ud800", "\udfff"]),
    ),
    st.tuples(st.just("invalid"), st.just("action"), st.sampled_from(["ERASE", "erase ", "shred", ""])),
    st.tuples(st.just("invalid"), st.just("regulation"), st.sampled_from(["GDPR", "hipaa", ""])),
    st.tuples(
        st.just("invalid"),
        st.just("requested_at"),
        st.sampled_from(
            [
                "yesterday",
                "2026-11-28T10:00:00",
                "2026-13-01T00:00:00Z",
                "",
                "T",
                "9999-12-31T00:00:00Z",  # no representable deadline
                "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
            ]
        ),
    ),
    # Anything at all in a field: the parser decides (a unix time is a valid requested_at).
    st.tuples(
        st.just("replace"),
        st.sampled_from(
            ["request_id", "identifier", "identifier_type", "action", "regulation", "requested_at"]
        ),
        json_values.filter(lambda v: not isinstance(v, str) or _plain(v)),
    ),
)


def _json_body(value: Any) -> Body:
    return Body(json.dumps(value), invalid=not isinstance(value, dict))


bodies = st.one_of(
    body_text.map(Body),
    st.binary(min_size=1, max_size=300).map(lambda b: Body(sqs_safe(b.decode("utf-8", "replace")))),
    st.binary(min_size=1, max_size=300).map(lambda b: Body(sqs_safe(b.decode("latin-1")))),
    json_values.map(_json_body),
    breakages.map(_break),
    huge_text.map(
        lambda s: Body(json.dumps({**_valid_fields(next(_serial)), "identifier": s}), invalid=True)
    ),
    huge_text.map(lambda s: Body(s, invalid=True)),
    deep_json.map(lambda s: Body(s, invalid=True)),
    deep_json.map(
        lambda s: Body(json.dumps(_valid_fields(next(_serial)))[:-1] + ', "nested": ' + s + "}", invalid=True)
    ),
)


@st.composite
def valid_requests(draw: st.DrawFn) -> dict[str, Any]:
    serial = next(_serial)
    request: dict[str, Any] = {"request_id": f"fuzz-valid-{serial}", "identifier": f"{PERSON_PREFIX}{serial}"}
    if draw(st.booleans()):
        request["action"] = draw(st.sampled_from(["erase", "delete"]))
    if draw(st.booleans()):
        request["regulation"] = draw(st.sampled_from(["gdpr", "ccpa"]))
    if draw(st.booleans()):
        request["requested_at"] = "2026-11-28T10:00:00Z"
    return request


# -- the property -----------------------------------------------------------------------------------


def _is_valid(body: str) -> bool:
    """The parser's verdict; any exception other than InvalidDeletionRequestError fails the test."""
    try:
        parse_deletion_message(body)
    except InvalidDeletionRequestError:
        return False
    return True


def _take_dead_letters(stack: DeletionStack) -> dict[str, dict[str, str]]:
    """source message id -> attributes of every message on the DLQ, which is left empty."""
    found: dict[str, dict[str, str]] = {}
    while got := stack.sqs.receive_message(
        QueueUrl=stack.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
    ).get("Messages", []):
        for message in got:
            attributes = {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}
            found[attributes.get("source_message_id", "")] = attributes
            stack.sqs.delete_message(QueueUrl=stack.dlq_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def _receive_all(stack: DeletionStack, message_ids: set[str]) -> list[dict[str, Any]]:
    """Receive exactly these messages as one batch; anything an earlier, failed example left on the
    queue is deleted on the way, so a failure never cascades into the next example."""
    messages: list[dict[str, Any]] = []
    for _ in range(10):
        for message in stack.receive(10):
            if message["MessageId"] in message_ids:
                messages.append(message)
            else:
                stack.sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
        if len(messages) == len(message_ids):
            break
    assert {m["MessageId"] for m in messages} == message_ids
    return messages


def check_batch(stack: DeletionStack, items: list[dict[str, Any] | Body]) -> None:
    """Send one batch in the given order (valid requests as dicts, generated bodies), deliver it,
    and hold the handler to the module docstring's promises."""
    sensitive(PERSON_PREFIX.rstrip("-"))
    expected: dict[str, tuple[str, bool, dict[str, Any] | None]] = {}
    for item in items:
        if isinstance(item, Body):
            body, request = item.text, None
            is_valid = _is_valid(body)
            assert not (item.invalid and is_valid), "a body invalid by construction was accepted"
        else:
            body, request, is_valid = json.dumps(item), item, True
            stack.sandbox.add_person(item["identifier"], {"plan": "pro"})
        assert 0 < len(body.encode()) <= SQS_MAX_BYTES
        (message_id,) = stack.send(body)
        expected[message_id] = (body, is_valid, request)

    response = stack.invoke(_receive_all(stack, set(expected)))

    assert response == {"batchItemFailures": []}
    dead = {k: v for k, v in _take_dead_letters(stack).items() if k in expected}
    people, suppressed = stack.sandbox.people(), stack.sandbox.suppressed()
    for message_id, (body, is_valid, request) in expected.items():
        if not is_valid:
            assert dead[message_id]["reason"] in PERMANENT_REASONS
            continue
        assert message_id not in dead
        record = stack.audit(json.loads(body)["request_id"])
        assert record is not None
        assert record.status == "completed"
        if request is not None:
            assert request["identifier"] not in people
            assert (request["identifier"] in suppressed) == (request.get("action", "erase") == "erase")


@FUZZ
@pytest.mark.fuzz
@pytest.mark.timeout(120 + BATCHES)  # about 0.25 s a batch here
@given(
    valid=st.lists(valid_requests(), min_size=1, max_size=4),
    fuzz=st.lists(bodies, min_size=1, max_size=6),
    data=st.data(),
)
def test_arbitrary_bodies_never_crash_the_batch_nor_lose_its_good_records(
    deletion: DeletionStack, valid: list[dict[str, Any]], fuzz: list[Body], data: st.DataObject
) -> None:
    # Interleave: the good records may come anywhere in the batch.
    order = data.draw(st.permutations(range(len(valid) + len(fuzz))))
    items: list[dict[str, Any] | Body] = [*valid, *fuzz]
    check_batch(deletion, [items[i] for i in order])


# -- named cases, always run ------------------------------------------------------------------------

EDGE_CASES = {
    "whitespace": " \t\r\n",
    "not json": "erase user-1 please",
    "truncated": '{"request_id": "x", "identifier": ',
    "json string": '"{\\"request_id\\": \\"x\\"}"',
    "json array": '[{"request_id": "x", "identifier": "y"}]',
    "NaN": "NaN",
    "huge integer": "1" * 5000,
    "huge integer field": '{"request_id": "x", "identifier": ' + "9" * 5000 + "}",
    "lone surrogate identifier": '{"request_id": "x", "identifier": "\\ud800"}',
    "bom": '\ufeff{"request_id": "x", "identifier": "y"}',
    "nul escape": '{"request_id": "x\\u0000", "identifier": "y"}',
    "duplicate keys": '{"request_id": "x", "request_id": "", "identifier": "y"}',
    "deep list": "[" * 30_000 + "]" * 30_000,
    "deep object field": '{"request_id": "x", "identifier": "y", "z": '
    + '{"a":' * 10_000
    + "1"
    + "}" * 10_001,
    "huge string": json.dumps({"request_id": "x", "identifier": "y" * 60_000}),
    # The largest body the queue takes still fits in the DLQ with its reason attributes.
    "largest body": json.dumps({"request_id": "x" * 128, "z": ""}).replace('""', '"' + "y" * 65_000 + '"'),
    # Valid dates whose statutory deadline (or UTC conversion) is outside what a datetime holds.
    "requested at the end of time (gdpr)": json.dumps(
        {"request_id": "x", "identifier": "y", "requested_at": "9999-12-31T00:00:00Z"}
    ),
    "requested at the end of time (ccpa)": json.dumps(
        {"request_id": "x", "identifier": "y", "requested_at": "9999-12-31T00:00:00Z", "regulation": "ccpa"}
    ),
    "requested before year 1 in UTC": json.dumps(
        {"request_id": "x", "identifier": "y", "requested_at": "0001-01-01T00:00:00+01:00"}
    ),
}


@pytest.mark.parametrize("body", list(EDGE_CASES.values()), ids=list(EDGE_CASES))
def test_hostile_bodies_go_to_the_dlq_and_the_good_records_complete(
    deletion: DeletionStack, body: str
) -> None:
    serial = next(_serial)
    valid = [
        {"request_id": f"fuzz-edge-{serial}-a", "identifier": f"{PERSON_PREFIX}edge-{serial}-a"},
        {
            "request_id": f"fuzz-edge-{serial}-b",
            "identifier": f"{PERSON_PREFIX}edge-{serial}-b",
            "action": "delete",
        },
    ]
    check_batch(deletion, [valid[0], Body(body, invalid=True)])
    check_batch(deletion, [Body(body, invalid=True), valid[1], Body(body, invalid=True)])
