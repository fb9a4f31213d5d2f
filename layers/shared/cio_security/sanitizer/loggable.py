"""Whether an identifier chosen by someone else (a deletion ``request_id``, a webhook ``event_id``)
has the shape of personal data, so that it is never logged, dead-lettered or stored as it is.

>>> personal_data_shape("dsar-2026-0001") is None
True
>>> personal_data_shape("dsar-alice@example.com"), personal_data_shape("req 415-555-0100")
('email', 'phone')

Shapes: an email (any ``@``), a phone number, and whatever the value detectors flag (a card
number, a US SSN, an IBAN: ``cio_security.sanitizer.detectors``). A phone number is written
internationally (``+`` and 7-15 digits: ``+44 20 7946 0000``), in the North American format with
its separators (``(415) 555-0100``, ``415.555.0100``), or with a national trunk prefix (``0`` then
a non-zero digit, 10-11 digits: ``020 7946 0000``, ``07946 000000``). Ids such as
``dsar-2026-0001``, ``chaos-req00001-seed7``, UUIDs and ULIDs have none of these shapes. A bare run
of ten digits is not read as a phone number: dates and counters have that shape too.

With ``digit_runs_are_counters`` (what a deletion ``request_id`` is held to), a run of digits with
no separator inside it and no ``+`` before it is a counter or a ticket number, never personal data,
whatever its length or checksum: only shapes *written* as personal data count. That is an ``@``; a
phone number written internationally or with separators (``+14155550100``, ``(415) 555-0100``,
``415.555.0100``, ``020 7946 0000``); an SSN written with separators (``123-45-6789``); a card
number written in groups (``4111 1111 1111 1111``, ``4111-1111-1111-1111``); an IBAN, compact or
grouped. Every match is looked at, so a bare run does not hide a grouped card after it.

>>> personal_data_shape("dsar-123456789"), personal_data_shape("dsar-123456789", digit_runs_are_counters=True)
('us_ssn', None)
>>> personal_data_shape("REQ-0512345678 4111 1111 1111 1111", digit_runs_are_counters=True)
'card_number'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final, Literal

from cio_security.sanitizer.detectors import (
    Detection,
    Span,
    detect,
    find_card_number,
    find_iban,
    find_us_ssn,
    without_hex_ids,
)

Shape = Literal["email", "phone"] | Detection

_PHONE: Final = re.compile(
    r"(?<![\d+])(?:"
    r"\+[ (]*\d(?:[ .()\-]{0,2}\d){6,14}"
    r"|\(?[2-9]\d\d\)?[ .\-]?[2-9]\d\d[ .\-]\d{4}"
    r"|0[1-9](?:[ .()\-]?\d){8,9}"
    r")(?!\d)"
)


# What a bare run of digits is replaced with before the search goes on: no letter, digit, separator
# nor ``+``, one character for one (spans stay those of the original text).
_COUNTER_MASK: Final = "#"


def personal_data_shape(text: str, *, digit_runs_are_counters: bool = False) -> Shape | None:
    """The kind of personal data ``text`` looks like (``email``, ``phone``, ``card_number``,
    ``us_ssn``, ``iban``), or None. ``digit_runs_are_counters``: a bare run of digits is never
    personal data, only shapes written as such are (module docstring)."""
    if "@" in text:
        return "email"
    if digit_runs_are_counters:
        return _written_shape(text)
    detection = detect(text)
    if detection is not None:
        return detection
    if _PHONE.search(without_hex_ids(text)) is not None:
        return "phone"
    return None


def _find_phone(text: str) -> Span | None:
    match = _PHONE.search(without_hex_ids(text))  # masking keeps every character's position
    return None if match is None else match.span()


_WRITTEN_SHAPES: Final[tuple[tuple[Shape, Callable[[str], Span | None]], ...]] = (
    ("card_number", find_card_number),
    ("us_ssn", find_us_ssn),
    ("iban", find_iban),  # letters and digits: never a bare run
    ("phone", _find_phone),
)


def _written_shape(text: str) -> Shape | None:
    """``personal_data_shape`` with ``digit_runs_are_counters`` (``@`` already checked): a card
    number, an SSN, an IBAN or a phone number that is not a bare run of digits, in that order."""
    if detect(text) is None and _find_phone(text) is None:
        return None  # no shape at all, bare or written (the common case: one quick scan)
    for shape, find in _WRITTEN_SHAPES:
        if _written(find, text):
            return shape
    return None


def _written(find: Callable[[str], Span | None], text: str) -> bool:
    """Whether ``find`` finds in ``text`` a match that is not a bare run of digits (digits only,
    no ``+`` before them). Each bare match is masked and the search goes on, so every match is
    looked at; each round masks at least one digit, so the loop ends."""
    while (span := find(text)) is not None:
        start, end = span
        if not text[start:end].isdecimal() or text[:start].endswith("+"):
            return True
        text = text[:start] + _COUNTER_MASK * (end - start) + text[end:]
    return False
