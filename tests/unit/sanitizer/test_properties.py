"""Properties of the sanitizer over generated JSON: nothing a detector flags and no drop key
survives, hashing is stable and keyed, sanitizing is idempotent, injected card numbers, SSNs and
IBANs are always removed, and only PayloadLimitError ever escapes. Deterministic (derandomized, no
example database). The strategies are in strategies.py, the properties test_fuzz.py shares are in
checks.py."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cio_security.hashing import keyed_hash
from cio_security.sanitizer.attributes import sanitize, sanitize_attributes
from cio_security.sanitizer.detectors import detect, is_card_number, is_iban, is_us_ssn
from cio_security.sanitizer.keys import HASH, normalize_key
from cio_security.sanitizer.policy import DEFAULT_DROP_KEYS, DEFAULT_HASH_KEYS, SanitizerPolicy
from unit.sanitizer.checks import (
    DEFAULT_ALLOW_KEYS_NORMAL,
    PEPPER,
    UNTRUSTING,
    action_of,
    assert_no_drop_key_survives,
    assert_no_string_a_detector_flags_survives,
    assert_only_payload_limit_error_escapes,
    keys_in,
    strings_in,
)
from unit.sanitizer.samples import (
    card_numbers,
    embedded_sensitive,
    ibans,
    is_card_reference,
    issued_card,
    ssn_possible,
    us_ssns,
)
from unit.sanitizer.strategies import (
    DETERMINISTIC,
    any_json,
    json_objects,
    keys,
    small_policies,
    spellings,
)

# --- (a) nothing a detector flags survives ------------------------------------------------------


@DETERMINISTIC
@given(json_objects)
def test_output_holds_no_string_a_detector_flags(attrs: dict[str, Any]) -> None:
    assert_no_string_a_detector_flags_survives(attrs)


# --- (b) no drop key survives ---------------------------------------------------------------------


@DETERMINISTIC
@given(json_objects)
def test_output_holds_no_drop_key(attrs: dict[str, Any]) -> None:
    assert_no_drop_key_survives(attrs)


@DETERMINISTIC
@given(json_objects)
def test_every_hash_key_is_replaced_by_its_hash(attrs: dict[str, Any]) -> None:
    data = sanitize_attributes(attrs, pepper=PEPPER, policy=UNTRUSTING)
    assert [k for k in keys_in(data) if action_of(k, UNTRUSTING) == HASH] == []


# --- (c) hashing is stable and keyed ---------------------------------------------------------------


@DETERMINISTIC
@given(
    st.one_of(st.text(), st.integers(), st.floats(allow_nan=False)),
    st.text(min_size=1, max_size=40),
    st.text(min_size=1, max_size=40),
)
def test_hashing_is_stable_and_keyed(value: Any, pepper: str, other: str) -> None:
    digest = sanitize_attributes({"phone": value}, pepper=pepper)["phone_hash"]
    assert digest == keyed_hash(str(value), pepper)
    assert digest == sanitize_attributes({"phone": value}, pepper=pepper)["phone_hash"]
    assert digest == sanitize_attributes({"phone": value}, pepper=pepper.encode())["phone_hash"]
    if other != pepper:
        assert digest != sanitize_attributes({"phone": value}, pepper=other)["phone_hash"]


# --- (d) only PayloadLimitError escapes ------------------------------------------------------------


@DETERMINISTIC
@given(any_json, st.one_of(st.none(), small_policies))
def test_arbitrary_json_raises_nothing_but_payload_limit_error(
    value: Any, policy: SanitizerPolicy | None
) -> None:
    assert_only_payload_limit_error_escapes(value, policy)


@DETERMINISTIC
@given(json_objects, st.integers(1, 30))
def test_no_scanned_string_longer_than_the_limit_survives(attrs: dict[str, Any], limit: int) -> None:
    policy = SanitizerPolicy(
        drop=DEFAULT_DROP_KEYS, hash=DEFAULT_HASH_KEYS, allow=(), max_string_length=limit
    )
    data = sanitize_attributes(attrs, pepper=PEPPER, policy=policy)
    computed = {key + "_hash" for key in keys_in(attrs, skip_allowed=False)}
    assert [s for s in _scanned_strings(data, computed) if len(s) > limit] == []


def _scanned_strings(data: Any, computed: set[str]) -> Iterator[str]:
    """The output's keys and string values, except the computed ``<key>_hash`` entries."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for key, value in item.items():
                if key in computed and (value is None or (isinstance(value, str) and len(value) == 64)):
                    continue
                yield key
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


# --- idempotence ------------------------------------------------------------------------------------


@DETERMINISTIC
@given(json_objects)
def test_sanitizing_twice_changes_nothing_more(attrs: dict[str, Any]) -> None:
    once = sanitize(attrs, pepper=PEPPER)
    twice = sanitize(once.data, pepper=PEPPER)
    assert twice.data == once.data
    assert twice.report.dropped == ()


# --- injected sensitive values are removed -------------------------------------------------------


def containers_in(value: Any) -> list[Any]:
    """The dicts and lists of a JSON value (the root first), under allowed keys too (they are
    walked like any other)."""
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            found.append(item)
            stack.extend(item)
    return found


@DETERMINISTIC
@given(json_objects, st.data())
def test_injected_sensitive_values_never_survive(attrs: dict[str, Any], data: st.DataObject) -> None:
    injected = data.draw(st.lists(embedded_sensitive(), min_size=1, max_size=5))
    for _, text in injected:
        containers = containers_in(attrs)
        target = containers[data.draw(st.integers(0, len(containers) - 1))]
        if isinstance(target, dict):
            key = data.draw(keys.filter(lambda k: normalize_key(k) not in DEFAULT_ALLOW_KEYS_NORMAL))
            target[key] = text
        else:
            target.insert(data.draw(st.integers(0, len(target))), text)
    # The generator makes real sensitive values, which the detectors find in their surroundings.
    assert all(detect(text) is not None for _, text in injected)

    result = sanitize(attrs, pepper=PEPPER)

    survivors = [
        value for value, _ in injected for s in strings_in(result.data, skip_allowed=True) if value in s
    ]
    assert survivors == []
    assert result.report.dropped or result.report.hashed


# --- detectors against the reference implementations -------------------------------------------


@DETERMINISTIC
@given(
    st.one_of(
        st.text("0123456789", min_size=9, max_size=22), issued_card(), issued_card().map(lambda n: n[:-1])
    )
)
def test_card_detector_agrees_with_the_reference_on_digit_strings(digits: str) -> None:
    # Issue 18: the reference is 12-19 Luhn-valid digits that a network issues (was: any 13-19).
    assert is_card_number(digits) == is_card_reference(digits)


@DETERMINISTIC
@given(st.text("0123456789", min_size=9, max_size=9), st.sampled_from(["-", " ", ""]))
def test_ssn_detector_agrees_with_the_reference(digits: str, separator: str) -> None:
    spelled = f"{digits[:3]}{separator}{digits[3:5]}{separator}{digits[5:]}"
    assert is_us_ssn(spelled) == ssn_possible(digits)


@DETERMINISTIC
@given(card_numbers())
def test_generated_cards_are_detected_and_a_changed_digit_is_not(number: str) -> None:
    assert detect(number) == "card_number"
    digits = [c for c in number if c.isdigit()]
    digits[-1] = str((int(digits[-1]) + 1) % 10)
    assert not is_card_number("".join(digits))


@DETERMINISTIC
@given(us_ssns())
def test_generated_ssns_are_detected(ssn: str) -> None:
    assert detect(ssn) == "us_ssn"


@DETERMINISTIC
@given(ibans(), st.data())
def test_generated_ibans_are_detected_and_a_changed_digit_is_not(iban: str, data: st.DataObject) -> None:
    assert is_iban(iban)
    compact = iban.replace(" ", "")
    positions = [i for i, c in enumerate(compact) if c.isdigit() and i >= 2]
    position = data.draw(st.sampled_from(positions))
    changed = str((int(compact[position]) + data.draw(st.integers(1, 9))) % 10)
    assert not is_iban(compact[:position] + changed + compact[position + 1 :])


@DETERMINISTIC
@given(st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=1, max_size=4))
def test_key_spellings_normalise_alike(words: list[str]) -> None:
    written = spellings("_".join(words))
    assert {normalize_key(s) for s in written} == {"".join(words)}
    assert normalize_key(normalize_key(written[0])) == normalize_key(written[0])


def test_floats_survive_unchanged() -> None:
    data = sanitize_attributes({"x": math.inf, "y": -0.0, "z": [1e308]}, pepper=PEPPER)
    assert data == {"x": math.inf, "y": -0.0, "z": [1e308]}
