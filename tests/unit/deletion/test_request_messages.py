"""What a refused deletion message says (issue 17): every problem names its field and the rule it
breaks, never the value; ``.fields`` lists the failing fields; and the optional ``workspaces``
field (issue 15)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from cio_security.deletion.request import (
    DeletionMessageError,
    DeletionRequest,
    parse_deletion_message,
    request_problems,
)
from cio_security.errors import InvalidDeletionRequestError
from cio_security.validation import UNEXPECTED_FIELD, FieldProblem, field_problems
from fixtures.functions import EVENTS
from unit.sanitizer.samples import card_numbers, ibans, us_ssns

VALID: dict[str, Any] = {
    "request_id": "dsar-2026-0001",
    "identifier": "user-123",
    "identifier_type": "id",
    "action": "erase",
    "regulation": "gdpr",
    "requested_at": "2026-11-28T10:00:00Z",
}
FIELDS = tuple(DeletionRequest.model_fields)


def refused(**changes: Any) -> DeletionMessageError:
    body = {**VALID, **changes}
    for name in [name for name, value in changes.items() if value is ...]:
        body.pop(name)
    with pytest.raises(DeletionMessageError) as caught:
        parse_deletion_message(json.dumps(body))
    return caught.value


def texts(error: DeletionMessageError) -> list[str]:
    return [str(problem) for problem in error.problems]


# -- one message per rule, naming the field -----------------------------------------------------------

CASES: list[tuple[dict[str, Any], str, str]] = [
    # request_id
    ({"request_id": ...}, "request_id", "request_id is required"),
    ({"request_id": ""}, "request_id", "request_id must not be empty"),
    ({"request_id": "x" * 129}, "request_id", "request_id must be at most 128 characters"),
    ({"request_id": 42}, "request_id", "request_id must be a string"),
    ({"request_id": "dsar\n1"}, "request_id", "request_id must be printable characters"),
    (
        {"request_id": "dsar-alice@example.com"},
        "request_id",
        "request_id must not have the shape of personal",
    ),
    # identifier
    ({"identifier": ...}, "identifier", "identifier is required"),
    ({"identifier": ""}, "identifier", "identifier must not be empty"),
    ({"identifier": "   "}, "identifier", "identifier must not be blank"),
    ({"identifier": "a\x00b"}, "identifier", "identifier must not contain control characters"),
    ({"identifier": "x" * 513}, "identifier", "identifier must be at most 512 characters"),
    ({"identifier": ["user-1"]}, "identifier", "identifier must be a string"),
    # identifier_type against the identifier's shape, for each type
    (
        {"identifier": "user-1", "identifier_type": "email"},
        "identifier",
        "identifier_type 'email' contradicts the identifier: an email needs an @",
    ),
    (
        {"identifier": "415-555-0100", "identifier_type": "phone"},
        "identifier",
        "identifier_type 'phone' contradicts the identifier: a phone number must be E.164",
    ),
    (
        {"identifier": "cio_", "identifier_type": "cio_id"},
        "identifier",
        "identifier_type 'cio_id' contradicts the identifier: a cio_id needs characters after",
    ),
    (
        {"identifier": "é" * 76, "identifier_type": "id"},
        "identifier",
        "identifier_type 'id' contradicts the identifier: an id is at most 150 bytes",
    ),
    (
        {"identifier": "x" * 151, "identifier_type": ...},
        "identifier",
        "identifier (taken as identifier_type 'id' from its shape): an id is at most 150 bytes",
    ),
    ({"identifier_type": "sms"}, "identifier_type", "identifier_type must be 'id', 'email', 'cio_id' or"),
    # action, regulation
    ({"action": "purge"}, "action", "action must be 'erase' or 'delete'"),
    ({"regulation": "lgpd"}, "regulation", "regulation must be 'gdpr' or 'ccpa'"),
    # requested_at
    ({"requested_at": "2026-10-05T09:30:00"}, "requested_at", "requested_at needs a timezone"),
    ({"requested_at": "2026-10-05"}, "requested_at", "requested_at needs a timezone"),
    ({"requested_at": "not a date"}, "requested_at", "requested_at must be an ISO 8601 date and time"),
    ({"requested_at": "2999-01-01T00:00:00Z"}, "requested_at", "requested_at must not be in the future"),
    ({"requested_at": "1999-12-31T23:59:59Z"}, "requested_at", "requested_at must not be before 2000-01-01"),
    ({"requested_at": "0001-01-01T00:00:00+01:00"}, "requested_at", "requested_at is out of range"),
    # workspaces
    ({"workspaces": []}, "workspaces", "workspaces must name at least one workspace"),
    ({"workspaces": "prod-eu"}, "workspaces", "workspaces must be a list"),
    ({"workspaces": ["prod-eu", "prod-eu"]}, "workspaces", "workspaces must not name a workspace twice"),
    ({"workspaces": ["Prod_EU"]}, "workspaces", "workspaces[0] must be a workspace name: lowercase"),
    ({"workspaces": ["prod-eu", 7]}, "workspaces", "workspaces[1] must be a string"),
    ({"workspaces": ["w"] * 40}, "workspaces", "workspaces must name at most 32 workspaces"),
    # fields that are not part of the message
    ({"identifer": "x"}, UNEXPECTED_FIELD, "unexpected field 'identifer' (did you mean 'identifier'?)"),
    (
        {"workspace": ["prod-eu"]},
        UNEXPECTED_FIELD,
        "unexpected field 'workspace' (did you mean 'workspaces'?)",
    ),
    ({"note": "x"}, UNEXPECTED_FIELD, "a field that is not part of the message (allowed: action,"),
]


@pytest.mark.parametrize(("changes", "field", "message"), CASES)
def test_every_rule_names_its_field(changes: dict[str, Any], field: str, message: str) -> None:
    error = refused(**changes)
    assert isinstance(error, InvalidDeletionRequestError)
    assert error.reason == "schema_error"
    assert field in error.fields
    assert any(text.startswith(message) for text in texts(error)), texts(error)
    assert message in str(error)
    for value in changes.values():
        if isinstance(value, str) and len(value) > 4:
            assert value not in str(error) or value in message


def test_the_issue_examples() -> None:
    assert texts(refused(requested_at="2026-11-28T10:00:00")) == [
        "requested_at needs a timezone (e.g. 2026-11-28T10:00:00Z)"
    ]
    error = refused(identifier="person@example.com", identifier_type="phone")
    assert error.fields == ("identifier",)
    assert "person@example.com" not in str(error)
    assert texts(error) == [
        "identifier_type 'phone' contradicts the identifier: a phone number must be E.164 (+ and up to "
        "15 digits, e.g. +14155552671)"
    ]


def test_several_problems_are_all_reported() -> None:
    error = refused(action="purge", regulation="lgpd", requested_at="yesterday")
    assert error.fields == ("action", "regulation", "requested_at")
    assert len(error.problems) == 3
    assert error.request_id == "dsar-2026-0001"


def test_an_unexpected_key_that_could_be_personal_data_is_never_repeated() -> None:
    for key in ("alice@example.com", "+14155550100", "Alice Smith", "4111111111111111"):
        error = refused(**{key: "x"})
        assert error.fields == (UNEXPECTED_FIELD,)
        assert key not in str(error)
        assert "not part of the message" in str(error)


def test_not_json_and_not_an_object() -> None:
    with pytest.raises(DeletionMessageError) as caught:
        parse_deletion_message("{oops")
    assert (caught.value.reason, caught.value.fields) == ("invalid_json", ("(root)",))
    assert texts(caught.value) == ["the message is not valid JSON (UTF-8)"]
    with pytest.raises(DeletionMessageError) as caught:
        parse_deletion_message('["dsar-1", "person@example.com"]')
    assert (caught.value.reason, caught.value.fields) == ("schema_error", ("(root)",))
    assert "person@example.com" not in str(caught.value)


def test_request_problems_for_callers_that_validate_themselves() -> None:
    with pytest.raises(ValidationError) as caught:
        DeletionRequest.model_validate({**VALID, "regulation": "lgpd"})
    assert request_problems(caught.value) == (
        FieldProblem("regulation", "regulation must be 'gdpr' or 'ccpa'"),
    )


def test_field_problems_of_any_model() -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(dict[str, list[int]]).validate_python({"counts": [1, "x"]})
    assert [str(p) for p in field_problems(caught.value)] == ["counts[1] must be a whole number"]
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(int).validate_python("x")
    assert field_problems(caught.value) == (FieldProblem("(root)", "the message must be a whole number"),)


# -- workspaces (issue 15) ----------------------------------------------------------------------------


def test_workspaces_absent_or_null_means_every_workspace() -> None:
    assert parse_deletion_message(json.dumps(VALID)).workspaces is None
    assert parse_deletion_message(json.dumps({**VALID, "workspaces": None})).workspaces is None


def test_workspaces_names_a_subset() -> None:
    request = parse_deletion_message(json.dumps({**VALID, "workspaces": ["prod-eu", "brand-2"]}))
    assert request.workspaces == ("prod-eu", "brand-2")
    assert json.loads(request.model_dump_json())["workspaces"] == ["prod-eu", "brand-2"]


def test_workspace_names_are_not_checked_against_the_stack_here() -> None:
    # Whether a name is configured is the processor's check (it knows the stack's workspaces).
    assert parse_deletion_message(json.dumps({**VALID, "workspaces": ["never-configured"]})).workspaces


def test_the_sample_event_with_workspaces() -> None:
    event = json.loads((EVENTS / "gdpr_deletion" / "sqs_workspaces.json").read_text())
    outcomes: list[object] = []
    for record in event["Records"]:
        try:
            outcomes.append(parse_deletion_message(record["body"]).workspaces)
        except DeletionMessageError as error:
            outcomes.append([str(p) for p in error.problems])
    assert outcomes == [
        ("default",),
        None,
        ["workspaces must name at least one workspace (leave it out to erase in every workspace)"],
        [
            "workspaces[0] must be a workspace name: lowercase letters, digits and inner hyphens, "
            "1-32 characters"
        ],
    ]


# -- the property: never the value, always a field ------------------------------------------------------

PERSONAL = st.one_of(
    st.emails(),
    card_numbers(),
    us_ssns(),
    ibans(),
    st.from_regex(r"\+[1-9][0-9]{9,13}", fullmatch=True),
)
HOSTILE = st.one_of(
    PERSONAL,
    st.text(min_size=5, max_size=600),
    st.builds(lambda a, b: f"{a}\n{b}", st.text(max_size=20), PERSONAL),
)
JSON_VALUES = st.one_of(
    HOSTILE,
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(HOSTILE, max_size=3),
    st.dictionaries(st.text(max_size=8), HOSTILE, max_size=2),
)
# Everything a problem may say, whatever the value: the fixed words of every rule.
RULES_TEXT = "\n".join(
    [message for _, _, message in CASES]
    + [str(p) for changes, _, _ in CASES for p in refused(**changes).problems]
)


def _never_quoted(value: Any, error: DeletionMessageError) -> None:
    strings = [value] if isinstance(value, str) else []
    if isinstance(value, list):
        strings = [v for v in value if isinstance(v, str)]
    if isinstance(value, dict):
        strings = [*value.values(), *value.keys()]
    for text in strings:
        if len(text.strip()) > 4 and text in str(error):
            assert text in RULES_TEXT, f"quoted a value: {text!r}"


@settings(derandomize=True, database=None, deadline=None, max_examples=400)
@given(field=st.sampled_from(FIELDS), value=JSON_VALUES)
def test_a_refused_value_is_never_quoted_and_a_field_is_always_named(field: str, value: Any) -> None:
    error = _refusal({**VALID, field: value})
    assume(error is not None)
    assert error is not None
    assert error.fields
    assert set(error.fields) <= {*FIELDS, UNEXPECTED_FIELD, "(root)"}
    for problem in error.problems:
        assert problem.field in error.fields
        names = (*FIELDS, "unexpected field", "not part of the message")
        assert any(name in problem.text for name in names), problem.text
    _never_quoted(value, error)


def _refusal(body: dict[str, Any]) -> DeletionMessageError | None:
    try:
        parse_deletion_message(json.dumps(body))
    except DeletionMessageError as error:
        return error
    return None


@settings(derandomize=True, database=None, deadline=None, max_examples=200)
@given(key=HOSTILE, value=JSON_VALUES)
def test_an_unknown_key_and_its_value_are_never_quoted(key: str, value: Any) -> None:
    assume(key not in FIELDS)
    with pytest.raises(DeletionMessageError) as caught:
        parse_deletion_message(json.dumps({**VALID, key: value}))
    assert caught.value.fields == (UNEXPECTED_FIELD,)
    _never_quoted(key, caught.value)
    _never_quoted(value, caught.value)
