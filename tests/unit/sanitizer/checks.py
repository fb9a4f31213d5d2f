"""The sanitizer's core properties as plain assertion functions, shared by test_properties.py
(generated examples) and test_fuzz.py (the same properties at fuzzing scale), and the walks over a
JSON value that they and the other property tests use."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cio_security.errors import PayloadLimitError
from cio_security.sanitizer.attributes import sanitize, sanitize_attributes
from cio_security.sanitizer.detectors import detect
from cio_security.sanitizer.keys import normalize_key
from cio_security.sanitizer.policy import (
    DEFAULT_ALLOW_KEYS,
    DEFAULT_DROP_KEYS,
    DEFAULT_HASH_KEYS,
    SanitizerPolicy,
)

PEPPER = "property-test-pepper-0123456789ab"
# The default sets without trust: every value is subject to the policy and the detectors.
UNTRUSTING = SanitizerPolicy(drop=DEFAULT_DROP_KEYS, hash=DEFAULT_HASH_KEYS, allow=frozenset())
DEFAULT_ALLOW_KEYS_NORMAL = frozenset(normalize_key(k) for k in DEFAULT_ALLOW_KEYS)


# --- walks over a JSON value ----------------------------------------------------------------------


def strings_in(value: Any, *, skip_allowed: bool = False, keys_only: bool = False) -> Iterator[str]:
    """Every string (keys and values, or keys only) in a JSON value, optionally not descending
    under the default allow keys."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not keys_only:
                yield item
        elif isinstance(item, dict):
            for key, child in item.items():
                yield key
                if not (skip_allowed and normalize_key(key) in DEFAULT_ALLOW_KEYS_NORMAL):
                    stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)


def keys_in(value: Any, *, skip_allowed: bool) -> Iterator[str]:
    """Every key in a JSON value, optionally not descending under the default allow keys."""
    return strings_in(value, skip_allowed=skip_allowed, keys_only=True)


# --- the properties -----------------------------------------------------------------------------


def assert_no_string_a_detector_flags_survives(attrs: dict[str, Any]) -> None:
    """(a) Under the untrusting policy, no key or string in the output is flagged by a detector."""
    data = sanitize_attributes(attrs, pepper=PEPPER, policy=UNTRUSTING)
    flagged = [s for s in strings_in(data) if detect(s) is not None]
    assert flagged == []


def assert_no_drop_key_survives(attrs: dict[str, Any]) -> None:
    """(b) No drop key survives: outside allowed values under the default policy, anywhere under
    the untrusting one."""
    default = SanitizerPolicy.default()
    data = sanitize_attributes(attrs, pepper=PEPPER, policy=default)
    assert [k for k in keys_in(data, skip_allowed=True) if normalize_key(k) in default.drop] == []
    untrusting = sanitize_attributes(attrs, pepper=PEPPER, policy=UNTRUSTING)
    assert [k for k in keys_in(untrusting, skip_allowed=False) if normalize_key(k) in default.drop] == []


def assert_only_payload_limit_error_escapes(value: Any, policy: SanitizerPolicy | None) -> None:
    """(d) Any JSON value (wrapped in an object when it is not one) is sanitized or raises
    PayloadLimitError, and the report gives a reason for every dropped path."""
    attrs = value if isinstance(value, dict) else {"value": value}
    try:
        result = sanitize(attrs, pepper=PEPPER, policy=policy)
    except PayloadLimitError:
        return
    assert len(result.report.dropped) == len(result.report.reasons)
