"""The PII sanitizer (DESIGN section 6): policy, value detectors, keyed hashing of fields.

Public names are re-exported lazily: importing the package loads none of its modules.

- ``attributes``: the entry points, ``sanitize`` and ``sanitize_attributes``, and the rules.
- ``policy``: ``SanitizerPolicy`` (its ``mode``: ``default`` or ``deny_unknown``, the minimum
  necessary policy), its JSON loading, and every default (key sets, limits).
- ``keys``: key normalisation (``normalize_key``), words, matching, the ``_hash`` name, key
  descriptions.
- ``lookalikes``: Unicode's confusables that look like ASCII letters (data, generated).
- ``report``: ``SanitizeReport`` and ``SanitizeResult``.
- ``walk``: the engine, one iterative pass that applies a policy (the measured hot path).
- ``detectors``: card numbers (with their networks' issuer ranges), US SSNs and IBANs in free
  text and numbers.
- ``loggable``: whether an id chosen by someone else has the shape of personal data.

No module is named after a name the package exports: importing it would replace that name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cio_security import lazy_exports

_EXPORTS: dict[str, str] = {
    "SanitizeReport": "report",
    "SanitizeResult": "report",
    "SanitizerPolicy": "policy",
    "card_network": "detectors",
    "detect": "detectors",
    "detect_number": "detectors",
    "find_card_number": "detectors",
    "find_iban": "detectors",
    "find_us_ssn": "detectors",
    "is_card_number": "detectors",
    "is_iban": "detectors",
    "is_us_ssn": "detectors",
    "luhn_valid": "detectors",
    "none_detected": "detectors",
    "normalize_key": "keys",
    "personal_data_shape": "loggable",
    "sanitize": "attributes",
    "sanitize_attributes": "attributes",
}

__all__ = [
    "SanitizeReport",
    "SanitizeResult",
    "SanitizerPolicy",
    "card_network",
    "detect",
    "detect_number",
    "find_card_number",
    "find_iban",
    "find_us_ssn",
    "is_card_number",
    "is_iban",
    "is_us_ssn",
    "luhn_valid",
    "none_detected",
    "normalize_key",
    "personal_data_shape",
    "sanitize",
    "sanitize_attributes",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from cio_security.sanitizer.attributes import sanitize, sanitize_attributes
    from cio_security.sanitizer.detectors import (
        card_network,
        detect,
        detect_number,
        find_card_number,
        find_iban,
        find_us_ssn,
        is_card_number,
        is_iban,
        is_us_ssn,
        luhn_valid,
        none_detected,
    )
    from cio_security.sanitizer.keys import normalize_key
    from cio_security.sanitizer.loggable import personal_data_shape
    from cio_security.sanitizer.policy import SanitizerPolicy
    from cio_security.sanitizer.report import SanitizeReport, SanitizeResult
