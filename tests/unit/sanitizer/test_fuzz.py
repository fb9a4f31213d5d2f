"""The sanitizer's core properties at fuzzing scale (issue 7, "Fuzzing"): arbitrary nested JSON
never crashes it (only PayloadLimitError may escape), and its output never holds a value a
detector flags nor a drop-listed key. The properties (checks.py) and strategies (strategies.py) are
test_properties.py's; only the example count differs: FUZZ_EXAMPLES (``make fuzz``: 100,000;
``make test``: a small, deterministic sample on top of test_properties.py's own)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cio_security.sanitizer.policy import SanitizerPolicy
from unit.sanitizer.checks import (
    assert_no_drop_key_survives,
    assert_no_string_a_detector_flags_survives,
    assert_only_payload_limit_error_escapes,
)
from unit.sanitizer.strategies import DETERMINISTIC, any_json, json_objects, small_policies

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
FUZZ = settings(DETERMINISTIC, max_examples=EXAMPLES)


@FUZZ
@pytest.mark.fuzz
@given(json_objects)
def test_no_detector_positive_value_nor_drop_key_survives(attrs: dict[str, Any]) -> None:
    assert_no_string_a_detector_flags_survives(attrs)
    assert_no_drop_key_survives(attrs)


@FUZZ
@pytest.mark.fuzz
@given(any_json, st.one_of(st.none(), small_policies))
def test_arbitrary_json_never_crashes_the_sanitizer(value: Any, policy: SanitizerPolicy | None) -> None:
    assert_only_payload_limit_error_escapes(value, policy)
