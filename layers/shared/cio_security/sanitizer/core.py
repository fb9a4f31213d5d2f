"""The PII sanitizer: attributes pass a policy of key names and the value detectors before they are
sent to Customer.io or published on the event bus.

>>> sanitize_attributes(
...     {"plan": "pro", "phone": "+44 20 7946 0000", "password": "x", "note": "card 4111111111111111"},
...     pepper="p" * 32,
... ).keys()
dict_keys(['plan', 'phone_hash'])

Rules, for every mapping at any depth of nested mappings and lists:

- Keys are matched normalised (``normalize_key``): ``creditCardNumber``, ``credit-card-number``,
  ``Credit Card Number`` and ``CREDIT_CARD_NUMBER`` are all ``creditcardnumber``.
- A ``drop`` key is removed with its value, whatever the value is.
- A ``hash`` key ``k`` becomes ``k_hash`` (the original spelling plus ``_hash``) holding the keyed
  hash (HMAC-SHA256 with the pepper, 64 hex characters) of ``str(value)`` for a string, number or
  boolean; None stays None. A mapping or list under a hash key is dropped (reason
  ``unhashable``): a policy lists an address's parts (``street``, ``address_line1``) as hash
  keys instead of hashing an object whose serialisation is not canonical. An input key
  ``k_hash`` beside a hash key ``k`` is dropped (reason ``collision``): the computed hash wins.
- An ``allow`` key's value is trusted: kept as it is, containers included, without scanning
  (still copied, and counted against the depth and node limits).
- Any other key's value is kept; containers are walked; every string is scanned by the detectors
  (``cio_security.detectors``) and dropped when a card number, US SSN or IBAN is found in it, in a
  list as in a mapping (the list closes up). Numbers are not scanned: millisecond timestamps have
  13 digits, and one in ten would pass the Luhn check.
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

import functools
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Final, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from cio_security.errors import ConfigurationError, PayloadLimitError
from cio_security.hashing import keyed_hash, pepper_bytes
from cio_security.sanitizer.detectors import DETECTIONS, SHORTEST_MATCH, Detection, detect, none_detected

DropReason = Literal[
    "policy",
    "card_number",
    "us_ssn",
    "iban",
    "too_long",
    "unhashable",
    "collision",
    "non_string_key",
    "unsupported_type",
]

HASH_SUFFIX: Final = "_hash"

# The default policy. Spellings are folded by normalize_key, so "creditCardNumber" and
# "credit-card-number" need no entry of their own; exact names only, no substrings.
DEFAULT_DROP_KEYS: Final[frozenset[str]] = frozenset(
    {
        # Government identifiers.
        "ssn", "social_security", "social_security_number", "social_insurance_number",
        "tax_id", "taxpayer_id", "tax_number", "tin", "itin", "ein", "national_id",
        "national_insurance_number", "nino", "passport", "passport_number",
        "drivers_license", "drivers_license_number", "driver_license", "driving_licence",
        # Payment cards.
        "card_number", "card_num", "credit_card", "credit_card_number", "debit_card",
        "debit_card_number", "cc_number", "ccnum", "pan", "primary_account_number", "cvv",
        "cvv2", "cvc", "cvc2", "security_code", "card_security_code", "card_expiry",
        "card_expiration",
        # Credentials (a password hash is a credential too).
        "password", "passwd", "pwd", "passphrase", "password_hash", "hashed_password",
        "encrypted_password", "password_digest", "password_salt", "salt", "hash",
        "password_confirmation", "current_password", "new_password", "old_password", "pin",
        "pin_code", "otp", "one_time_password", "secret", "client_secret", "api_key",
        "access_token", "refresh_token", "auth_token", "session_token", "id_token",
        "private_key", "authorization",
        # Bank accounts (the IBAN detector also catches IBAN values under any key).
        "bank_account", "bank_account_number", "account_number", "iban", "routing_number",
        "bank_routing_number", "aba", "aba_number", "sort_code",
    }
)  # fmt: skip
DEFAULT_HASH_KEYS: Final[frozenset[str]] = frozenset(
    {
        "phone", "phone_number", "mobile", "mobile_number", "mobile_phone", "cell_phone",
        "telephone", "tel", "home_phone", "work_phone",
        "ip", "ip_address", "ipv4", "ipv6", "client_ip", "remote_ip", "last_ip",
        "address", "street", "street_address", "address_line1", "address_line2",
        "address1", "address2", "postal_address", "home_address", "mailing_address",
        "billing_address", "shipping_address",
    }
)  # fmt: skip
# Customer.io's identifiers and the reporting webhook's ids: needed as they are, and a numeric id
# must not be mistaken for an SSN. "email" is how Customer.io addresses a person.
DEFAULT_ALLOW_KEYS: Final[frozenset[str]] = frozenset(
    {
        "email", "id", "cio_id", "customer_id", "user_id", "anonymous_id", "identifiers",
        "event_id", "delivery_id", "campaign_id", "broadcast_id", "action_id",
        "parent_action_id", "journey_id", "newsletter_id", "message_id",
        "transactional_message_id", "trigger_event_id", "content_id", "link_id",
    }
)  # fmt: skip

_NOT_KEY_CHARACTER: Final = re.compile(r"[\W_]+")
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CACHED_KEY_LENGTH: Final = 256
_DROP, _HASH, _ALLOW = 1, 2, 3
_REDACTED_SEGMENT: Final = "[?]"
_DROPPED: Final = object()


def _normalize(key: str) -> str:
    if not key.isascii():
        key = unicodedata.normalize("NFKC", key)
    return _NOT_KEY_CHARACTER.sub("", key.casefold())


_normalize_cached = functools.lru_cache(maxsize=8192)(_normalize)


def normalize_key(key: str) -> str:
    """Fold a key's case, separators (``_``, ``-``, spaces, any punctuation) and compatibility
    forms (fullwidth letters), so that camelCase, snake_case, kebab-case and acronyms agree.

    >>> {normalize_key(k) for k in ("creditCardNumber", "credit-card-number", "CREDIT_CARD_NUMBER")}
    {'creditcardnumber'}
    >>> normalize_key("IPAddress") == normalize_key("ip_address")
    True
    """
    return _normalize_cached(key) if len(key) <= _CACHED_KEY_LENGTH else _normalize(key)


def _segment(key: str) -> str:
    return f".{key}" if _IDENTIFIER.fullmatch(key) else f"[{json.dumps(key)}]"


# What the walk needs to know of a key: its normalised form, its path segment, what the detectors
# find in it, and for a key ending in "_hash" the key without the suffix and that base's
# normalised form (None and "" otherwise), for the collision rule.
_KeyInfo = tuple[str, str, Detection | None, str | None, str]
# Keys repeat from record to record: their descriptions are kept in a plain dict (a lookup costs
# less than an lru_cache call), emptied when full so that it stays bounded.
_KEY_INFOS: Final[dict[str, _KeyInfo]] = {}
_KEY_INFOS_SIZE: Final = 8192


def _key_info(key: str) -> _KeyInfo:
    """Describe a key; kept in ``_KEY_INFOS`` when it is a plain ``str`` of at most
    ``_CACHED_KEY_LENGTH`` characters (a subclass is described anew, with its own methods)."""
    cached = type(key) is str and len(key) <= _CACHED_KEY_LENGTH
    if cached and (info := _KEY_INFOS.get(key)) is not None:
        return info
    base = key[: -len(HASH_SUFFIX)] if key.endswith(HASH_SUFFIX) else None
    info = (_normalize(key), _segment(key), detect(key), base, "" if base is None else normalize_key(base))
    if cached:
        if len(_KEY_INFOS) >= _KEY_INFOS_SIZE:
            _KEY_INFOS.clear()
        _KEY_INFOS[key] = info
    return info


class SanitizerPolicy(BaseModel):
    """Which keys are dropped, hashed or allowed (stored normalised; a key may be in one set
    only), and the bounds of the walk. ``SanitizerPolicy.default()`` is the documented default;
    ``from_json`` and ``from_file`` load one (all three sets required, limits optional) and raise
    ConfigurationError when it is invalid.

    >>> SanitizerPolicy.from_json('{"drop": ["Password"], "hash": ["phoneNumber"], "allow": []}').drop
    frozenset({'password'})
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    drop: frozenset[str]
    hash: frozenset[str]
    allow: frozenset[str]
    max_depth: int = Field(default=32, ge=1)
    max_nodes: int = Field(default=10_000, ge=1)
    max_string_length: int = Field(default=65_536, ge=1)

    _actions: dict[str, int] = PrivateAttr(default_factory=dict)

    @field_validator("drop", "hash", "allow", mode="after")
    @classmethod
    def _normalise_keys(cls, keys: frozenset[str]) -> frozenset[str]:
        normalised = frozenset(normalize_key(key) for key in keys)
        if "" in normalised:
            raise ValueError("a key must contain a letter or a digit")
        return normalised

    @model_validator(mode="after")
    def _one_set_per_key(self) -> Self:
        pairs = (
            ("drop", self.drop, "hash", self.hash),
            ("drop", self.drop, "allow", self.allow),
            ("hash", self.hash, "allow", self.allow),
        )
        problems = [
            f"{', '.join(sorted(a & b))} in both {name_a} and {name_b}"
            for name_a, a, name_b, b in pairs
            if a & b
        ]
        if problems:
            raise ValueError("a key may be in one set only: " + "; ".join(problems))
        # A hashed "k" is written "k_hash": that name must not be one the policy drops.
        dropped_outputs = sorted(key for key in self.hash if normalize_key(key + HASH_SUFFIX) in self.drop)
        if dropped_outputs:
            raise ValueError(f"hash keys whose _hash name is a drop key: {', '.join(dropped_outputs)}")
        return self

    def model_post_init(self, context: Any, /) -> None:
        actions = dict.fromkeys(self.drop, _DROP)
        actions.update(dict.fromkeys(self.hash, _HASH))
        actions.update(dict.fromkeys(self.allow, _ALLOW))
        self._actions = actions

    @classmethod
    def default(cls) -> SanitizerPolicy:
        """The default policy (``DEFAULT_DROP_KEYS``, ``DEFAULT_HASH_KEYS``,
        ``DEFAULT_ALLOW_KEYS``, default limits); one shared instance."""
        return _default_policy()

    @classmethod
    def from_json(cls, text: str | bytes) -> SanitizerPolicy:
        """Load a policy from JSON: ``{"drop": [...], "hash": [...], "allow": [...]}`` and
        optionally ``max_depth``, ``max_nodes``, ``max_string_length``. Raises
        ConfigurationError naming the invalid fields."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'policy'}: {error['msg']}"
                for error in exc.errors(include_input=False, include_url=False)
            )
            raise ConfigurationError(f"invalid sanitizer policy: {problems}") from None

    @classmethod
    def from_file(cls, path: str | PathLike[str]) -> SanitizerPolicy:
        """Load a policy from a JSON file (see ``from_json``)."""
        try:
            text = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                f"sanitizer policy file {str(path)!r} cannot be read: {exc.strerror}"
            ) from None
        return cls.from_json(text)


@functools.cache
def _default_policy() -> SanitizerPolicy:
    return SanitizerPolicy(drop=DEFAULT_DROP_KEYS, hash=DEFAULT_HASH_KEYS, allow=DEFAULT_ALLOW_KEYS)


@dataclass(frozen=True, slots=True)
class SanitizeReport:
    """What the sanitizer removed or hashed, as paths into the input (never values).

    ``reasons[i]`` says why ``dropped[i]`` was removed: ``policy`` (a drop key), a detector
    (``card_number``, ``us_ssn``, ``iban``), ``too_long``, ``unhashable``, ``collision``,
    ``non_string_key`` or ``unsupported_type``. ``hashed`` holds the paths of the original keys
    (``$.phone``, now ``phone_hash``).
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
    policy, pepper_key = policy if policy is not None else _default_policy(), pepper_bytes(pepper)
    walk = _Walk(policy, pepper_key, defer_scans=True)
    data = walk.run(attrs)
    if walk.deferred and not none_detected(walk.deferred):
        # A string is flagged after all: walk again, scanning strings in place, for the output
        # and the report of a walk that drops them (the first one's are discarded).
        walk = _Walk(policy, pepper_key, defer_scans=False)
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


_SCALARS: Final = (bool, int, float)

# Frame kinds: untrusted containers are walked under the policy; trusted ones (under an allow key)
# are copied as they are.
_MAPPING, _SEQUENCE, _TRUSTED_MAPPING, _TRUSTED_SEQUENCE = range(4)

# A path, built lazily: "$" or (parent path, key segment or list index). Most paths are never
# reported, so only reported ones are rendered to text (``_path_text``).
type _Path = str | tuple[_Path, str | int]

# A container to copy: the source, its output copy (filled when the frame is popped), the source's
# path, its depth and its kind. A tuple: cheaper to make and unpack than an object.
type _Frame = tuple[Any, Any, _Path, int, int]


def _path_text(path: _Path) -> str:
    """A path as the report writes it: ``$.a.b[0]["first name"]``."""
    parts: list[str] = []
    while not isinstance(path, str):
        path, segment = path
        parts.append(segment if isinstance(segment, str) else f"[{segment}]")
    parts.append(path)
    return "".join(reversed(parts))


class _Walk:
    """One iterative, depth-first walk. An output container is created in place when it is first
    met and filled when its frame is popped, so the output keeps the input's order.

    ``run`` handles the common types (exact ``str``, ``int``, ``float``, ``bool``, None, ``dict``,
    ``list``) inline with ``type(x) is`` tests, in one loop: no call per value nor per container.
    Anything else (subclasses, tuples, other mappings, unsupported types) takes ``_other`` and
    ``_container``, which test with ``isinstance`` in the documented order.

    With ``defer_scans``, the plain strings the detectors would scan are kept and listed in
    ``deferred`` instead, for one scan of them all (``none_detected``): most records hold none to
    drop, and the walk's output and report are then exactly those of a walk that scans each. A
    walk with deferred scans raises where the other would: scans raise nothing and a dropped
    value counts against the node limit as a kept one does."""

    __slots__ = (
        "actions",
        "deferred",
        "dropped",
        "hashed",
        "max_depth",
        "max_length",
        "max_nodes",
        "pepper",
        "reasons",
        "scan",
    )

    def __init__(self, policy: SanitizerPolicy, pepper: bytes, *, defer_scans: bool) -> None:
        # Read from pydantic's storage: the attribute (pydantic's __getattr__) costs a microsecond.
        self.actions: dict[str, int] = (policy.__pydantic_private__ or {})["_actions"]
        self.max_depth = policy.max_depth
        self.max_nodes = policy.max_nodes
        self.max_length = policy.max_string_length
        self.pepper = pepper
        self.dropped: list[str] = []
        self.reasons: list[DropReason] = []
        self.hashed: list[str] = []
        self.deferred: list[str] = []
        # A plain string's scan: detect, or list.append (which returns None: the string is kept).
        self.scan: Callable[[str], Detection | None] = self.deferred.append if defer_scans else detect

    def run(self, attrs: Mapping[str, Any]) -> dict[str, Any]:  # noqa: PLR0912, PLR0915 - one loop is faster
        actions, key_infos, drop, scan = self.actions, _KEY_INFOS, self._drop, self.scan
        max_depth, max_length, max_nodes = self.max_depth, self.max_length, self.max_nodes
        # Whether a cached key (at most _CACHED_KEY_LENGTH characters) may still be too long.
        short_keys = max_length < _CACHED_KEY_LENGTH
        root: dict[str, Any] = {}
        stack: list[_Frame] = [(attrs, root, "$", 1, _MAPPING)]
        nodes = 1
        copy: Any  # a container's output copy
        while stack:
            source, target, path, depth, kind = stack.pop()
            nodes += len(source)
            if nodes > max_nodes:
                raise PayloadLimitError(f"attributes hold more than {max_nodes} values")
            depth += 1  # the depth of a container held in this one
            children = len(stack)  # this container's children are pushed from here
            if kind == _MAPPING:
                for key, value in source.items():
                    # A plain str key seen before skips the checks (too long: only if the limit is
                    # under the cached keys' length).
                    info = key_infos.get(key) if type(key) is str else None
                    if (info is None or short_keys) and (info := self._checked_key(key, path)) is None:
                        continue
                    normalised, segment, key_detection, base, base_normalised = info
                    if base is not None and base in source and actions.get(base_normalised) == _HASH:
                        drop((path, segment), "collision")
                        continue
                    action = actions.get(normalised)
                    if action is not None:
                        self._apply(
                            action, target, key, value, path=(path, segment), depth=depth, stack=stack
                        )
                        continue
                    if key_detection is not None:
                        drop((path, _REDACTED_SEGMENT), key_detection)
                        continue
                    # The value, as _other would have it.
                    value_kind = type(value)
                    if value_kind is str:
                        size = len(value)
                        if size > max_length:
                            drop((path, segment), "too_long")
                        elif size < SHORTEST_MATCH or (found := scan(value)) is None:
                            target[key] = value
                        else:
                            drop((path, segment), found)
                    elif value_kind is int or value_kind is float or value_kind is bool or value is None:
                        target[key] = value
                    elif value_kind is dict:
                        if depth > max_depth:
                            raise self._too_deep()
                        target[key] = copy = {}
                        stack.append((value, copy, (path, segment), depth, _MAPPING))
                    elif value_kind is list:
                        if depth > max_depth:
                            raise self._too_deep()
                        target[key] = copy = []
                        stack.append((value, copy, (path, segment), depth, _SEQUENCE))
                    elif (kept := self._other(value, (path, segment), depth, stack)) is not _DROPPED:
                        target[key] = kept
            elif kind == _SEQUENCE:
                append = target.append
                for index, value in enumerate(source):
                    # As in a mapping.
                    value_kind = type(value)
                    if value_kind is str:
                        size = len(value)
                        if size > max_length:
                            drop((path, index), "too_long")
                        elif size < SHORTEST_MATCH or (found := scan(value)) is None:
                            append(value)
                        else:
                            drop((path, index), found)
                    elif value_kind is dict:
                        if depth > max_depth:
                            raise self._too_deep()
                        append(copy := {})
                        stack.append((value, copy, (path, index), depth, _MAPPING))
                    elif value_kind is int or value_kind is float or value_kind is bool or value is None:
                        append(value)
                    elif value_kind is list:
                        if depth > max_depth:
                            raise self._too_deep()
                        append(copy := [])
                        stack.append((value, copy, (path, index), depth, _SEQUENCE))
                    elif (kept := self._other(value, (path, index), depth, stack)) is not _DROPPED:
                        append(kept)
            else:
                self._copy(source, target, depth, kind, stack)
            if len(stack) - children > 1:
                # Depth first, in the input's order: the first child is popped next.
                stack[children:] = reversed(stack[children:])
        return root

    def _checked_key(self, key: Any, path: _Path) -> _KeyInfo | None:
        """A key's description, or None when it is dropped for not being a string or for its
        length."""
        if not isinstance(key, str):
            self._drop((path, _REDACTED_SEGMENT), "non_string_key")
            return None
        if len(key) > self.max_length:
            self._drop((path, _REDACTED_SEGMENT), "too_long")
            return None
        return _key_info(key)

    def _apply(
        self,
        action: int,
        target: dict[str, Any],
        key: str,
        value: Any,
        *,
        path: _Path,
        depth: int,
        stack: list[_Frame],
    ) -> None:
        """A policy key's action: drop it, hash its value, or copy its value as it is."""
        if action == _DROP:
            self._drop(path, "policy")
        elif action == _HASH:
            self._hash(target, key, value, path)
        else:  # _ALLOW
            copy = self._container(value, path, depth, True, stack)
            target[key] = value if copy is None else copy

    def _too_deep(self) -> PayloadLimitError:
        return PayloadLimitError(f"attributes nest deeper than {self.max_depth} levels")

    def _drop(self, path: _Path, reason: DropReason) -> None:
        self.dropped.append(_path_text(path))
        self.reasons.append(reason)

    def _other(self, value: Any, path: _Path, depth: int, stack: list[_Frame]) -> Any:
        """A value of an untrusted container not handled inline, as it is kept (strings scanned,
        containers queued), or ``_DROPPED``."""
        if isinstance(value, str):
            reason: DropReason | None = "too_long" if len(value) > self.max_length else detect(value)
            if reason is None:
                return value
        elif value is None or isinstance(value, _SCALARS):
            return value
        else:
            copy = self._container(value, path, depth, False, stack)
            if copy is not None:
                return copy
            reason = "unsupported_type"
        self._drop(path, reason)
        return _DROPPED

    def _container(self, value: Any, path: _Path, depth: int, trusted: bool, stack: list[_Frame]) -> Any:
        """The empty output copy of a mapping or list at ``depth`` (None when ``value`` is
        neither), pushed onto ``stack`` to be filled."""
        kind = type(value)
        if kind is dict or (kind is not list and kind is not tuple and isinstance(value, Mapping)):
            copy: Any = {}
            frame_kind = _TRUSTED_MAPPING if trusted else _MAPPING
        elif kind is list or kind is tuple or isinstance(value, list | tuple):
            copy = []
            frame_kind = _TRUSTED_SEQUENCE if trusted else _SEQUENCE
        else:
            return None
        if depth > self.max_depth:
            raise self._too_deep()
        stack.append((value, copy, path, depth, frame_kind))
        return copy

    def _copy(self, source: Any, target: Any, depth: int, kind: int, stack: list[_Frame]) -> None:
        """A trusted container: copied as it is (containers too), only the limits apply. Its
        paths are never reported: its containers get no path of their own."""
        if kind == _TRUSTED_MAPPING:
            for key, value in source.items():
                copy = self._container(value, "", depth, True, stack)
                target[key] = value if copy is None else copy
        else:
            for value in source:
                copy = self._container(value, "", depth, True, stack)
                target.append(value if copy is None else copy)

    def _hash(self, target: dict[str, Any], key: str, value: Any, path: _Path) -> None:
        if isinstance(value, str):
            hashed: str | None = keyed_hash(value, self.pepper)
        elif isinstance(value, _SCALARS):
            hashed = keyed_hash(str(value), self.pepper)
        elif value is None:
            hashed = None
        else:
            self._drop(path, "unhashable")
            return
        target[key + HASH_SUFFIX] = hashed
        self.hashed.append(_path_text(path))
