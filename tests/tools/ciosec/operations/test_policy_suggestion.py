"""Issue 18, ``ciosec sanitize --suggest-policy``: the survey of sample documents (every key path,
how the policy treats it, what the detectors found: paths and counts, never values) and the
suggested deny_unknown policy, without the CLI."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unit.sanitizer.strategies import DETERMINISTIC, policy_keys, scalars

from cio_security.sanitizer.attributes import sanitize
from cio_security.sanitizer.policy import SanitizerPolicy
from ciosec.operations.policy_suggestion import (
    DocumentError,
    format_survey,
    load_documents,
    suggest_policy,
    survey_documents,
)

PEPPER = "suggestion-test-pepper-0123456789abcdef"
CARD = "4111 1111 1111 1111"
SSN = "123-45-6789"
SAMPLES: list[dict[str, Any]] = [
    {
        "id": "user-1",
        "email": "ada@example.com",
        "plan": "pro",
        "phone": "+44 20 7946 0000",
        "password": "hunter2hunter2",
        "note": f"card {CARD} on file",
        "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1, "gift": True}],
        "credentials": {"username": "ada"},
        CARD: "a key that is a card number",
        "ada@example.com": {"visits": 3},
    },
    {"id": "user-2", "plan": "free", "items": [], "customer_id": SSN, "ip_address": "203.0.113.9"},
]
VALUES = ("user-1", "ada@example.com", "pro", "+44 20 7946 0000", "hunter2hunter2", CARD, SSN, "203.0.113.9")


def documents() -> list[tuple[str, dict[str, Any]]]:
    return [(f"sample:{n}", doc) for n, doc in enumerate(SAMPLES, start=1)]


def test_every_key_path_is_listed_with_its_treatment_and_detections() -> None:
    survey = survey_documents(documents())
    by_path = {p.path: p for p in survey.paths}
    assert survey.documents == 2
    assert by_path["$.id"].seen == 2
    assert by_path["$.id"].treatment == "kept, trusted (not scanned)"
    assert by_path["$.plan"].treatment == "kept, scanned"
    assert by_path["$.phone"].treatment == "hashed as phone_hash"
    assert by_path["$.password"].treatment == "dropped (policy)"
    assert by_path["$.note"].treatment == "dropped (card_number)"
    assert by_path["$.note"].detected == {"card_number": 1}
    assert by_path["$.items[].sku"].seen == 2
    assert by_path["$.items[].gift"].seen == 1
    assert by_path["$.credentials.username"].treatment == "not reached: a key above it is dropped"
    # The detectors run on every value, whatever the policy does with it: a trusted id that has
    # an SSN's shape is reported (and kept: that is what trusted means).
    assert by_path["$.customer_id"].detected == {"us_ssn": 1}
    assert by_path["$.customer_id"].treatment == "kept, trusted (not scanned)"
    # Keys that hold sensitive data or look like personal data are never written out.
    assert by_path["$[?]"].treatments == {"dropped (card_number)": 1, "walked": 1}
    assert by_path["$[?].visits"].seen == 1


def test_the_listing_holds_paths_and_counts_never_values() -> None:
    listing = format_survey(survey_documents(documents()))
    assert "$.items[].qty" in listing
    assert [value for value in VALUES if value in listing] == []
    assert "2 document(s)" in listing


def test_the_suggested_policy_allows_what_was_kept_and_hashes_what_was_hashed() -> None:
    suggestion = suggest_policy(survey_documents(documents()))
    assert suggestion["mode"] == "deny_unknown"
    assert suggestion["allow"] == [
        "customer_id",
        "email",
        "gift",
        "id",
        "items",
        "note",
        "plan",
        "qty",
        "sku",
    ]
    assert suggestion["trusted"] == ["customer_id", "email", "id"]
    assert suggestion["hash"] == ["ip_address", "phone"]
    assert "password" in suggestion["drop"] and "credentials" in suggestion["drop"]
    policy = SanitizerPolicy.model_validate(suggestion)
    # On the samples, the suggested policy keeps what the default kept, minus the keys it could not
    # name (the card-number key and the email-address key).
    for _, document in documents():
        strict = sanitize(document, pepper=PEPPER, policy=policy)
        default = sanitize(document, pepper=PEPPER)
        assert strict.data == {k: v for k, v in default.data.items() if k != "ada@example.com"}


def test_hashed_fields_seen_in_samples_keep_their_hash_name() -> None:
    digest = "0" * 64
    suggestion = suggest_policy(survey_documents([("s", {"mobile_hash": digest, "phone": "1"})]))
    assert suggestion["hash"] == ["mobile", "phone"]
    policy = SanitizerPolicy.model_validate(suggestion)
    assert sanitize({"mobile_hash": digest}, pepper=PEPPER, policy=policy).data == {"mobile_hash": digest}


def test_a_deny_unknown_policy_lists_the_keys_it_refuses_and_suggests_them() -> None:
    strict = SanitizerPolicy.model_validate(suggest_policy(survey_documents(documents())))
    survey = survey_documents([("new", {"id": "u", "plan": "pro", "referrer": "ads"})], strict)
    assert {p.path: p.treatment for p in survey.paths}["$.referrer"] == "dropped (not_allowed)"
    assert "referrer" in suggest_policy(survey)["allow"]


def test_documents_over_the_limits_are_named_and_not_sanitized() -> None:
    policy = SanitizerPolicy.default().model_copy(update={"max_depth": 2})
    survey = survey_documents([("deep", {"a": {"b": {"c": 1}}})], policy)
    assert survey.over_limits == ["deep"]
    assert suggest_policy(survey)["allow"] == []


# -- reading files -------------------------------------------------------------------------------------


def test_files_hold_objects_arrays_json_lines_and_events(tmp_path: Path) -> None:
    event = {"event_id": "01E", "metric": "sent", "data": {"customer_id": "c"}}
    (tmp_path / "one.json").write_text(json.dumps({"plan": "pro"}))
    (tmp_path / "many.json").write_text(json.dumps([{"a": 1}, {"b": 2}]))
    (tmp_path / "lines.jsonl").write_text(json.dumps({"c": 3}) + "\n\n" + json.dumps(event) + "\n")
    api = {"requestContext": {}, "body": json.dumps(event), "isBase64Encoded": False}
    (tmp_path / "api.json").write_text(json.dumps(api))
    encoded = {**api, "body": base64.b64encode(json.dumps(event).encode()).decode(), "isBase64Encoded": True}
    (tmp_path / "b64.json").write_text(json.dumps(encoded))
    names = ["one.json", "many.json", "lines.jsonl", "api.json", "b64.json"]
    loaded = list(load_documents(tmp_path / name for name in names))
    assert [doc for _, doc in loaded] == [
        {"plan": "pro"},
        {"a": 1},
        {"b": 2},
        {"c": 3},
        {"customer_id": "c"},
        {"customer_id": "c"},
        {"customer_id": "c"},
    ]
    assert loaded[3][0].endswith("lines.jsonl:1") and loaded[4][0].endswith("lines.jsonl:3")


@pytest.mark.parametrize(
    ("content", "where"),
    [('{"a": 1}\n{"a": \n', "bad.json:2"), ("[1, 2]", "bad.json[1]"), ('"text"', "bad.json")],
)
def test_a_file_without_objects_is_refused_by_name_and_line(tmp_path: Path, content: str, where: str) -> None:
    (tmp_path / "bad.json").write_text(content)
    with pytest.raises(DocumentError, match=r"bad\.json") as raised:
        list(load_documents([tmp_path / "bad.json"]))
    assert where in str(raised.value)
    assert content.strip() not in str(raised.value)


# -- the suggested policy keeps what the current one kept ---------------------------------------------

# Documents whose keys a policy can name: the default policy's names in every spelling and ordinary
# words; values of every kind the sanitizer meets (sensitive ones included).
ordinary_keys = st.one_of(policy_keys, st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True))
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(ordinary_keys, children, max_size=5)
    ),
    max_leaves=20,
)
documents_strategy = st.dictionaries(ordinary_keys, values, min_size=1, max_size=8)


@settings(DETERMINISTIC, max_examples=100)
@given(st.lists(documents_strategy, min_size=1, max_size=4))
def test_the_suggested_policy_keeps_on_the_samples_what_the_current_one_kept(
    samples: list[dict[str, Any]],
) -> None:
    survey = survey_documents([(str(n), doc) for n, doc in enumerate(samples)])
    policy = SanitizerPolicy.model_validate(suggest_policy(survey))
    for document in samples:
        assert sanitize(document, pepper=PEPPER, policy=policy).data == sanitize(document, pepper=PEPPER).data
