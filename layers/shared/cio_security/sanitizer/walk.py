"""The walk: one iterative, depth-first pass over the attributes that applies a policy to every
key and value and builds the sanitized copy and the report's paths (``sanitize`` runs it; the rules
it applies are in ``cio_security.sanitizer.attributes``).

This is the measured hot path (``benchmarks/sanitizer.py``). Constants it reads per value are
module globals or locals of ``Walk.run`` (never attributes of another module), and the common
types are handled inline in one loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from cio_security.errors import PayloadLimitError
from cio_security.hashing import keyed_hash
from cio_security.sanitizer.detectors import SHORTEST_MATCH, Detection, detect, detect_number
from cio_security.sanitizer.keys import (
    ALLOW,
    CACHED_KEY_LENGTH,
    DETECTED,
    DROP,
    HASH,
    HASH_SUFFIX,
    HASHED,
    NOT_ALLOWED,
    REDACTED_SEGMENT,
    KeyInfo,
    describe_key,
)
from cio_security.sanitizer.policy import SanitizerPolicy
from cio_security.sanitizer.report import DropReason

_DROPPED: Final = object()
_SCALARS: Final = (bool, int, float)
# Numbers strictly between these have fewer than nine digits: no detector can flag them.
_LOW, _HIGH = -100_000_000, 100_000_000
# What the sanitizer's keyed hash looks like: 64 lowercase hex characters.
_DIGEST_LENGTH: Final = 64
_HEX_DIGITS: Final = frozenset("0123456789abcdef")

# Frame kinds: a mapping or a sequence, walked under the policy.
_MAPPING, _SEQUENCE = range(2)

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


class Walk:
    """One iterative, depth-first walk. An output container is created in place when it is first
    met and filled when its frame is popped, so the output keeps the input's order.

    ``run`` handles the common types (exact ``str``, ``int``, ``float``, ``bool``, None, ``dict``,
    ``list``) and ordinary keys inline with ``type(x) is`` tests, in one loop: no call per value
    nor per container. Anything else (subclasses, tuples, other mappings, unsupported types) takes
    ``_other`` and ``_container``, which test with ``isinstance`` in the documented order; keys a
    policy acts on take ``_apply``.

    With ``defer_scans``, the plain strings the detectors would scan are kept and listed in
    ``deferred`` instead, for one scan of them all (``none_detected``): most records hold none to
    drop, and the walk's output and report are then exactly those of a walk that scans each. A
    walk with deferred scans raises where the other would: scans raise nothing and a dropped
    value counts against the node limit as a kept one does."""

    __slots__ = (
        "actions",
        "deferred",
        "deny_unknown",
        "dropped",
        "hash_outputs",
        "hashed",
        "key_infos",
        "longest",
        "max_depth",
        "max_length",
        "max_nodes",
        "pepper",
        "reasons",
        "scan",
    )

    def __init__(self, policy: SanitizerPolicy, pepper: bytes, *, defer_scans: bool) -> None:
        # Read from pydantic's storage: the attribute (pydantic's __getattr__) costs a microsecond.
        private = policy.__pydantic_private__ or {}
        self.actions: dict[str, int] = private["_actions"]
        self.longest: int = private["_longest"]
        self.key_infos: dict[str, KeyInfo] = private["_keys"]
        self.deny_unknown = policy.mode == "deny_unknown"
        # The mapping whose hashed keys' output names were last listed, and those names.
        self.hash_outputs: tuple[Any, frozenset[str]] = (None, frozenset())
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
        key_infos, drop, scan = self.key_infos, self._drop, self.scan
        max_depth, max_length, max_nodes = self.max_depth, self.max_length, self.max_nodes
        # Whether a cached key (at most CACHED_KEY_LENGTH characters) may still be too long.
        short_keys = max_length < CACHED_KEY_LENGTH
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
                    action, segment, _ = info
                    if action:
                        self._apply(info, source, target, key, value, path=path, depth=depth, stack=stack)
                        continue
                    # An ordinary key's value, as _other would have it.
                    value_kind = type(value)
                    if value_kind is str:
                        size = len(value)
                        if size > max_length:
                            drop((path, segment), "too_long")
                        elif size < SHORTEST_MATCH or (found := scan(value)) is None:
                            target[key] = value
                        else:
                            drop((path, segment), found)
                    elif value_kind is int or value_kind is float:
                        if _LOW < value < _HIGH or (found := detect_number(value)) is None:
                            target[key] = value
                        else:
                            drop((path, segment), found)
                    elif value_kind is bool or value is None:
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
            else:
                append = target.append
                for index, value in enumerate(source):
                    # As in a mapping. Repeated inline on purpose (measured): sharing these branches
                    # through a call would add a call per value to the hot path.
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
                    elif value_kind is int or value_kind is float:
                        if _LOW < value < _HIGH or (found := detect_number(value)) is None:
                            append(value)
                        else:
                            drop((path, index), found)
                    elif value_kind is bool or value is None:
                        append(value)
                    elif value_kind is list:
                        if depth > max_depth:
                            raise self._too_deep()
                        append(copy := [])
                        stack.append((value, copy, (path, index), depth, _SEQUENCE))
                    elif (kept := self._other(value, (path, index), depth, stack)) is not _DROPPED:
                        append(kept)
            if len(stack) - children > 1:
                # Depth first, in the input's order: the first child is popped next.
                stack[children:] = reversed(stack[children:])
        return root

    def _checked_key(self, key: Any, path: _Path) -> KeyInfo | None:
        """A key's description, or None when it is dropped for not being a string or for its
        length."""
        if not isinstance(key, str):
            self._drop((path, REDACTED_SEGMENT), "non_string_key")
            return None
        if len(key) > self.max_length:
            self._drop((path, REDACTED_SEGMENT), "too_long")
            return None
        return describe_key(key, self.actions, self.longest, self.key_infos, deny_unknown=self.deny_unknown)

    def _apply(
        self,
        info: KeyInfo,
        source: Any,
        target: dict[str, Any],
        key: str,
        value: Any,
        *,
        path: _Path,
        depth: int,
        stack: list[_Frame],
    ) -> None:
        """What a key other than an ordinary one does: drop it, hash its value, keep a trusted
        value, check a hashed field's name, or drop a key that holds sensitive data or that a
        deny_unknown policy does not name."""
        action, segment, detail = info
        if action == DROP:
            self._drop((path, segment), "policy")
        elif action == NOT_ALLOWED:
            self._drop((path, segment), "not_allowed")
        elif action == HASH:
            self._hash(target, key, value, (path, segment))
        elif action == ALLOW:
            copy = self._container(value, (path, segment), depth, stack)
            target[key] = value if copy is None else copy
        elif action == DETECTED:
            self._drop((path, segment), detail)  # type: ignore[arg-type]  # a Detection
        elif detail in self._hash_outputs(source):
            # The computed hash of a sibling is written under this name: it wins.
            self._drop((path, segment), "collision")
        elif action == HASHED:
            if value is None or _is_digest(value):
                target[key] = value
            else:
                self._drop((path, segment), "unverified_hash")
        elif (kept := self._other(value, (path, segment), depth, stack)) is not _DROPPED:  # HASH_LIKE
            target[key] = kept

    def _hash_outputs(self, source: Any) -> frozenset[str]:
        """The normalised names the hashed keys of mapping ``source`` are written under, listed
        once per mapping."""
        listed, outputs = self.hash_outputs
        if listed is not source:
            infos = (self._checked_info(key) for key in source)
            outputs = frozenset(info[2] for info in infos if info is not None and info[0] == HASH)
            self.hash_outputs = (source, outputs)
        return outputs

    def _checked_info(self, key: Any) -> KeyInfo | None:
        """A key's description, or None for a key the walk drops for its type or length (without
        reporting it: the walk reports it where it meets it)."""
        if not isinstance(key, str) or len(key) > self.max_length:
            return None
        return describe_key(key, self.actions, self.longest, self.key_infos, deny_unknown=self.deny_unknown)

    def _too_deep(self) -> PayloadLimitError:
        return PayloadLimitError(f"attributes nest deeper than {self.max_depth} levels")

    def _drop(self, path: _Path, reason: DropReason) -> None:
        self.dropped.append(_path_text(path))
        self.reasons.append(reason)

    def _other(self, value: Any, path: _Path, depth: int, stack: list[_Frame]) -> Any:
        """A value not handled inline, as it is kept (strings and numbers scanned, containers
        queued), or ``_DROPPED``."""
        if isinstance(value, str):
            reason: DropReason | None = "too_long" if len(value) > self.max_length else detect(value)
            if reason is None:
                return value
        elif value is None or isinstance(value, bool):
            return value
        elif isinstance(value, int | float):
            reason = detect_number(value)
            if reason is None:
                return value
        else:
            copy = self._container(value, path, depth, stack)
            if copy is not None:
                return copy
            reason = "unsupported_type"
        self._drop(path, reason)
        return _DROPPED

    def _container(self, value: Any, path: _Path, depth: int, stack: list[_Frame]) -> Any:
        """The empty output copy of a mapping or list at ``depth`` (None when ``value`` is
        neither), pushed onto ``stack`` to be filled."""
        kind = type(value)
        if kind is dict or (kind is not list and kind is not tuple and isinstance(value, Mapping)):
            copy: Any = {}
            frame_kind = _MAPPING
        elif kind is list or kind is tuple or isinstance(value, list | tuple):
            copy = []
            frame_kind = _SEQUENCE
        else:
            return None
        if depth > self.max_depth:
            raise self._too_deep()
        stack.append((value, copy, path, depth, frame_kind))
        return copy

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


def _is_digest(value: Any) -> bool:
    """Whether ``value`` has the shape of the sanitizer's keyed hash (64 lowercase hex digits)."""
    return type(value) is str and len(value) == _DIGEST_LENGTH and _HEX_DIGITS.issuperset(value)
