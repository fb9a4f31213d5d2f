"""Issue 18, "Minimum necessary data": a policy in ``deny_unknown`` mode lets through only the names
it lists in ``allow`` and ``hash`` (and the ``_hash`` fields the sanitizer writes); every other key
is dropped and reported with the reason ``not_allowed``. ``trusted`` says which allowed names keep
their values unscanned; the others are scanned by the detectors like ordinary keys."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cio_security.errors import ConfigurationError
from cio_security.hashing import keyed_hash
from cio_security.sanitizer.attributes import sanitize
from cio_security.sanitizer.keys import HASH_SUFFIX, normalize_key
from cio_security.sanitizer.policy import DEFAULT_DROP_KEYS, SanitizerPolicy
from unit.sanitizer.checks import PEPPER, keys_in
from unit.sanitizer.samples import card_digits, us_ssns
from unit.sanitizer.strategies import DETERMINISTIC, json_objects

# The README's example of a minimum-necessary policy.
RECOMMENDED = SanitizerPolicy.from_json(
    json.dumps(
        {
            "mode": "deny_unknown",
            "allow": ["id", "email", "cio_id", "plan", "company", "items", "sku", "quantity"],
            "trusted": ["id", "email", "cio_id"],
            "hash": ["phone", "ip_address"],
            "drop": ["password", "ssn", "card_number"],
        }
    )
)


def test_only_named_keys_pass_and_the_rest_are_reported_as_not_allowed() -> None:
    attrs = {
        "id": "123456789",  # trusted: an SSN's shape, kept as it is
        "email": "a@example.com",
        "plan": "pro",
        "phone": "+44 20 7946 0000",
        "password": "hunter2",
        "favourite_colour": "green",
        "items": [{"sku": "A-1", "quantity": 2, "gift_message": "happy birthday"}],
        "profile": {"plan": "pro"},
    }
    result = sanitize(attrs, pepper=PEPPER, policy=RECOMMENDED)
    assert result.data == {
        "id": "123456789",
        "email": "a@example.com",
        "plan": "pro",
        "phone_hash": keyed_hash("+44 20 7946 0000", PEPPER),
        "items": [{"sku": "A-1", "quantity": 2}],
    }
    assert dict(zip(result.report.dropped, result.report.reasons, strict=True)) == {
        "$.password": "policy",
        "$.favourite_colour": "not_allowed",
        "$.profile": "not_allowed",
        "$.items[0].gift_message": "not_allowed",
    }
    assert result.report.hashed == ("$.phone",)


def test_allowed_names_match_whole_keys_in_any_spelling_only() -> None:
    attrs = {"Plan": "a", "PLAN": "b", "billing_plan": "c", "plan_name": "d", "company": {"plan": "e"}}
    result = sanitize(attrs, pepper=PEPPER, policy=RECOMMENDED)
    assert result.data == {"Plan": "a", "PLAN": "b", "company": {"plan": "e"}}
    assert set(result.report.dropped) == {"$.billing_plan", "$.plan_name"}
    assert set(result.report.reasons) == {"not_allowed"}


def test_allowed_names_that_are_not_trusted_are_still_scanned() -> None:
    card = "4111 1111 1111 1111"
    result = sanitize({"plan": card, "sku": 4111111111111111, "id": card}, pepper=PEPPER, policy=RECOMMENDED)
    assert result.data == {"id": card}  # trusted: kept unscanned, as in the default policy
    assert result.report.reasons == ("card_number", "card_number")


def test_hashed_fields_pass_so_sanitizing_twice_changes_nothing() -> None:
    once = sanitize({"phone": "+1 555 0100", "PhoneHash": "0" * 64}, pepper=PEPPER, policy=RECOMMENDED)
    assert once.report.reasons == ("collision",)
    twice = sanitize(once.data, pepper=PEPPER, policy=RECOMMENDED)
    assert twice.data == once.data
    assert twice.report.dropped == ()


def test_default_mode_is_unchanged_and_trusted_defaults_to_every_allowed_name() -> None:
    policy = SanitizerPolicy.from_json('{"drop": [], "hash": [], "allow": ["id"]}')
    assert policy.mode == "default" and not policy.deny_unknown and policy.trusted is None
    assert sanitize({"id": "123-45-6789", "other": "x"}, pepper=PEPPER, policy=policy).data == {
        "id": "123-45-6789",
        "other": "x",
    }
    scanned = SanitizerPolicy.from_json('{"drop": [], "hash": [], "allow": ["id"], "trusted": []}')
    assert sanitize({"id": "123-45-6789", "other": "x"}, pepper=PEPPER, policy=scanned).data == {"other": "x"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"mode": "strict", "drop": [], "hash": [], "allow": []}', "mode"),
        ('{"mode": "deny_unknown", "drop": [], "hash": [], "allow": ["id"], "trusted": ["email"]}', "email"),
        ('{"mode": "deny_unknown", "hash": [], "allow": []}', "drop"),
    ],
)
def test_invalid_modes_and_trusted_names_are_refused(text: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        SanitizerPolicy.from_json(text)


def _named(key: str, policy: SanitizerPolicy) -> bool:
    """Whether a deny_unknown ``policy`` lets ``key`` through by name (an allowed name, or the
    ``_hash`` output of a hash name, or a key that names a hashed field)."""
    name = normalize_key(key)
    hashes = {normalize_key(h + HASH_SUFFIX) for h in policy.hash}
    return name in policy.allow or name in hashes or name.endswith("hash")


@DETERMINISTIC
@given(json_objects, st.one_of(card_digits(), us_ssns()))
def test_nothing_unnamed_ever_comes_out_of_a_deny_unknown_policy(
    attrs: dict[str, Any], sensitive: str
) -> None:
    policy = SanitizerPolicy(
        mode="deny_unknown",
        drop=DEFAULT_DROP_KEYS,
        hash=frozenset({"phone", "ip"}),
        allow=frozenset({"note", "nested", "id"}),
        trusted=frozenset({"id"}),
    )
    result = sanitize({**attrs, "note": sensitive}, pepper=PEPPER, policy=policy)
    assert [key for key in keys_in(result.data) if not _named(key, policy)] == []
    assert sensitive not in json.dumps(result.data)  # "note" is allowed, not trusted: scanned
    assert len(result.report.dropped) == len(result.report.reasons)
