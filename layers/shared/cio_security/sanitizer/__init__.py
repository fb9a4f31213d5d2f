"""The PII sanitizer (DESIGN section 6): policy, value detectors, keyed hashing of fields.

Public names are re-exported lazily: importing the package loads none of its modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cio_security import lazy_exports

_EXPORTS: dict[str, str] = {
    "SanitizeReport": "core",
    "SanitizeResult": "core",
    "SanitizerPolicy": "core",
    "detect": "detectors",
    "find_card_number": "detectors",
    "find_iban": "detectors",
    "find_us_ssn": "detectors",
    "is_card_number": "detectors",
    "is_iban": "detectors",
    "is_us_ssn": "detectors",
    "luhn_valid": "detectors",
    "none_detected": "detectors",
    "normalize_key": "core",
    "sanitize": "core",
    "sanitize_attributes": "core",
}

__all__ = [
    "SanitizeReport",
    "SanitizeResult",
    "SanitizerPolicy",
    "detect",
    "find_card_number",
    "find_iban",
    "find_us_ssn",
    "is_card_number",
    "is_iban",
    "is_us_ssn",
    "luhn_valid",
    "none_detected",
    "normalize_key",
    "sanitize",
    "sanitize_attributes",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from cio_security.sanitizer.core import (
        SanitizeReport,
        SanitizeResult,
        SanitizerPolicy,
        normalize_key,
        sanitize,
        sanitize_attributes,
    )
    from cio_security.sanitizer.detectors import (
        detect,
        find_card_number,
        find_iban,
        find_us_ssn,
        is_card_number,
        is_iban,
        is_us_ssn,
        luhn_valid,
        none_detected,
    )
