"""Value detectors: payment card numbers, US social security numbers and IBANs in free text and in
numbers.

Pure functions over ``str``. Each ``find_*`` returns the ``(start, end)`` span of the first valid
match, whether it is the whole string or embedded in text, or None; each ``is_*`` says whether
there is one; ``detect`` names the first detector that fires; ``none_detected`` says whether
``detect`` finds nothing in any of many texts, scanning them all at once when it can;
``detect_number`` reads an int or a float as the digits it is written with; ``card_network`` names
the network that issues a card number.

A card number is 12-19 digits that pass the Luhn check and that a card network issues: its first
digits in one of the network's issuer ranges and its length one the network uses (``CARD_RANGES``,
with the sources of the ranges). A Luhn-valid number that no network issues, such as an EAN-13,
ISBN-13 or UPC-A product code or an order number, is not a card number.

>>> detect("paid with 4111 1111 1111 1111, thanks")
'card_number'
>>> detect("card no.4111.1111.1111.1111")
'card_number'
>>> detect("order 12345") is None
True
>>> detect_number(4111111111111111)
'card_number'

What counts as a separator between digit groups (``SEPARATORS``): any whitespace (Unicode spaces
such as U+2009, U+202F and U+3000, tabs and newlines), invisible format characters (zero-width
space and joiners, soft hyphen, word joiner, BOM), dashes (``-``, U+2010-U+2015, minus signs),
dots, slashes and parentheses, one to three of them in a row. Digits are any Unicode decimal
digits (fullwidth digits do not slip through).

Boundaries. Digits glued to letters are found (``card4111111111111111``, ``SSN123456789``), but a
match never continues a longer run of digits, nor a decimal number: a single ``.`` between two
digit groups (``0.4111111111111111``, ``123456789.5``) is a decimal point, while two or more
(``4111.1111.1111.1111``, an IP address) separate groups; ``,`` before or after a match glued to
digits is a decimal comma. Hexadecimal identifiers are not read as digits glued to letters: a UUID,
or a word of 16, 24, 32, 40, 48, 56, 64, 96 or 128 hex characters holding a letter (digests, trace
ids, object ids) that is not an IBAN, is skipped whole. An IBAN must stand as a word (not glued to
letters or digits); the digits inside an IBAN are the IBAN's, not a card number or an SSN.

Work is linear in the length of the string: no pattern has two ways to match the same characters
(a repeated group always starts with a separator, and separators, digits and letters are disjoint
classes), so no input makes them backtrack catastrophically, and the checksum windows are bounded
(a card number has at most 19 digits, an IBAN at most 34 characters, checked with prefix sums). The
worst case, a long run of one-digit groups ("1 2 3 ..."), costs a few microseconds per character.
The functions have no length cap of their own: the sanitizer drops strings longer than its
policy's ``max_string_length`` before scanning them (see ``cio_security.sanitize``).
"""

from __future__ import annotations

import math
import re
import string
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from itertools import accumulate
from typing import Final, Literal, NamedTuple

Detection = Literal["card_number", "us_ssn", "iban"]
DETECTIONS: Final[tuple[Detection, ...]] = ("card_number", "us_ssn", "iban")

Span = tuple[int, int]

# The characters that separate digit groups (a regex character class body).
_WHITESPACE: Final = " \t\n\r\v\f\x1c\x1d\x1e\x1f\x85\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_INVISIBLE: Final = "\u00ad\u180e\u200b-\u200d\u2060\ufeff"
_DASHES: Final = "\\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d"
_DOTS: Final = ".\u2024\uff0e"
_SLASHES: Final = "/\\\\\u2044\u2215\uff0f"
_PARENTHESES: Final = "()\uff08\uff09"
SEPARATORS: Final = _WHITESPACE + _INVISIBLE + _DASHES + _DOTS + _SLASHES + _PARENTHESES
# One to three separators between two groups.
_GAP: Final = rf"[{SEPARATORS}]{{1,3}}"
_ASCII_SEPARATORS: Final = bytes(b for b in range(128) if re.fullmatch(f"[{SEPARATORS}]", chr(b)))

# The length of the shortest string any detector flags (an SSN's nine bare digits): shorter
# strings are never scanned.
SHORTEST_MATCH: Final = 9

# Every card number and SSN has nine digits with at most three separators between two of them;
# every IBAN has two letters, two digits, then a letter, a digit or a separator. A string with
# neither skips the detectors. Both alternatives start with a digit, which lets the engine skip
# through text fast.
_CANDIDATE: Final = re.compile(
    rf"\d(?:(?:[{SEPARATORS}]{{0,3}}\d){{8}}|(?<=[A-Za-z][A-Za-z]\d)\d[A-Za-z0-9{SEPARATORS}])"
).search
# A cheaper test that _CANDIDATE cannot match, for ASCII text (most text): bytes.translate classes
# each character (a letter "a", a digit "0", anything else "."), and counting and finding in the
# classes is several times faster than the regex engine's scan. _CANDIDATE's first alternative
# consumes nine digits; its second asserts two letters before a digit and then matches a second
# digit, so it needs "aa00" in the classes. Fewer than nine digits and no "aa00" (always so with
# fewer than two digits): no match.
_ASCII_CLASSES: Final = bytes(
    ord("a") if chr(byte) in string.ascii_letters else ord("0") if chr(byte) in string.digits else ord(".")
    for byte in range(256)
)
# For many ASCII texts at once (``none_detected``), where digits cannot be counted text by text:
# with the separators deleted, the first alternative's match is nine digits in a row.
_ASCII_DIGITS: Final = bytes(ord("0") if chr(byte) in string.digits else ord(".") for byte in range(256))
# What joins texts scanned at once: no letter, digit nor separator, so no candidate spans two.
_JOINER: Final = "\x00"

# Hexadecimal identifiers, skipped whole: a UUID, or a hex word of a digest's or an id's length.
_HEX_ID: Final = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"|[0-9A-Fa-f]{16,128})(?![0-9A-Za-z])"
)
_HEX_ID_LENGTHS: Final = frozenset({16, 24, 32, 40, 48, 56, 64, 96, 128})
# What a skipped word is replaced with: no letter, digit nor separator, and one character for one
# (spans stay those of the original text).
_MASK: Final = "#"

# Payment cards: a run of digit groups joined by separators; windows of whole groups are then
# checked (12-19 digits, Luhn, a network's issuer range and length), so "1 4111 1111 1111 1111" and
# "4111111111111111 x2" match.
_CARD_MIN_DIGITS: Final = 12
_CARD_MAX_DIGITS: Final = 19


class CardRange(NamedTuple):
    """Numbers a card network issues: those whose first digits lie between ``low`` and ``high``
    (prefixes of equal length, inclusive) and whose length is one of ``lengths``."""

    network: str
    low: str
    high: str
    lengths: tuple[int, ...]


_ANY_LENGTH: Final = tuple(range(16, 20))
# The issuer identification number (IIN) ranges and lengths of the card networks, from their
# published tables: Wikipedia, "Payment card number", the issuer identification number table (the
# ranges and lengths each network announces); Mastercard's 2-series announcement (BIN range
# 222100-272099, processed like 510000-559999, from October 2016); Discover Global Network's IIN
# ranges (6011, 644-649, 65, with the Diners Club International ranges 300-305, 3095, 36, 38-39 and
# JCB's 3528-3589 accepted on its network); and the table a payment processor validates numbers
# against, Braintree's credit-card-type (github.com/braintree/credit-card-type,
# src/lib/card-types.ts: Visa 16, 18, 19 digits; Maestro 12-19). Choices, each for a reason:
# - Visa issues 16, 18 and 19 digits today. Its 13-digit numbers are legacy (a few account ranges
#   remain, per Wikipedia) and share their length and first digit with EAN-13 product codes
#   (prefixes 400-440 Germany, 450-459 and 490-499 Japan, 460-469 Russia...): a 13-digit number
#   starting with 4 is a card only when it is not also a valid EAN-13 (``_VISA_LEGACY``).
# - Maestro issues 12-19 digits under its own IINs (5018, 5020, 5038, 5893, 6304, 6759, 6761-6763,
#   UK 676770 and 676774); Mastercard's wider Maestro ranges (50, 56-69) are read at 16-19 digits
#   only: at 12 and 13 digits they would take in UPC-A and EAN-13 product codes.
# - UATP (the airlines' Universal Air Travel Plan, prefix 1, 15 digits) is kept: its numbers are
#   payment account numbers sent in travel bookings, and 15-digit numbers that start with 1 are rare
#   otherwise (Unix times in milli-, micro- and nanoseconds have 13, 16 and 19 digits).
# - Diners Club's 14- and 15-digit numbers are its own (Carte Blanche 300-305, International 36);
#   the ranges Discover's network issues for it (3095, 38-39) have 16-19 digits. (Braintree reads
#   38 and 39 at 14 digits too: the last two groups of an Amazon order number, 7 + 7 digits, would
#   then be a card one time in a hundred.)
# - Mir, RuPay and Troy, national networks with ranges of their own, are read too; JCB's and
#   UnionPay's ranges cover LankaPay, Verve and Elo's, Mastercard's and Visa's cover the rest.
#   Legacy ranges no network issues any more (JCB's 15-digit 1800 and 2131, Diners enRoute 2014
#   and 2149, Laser, Solo, Switch, Bankcard) are not cards.
CARD_RANGES: Final[tuple[CardRange, ...]] = (
    CardRange("visa", "4", "4", (16, 18, 19)),
    CardRange("mastercard", "51", "55", (16,)),
    CardRange("mastercard", "2221", "2720", (16,)),
    CardRange("american_express", "34", "34", (15,)),
    CardRange("american_express", "37", "37", (15,)),
    CardRange("discover", "6011", "6011", _ANY_LENGTH),
    CardRange("discover", "644", "649", _ANY_LENGTH),
    CardRange("discover", "65", "65", _ANY_LENGTH),
    CardRange("jcb", "3528", "3589", _ANY_LENGTH),
    CardRange("diners_club", "300", "305", (14, 15, *_ANY_LENGTH)),
    CardRange("diners_club", "36", "36", (14, 15, *_ANY_LENGTH)),
    CardRange("diners_club", "3095", "3095", _ANY_LENGTH),
    CardRange("diners_club", "38", "39", _ANY_LENGTH),
    CardRange("unionpay", "62", "62", _ANY_LENGTH),
    CardRange("unionpay", "8100", "8171", _ANY_LENGTH),
    *(
        CardRange("maestro", iin, iin, tuple(range(12, 20)))
        for iin in (
            "5018",
            "5020",
            "5038",
            "5893",
            "6304",
            "6759",
            "6761",
            "6762",
            "6763",
            "676770",
            "676774",
        )
    ),
    CardRange("maestro", "50", "50", _ANY_LENGTH),
    CardRange("maestro", "56", "69", _ANY_LENGTH),
    CardRange("mir", "2200", "2204", _ANY_LENGTH),
    CardRange("rupay", "60", "60", (16,)),
    CardRange("rupay", "81", "82", (16,)),
    CardRange("rupay", "508", "508", (16,)),
    CardRange("troy", "9792", "9792", (16,)),
    CardRange("uatp", "1", "1", (15,)),
    CardRange("visa", "4", "4", (13,)),  # legacy: not when also a valid EAN-13 (see above)
)
_VISA_LEGACY: Final = CARD_RANGES[-1]
_IIN_DIGITS: Final = 6


def _issuer_table() -> tuple[list[int], list[int]]:
    """The ranges as a step function over six-digit prefixes: ``starts[i]`` is where a run of
    prefixes begins and ``masks[i]`` has bit ``n`` set when some network issues ``n`` digits there
    (the legacy Visa length apart, it has its own check)."""
    edges = {0, 10**_IIN_DIGITS}
    spans = []
    for card in CARD_RANGES[:-1]:
        scale = 10 ** (_IIN_DIGITS - len(card.low))
        low, high = int(card.low) * scale, (int(card.high) + 1) * scale
        spans.append((low, high, sum(1 << length for length in card.lengths)))
        edges |= {low, high}
    starts = sorted(edges)[:-1]
    masks = [0] * len(starts)
    for low, high, mask in spans:
        for index in range(bisect_left(starts, low), bisect_left(starts, high)):
            masks[index] |= mask
    return starts, masks


_ISSUER_STARTS, _ISSUER_MASKS = _issuer_table()
_GTIN_WEIGHTS: Final = (1, 3) * 6
_DIGIT_RUN: Final = re.compile(rf"\d+(?:{_GAP}\d+)*")
_DIGIT_GROUP: Final = re.compile(r"\d+")
_PLAIN: Final = bytes.maketrans(b"0123456789", bytes(range(10)))
_DOUBLE: Final = bytes.maketrans(b"0123456789", bytes((0, 2, 4, 6, 8, 1, 3, 5, 7, 9)))

# US SSNs: NNN-NN-NNNN or nine bare digits, the two gaps spelled alike ("123.45.6789",
# "123 - 45 - 6789"), never inside a longer run of digits nor a decimal number.
_SSN: Final = re.compile(rf"(?<!\d)(?<!\d[.,])(\d{{3}})((?:{_GAP})?)(\d{{2}})\2(\d{{4}})(?!\d)(?![.,]\d)")

# IBANs: country, check digits, then 11-30 alphanumerics, compact or in groups of 4 separated like
# card groups; as a word.
_IBAN_MIN: Final = 15
_IBAN_MAX: Final = 34
_IBAN: Final = re.compile(
    r"(?<![^\W_])([A-Za-z]{2}[0-9]{2})"
    rf"(?:([A-Za-z0-9]{{11,30}})|((?:{_GAP}[A-Za-z0-9]{{4}}){{2,7}}(?:{_GAP}[A-Za-z0-9]{{1,3}})?))"
    r"(?![^\W_])"
)
_IBAN_GROUP: Final = re.compile(r"[A-Za-z0-9]+")
# Lengths from the SWIFT IBAN registry. A known country's IBAN must have its length; a lowercase or
# mixed-case candidate is accepted only for a known country (lowercase hex digests would otherwise
# pass the mod-97 check one time in 97); an uppercase one from another country needs 15-34.
_IBAN_LENGTHS: Final[dict[str, int]] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip

# Numbers: only those with nine digits (an SSN) or 12-19 (a card) can be flagged.
_NUMBER_MIN: Final = 10**8
_NUMBER_MAX: Final = 10**19


def luhn_valid(digits: str) -> bool:
    """Whether a string of decimal digits passes the Luhn (mod 10) check."""
    total = 0
    parity = len(digits) % 2
    for index, char in enumerate(digits):
        digit = int(char)
        if index % 2 == parity:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _valid_ean13(digits: str) -> bool:
    """Whether 13 ASCII digits carry a valid EAN-13 (GTIN-13) check digit: weights 1 and 3 from the
    left, the total a multiple of ten."""
    total = sum(int(char) * weight for char, weight in zip(digits, _GTIN_WEIGHTS, strict=False))
    return (total + int(digits[12])) % 10 == 0


def _issued(digits: str) -> bool:
    """Whether a network issues card numbers of this length with these first digits (ASCII digits;
    the Luhn check is the caller's)."""
    length = len(digits)
    prefix = int(digits[:_IIN_DIGITS].ljust(_IIN_DIGITS, "0"))
    if _ISSUER_MASKS[bisect_right(_ISSUER_STARTS, prefix) - 1] >> length & 1:
        return True
    return length == 13 and digits[0] == "4" and not _valid_ean13(digits)


def card_network(digits: str) -> str | None:
    """The network that issues a card number (``visa``, ``mastercard``, ``american_express``,
    ``discover``, ``jcb``, ``diners_club``, ``unionpay``, ``maestro``, ``mir``, ``rupay``,
    ``troy``, ``uatp``; the first listed in ``CARD_RANGES`` when ranges overlap), or None when none
    does or the number fails the Luhn check. ``digits`` holds the digits only.

    >>> card_network("4111111111111111"), card_network("4222222222222"), card_network("9780306406157")
    ('visa', 'visa', None)
    """
    if not (digits.isdecimal() and _CARD_MIN_DIGITS <= len(digits) <= _CARD_MAX_DIGITS):
        return None
    digits = "".join(str(int(char)) for char in digits) if not digits.isascii() else digits
    if not (luhn_valid(digits) and _issued(digits)):
        return None
    for card in CARD_RANGES:
        if len(digits) in card.lengths and card.low <= digits[: len(card.low)] <= card.high:
            return card.network
    return None  # pragma: no cover - _issued found a range


def _mask_hex_id(match: re.Match[str]) -> str:
    word = match.group()
    if "-" in word or (len(word) in _HEX_ID_LENGTHS and not word.isdecimal()):
        return _MASK * len(word)
    return word


def without_hex_ids(text: str) -> str:
    """``text`` with its hexadecimal identifiers (UUIDs, digests) masked, one ``#`` for each of
    their characters (see the module docstring)."""
    if _HEX_ID.search(text) is None:
        return text
    return _HEX_ID.sub(_mask_hex_id, text)


def _masked(text: str, ibans: list[Span] | None = None) -> str:
    """``text`` as the card and SSN search reads it: its IBANs (``ibans``, found when None) and
    hexadecimal identifiers masked (see the module docstring)."""
    if ibans is None:
        ibans = list(_iban_spans(text))
    if ibans:
        parts, last = [], 0
        for start, end in ibans:
            parts += [text[last:start], _MASK * (end - start)]
            last = end
        parts.append(text[last:])
        text = "".join(parts)
    return without_hex_ids(text)


def _glued_before(text: str, start: int) -> bool:
    """A decimal comma that follows a digit precedes ``start``."""
    return start > 1 and text[start - 1] == "," and text[start - 2].isdecimal()


def _glued_after(text: str, end: int) -> bool:
    """A decimal comma followed by a digit follows ``end``."""
    return end + 1 < len(text) and text[end] == "," and text[end + 1].isdecimal()


def _decimal_free_pieces(text: str, groups: list[Span]) -> list[list[Span]]:
    """A run's groups split at its decimal points. A chain of groups joined by single dots with
    exactly one dot is a decimal number: neither of its groups can be part of a card number, and
    no window crosses it."""
    pieces: list[list[Span]] = [[]]
    first, count = 0, len(groups)
    while first < count:
        last = first
        while last + 1 < count and text[groups[last][1] : groups[last + 1][0]] == ".":
            last += 1
        if last - first == 1:
            if pieces[-1]:
                pieces.append([])
        else:
            pieces[-1].extend(groups[first : last + 1])
        first = last + 1
    return pieces


def _find_card(text: str) -> Span | None:
    """``find_card_number`` on a text whose hex ids and IBANs are masked."""
    if len(text) < _CARD_MIN_DIGITS:
        return None
    for run in _DIGIT_RUN.finditer(text):
        start, end = run.span()
        if end - start < _CARD_MIN_DIGITS:
            continue
        groups = [group.span() for group in _DIGIT_GROUP.finditer(text, start, end)]
        if _glued_before(text, start):
            groups = groups[1:]
        if _glued_after(text, end):
            groups = groups[:-1]
        for piece in _decimal_free_pieces(text, groups):
            span = _luhn_window(text, piece)
            if span is not None:
                return span
    return None


def find_card_number(text: str) -> Span | None:
    """The span of the first payment card number in ``text``: 12-19 digits that a card network
    issues (``CARD_RANGES``: its issuer ranges and lengths), optionally grouped by separators,
    Luhn-valid, not inside a longer digit run, a decimal number, a hex id or an IBAN."""
    if len(text) < _CARD_MIN_DIGITS:
        return None
    return _find_card(_masked(text))


def _luhn_window(text: str, groups: list[Span]) -> Span | None:
    """The first run of consecutive whole groups with 12-19 digits in all that passes Luhn and that
    a network issues (``_issued``).

    Linear in the number of digits, so a long run of short groups ("1 2 3 4 ...") costs no more
    than its length: prefix sums of the digits with every other digit doubled (``even`` keeps the
    digits at even positions, ``odd`` those at odd positions) give each window's Luhn sum in
    constant time, and they are built with bytes operations rather than a Python loop.
    """
    if not groups:
        return None
    digits = "".join(text[start:end] for start, end in groups)
    if len(digits) < _CARD_MIN_DIGITS:
        return None
    if not digits.isascii():
        digits = "".join(str(int(char)) for char in digits)
    raw = digits.encode("ascii")
    plain, doubled = raw.translate(_PLAIN), raw.translate(_DOUBLE)
    even, odd = bytearray(plain), bytearray(doubled)
    even[1::2], odd[1::2] = doubled[1::2], plain[1::2]
    even_sums, odd_sums = list(accumulate(even, initial=0)), list(accumulate(odd, initial=0))
    offsets = list(accumulate((end - start for start, end in groups), initial=0))
    for first in range(len(groups)):
        low = offsets[first]
        for after in range(bisect_left(offsets, low + _CARD_MIN_DIGITS, first + 1), len(offsets)):
            high = offsets[after]
            if high - low > _CARD_MAX_DIGITS:
                break
            # The rightmost digit is never doubled.
            sums = even_sums if (high - 1) % 2 == 0 else odd_sums
            if (sums[high] - sums[low]) % 10 == 0 and _issued(digits[low:high]):
                return groups[first][0], groups[after - 1][1]
    return None


def is_card_number(text: str) -> bool:
    """Whether ``text`` is or contains a payment card number (see ``find_card_number``)."""
    return find_card_number(text) is not None


def _ssn_possible(area: str, group: str, serial: str) -> bool:
    area_number = int(area)
    return area_number not in {0, 666} and area_number < 900 and int(group) != 0 and int(serial) != 0


def _find_ssn(text: str) -> Span | None:
    """``find_us_ssn`` on a text whose hex ids and IBANs are masked."""
    for match in _SSN.finditer(text):
        if _ssn_possible(match.group(1), match.group(3), match.group(4)):
            return match.span()
    return None


def find_us_ssn(text: str) -> Span | None:
    """The span of the first possible US social security number in ``text``: ``NNN-NN-NNNN`` with
    both gaps spelled alike (any separators, see the module docstring) or nine bare digits, not
    inside a longer digit run or a decimal number. Impossible numbers are not matched: area 000,
    666 or 900-999, group 00, serial 0000."""
    if len(text) < SHORTEST_MATCH:
        return None
    return _find_ssn(_masked(text))


def is_us_ssn(text: str) -> bool:
    """Whether ``text`` is or contains a possible US social security number (see ``find_us_ssn``)."""
    return find_us_ssn(text) is not None


def _iban_valid(chars: str) -> bool:
    length = len(chars)
    if not _IBAN_MIN <= length <= _IBAN_MAX:
        return False
    upper = chars.upper()
    expected = _IBAN_LENGTHS.get(upper[:2])
    if expected is None:
        if upper != chars:
            return False
    elif length != expected:
        return False
    rearranged = upper[4:] + upper[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _iban_spans(text: str) -> Iterator[Span]:
    """The spans of the IBANs in ``text``."""
    if len(text) < _IBAN_MIN:
        return
    for match in _IBAN.finditer(text):
        head, compact = match.group(1, 2)
        if compact is not None:
            if _iban_valid(head + compact):
                yield match.span()
            continue
        # Grouped: the last groups may be words that follow the IBAN ("... 7034 THEN").
        groups = list(_IBAN_GROUP.finditer(text, match.end(1), match.end()))
        while groups:
            if _iban_valid(head + "".join(group.group() for group in groups)):
                yield match.start(), groups[-1].end()
                break
            groups.pop()


def find_iban(text: str) -> Span | None:
    """The span of the first IBAN in ``text``: two letters, two check digits and 11-30 letters or
    digits (15-34 in all, the country's registered length when it is known), compact or in groups
    of four separated like card groups, with a valid ISO 7064 mod-97 checksum, as a word."""
    if len(text) < _IBAN_MIN:
        return None
    return next(_iban_spans(text), None)


def is_iban(text: str) -> bool:
    """Whether ``text`` is or contains an IBAN (see ``find_iban``)."""
    return find_iban(text) is not None


def none_detected(texts: list[str]) -> bool:
    """Whether ``detect`` finds nothing in any of ``texts``. Many texts are answered at once by
    one quick scan of them all when they are ASCII and hold no candidate (see ``_CANDIDATE``);
    otherwise each text is scanned."""
    joined = _JOINER.join(texts)
    if joined.isascii():
        raw = joined.encode()
        if (
            raw.translate(_ASCII_DIGITS, _ASCII_SEPARATORS).find(b"0" * SHORTEST_MATCH) < 0
            and raw.translate(_ASCII_CLASSES).find(b"aa00") < 0
        ):
            return True
    return all(detect(text) is None for text in texts)


def detect(text: str) -> Detection | None:
    """The first detector that finds sensitive data in ``text`` (``card_number``, ``us_ssn``,
    ``iban``, in that order), or None. Linear in ``len(text)``; strings shorter than nine
    characters, or with neither nine digits nor the start of an IBAN, are answered after one
    quick scan."""
    if len(text) < SHORTEST_MATCH:
        return None
    if text.isascii():
        classes = text.encode().translate(_ASCII_CLASSES)  # UTF-8 of ASCII text: the same bytes
        digits = classes.count(b"0")
        # find(), not "in": bytes "in" first tries its operand as an int (an exception each time).
        if digits < 2 or (digits < SHORTEST_MATCH and classes.find(b"aa00") < 0):
            return None  # _CANDIDATE cannot match (see _ASCII_CLASSES)
    if _CANDIDATE(text) is None:
        return None
    return _first_detection(text)


def _first_detection(text: str) -> Detection | None:
    """The detectors themselves, in ``detect``'s order, without any pre-filter."""
    ibans = list(_iban_spans(text))
    scanned = _masked(text, ibans)
    if _find_card(scanned) is not None:
        return "card_number"
    if _find_ssn(scanned) is not None:
        return "us_ssn"
    if ibans:
        return "iban"
    return None


def detect_number(number: int | float) -> Detection | None:
    """What ``detect`` finds in a number written in decimal digits (an integral float as the
    integer it holds), or None. Only nine digits (an SSN) or 12-19 (a card number a network issues)
    can be flagged.

    Card networks issue no number that starts with 1 but UATP's 15-digit ones: Unix times in
    milliseconds, microseconds and nanoseconds (13, 16 and 19 digits, all starting with 1 until
    2033) and snowflake ids are not card numbers. An SSN held as a number has lost its leading
    zeros: one with area 001-099 has fewer than nine digits and is not read as one.

    >>> detect_number(123456789), detect_number(1732780800000), detect_number(4111111111111111.0)
    ('us_ssn', None, 'card_number')
    """
    if isinstance(number, float):
        if not math.isfinite(number) or not number.is_integer():
            return None
        number = int(number)
    number = abs(number)
    if number < _NUMBER_MIN or number >= _NUMBER_MAX:
        return None
    text = str(int(number))  # int(): an int subclass may render itself otherwise
    return _first_detection(text)
