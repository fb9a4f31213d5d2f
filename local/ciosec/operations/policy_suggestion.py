"""``ciosec sanitize --suggest-policy FILE...``: survey sample events or attribute files, list every
key path seen with how the current sanitizer policy treats it and what the value detectors find
under it, and suggest a starting minimum-necessary policy (``mode: deny_unknown``).

Paths and counts only, never values: a key that holds a card number, an SSN or an IBAN, that looks
like an email address or a phone number, or that is not a string, is written ``[?]``, and is never
suggested as a name.

>>> survey = survey_documents([("sample", {"plan": "pro", "phone": "+1 555 0100"})])
>>> [(p.path, p.treatment) for p in survey.paths]
[('$.phone', 'hashed as phone_hash'), ('$.plan', 'kept, scanned')]
>>> suggest_policy(survey)["allow"], suggest_policy(survey)["hash"]
(['plan'], ['phone'])

Documents (``load_documents``): a file holds one JSON object, a JSON array of objects, or JSON lines
(one object per line). An API Gateway event (``body`` with ``requestContext``) is read as its body,
and a Customer.io reporting webhook event (``event_id``, ``metric`` and a ``data`` object) as its
``data``: what the webhook sanitizes. Anything else is read as attributes, as the Track client
sanitizes them.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cio_security.errors import PayloadLimitError
from cio_security.sanitizer.attributes import sanitize
from cio_security.sanitizer.detectors import detect, detect_number
from cio_security.sanitizer.keys import (
    ALLOW,
    DETECTED,
    DROP,
    HASH,
    HASH_SUFFIX,
    HASHED,
    REDACTED_SEGMENT,
    describe_key,
    key_segment,
    key_words,
    normalize_key,
)
from cio_security.sanitizer.loggable import personal_data_shape
from cio_security.sanitizer.policy import DEFAULT_DROP_KEYS, DEFAULT_HASH_KEYS, SanitizerPolicy

__all__ = [
    "DocumentError",
    "PathSummary",
    "Survey",
    "attributes_of",
    "format_survey",
    "load_documents",
    "suggest_policy",
    "survey_documents",
]

# The pepper the survey hashes with: the hashes are never shown, only which paths were hashed.
_SURVEY_PEPPER: Final = b"ciosec suggest-policy: the hashes are discarded"
_UNREACHED: Final = "not reached: a key above it is dropped"
# Drops that are about the key itself: such a key is not suggested (a value detected, too long or of
# another type is the value's business: its key is suggested, and its values stay scanned).
_KEY_DROPS: Final = frozenset({"policy", "collision", "unverified_hash", "non_string_key"})
_DEFAULT_SPELLINGS: Final = {normalize_key(name): name for name in DEFAULT_DROP_KEYS | DEFAULT_HASH_KEYS}


class DocumentError(ValueError):
    """A file that holds no JSON object (the message names the file and line, never content)."""


@dataclass
class PathSummary:
    """One key path across the documents (list positions folded: ``$.items[].sku``)."""

    path: str
    key: str | None  # the key as first seen, None for list items and for redacted keys
    seen: int = 0
    treatments: Counter[str] = field(default_factory=Counter)
    detected: Counter[str] = field(default_factory=Counter)

    @property
    def treatment(self) -> str:
        """How the policy treated the path, the most frequent way first."""
        return "; ".join(name for name, _ in self.treatments.most_common())


@dataclass
class Survey:
    """What ``survey_documents`` found, and the policy it was measured against."""

    policy: SanitizerPolicy
    documents: int = 0
    over_limits: list[str] = field(default_factory=list)
    paths: list[PathSummary] = field(default_factory=list)
    # Key names by how the policy treats them, each once (by normalised name), first spelling kept.
    kept: dict[str, str] = field(default_factory=dict)
    trusted: dict[str, str] = field(default_factory=dict)
    hashed: dict[str, str] = field(default_factory=dict)


# -- reading documents --------------------------------------------------------------------------


def attributes_of(document: Any) -> Any:
    """What the policy applies to in a document: an API Gateway event's body, a reporting webhook
    event's ``data`` (what the webhook sanitizes), else the document itself (None for an API Gateway
    event whose body is not JSON)."""
    if isinstance(document, dict) and isinstance(document.get("body"), str) and "requestContext" in document:
        body = document["body"]
        try:
            raw = base64.b64decode(body, validate=True) if document.get("isBase64Encoded") else body.encode()
            document = json.loads(raw)
        except (ValueError, binascii.Error):
            return None
    if (
        isinstance(document, dict)
        and "event_id" in document
        and "metric" in document
        and isinstance(document.get("data"), dict)
    ):
        return document["data"]
    return document


def _parsed(path: Path) -> Iterator[tuple[str, Any]]:
    text = path.read_text(encoding="utf-8")
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    else:
        items = whole if isinstance(whole, list) else [whole]
        for index, item in enumerate(items, start=1):
            yield (f"{path}[{index}]" if isinstance(whole, list) else str(path)), item
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"{path}:{number}", json.loads(line)
        except ValueError:
            raise DocumentError(f"{path}:{number}: neither a JSON document nor JSON lines") from None


def load_documents(paths: Iterable[str | Path]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(where, attributes) for every document in the files (see the module docstring). Raises
    DocumentError for a line that is not JSON or a document that holds no JSON object, OSError for a
    file that cannot be read."""
    for path in paths:
        for where, item in _parsed(Path(path)):
            document = attributes_of(item)
            if not isinstance(document, dict):
                raise DocumentError(f"{where}: not a JSON object (nor an event holding one)")
            yield where, document


# -- the survey --------------------------------------------------------------------------------------


def _segments(key: Any, policy: SanitizerPolicy) -> tuple[str, str, bool]:
    """(the segment the sanitizer's report writes, the segment shown, whether the key may be named
    in a policy)."""
    if not isinstance(key, str) or len(key) > policy.max_string_length:
        return REDACTED_SEGMENT, REDACTED_SEGMENT, False
    if detect(key) is not None:
        return REDACTED_SEGMENT, REDACTED_SEGMENT, False
    if personal_data_shape(key) is not None:
        return key_segment(key), REDACTED_SEGMENT, False
    return key_segment(key), key_segment(key), normalize_key(key) != ""  # a policy name needs one


def _scalar_detection(value: Any) -> str | None:
    if isinstance(value, str):
        return detect(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return detect_number(value)
    return None


class _Surveyor:
    def __init__(self, policy: SanitizerPolicy) -> None:
        self.survey = Survey(policy=policy)
        self.by_path: dict[str, PathSummary] = {}
        private = policy.__pydantic_private__ or {}
        self.actions: dict[str, int] = private["_actions"]
        self.longest: int = private["_longest"]
        self.infos: dict[str, Any] = {}
        self.over_limits = False

    def add(self, where: str, document: Mapping[str, Any]) -> None:
        policy = self.survey.policy
        self.survey.documents += 1
        dropped: dict[str, str] = {}
        hashed: set[str] = set()
        try:
            result = sanitize(document, pepper=_SURVEY_PEPPER, policy=policy)
        except PayloadLimitError:
            self.survey.over_limits.append(where)
            self.over_limits = True
        else:
            dropped = dict(zip(result.report.dropped, result.report.reasons, strict=True))
            hashed = set(result.report.hashed)
            self.over_limits = False
        # Iterative, like the sanitizer (JSON documents hold no cycles): (value, the report's path,
        # the path shown, whether the sanitizer reaches it, whether no key above it is left out).
        stack: list[tuple[Any, str, str, bool, bool]] = [(document, "$", "$", True, True)]
        while stack:
            value, concrete, shown, reached, named = stack.pop()
            if isinstance(value, Mapping):
                for key, child in value.items():
                    report_segment, shown_segment, nameable = _segments(key, policy)
                    child_concrete, child_shown = concrete + report_segment, shown + shown_segment
                    info = (
                        describe_key(key, self.actions, self.longest, self.infos)
                        if isinstance(key, str) and nameable
                        else (DETECTED, "", "")
                    )
                    treatment = self._treatment(
                        child_concrete,
                        reached=reached,
                        dropped=dropped,
                        hashed=hashed,
                        action=info[0],
                        key=key,
                        value=child,
                    )
                    self._record(child_shown, key if nameable else None, treatment, child)
                    nameable = nameable and named
                    if nameable and reached and dropped.get(child_concrete) not in _KEY_DROPS:
                        self._name(key, info[0])
                    child_reached = reached and child_concrete not in dropped and child_concrete not in hashed
                    stack.append((child, child_concrete, child_shown, child_reached, nameable))
            elif isinstance(value, list | tuple):
                for index, child in enumerate(value):
                    child_concrete = f"{concrete}[{index}]"
                    treatment = self._treatment(
                        child_concrete,
                        reached=reached,
                        dropped=dropped,
                        hashed=hashed,
                        action=None,
                        key=None,
                        value=child,
                    )
                    self._record(shown + "[]", None, treatment, child)
                    child_reached = reached and child_concrete not in dropped
                    stack.append((child, child_concrete, shown + "[]", child_reached, named))

    def _treatment(
        self,
        concrete: str,
        *,
        reached: bool,
        dropped: Mapping[str, str],
        hashed: set[str],
        action: int | None,
        key: Any,
        value: Any,
    ) -> str:
        if self.over_limits:
            return "not sanitized: the document is over the policy's limits"
        if not reached:
            return _UNREACHED
        if concrete in dropped:
            return f"dropped ({dropped[concrete]})"
        if concrete in hashed:
            return f"hashed as {key}{HASH_SUFFIX}"
        if isinstance(value, Mapping | list | tuple):
            return "walked"
        if action == ALLOW:
            return "kept, trusted (not scanned)"
        if action == HASHED:
            return "kept (the sanitizer's digest)"
        return "kept, scanned"

    def _record(self, shown: str, key: str | None, treatment: str, value: Any) -> None:
        summary = self.by_path.get(shown)
        if summary is None:
            summary = self.by_path[shown] = PathSummary(path=shown, key=key)
        summary.seen += 1
        summary.treatments[treatment] += 1
        found = _scalar_detection(value)
        if found is not None:
            summary.detected[found] += 1

    def _name(self, key: str, action: int) -> None:
        if self.over_limits:
            return
        name = normalize_key(key)
        if action == ALLOW:
            self.survey.trusted.setdefault(name, key)
            self.survey.kept.setdefault(name, key)
        elif action == HASH:
            self.survey.hashed.setdefault(name, key)
        elif action == HASHED:
            words = key_words(key)
            base = "_".join(words[:-1]) if words[-1:] == ("hash",) else normalize_key(key)[:-4]
            if base:
                self.survey.hashed.setdefault(normalize_key(base), base)
        elif action != DROP:  # PLAIN, HASH_LIKE, or NOT_ALLOWED under a deny_unknown policy
            self.survey.kept.setdefault(name, key)


def survey_documents(
    documents: Iterable[tuple[str, Mapping[str, Any]]], policy: SanitizerPolicy | None = None
) -> Survey:
    """Survey ``documents`` ((where, attributes) pairs) under ``policy`` (the default one when
    None): every key path with how often it was seen, how the policy treated it and what the
    detectors found in the values under it (whatever the policy did with them), and the key names
    the policy keeps, trusts and hashes."""
    surveyor = _Surveyor(policy or SanitizerPolicy.default())
    for where, document in documents:
        surveyor.add(where, document)
    surveyor.survey.paths = sorted(surveyor.by_path.values(), key=lambda p: p.path)
    return surveyor.survey


# -- the suggested policy -----------------------------------------------------------------------------


def suggest_policy(survey: Survey) -> dict[str, Any]:
    """A starting policy in ``deny_unknown`` mode, as JSON-ready data: every key name the current
    policy kept is allowed (the ones it trusted stay trusted, the others are scanned), every name it
    hashed is hashed, its drop names stay, its limits too. Keys seen only under a dropped key, keys
    that hold sensitive data or look like personal data, and keys that are not strings are left
    out. The result loads as a SanitizerPolicy."""
    policy = survey.policy
    hashed = dict(survey.hashed)
    allow = {name: key for name, key in survey.kept.items() if name not in policy.drop and name not in hashed}
    trusted = {name: key for name, key in survey.trusted.items() if name in allow}
    suggestion: dict[str, Any] = {
        "mode": "deny_unknown",
        "allow": sorted(allow.values(), key=normalize_key),
        "trusted": sorted(trusted.values(), key=normalize_key),
        "hash": sorted(hashed.values(), key=normalize_key),
        "drop": sorted(_DEFAULT_SPELLINGS.get(name, name) for name in policy.drop),
        "max_depth": policy.max_depth,
        "max_nodes": policy.max_nodes,
        "max_string_length": policy.max_string_length,
    }
    SanitizerPolicy.model_validate(suggestion)  # raises on a contradiction: a bug, not a mistake
    return suggestion


# -- the listing -----------------------------------------------------------------------------------------


def format_survey(survey: Survey) -> str:
    """The survey as text: one line per key path (seen, treatment, detector counts)."""
    width = max((len(p.path) for p in survey.paths), default=4)
    lines = [
        f"{'path':<{width}}  {'seen':>6}  how the policy treats it  [what the detectors found in its values]"
    ]
    for summary in survey.paths:
        found = ", ".join(f"{name}: {count}" for name, count in sorted(summary.detected.items()))
        lines.append(
            f"{summary.path:<{width}}  {summary.seen:>6}  {summary.treatment}"
            + (f"  [{found}]" if found else "")
        )
    lines.append(
        f"{survey.documents} document(s), {len(survey.paths)} key path(s)"
        + (
            f"; over the policy's limits (not sanitized): {', '.join(survey.over_limits)}"
            if survey.over_limits
            else ""
        )
    )
    return "\n".join(lines)
