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
from cio_security.sanitizer.detectors import SHORTEST_MATCH, Detection, detect
from cio_security.sanitizer.keys import CACHED_KEY_LENGTH, HASH_SUFFIX, KEY_INFOS, KeyInfo, key_info
from cio_security.sanitizer.policy import DROP, HASH, SanitizerPolicy
from cio_security.sanitizer.report import DropReason

_REDACTED_SEGMENT: Final = "[?]"
_DROPPED: Final = object()
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


class Walk:
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
        actions, key_infos, drop, scan = self.actions, KEY_INFOS, self._drop, self.scan
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
                    normalised, segment, key_detection, base, base_normalised = info
                    if base is not None and base in source and actions.get(base_normalised) == HASH:
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

    def _checked_key(self, key: Any, path: _Path) -> KeyInfo | None:
        """A key's description, or None when it is dropped for not being a string or for its
        length."""
        if not isinstance(key, str):
            self._drop((path, _REDACTED_SEGMENT), "non_string_key")
            return None
        if len(key) > self.max_length:
            self._drop((path, _REDACTED_SEGMENT), "too_long")
            return None
        return key_info(key)

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
        if action == DROP:
            self._drop(path, "policy")
        elif action == HASH:
            self._hash(target, key, value, path)
        else:  # ALLOW
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
