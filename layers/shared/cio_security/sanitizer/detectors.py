"""Value detectors: payment card numbers, US social security numbers and IBANs in free text.

Pure functions over ``str``. Each ``find_*`` returns the ``(start, end)`` span of the first valid
match, whether it is the whole string or embedded in text, or None; each ``is_*`` says whether
there is one; ``detect`` names the first detector that fires; ``none_detected`` says whether
``detect`` finds nothing in any of many texts, scanning them all at once when it can.

>>> detect("paid with 4111 1111 1111 1111, thanks")
'card_number'
>>> detect("order 12345") is None
True

Work is linear in the length of the string: no pattern has two ways to match the same characters
(a repeated group always starts with a separator), so no input makes them backtrack
catastrophically, and the checksum windows are bounded (a card number has at most 19 digits, an
IBAN at most 34 characters, checked with prefix sums). The worst case, a long run of one-digit
groups ("1 2 3 ..."), costs a few microseconds per character. The functions have no length cap of
their own: the sanitizer drops strings longer than its policy's ``max_string_length`` before
scanning them (see ``cio_security.sanitize``).

A match must not be glued to a letter or a digit (``abc4111111111111111``, hex digests and UUIDs
are not card numbers) nor continue a decimal number (``0.4111111111111111``, a float rendered as
text): this keeps false positives on identifiers and numbers low. Digits are any Unicode decimal
digits (fullwidth digits do not slip through); separators are a space, a no-break space, ``-``
or a Unicode dash.
"""

from __future__ import annotations

import re
import string
from bisect import bisect_left
from itertools import accumulate
from typing import Final, Literal

Detection = Literal["card_number", "us_ssn", "iban"]
DETECTIONS: Final[tuple[Detection, ...]] = ("card_number", "us_ssn", "iban")

Span = tuple[int, int]

_SEPARATORS: Final = " \u00a0\\-\u2010-\u2015\u2212"
# The length of the shortest string any detector flags (an SSN's nine bare digits): shorter
# strings are never scanned.
SHORTEST_MATCH: Final = 9

# Every card number and SSN has nine digits in a row (single separators aside); every IBAN has two
# letters, two digits, then a letter, a digit or a space. A string with neither skips the
# detectors. Both alternatives start with a digit, which lets the engine skip through text fast.
_CANDIDATE: Final = re.compile(
    rf"\d(?:(?:[{_SEPARATORS}]?\d){{8}}|(?<=[A-Za-z][A-Za-z]\d)\d[A-Za-z0-9 ])"
).search
# A cheaper test that _CANDIDATE cannot match, for ASCII text (most text), where \d is [0-9] and
# the only separators are " " and "-": bytes.translate classes each character (a letter "a", a
# digit "0", anything else "."), and counting and finding in the classes is several times faster
# than the regex engine's scan. _CANDIDATE's first alternative consumes nine digits; its second
# asserts two letters before a digit and then matches a second digit, so it needs "aa00" in the
# classes. Fewer than nine digits and no "aa00" (always so with fewer than two digits): no match.
_ASCII_CLASSES: Final = bytes(
    ord("a") if chr(byte) in string.ascii_letters else ord("0") if chr(byte) in string.digits else ord(".")
    for byte in range(256)
)
# For many ASCII texts at once (``none_detected``), where digits cannot be counted text by text:
# the first alternative's match is nine digits and single ASCII separators (" " or "-"), a run of
# nine or more such characters, which these classes make "0" (anything else ".").
_ASCII_DIGIT_RUNS: Final = bytes(
    ord("0") if chr(byte) in string.digits + " -" else ord(".") for byte in range(256)
)

# Payment cards: a run of digit groups joined by single separators; windows of whole groups are
# then checked (13-19 digits, Luhn), so "1 4111 1111 1111 1111" and "4111111111111111 x2" match.
_CARD_MIN_DIGITS: Final = 13
_CARD_MAX_DIGITS: Final = 19
_DIGIT_RUN: Final = re.compile(rf"\d+(?:[{_SEPARATORS}]\d+)*")
_DIGIT_GROUP: Final = re.compile(r"\d+")
_PLAIN: Final = bytes.maketrans(b"0123456789", bytes(range(10)))
_DOUBLE: Final = bytes.maketrans(b"0123456789", bytes((0, 2, 4, 6, 8, 1, 3, 5, 7, 9)))

# US SSNs: NNN-NN-NNNN, NNN NN NNNN or nine bare digits (one separator style per number).
_SSN: Final = re.compile(
    rf"(?<![^\W_])(?<!\d[.,])(\d{{3}})([{_SEPARATORS}]?)(\d{{2}})\2(\d{{4}})(?![^\W_])(?![.,]\d)"
)

# IBANs: country, check digits, then 11-30 alphanumerics, compact or in space-separated groups of 4.
_IBAN_MIN: Final = 15
_IBAN_MAX: Final = 34
_IBAN: Final = re.compile(
    r"(?<![^\W_])([A-Za-z]{2}[0-9]{2})"
    r"(?:([A-Za-z0-9]{11,30})|((?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,3})?))"
    r"(?![^\W_])"
)
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


def _glued_before(text: str, start: int) -> bool:
    """A letter or digit precedes ``start``, or a decimal point that follows a digit."""
    if start == 0:
        return False
    before = text[start - 1]
    return before.isalnum() or (before in ".," and start > 1 and text[start - 2].isdecimal())


def _glued_after(text: str, end: int) -> bool:
    """A letter or digit follows ``end``, or a decimal point followed by a digit."""
    if end >= len(text):
        return False
    after = text[end]
    return after.isalnum() or (after in ".," and end + 1 < len(text) and text[end + 1].isdecimal())


def find_card_number(text: str) -> Span | None:
    """The span of the first payment card number in ``text``: 13-19 digits, optionally grouped by
    single spaces or dashes, Luhn-valid, not glued to letters, digits or a decimal point."""
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
        span = _luhn_window(text, groups)
        if span is not None:
            return span
    return None


def _luhn_window(text: str, groups: list[Span]) -> Span | None:
    """The first run of consecutive whole groups with 13-19 digits in all that passes Luhn.

    Linear in the number of digits, so a long run of short groups ("1 2 3 4 ...") costs no more
    than its length: prefix sums of the digits with every other digit doubled (``even`` keeps the
    digits at even positions, ``odd`` those at odd positions) give each window's Luhn sum in
    constant time, and they are built with bytes operations rather than a Python loop.
    """
    digits = "".join(text[start:end] for start, end in groups)
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
            if (sums[high] - sums[low]) % 10 == 0:
                return groups[first][0], groups[after - 1][1]
    return None


def is_card_number(text: str) -> bool:
    """Whether ``text`` is or contains a payment card number (see ``find_card_number``)."""
    return find_card_number(text) is not None


def _ssn_possible(area: str, group: str, serial: str) -> bool:
    area_number = int(area)
    return area_number not in {0, 666} and area_number < 900 and int(group) != 0 and int(serial) != 0


def find_us_ssn(text: str) -> Span | None:
    """The span of the first possible US social security number in ``text``: ``NNN-NN-NNNN``,
    ``NNN NN NNNN`` or nine bare digits, as a whole word. Impossible numbers are not matched: area
    000, 666 or 900-999, group 00, serial 0000."""
    if len(text) < 9:
        return None
    for match in _SSN.finditer(text):
        if _ssn_possible(match.group(1), match.group(3), match.group(4)):
            return match.span()
    return None


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


def find_iban(text: str) -> Span | None:
    """The span of the first IBAN in ``text``: two letters, two check digits and 11-30 letters or
    digits (15-34 in all, the country's registered length when it is known), compact or in groups
    of four separated by single spaces, with a valid ISO 7064 mod-97 checksum."""
    if len(text) < _IBAN_MIN:
        return None
    for match in _IBAN.finditer(text):
        head, compact, spaced = match.group(1, 2, 3)
        if compact is not None:
            if _iban_valid(head + compact):
                return match.span()
            continue
        # Grouped: the last groups may be words that follow the IBAN ("... 7034 THEN").
        groups = spaced.split(" ")[1:]
        end = match.end()
        while groups:
            if _iban_valid(head + "".join(groups)):
                return match.start(), end
            end -= len(groups.pop()) + 1
    return None


def is_iban(text: str) -> bool:
    """Whether ``text`` is or contains an IBAN (see ``find_iban``)."""
    return find_iban(text) is not None


def none_detected(texts: list[str]) -> bool:
    """Whether ``detect`` finds nothing in any of ``texts``. Many texts are answered at once by
    one quick scan of them all when they are ASCII and hold no candidate (see ``_CANDIDATE``);
    otherwise each text is scanned."""
    # Joined by a newline: it is no letter, digit nor separator, so no candidate spans two texts.
    joined = "\n".join(texts)
    if joined.isascii():
        raw = joined.encode()
        if (
            raw.translate(_ASCII_DIGIT_RUNS).find(b"0" * 9) < 0
            and raw.translate(_ASCII_CLASSES).find(b"aa00") < 0
        ):
            return True
    return all(detect(text) is None for text in texts)


def detect(text: str) -> Detection | None:
    """The first detector that finds sensitive data in ``text`` (``card_number``, ``us_ssn``,
    ``iban``, in that order), or None. Linear in ``len(text)``; strings shorter than nine
    characters, or with neither nine digits in a row nor the start of an IBAN, are answered after
    one quick scan."""
    if len(text) < SHORTEST_MATCH:
        return None
    if text.isascii():
        classes = text.encode().translate(_ASCII_CLASSES)  # UTF-8 of ASCII text: the same bytes
        digits = classes.count(b"0")
        # find(), not "in": bytes "in" first tries its operand as an int (an exception each time).
        if digits < 2 or (digits < 9 and classes.find(b"aa00") < 0):
            return None  # _CANDIDATE cannot match (see _ASCII_CLASSES)
    if _CANDIDATE(text) is None:
        return None
    return _first_detection(text)


def _first_detection(text: str) -> Detection | None:
    """The detectors themselves, in ``detect``'s order, without any pre-filter."""
    if find_card_number(text) is not None:
        return "card_number"
    if find_us_ssn(text) is not None:
        return "us_ssn"
    if find_iban(text) is not None:
        return "iban"
    return None
