"""Shared pydantic building blocks: the strict base model, the control-character check, and the
one way a ValidationError becomes field names (never values) in an error text."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Final

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["CONTROL_CHARACTERS", "UNEXPECTED_FIELD", "StrictModel", "field_names", "no_control_chars"]

CONTROL_CHARACTERS: Final = re.compile(r"[\x00-\x1f\x7f]")
UNEXPECTED_FIELD: Final = "(unexpected field)"


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
            names.add("(root)")
        elif known is not None and str(location[0]) not in known:
            names.add(UNEXPECTED_FIELD)
        else:
            names.add(".".join(str(part) for part in location))
    return tuple(sorted(names))
