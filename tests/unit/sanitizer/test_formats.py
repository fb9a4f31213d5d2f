"""Issue 16, "Numbers are never scanned" and "Detectors miss everyday formats": card numbers, SSNs
and IBANs written with any separators (one to three whitespace, invisible, dash, dot, slash or
parenthesis characters between groups), glued to letters, embedded in text, and held as numbers
(ints and integral floats) are found, and never come out of the sanitizer under any key. Hypothesis
generates the separators, the glue, the surrounding text and the numbers; the boundaries that keep
false positives down (decimal numbers, hex ids, Unix times) are checked the same way."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cio_security.sanitizer.attributes import sanitize
from cio_security.sanitizer.detectors import (
    detect,
    detect_number,
    find_card_number,
    find_iban,
    find_us_ssn,
)
from unit.sanitizer.checks import PEPPER, UNTRUSTING, numbers_in, strings_in
from unit.sanitizer.samples import (
    card_digits,
    card_ints,
    glued,
    separated_cards,
    separated_ibans,
    separated_ssns,
    ssn_ints,
    surrounding_text,
)
from unit.sanitizer.strategies import DETERMINISTIC, json_values

# --- separators --------------------------------------------------------------------------------


@DETERMINISTIC
@given(separated_cards())
def test_cards_with_any_separators_are_found(card: str) -> None:
    span = find_card_number(card)
    # From the first group: to the last, or to an earlier group when fewer digits pass Luhn too.
    assert span is not None and span[0] == 0
    assert detect(card) == "card_number"


@DETERMINISTIC
@given(separated_ssns())
def test_ssns_with_any_separators_are_found_whole(ssn: str) -> None:
    assert find_us_ssn(ssn) == (0, len(ssn))
    assert detect(ssn) == "us_ssn"


@DETERMINISTIC
@given(separated_ibans())
def test_ibans_with_any_separators_are_found_whole(iban: str) -> None:
    assert find_iban(iban) == (0, len(iban))
    assert detect(iban) == "iban"


# --- glued to letters, embedded in text -----------------------------------------------------------


@DETERMINISTIC
@given(glued(st.one_of(card_digits(), separated_cards())))
def test_cards_glued_to_letters_are_found(text: str) -> None:
    # Letters glued before a card can make an uppercase IBAN-like word (1 time in 97 it checks out):
    # dropped all the same.
    assert detect(text) in {"card_number", "iban"}


@DETERMINISTIC
@given(glued(separated_ssns()))
def test_ssns_glued_to_letters_are_found(text: str) -> None:
    assert detect(text) == "us_ssn"


@DETERMINISTIC
@given(
    st.one_of(separated_cards(), separated_ssns(), separated_ibans()),
    surrounding_text,
    surrounding_text,
)
def test_separated_values_are_found_in_text(value: str, before: str, after: str) -> None:
    assert detect(f"{before} {value} {after}") is not None


# --- numbers -----------------------------------------------------------------------------------------


@DETERMINISTIC
@given(card_ints, st.booleans())
def test_card_numbers_held_as_numbers_are_found(number: int, negative: bool) -> None:
    number = -number if negative else number
    assert detect_number(number) == "card_number"
    if abs(number) <= 2**53:  # exactly representable as a float
        assert detect_number(float(number)) == "card_number"


@DETERMINISTIC
@given(ssn_ints())
def test_ssns_held_as_numbers_are_found(number: int) -> None:
    assert detect_number(number) == "us_ssn"
    assert detect_number(float(number)) == "us_ssn"


@DETERMINISTIC
@given(st.integers(10**12, 2 * 10**12 - 1), st.sampled_from([1, 1_000, 1_000_000]))
def test_unix_times_in_milli_micro_and_nanoseconds_are_not_card_numbers(millis: int, scale: int) -> None:
    assert detect_number(millis * scale) is None


@DETERMINISTIC
@given(st.integers(-(10**8) + 1, 10**8 - 1), st.floats(allow_nan=True, allow_infinity=True))
def test_short_numbers_and_fractions_are_never_flagged(small: int, real: float) -> None:
    assert detect_number(small) is None
    if not real.is_integer():
        assert detect_number(real) is None


@DETERMINISTIC
@given(st.data())
def test_numbers_never_come_out_of_the_sanitizer_under_any_key(data: st.DataObject) -> None:
    number = data.draw(st.one_of(card_ints, ssn_ints(), ssn_ints().map(float)))
    key = data.draw(st.sampled_from(["note", "amount", "order_number", "x", "customer_idx"]))
    container: Any = {key: number}
    for _ in range(data.draw(st.integers(0, 4))):
        container = data.draw(st.sampled_from([[container, 1], {"nested": container}]))
    attrs = container if isinstance(container, dict) else {"items": container}
    result = sanitize(attrs, pepper=PEPPER, policy=UNTRUSTING)
    assert number not in list(numbers_in(result.data))
    assert result.report.reasons == (detect_number(number),)


# --- what is not flagged ---------------------------------------------------------------------------


@DETERMINISTIC
@given(card_digits(), st.integers(0, 10**6), st.booleans())
def test_decimal_numbers_are_not_cards(card: str, whole: int, before: bool) -> None:
    # A card's digits after or before a single decimal point are a decimal number's digits.
    text = f"{whole}.{card}" if before else f"{card}.{whole}"
    assert find_card_number(text) is None


@DETERMINISTIC
@given(st.uuids(), st.binary(min_size=8, max_size=64).map(bytes.hex))
def test_hex_ids_are_not_read_as_digits_glued_to_letters(an_id: uuid.UUID, digest: str) -> None:
    if len(digest) in {16, 24, 32, 40, 48, 56, 64, 96, 128} and not digest.isdecimal():
        assert find_card_number(digest) is None and find_us_ssn(digest) is None
    assert find_card_number(str(an_id)) is None and find_us_ssn(str(an_id)) is None
    assert find_card_number(an_id.hex) is None and find_us_ssn(an_id.hex) is None


# --- the sanitizer, with values injected anywhere ----------------------------------------------


@DETERMINISTIC
@given(
    json_values,
    st.one_of(
        separated_cards(),
        separated_ssns(),
        separated_ibans(),
        glued(separated_cards()),
        glued(separated_ssns()),
    ),
    st.integers(0, 3),
)
def test_everyday_spellings_never_come_out_under_any_key(base: Any, value: str, depth: int) -> None:
    attrs: Any = {"note": value, "other": base}
    for _ in range(depth):
        attrs = {"nested": [attrs]}
    data = sanitize(attrs, pepper=PEPPER).data
    assert value not in list(strings_in(data, skip_allowed=True))
