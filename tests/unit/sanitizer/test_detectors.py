"""Value detectors: card numbers (Luhn), US SSNs (impossible ranges), IBANs (mod 97), embedded or
whole, with bounded work on long inputs."""

from __future__ import annotations

import hashlib
import time

import pytest

from cio_security.sanitizer.detectors import (
    detect,
    find_card_number,
    find_iban,
    find_us_ssn,
    is_card_number,
    is_iban,
    is_us_ssn,
    luhn_valid,
)
from unit.sanitizer.samples import TEST_CARDS, VALID_IBANS, iban_complete, luhn_complete, luhn_ok

# --- card numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("number", TEST_CARDS)
def test_published_test_cards_are_detected(number: str) -> None:
    assert luhn_ok(number)  # the reference agrees they are valid
    assert is_card_number(number)
    assert find_card_number(number) == (0, len(number))
    assert detect(number) == "card_number"


@pytest.mark.parametrize("number", TEST_CARDS)
def test_last_digit_off_by_one_fails_luhn(number: str) -> None:
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not is_card_number(wrong)
    assert detect(wrong) is None


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "3782 822463 10005",  # Amex grouping 4-6-5
        "4111 1111-1111 1111",  # mixed single separators
        "  4111111111111111  ",
        "4111\u00a01111\u00a01111\u00a01111",  # no-break spaces
        "4111\u20131111\u20131111\u20131111",  # en dashes
        "4111  1111 1111 1111",  # runs of separators
        "4111.1111.1111.1111",
        "4111/1111/1111/1111",
        "4111\u20091111\u202f1111\u30001111",  # thin, narrow no-break and ideographic spaces
        "4111\n1111\r\n1111\n1111",
        "(4111) 1111-1111 - 1111",
        "4111\u200b1111\u200b1111\u200b1111",  # zero-width spaces
        "abc4111111111111111",  # glued to letters
        "4111111111111111abc",
        "card4111111111111111exp1229",
        "2e4111111111111111b3",  # 20 hex characters: not an id's length, so read as digits
        "\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11",
    ],
)
def test_separated_and_unusual_spellings_are_detected(text: str) -> None:
    assert is_card_number(text)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("card 4111111111111111 used", (5, 21)),
        ("paid with 4111 1111 1111 1111, thanks", (10, 29)),
        ("(4111-1111-1111-1111)", (1, 20)),
        ("ref:4111111111111111.", (4, 20)),
        ("card_4111111111111111", (5, 21)),
        ("qty 1 4111 1111 1111 1111", (6, 25)),  # a number before the card joins its run
        ("4111111111111111 2 pcs", (0, 16)),
    ],
)
def test_embedded_card_is_found_with_its_span(text: str, span: tuple[int, int]) -> None:
    assert find_card_number(text) == span
    assert detect(text) == "card_number"


@pytest.mark.parametrize(
    "text",
    [
        luhn_complete("1" * 11),  # 12 digits starting with 1: no network issues it
        luhn_complete("1" * 19),  # 20 digits: too long
        "4111    1111 1111 1111",  # four separators split it into 4 + 12 digits
        "4111_1111_1111_1111",  # underscores are not separators
        "0.4111111111111111",  # a float rendered as text
        "4111111111111111.5",
        "0.7071067811865476 0.4111111111111111",  # floats, each with one decimal point
        "4111111111111111,5",  # a decimal comma
        "550e8400-e29b-41d4-a716-446655440000",
        hashlib.sha256(b"4111111111111111").hexdigest(),  # hex ids (digests), skipped whole
        "",
        "no digits here at all",
    ],
)
def test_non_cards_are_not_detected(text: str) -> None:
    assert find_card_number(text) is None


def test_luhn_valid_matches_the_reference() -> None:
    for body in ("7992739871", "411111111111111", "37828224631000", "000000000000"):
        number = luhn_complete(body)
        assert luhn_valid(number)
        assert not luhn_valid(number[:-1] + str((int(number[-1]) + 5) % 10))


# --- US social security numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        *("123-45-6789", "123 45 6789", "123456789", "899-99-9999", "001-01-0001", "665-12-3456"),
        *("123.45.6789", "123/45/6789", "123\u200945\u20096789", "123  45  6789", "123\n45\n6789"),
        *("123 - 45 - 6789", "\uff11\uff12\uff13-45-6789"),
    ],
)
def test_possible_ssns_are_detected(text: str) -> None:
    assert is_us_ssn(text)
    assert find_us_ssn(text) == (0, len(text))
    assert detect(text) == "us_ssn"


@pytest.mark.parametrize(
    "text",
    [
        "000-12-3456",  # area 000
        "666-12-3456",  # area 666
        "900-12-3456",  # areas 900-999
        "999-12-3456",
        "950123456",
        "123-00-4567",  # group 00
        "123-45-0000",  # serial 0000
        "123 00 4567",
    ],
)
def test_impossible_ssns_are_rejected(text: str) -> None:
    assert not is_us_ssn(text)
    assert detect(text) is None


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("ssn: 123-45-6789.", (5, 16)),
        ("my number is 123 45 6789, ok", (13, 24)),
        ("id=123456789;", (3, 12)),
        ("000-12-3456 then 123-45-6789", (17, 28)),  # an impossible match does not hide a later one
        ("SSN123-45-6789", (3, 14)),  # glued to letters
        ("ssn123456789x", (3, 12)),
    ],
)
def test_embedded_ssn_is_found_with_its_span(text: str, span: tuple[int, int]) -> None:
    assert find_us_ssn(text) == span


@pytest.mark.parametrize(
    "text",
    [
        "1234-56-7890",
        "123-45-67890",
        "123-45 6789",  # mixed separators
        "123.45 6789",
        "12345678",
        "1234567890",
        "51.123456789",  # digits of a decimal number
        "123456789.5",
    ],
)
def test_non_ssns_are_not_detected(text: str) -> None:
    assert find_us_ssn(text) is None


# --- IBANs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("iban", VALID_IBANS)
def test_valid_ibans_are_detected_compact_and_grouped(iban: str) -> None:
    assert find_iban(iban) == (0, len(iban))
    spaced = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    assert find_iban(spaced) == (0, len(spaced))
    assert detect(iban) == "iban"


def test_wrong_check_digits_are_rejected() -> None:
    assert is_iban("GB82WEST12345698765432")
    assert not is_iban("GB83WEST12345698765432")
    assert not is_iban("GB82WEST12345698765433")
    assert not is_iban("DE89370400440532013001")
    assert detect("GB83WEST12345698765432") is None


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("IBAN: DE89 3704 0044 0532 0130 00.", (6, 33)),
        ("pay GB82WEST12345698765432 today", (4, 26)),
        ("BE68 5390 0754 7034 then", (0, 19)),  # the word after the last group is not part of it
        ("see gb82west12345698765432", (4, 26)),  # lowercase, known country and length
    ],
)
def test_embedded_iban_is_found_with_its_span(text: str, span: tuple[int, int]) -> None:
    assert find_iban(text) == span


def test_unknown_country_needs_uppercase_and_the_generic_length() -> None:
    iban = iban_complete("ZZ", "ABCD1234567890")
    assert is_iban(iban)
    assert not is_iban(iban.lower())


@pytest.mark.parametrize(
    "text",
    [
        "GB82WEST1234569876543",  # known country, wrong length (21, GB has 22)
        "xGB82WEST12345698765432",  # glued to a letter
        "GB82WEST12345698765432x",
        iban_complete("ZZ", "ABCD123456"),  # 14 characters: below the minimum of 15
        iban_complete("ZZ", "A" * 31),  # 35 characters: above the maximum of 34
        "GB82 WEST 1234 5698 765 432",  # groups must be of four
    ],
)
def test_non_ibans_are_not_detected(text: str) -> None:
    assert find_iban(text) is None


# --- detect -----------------------------------------------------------------------------------


def test_detect_names_the_first_detector_in_order() -> None:
    assert detect("4111111111111111 and 123-45-6789 and GB82WEST12345698765432") == "card_number"
    assert detect("123-45-6789 and GB82WEST12345698765432") == "us_ssn"
    assert detect("GB82WEST12345698765432") == "iban"
    assert detect("plain words, 42 and 2024-01-15") is None


@pytest.mark.parametrize(
    "text",
    [
        "1 " * 100_000,  # many short groups in one run
        "4" * 200_000,  # one huge digit run
        "123-45-678 " * 20_000,
        "GB82 WEST " * 20_000,
        "(" * 200_000,
    ],
)
def test_long_inputs_are_scanned_in_linear_time(text: str) -> None:
    started = time.perf_counter()
    assert detect(text) is None
    # Catastrophic backtracking would take minutes; linear scans take well under a second.
    assert time.perf_counter() - started < 5


def test_long_input_with_a_card_at_the_end_is_found() -> None:
    text = "x " * 50_000 + "4111 1111 1111 1111"
    assert find_card_number(text) == (100_000, 100_019)
