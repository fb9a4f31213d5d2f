"""Shared pydantic building blocks: the strict base model, the control-character check, and the
one way a ValidationError becomes field names and rules (never values) in an error text.

A validator of this library words its ``ValueError`` to follow the field's name and never quotes
the value (``"must not be blank"`` reads ``identifier must not be blank``); a rule that needs its
own sentence is raised as ``rule_error``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

__all__ = [
    "CONTROL_CHARACTERS",
    "ROOT",
    "UNEXPECTED_FIELD",
    "FieldProblem",
    "StrictModel",
    "closest_name",
    "field_names",
    "field_problems",
    "no_control_chars",
    "rule_error",
]

CONTROL_CHARACTERS: Final = re.compile(r"[\x00-\x1f\x7f]")
UNEXPECTED_FIELD: Final = "(unexpected field)"
ROOT: Final = "(root)"
RULE_ERROR: Final = "field_rule"
"""The error type of ``rule_error``: its ``ctx["text"]`` is the whole sentence."""
_NAME_SHAPE: Final = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
"""What an unexpected key must look like before a message may repeat it (a misspelt field name),
never a key that could hold personal data (an email, a phone number, a name with capitals...)."""
_EXAMPLE_TIME: Final = "2026-11-28T10:00:00Z"


def no_control_chars(value: str) -> str:
    """A pydantic after-validator: refuse a string holding control characters."""
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters")
    return value


class StrictModel(BaseModel):
    """Frozen, and unknown fields are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


def field_names(
    exc: ValidationError, *, known: Collection[str] | None = None, depth: int | None = 1
) -> tuple[str, ...]:
    """The sorted, distinct field paths of ``exc``'s errors, never their values.

    ``depth`` keeps that many leading path elements (None: the whole dotted path). With ``known``,
    a top-level name outside it is reported as ``(unexpected field)``: an unexpected key could
    itself be personal data, so it is never named. An error on the whole value is ``(root)``.

    >>> from pydantic import TypeAdapter
    >>> try:
    ...     TypeAdapter(dict[str, int]).validate_python({"a": "x"})
    ... except ValidationError as exc:
    ...     field_names(exc)
    ('a',)
    """
    names: set[str] = set()
    for error in exc.errors():
        location = error["loc"][:depth] if depth is not None else error["loc"]
        if not location:
            names.add(ROOT)
        elif known is not None and str(location[0]) not in known:
            names.add(UNEXPECTED_FIELD)
        else:
            names.add(".".join(str(part) for part in location))
    return tuple(sorted(names))


# -- problems: the field and the rule, in words ----------------------------------------------------


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with a document: ``field`` is the top-level field at fault (or
    ``(unexpected field)``, or ``(root)``), ``text`` a sentence that names it and the rule it
    breaks, never the value (``requested_at needs a timezone (e.g. 2026-11-28T10:00:00Z)``)."""

    field: str
    text: str

    def __str__(self) -> str:
        return self.text


def rule_error(title: str, field: str, text: str) -> ValidationError:
    """A ValidationError located at ``field`` whose message is ``text`` as it is: for a rule
    checked across fields (in a model validator) that needs its own sentence. ``text`` must not
    quote a value."""
    detail = InitErrorDetails(
        type=PydanticCustomError(RULE_ERROR, "{text}", {"text": text}), loc=(field,), input=None
    )
    return ValidationError.from_exception_data(title, [detail])


def closest_name(name: str, choices: Sequence[str], *, cutoff: float = 0.8) -> str | None:
    """The one of ``choices`` that ``name`` is most likely a misspelling of, or None.

    >>> closest_name("identifer", ["request_id", "identifier", "identifier_type"])
    'identifier'
    """
    matches = difflib.get_close_matches(name, choices, n=1, cutoff=cutoff)
    return matches[0] if matches else None


def _path(location: tuple[int | str, ...]) -> str:
    """``("workspaces", 1)`` -> ``workspaces[1]``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or ROOT


def _unexpected(key: object, known: Collection[str] | None) -> str:
    """The sentence for a key outside the model: repeated only when it has the shape of a field
    name and is a near miss of one (a misspelling), never otherwise (a key can be personal data)."""
    allowed = sorted(known or ())
    if isinstance(key, str) and _NAME_SHAPE.match(key) and allowed:
        match = closest_name(key, allowed)
        if match is not None:
            return f"unexpected field '{key}' (did you mean '{match}'?)"
    if allowed:
        return f"a field that is not part of the message (allowed: {', '.join(allowed)})"
    return "a field that is not part of the message"


def _rule(error: ErrorDetails, name: str) -> str:  # noqa: PLR0912 - one case per error type
    """The sentence for one pydantic error, from its type and context only (never its input)."""
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == RULE_ERROR:
        return str(ctx["text"])
    if kind in {"value_error", "assertion_error"}:
        # The library's own validators: worded to follow the name, never quoting the value.
        return f"{name} {ctx.get('error', 'is not valid')}"
    if kind == "missing":
        return f"{name} is required"
    if kind == "string_type":
        return f"{name} must be a string"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return f"{name} must be a whole number"
    if kind in {"bool_type", "bool_parsing"}:
        return f"{name} must be true or false"
    if kind in {"list_type", "tuple_type", "set_type"}:
        return f"{name} must be a list"
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return f"{name} must be an object"
    if kind == "string_too_short":
        least = int(ctx.get("min_length", 1))
        return f"{name} must not be empty" if least <= 1 else f"{name} must be at least {least} characters"
    if kind == "string_too_long":
        return f"{name} must be at most {ctx.get('max_length')} characters"
    if kind == "too_short":
        return f"{name} must hold at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"{name} must hold at most {ctx.get('max_length')} item(s)"
    if kind in {"literal_error", "enum"}:
        return f"{name} must be {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        return f"{name} does not have the required form"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        bound = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
        limit = next(iter(ctx.values()), "")
        return f"{name} must be {bound[kind]} {limit}"
    if kind.startswith(("datetime_", "date_")):
        return f"{name} must be an ISO 8601 date and time with a timezone (e.g. {_EXAMPLE_TIME})"
    if kind == "timezone_aware":
        return f"{name} needs a timezone (e.g. {_EXAMPLE_TIME})"
    return f"{name} is not valid ({kind})"


def field_problems(exc: ValidationError, *, known: Collection[str] | None = None) -> tuple[FieldProblem, ...]:
    """Each error of ``exc`` as a FieldProblem, in the order pydantic found them, duplicates
    removed. A key outside ``known`` is an unexpected field (named only when it is a near miss of
    a known name: ``unexpected field 'identifer' (did you mean 'identifier'?)``).

    >>> from pydantic import TypeAdapter
    >>> try:
    ...     TypeAdapter(dict[str, int]).validate_python({"a": "x"})
    ... except ValidationError as exc:
    ...     [str(p) for p in field_problems(exc)]
    ['a must be a whole number']
    """
    problems: dict[FieldProblem, None] = {}
    for error in exc.errors(include_input=False, include_url=False):
        location = tuple(error["loc"])
        if not location:
            problem = FieldProblem(ROOT, _rule(error, "the message"))
        elif error["type"] == "extra_forbidden" or (known is not None and str(location[0]) not in known):
            problem = FieldProblem(UNEXPECTED_FIELD, _unexpected(location[0], known))
        else:
            problem = FieldProblem(str(location[0]), _rule(error, _path(location)))
        problems[problem] = None
    return tuple(problems)
