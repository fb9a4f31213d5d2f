"""What a sanitize call returns: the sanitized data and the report of what was removed or hashed,
as paths into the input, never values.

>>> SanitizeReport(dropped=("$.note",), reasons=("card_number",)).as_dict()
{'dropped': ['$.note'], 'hashed': [], 'detected': {'card_number': 1}}
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from cio_security.sanitizer.detectors import DETECTIONS

DropReason = Literal[
    "policy",
    "card_number",
    "us_ssn",
    "iban",
    "too_long",
    "unhashable",
    "collision",
    "unverified_hash",
    "non_string_key",
    "unsupported_type",
    "not_allowed",
]


@dataclass(frozen=True, slots=True)
class SanitizeReport:
    """What the sanitizer removed or hashed, as paths into the input (never values).

    ``reasons[i]`` says why ``dropped[i]`` was removed: ``policy`` (a drop key), a detector
    (``card_number``, ``us_ssn``, ``iban``), ``too_long``, ``unhashable``, ``collision`` (a key
    spelled like the ``_hash`` name of a hashed sibling), ``unverified_hash`` (a key naming a hashed
    field whose value is not a digest the sanitizer could have made), ``non_string_key``,
    ``unsupported_type`` or ``not_allowed`` (a policy in ``deny_unknown`` mode names no such key).
    ``hashed`` holds the paths of the original keys (``$.phone``, now ``phone_hash``).
    """

    dropped: tuple[str, ...] = ()
    hashed: tuple[str, ...] = ()
    reasons: tuple[DropReason, ...] = ()

    @property
    def detected(self) -> dict[str, int]:
        """How many values each detector removed (detectors that fired only)."""
        return dict(Counter(reason for reason in self.reasons if reason in DETECTIONS))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: dropped and hashed paths, detector counts."""
        return {"dropped": list(self.dropped), "hashed": list(self.hashed), "detected": self.detected}


@dataclass(frozen=True, slots=True)
class SanitizeResult:
    """The sanitized attributes and the report of what was removed or hashed."""

    data: dict[str, Any]
    report: SanitizeReport
