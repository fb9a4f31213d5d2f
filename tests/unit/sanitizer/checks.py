"""The sanitizer's core properties as plain assertion functions, shared by test_properties.py
(generated examples) and test_fuzz.py (the same properties at fuzzing scale), and the walks over a
JSON value that they and the other property tests use."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cio_security.errors import PayloadLimitError
from cio_security.sanitizer.attributes import sanitize, sanitize_attributes
from cio_security.sanitizer.detectors import detect, detect_number
from cio_security.sanitizer.keys import DROP, key_action, normalize_key
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
    """Every string (keys and values, or keys only) in a JSON value, optionally without the
    scalar values of the default allow keys (the values the default policy trusts: containers
    under an allowed key are walked like any other)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not keys_only:
                yield item
        elif isinstance(item, dict):
            for key, child in item.items():
                yield key
                if not (
                    skip_allowed
                    and not isinstance(child, dict | list)
                    and normalize_key(key) in DEFAULT_ALLOW_KEYS_NORMAL
                ):
                    stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)


def keys_in(value: Any, *, skip_allowed: bool = False) -> Iterator[str]:
    """Every key in a JSON value, at any depth (under allowed keys too)."""
    return strings_in(value, skip_allowed=skip_allowed, keys_only=True)


def numbers_in(value: Any, *, skip_allowed: bool = False) -> Iterator[int | float]:
    """Every int and float (not bool) in a JSON value, optionally without the scalar values of the
    default allow keys."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, int | float) and not isinstance(item, bool):
            yield item
        elif isinstance(item, dict):
            stack.extend(
                child
                for key, child in item.items()
                if not (
                    skip_allowed
                    and not isinstance(child, dict | list)
                    and normalize_key(key) in DEFAULT_ALLOW_KEYS_NORMAL
                )
            )
        elif isinstance(item, list):
            stack.extend(item)


# --- the properties -----------------------------------------------------------------------------


def assert_no_string_a_detector_flags_survives(attrs: dict[str, Any]) -> None:
    """(a) No key, string or number in the output is flagged by a detector: anywhere under the
    untrusting policy, outside the scalar values of allowed keys under the default one."""
    data = sanitize_attributes(attrs, pepper=PEPPER, policy=UNTRUSTING)
    assert [s for s in strings_in(data) if detect(s) is not None] == []
    assert [n for n in numbers_in(data) if detect_number(n) is not None] == []
    data = sanitize_attributes(attrs, pepper=PEPPER)
    assert [s for s in strings_in(data, skip_allowed=True) if detect(s) is not None] == []
    assert [n for n in numbers_in(data, skip_allowed=True) if detect_number(n) is not None] == []


def assert_no_drop_key_survives(attrs: dict[str, Any]) -> None:
    """(b) No key the default policy drops survives, at any depth (under allowed keys too), under
    the default and the untrusting policy."""
    default = SanitizerPolicy.default()
    for policy in (default, UNTRUSTING):
        data = sanitize_attributes(attrs, pepper=PEPPER, policy=policy)
        assert [k for k in keys_in(data) if action_of(k) == DROP] == []


def action_of(key: str, policy: SanitizerPolicy | None = None) -> int:
    """What ``policy`` (the default one when None) does with ``key`` (cio_security.sanitizer.keys)."""
    private = (policy or SanitizerPolicy.default()).__pydantic_private__ or {}
    return key_action(key, private["_actions"], private["_longest"])


def assert_only_payload_limit_error_escapes(value: Any, policy: SanitizerPolicy | None) -> None:
    """(d) Any JSON value (wrapped in an object when it is not one) is sanitized or raises
    PayloadLimitError, and the report gives a reason for every dropped path."""
    attrs = value if isinstance(value, dict) else {"value": value}
    try:
        result = sanitize(attrs, pepper=PEPPER, policy=policy)
    except PayloadLimitError:
        return
    assert len(result.report.dropped) == len(result.report.reasons)
