"""Reference checks and generators of sensitive values for the sanitizer tests, written
independently of cio_security.detectors so that the tests compare two implementations."""

from __future__ import annotations

import string

from hypothesis import strategies as st

# Published test card numbers (Visa, Mastercard, Amex, Discover, Diners, JCB), all Luhn-valid.
TEST_CARDS = (
    "4111111111111111",
    "4012888888881881",
    "4222222222222",
    "5555555555554444",
    "5105105105105100",
    "2223003122003222",
    "378282246310005",
    "371449635398431",
    "6011111111111117",
    "30569309025904",
    "3530111333300000",
)
VALID_IBANS = (
    "GB82WEST12345698765432",
    "DE89370400440532013000",
    "BE68539007547034",
    "NO9386011117947",
    "FR1420041010050500013M02606",
    "MT84MALT011000012345MTLCAST001S",
)


# Card networks as their published tables give them (Wikipedia's "Payment card number" IIN table,
# Mastercard's 2-series 222100-272099, Discover Global Network's IIN ranges, Braintree's
# credit-card-type), written as lists of prefixes, independently of CARD_RANGES in the detectors:
# network -> [(prefixes, lengths)]. Visa's legacy 13-digit numbers are apart (LEGACY_VISA_13).


def _span(low: int, high: int) -> tuple[str, ...]:
    return tuple(str(n) for n in range(low, high + 1))


MAESTRO_IINS = ("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763", "676770", "676774")
CARD_NETWORKS: dict[str, list[tuple[tuple[str, ...], tuple[int, ...]]]] = {
    "visa": [(("4",), (16, 18, 19))],
    "mastercard": [(_span(51, 55) + _span(2221, 2720), (16,))],
    "american_express": [(("34", "37"), (15,))],
    "discover": [(("6011", *_span(644, 649), "65"), (16, 17, 18, 19))],
    "jcb": [(_span(3528, 3589), (16, 17, 18, 19))],
    "diners_club": [
        (("36", *_span(300, 305)), (14, 15, 16, 17, 18, 19)),
        (("3095", "38", "39"), (16, 17, 18, 19)),
    ],
    "unionpay": [(("62", *_span(8100, 8171)), (16, 17, 18, 19))],
    "maestro": [(MAESTRO_IINS, tuple(range(12, 20))), (("50", *_span(56, 69)), (16, 17, 18, 19))],
    "mir": [(_span(2200, 2204), (16, 17, 18, 19))],
    "rupay": [(("60", "81", "82", "508"), (16,))],
    "troy": [(("9792",), (16,))],
    "uatp": [(("1",), (15,))],
}
# The eight networks of issue 18, whose recall is measured (the others are read too).
MEASURED_NETWORKS = (
    "visa", "mastercard", "american_express", "discover", "jcb", "diners_club", "unionpay", "maestro",
)  # fmt: skip


def ean13_ok(digits: str) -> bool:
    """GS1's check for 13 digits: weights 1, 3, 1, 3... from the left, total a multiple of ten."""
    return len(digits) == 13 and sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(digits)) % 10 == 0


def network_issues(digits: str) -> bool:
    """Whether a network issues a number of this length with these first digits (no Luhn check);
    a 13-digit number starting with 4 (Visa's legacy length) only when it is not a valid EAN-13."""
    if len(digits) == 13 and digits.startswith("4"):
        return not ean13_ok(digits)
    return any(
        len(digits) in lengths and digits.startswith(prefixes)
        for ranges in CARD_NETWORKS.values()
        for prefixes, lengths in ranges
    )


def is_card_reference(digits: str) -> bool:
    """The card detector's rule on a string of digits, by this module's own table."""
    return 12 <= len(digits) <= 19 and luhn_ok(digits) and network_issues(digits)


def luhn_ok(digits: str) -> bool:
    """Luhn from the right: double every second digit, sum the digits of the products."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value // 10 + value % 10
    return total % 10 == 0


def luhn_complete(body: str) -> str:
    """``body`` plus the check digit that makes it Luhn-valid."""
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


def iban_remainder(iban: str) -> int:
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97


def iban_complete(country: str, bban: str) -> str:
    """The IBAN of ``bban`` in ``country`` with its check digits computed."""
    check = 98 - iban_remainder(country + "00" + bban)
    return f"{country}{check:02d}{bban}"


def grouped(text: str, size: int, separator: str) -> str:
    return separator.join(text[i : i + size] for i in range(0, len(text), size))


def ssn_possible(digits: str) -> bool:
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    return area not in (0, 666) and area < 900 and group != 0 and serial != 0


# Registered IBAN lengths of a few countries, for generating IBANs of the right shape.
IBAN_LENGTHS = {"GB": 22, "DE": 22, "FR": 27, "NL": 18, "NO": 15, "MT": 31, "BE": 16, "ES": 24}


@st.composite
def issued_card(draw: st.DrawFn, network: str | None = None) -> str:
    """A card number a network issues (``network``, or any in CARD_NETWORKS): one of its
    prefixes, one of its lengths, random digits, the Luhn check digit."""
    name = network or draw(st.sampled_from(sorted(CARD_NETWORKS)))
    prefixes, lengths = draw(st.sampled_from(CARD_NETWORKS[name]))
    prefix = draw(st.sampled_from(prefixes))
    length = draw(st.sampled_from(lengths))
    body = draw(st.text("0123456789", min_size=length - 1 - len(prefix), max_size=length - 1 - len(prefix)))
    return luhn_complete(prefix + body)


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    """A card number a network issues (12-19 digits, Luhn-valid), compact or grouped by fours with
    spaces or dashes."""
    number = draw(issued_card())
    style = draw(st.sampled_from(["compact", " ", "-"]))
    return number if style == "compact" else grouped(number, 4, style)


@st.composite
def us_ssns(draw: st.DrawFn) -> str:
    """A possible SSN in one of its three spellings."""
    area = draw(st.integers(1, 899).filter(lambda a: a != 666))
    group = draw(st.integers(1, 99))
    serial = draw(st.integers(1, 9999))
    separator = draw(st.sampled_from(["-", " ", ""]))
    return f"{area:03d}{separator}{group:02d}{separator}{serial:04d}"


@st.composite
def ibans(draw: st.DrawFn) -> str:
    """A valid IBAN of a registered length, compact or in groups of four."""
    country = draw(st.sampled_from(sorted(IBAN_LENGTHS)))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    size = IBAN_LENGTHS[country] - 4
    bban = draw(st.text(alphabet, min_size=size, max_size=size))
    iban = iban_complete(country, bban)
    return grouped(iban, 4, " ") if draw(st.booleans()) else iban


sensitive_values = st.one_of(card_numbers(), us_ssns(), ibans())

# Text around an embedded value: letters, punctuation and spaces, never gluing a letter or digit
# to the value (a separating space is added on each side).
surrounding_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@st.composite
def embedded_sensitive(draw: st.DrawFn) -> tuple[str, str]:
    """(the sensitive value, a string containing it as a whole word)."""
    value = draw(sensitive_values)
    if draw(st.booleans()):
        return value, value
    return value, f"{draw(surrounding_text)} {value} {draw(surrounding_text)}"


# --- everyday spellings (issue 16): separators, glued letters, numbers ----------------------------

# What the README says separates digit groups, listed independently of the detectors: whitespace
# of any kind (str.isspace: Unicode spaces, tabs, newlines), invisible format characters, dashes,
# dots, slashes and parentheses.
WHITESPACE = "".join(c for c in map(chr, range(0x10000)) if c.isspace())
INVISIBLE = "\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff"
DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
DOTS = ".\u2024\uff0e"
SLASHES = "/\\\u2044\u2215\uff0f"
PARENTHESES = "()\uff08\uff09"
SEPARATOR_CHARACTERS = WHITESPACE + INVISIBLE + DASHES + DOTS + SLASHES + PARENTHESES
# One to three of them between two groups.
gaps = st.text(st.sampled_from(SEPARATOR_CHARACTERS), min_size=1, max_size=3)
# Letters that are not hex digits: glued to digits, they never make a hexadecimal id.
GLUE_LETTERS = string.ascii_letters.translate(str.maketrans("", "", "abcdefABCDEF"))
glue = st.text(GLUE_LETTERS, max_size=6)


def card_digits() -> st.SearchStrategy[str]:
    """A card number a network issues, as its digits (12-19, Luhn-valid; no network's number starts
    with 0, so every one reads the same as an int)."""
    return issued_card()


@st.composite
def separated_cards(draw: st.DrawFn) -> str:
    """A card number in groups of four (the last shorter) with one gap string between groups."""
    return grouped(draw(card_digits()), 4, draw(gaps))


@st.composite
def separated_ssns(draw: st.DrawFn) -> str:
    """A possible SSN as NNN<gap>NN<gap>NNNN, both gaps alike."""
    digits = draw(us_ssns().map(lambda ssn: "".join(c for c in ssn if c.isdigit())))
    gap = draw(gaps)
    return f"{digits[:3]}{gap}{digits[3:5]}{gap}{digits[5:]}"


@st.composite
def separated_ibans(draw: st.DrawFn) -> str:
    """A valid IBAN in groups of four with one gap string between groups."""
    compact = draw(ibans()).replace(" ", "")
    return grouped(compact, 4, draw(gaps))


@st.composite
def glued(draw: st.DrawFn, value: st.SearchStrategy[str]) -> str:
    """A value with letters (never hex digits) glued before and after it."""
    return draw(glue) + draw(value) + draw(glue)


card_ints = card_digits().map(int)


@st.composite
def ssn_ints(draw: st.DrawFn) -> int:
    """A possible SSN whose area has three digits, as an int (nine digits)."""
    area = draw(st.integers(100, 899).filter(lambda a: a != 666))
    return area * 1_000_000 + draw(st.integers(1, 99)) * 10_000 + draw(st.integers(1, 9999))
