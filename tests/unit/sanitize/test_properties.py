"""Properties of the sanitizer over generated JSON: nothing a detector flags and no drop key
survives, hashing is stable and keyed, sanitizing is idempotent, injected card numbers, SSNs and
IBANs are always removed, and only PayloadLimitError ever escapes. Deterministic (derandomized, no
example database)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cio_security.errors import PayloadLimitError
from cio_security.hashing import keyed_hash
from cio_security.sanitizer.core import (
    DEFAULT_ALLOW_KEYS,
    DEFAULT_DROP_KEYS,
    DEFAULT_HASH_KEYS,
    SanitizerPolicy,
    normalize_key,
    sanitize,
    sanitize_attributes,
)
from cio_security.sanitizer.detectors import detect, is_card_number, is_iban, is_us_ssn
from unit.sanitize.samples import (
    card_numbers,
    embedded_sensitive,
    ibans,
    luhn_ok,
    ssn_possible,
    us_ssns,
)

PEPPER = "property-test-pepper-0123456789ab"
DETERMINISTIC = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# The default sets without trust: every value is subject to the policy and the detectors.
UNTRUSTING = SanitizerPolicy(drop=DEFAULT_DROP_KEYS, hash=DEFAULT_HASH_KEYS, allow=frozenset())

# --- strategies -------------------------------------------------------------------------------


def _spellings(key: str) -> list[str]:
    words = key.split("_")
    camel = words[0] + "".join(w.title() for w in words[1:])
    return [key, key.upper(), "-".join(words), " ".join(w.title() for w in words), camel]


policy_keys = st.sampled_from(
    sorted({s for key in DEFAULT_DROP_KEYS | DEFAULT_HASH_KEYS | DEFAULT_ALLOW_KEYS for s in _spellings(key)})
)
keys = st.one_of(st.text(max_size=10), policy_keys, st.sampled_from(["phone_hash", "ip_hash", "note"]))
texts = st.one_of(st.text(max_size=20), embedded_sensitive().map(lambda pair: pair[1]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), texts)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)),
    max_leaves=25,
)
json_objects = st.dictionaries(keys, json_values, max_size=6)


DEFAULT_ALLOW_KEYS_NORMAL = frozenset(normalize_key(k) for k in DEFAULT_ALLOW_KEYS)


def strings_in(value: Any, *, skip_allowed: bool = False) -> Iterator[str]:
    """Every string (keys and values) in a JSON value, optionally not descending under the
    default allow keys."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for key, child in item.items():
                yield key
                if not (skip_allowed and normalize_key(key) in DEFAULT_ALLOW_KEYS_NORMAL):
                    stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)


def keys_in(value: Any, *, skip_allowed: bool) -> Iterator[str]:
    """Every key in a JSON value, optionally not descending under the default allow keys."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                yield key
                if not (skip_allowed and normalize_key(key) in DEFAULT_ALLOW_KEYS_NORMAL):
                    stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)


# --- (a) nothing a detector flags survives ------------------------------------------------------


@DETERMINISTIC
@given(json_objects)
def test_output_holds_no_string_a_detector_flags(attrs: dict[str, Any]) -> None:
    data = sanitize_attributes(attrs, pepper=PEPPER, policy=UNTRUSTING)
    flagged = [s for s in strings_in(data) if detect(s) is not None]
    assert flagged == []


# --- (b) no drop key survives ---------------------------------------------------------------------


@DETERMINISTIC
@given(json_objects)
def test_output_holds_no_drop_key(attrs: dict[str, Any]) -> None:
    default = SanitizerPolicy.default()
    data = sanitize_attributes(attrs, pepper=PEPPER, policy=default)
    assert [k for k in keys_in(data, skip_allowed=True) if normalize_key(k) in default.drop] == []
    untrusting = sanitize_attributes(attrs, pepper=PEPPER, policy=UNTRUSTING)
    assert [k for k in keys_in(untrusting, skip_allowed=False) if normalize_key(k) in default.drop] == []


@DETERMINISTIC
@given(json_objects)
def test_every_hash_key_is_replaced_by_its_hash(attrs: dict[str, Any]) -> None:
    data = sanitize_attributes(attrs, pepper=PEPPER, policy=UNTRUSTING)
    assert [k for k in keys_in(data, skip_allowed=False) if normalize_key(k) in UNTRUSTING.hash] == []


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

small_policies = st.builds(
    SanitizerPolicy,
    drop=st.just(DEFAULT_DROP_KEYS),
    hash=st.just(DEFAULT_HASH_KEYS),
    allow=st.just(DEFAULT_ALLOW_KEYS),
    max_depth=st.integers(1, 6),
    max_nodes=st.integers(1, 60),
    max_string_length=st.integers(1, 40),
)
any_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text()),
    lambda children: st.one_of(st.lists(children), st.dictionaries(st.text(), children)),
    max_leaves=60,
)


@DETERMINISTIC
@given(any_json, st.one_of(st.none(), small_policies))
def test_arbitrary_json_raises_nothing_but_payload_limit_error(
    value: Any, policy: SanitizerPolicy | None
) -> None:
    attrs = value if isinstance(value, dict) else {"value": value}
    try:
        result = sanitize(attrs, pepper=PEPPER, policy=policy)
    except PayloadLimitError:
        return
    assert len(result.report.dropped) == len(result.report.reasons)


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
    """The dicts and lists of a JSON value (the root first), not under default allow keys."""
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(v for k, v in item.items() if normalize_key(k) not in DEFAULT_ALLOW_KEYS_NORMAL)
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
@given(st.text("0123456789", min_size=9, max_size=22))
def test_card_detector_agrees_with_the_reference_on_digit_strings(digits: str) -> None:
    assert is_card_number(digits) == (13 <= len(digits) <= 19 and luhn_ok(digits))


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
    spellings = _spellings("_".join(words))
    assert {normalize_key(s) for s in spellings} == {"".join(words)}
    assert normalize_key(normalize_key(spellings[0])) == normalize_key(spellings[0])


def test_floats_survive_unchanged() -> None:
    data = sanitize_attributes({"x": math.inf, "y": -0.0, "z": [1e308]}, pepper=PEPPER)
    assert data == {"x": math.inf, "y": -0.0, "z": [1e308]}
