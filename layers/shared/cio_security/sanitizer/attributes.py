"""The sanitizer's entry points, ``sanitize`` and ``sanitize_attributes``: attributes pass a policy
of key names and the value detectors before they are sent to Customer.io or published on the
event bus.

>>> sanitize_attributes(
...     {"plan": "pro", "phone": "+44 20 7946 0000", "password": "x", "note": "card 4111111111111111"},
...     pepper="p" * 32,
... ).keys()
dict_keys(['plan', 'phone_hash'])

Rules, for every mapping at any depth of nested mappings and lists:

- Keys are matched normalised and by their last words (``cio_security.sanitizer.keys``):
  ``creditCardNumber``, ``credit-card-number`` and ``CREDIT_CARD_NUMBER`` are all
  ``creditcardnumber``; ``user_ssn``, ``x-api-key``, ``phone1`` and ``billing_address_line1`` match
  ``ssn``, ``api_key``, ``phone`` and ``address_line1``; lookalike letters are folded first.
- A ``drop`` key is removed with its value, whatever the value is.
- A ``hash`` key ``k`` becomes ``k_hash`` (the original spelling plus ``_hash``) holding the keyed
  hash (HMAC-SHA256 with the pepper, 64 hex characters) of ``str(value)`` for a string, number or
  boolean; None stays None. A mapping or list under a hash key is dropped (reason
  ``unhashable``): a policy lists an address's parts (``street``, ``address_line1``) as hash
  keys instead of hashing an object whose serialisation is not canonical.
- A key that names a hashed field (``phone_hash``, ``PrimaryPhoneHash``) keeps a value only if the
  sanitizer could have written it (64 lowercase hex characters, or None); any other value is
  dropped (reason ``unverified_hash``). A key spelled like the ``_hash`` name of a hashed sibling,
  in any case or convention, is dropped (reason ``collision``): the computed hash wins.
- An ``allow`` key (matched whole) trusts its scalar value: a string or number is kept as it is,
  without scanning. A mapping or list under it is walked like any other.
- Any other key's value is kept; containers are walked; every string and every number (an int, or
  a float with an integral value, read as its digits) is scanned by the detectors
  (``cio_security.sanitizer.detectors``) and dropped when a card number, US SSN or IBAN is found in
  it, in a list as in a mapping (the list closes up).
- Keys are scanned too: a key holding a card number is dropped with its value, and its path
  segment is written ``[?]``. A key that is not a string is dropped the same way (``[?]``,
  reason ``non_string_key``); stringifying it could collide with a real key.
- A string longer than ``max_string_length`` that would be scanned is dropped (reason
  ``too_long``) rather than scanned: no legitimate attribute is that long, and the bound keeps
  the work per value small. A key that long is dropped with its value (path segment ``[?]``).
  Allowed values are not scanned and keep their length; hashed values are hashed whatever their
  length.
- Values of other types (bytes, datetimes, objects) are dropped (reason ``unsupported_type``):
  their text form is unknown to the detectors. Tuples are treated as lists.
- More than ``max_depth`` nested containers or ``max_nodes`` values raise PayloadLimitError (the
  walk is iterative: no RecursionError, and a self-referencing input stops at the depth limit).

The report lists the paths of dropped and hashed values, in the input's terms (``$.a.b[0].c``;
a key that is not an identifier is quoted, ``$["first name"]``), and never a value. Paths come
container by container: a mapping's own keys, then the contents of its nested containers in
order. The input is never mutated and the output shares no container with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cio_security.hashing import pepper_bytes
from cio_security.sanitizer.detectors import none_detected
from cio_security.sanitizer.policy import SanitizerPolicy, default_policy
from cio_security.sanitizer.report import SanitizeReport, SanitizeResult
from cio_security.sanitizer.walk import Walk


def sanitize(
    attrs: Mapping[str, Any], *, pepper: str | bytes, policy: SanitizerPolicy | None = None
) -> SanitizeResult:
    """Apply ``policy`` (the default one when None) to ``attrs`` and report what changed.

    Pure and deterministic: no I/O, no logging, the input is not mutated. Raises
    PayloadLimitError past the policy's depth or node limit, TypeError when ``attrs`` is not a
    mapping and ValueError for an empty pepper.
    """
    if type(attrs) is not dict and not isinstance(attrs, Mapping):
        raise TypeError("attributes must be a mapping")
    policy, pepper_key = policy if policy is not None else default_policy(), pepper_bytes(pepper)
    walk = Walk(policy, pepper_key, defer_scans=True)
    data = walk.run(attrs)
    if walk.deferred and not none_detected(walk.deferred):
        # A string is flagged after all: walk again, scanning strings in place, for the output
        # and the report of a walk that drops them (the first one's are discarded).
        walk = Walk(policy, pepper_key, defer_scans=False)
        data = walk.run(attrs)
    report = SanitizeReport(
        dropped=tuple(walk.dropped), hashed=tuple(walk.hashed), reasons=tuple(walk.reasons)
    )
    return SanitizeResult(data=data, report=report)


def sanitize_attributes(
    attrs: Mapping[str, Any], *, pepper: str | bytes, policy: SanitizerPolicy | None = None
) -> dict[str, Any]:
    """The sanitized copy of ``attrs`` (see ``sanitize`` for the report as well)."""
    return sanitize(attrs, pepper=pepper, policy=policy).data
