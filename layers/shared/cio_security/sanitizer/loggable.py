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
"""

from __future__ import annotations

import re
from typing import Final, Literal

from cio_security.sanitizer.detectors import Detection, detect, without_hex_ids

Shape = Literal["email", "phone"] | Detection

_PHONE: Final = re.compile(
    r"(?<![\d+])(?:"
    r"\+[ (]*\d(?:[ .()\-]{0,2}\d){6,14}"
    r"|\(?[2-9]\d\d\)?[ .\-]?[2-9]\d\d[ .\-]\d{4}"
    r"|0[1-9](?:[ .()\-]?\d){8,9}"
    r")(?!\d)"
)


def personal_data_shape(text: str) -> Shape | None:
    """The kind of personal data ``text`` looks like (``email``, ``phone``, ``card_number``,
    ``us_ssn``, ``iban``), or None."""
    if "@" in text:
        return "email"
    detection = detect(text)
    if detection is not None:
        return detection
    if _PHONE.search(without_hex_ids(text)) is not None:
        return "phone"
    return None
