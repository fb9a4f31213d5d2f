"""The sanitizer's core properties at fuzzing scale (issue 7, "Fuzzing"): arbitrary nested JSON
never crashes it (only PayloadLimitError may escape), and its output never holds a value a
detector flags nor a drop-listed key. The properties and strategies are test_properties.py's; only
the example count differs: FUZZ_EXAMPLES (``make fuzz``: 100,000; ``make test``: a small,
deterministic sample on top of test_properties.py's own)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import unit.sanitize.test_properties as properties
from cio_security.sanitizer.core import SanitizerPolicy

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
FUZZ = settings(properties.DETERMINISTIC, max_examples=EXAMPLES)


@FUZZ
@pytest.mark.fuzz
@given(properties.json_objects)
def test_no_detector_positive_value_nor_drop_key_survives(attrs: dict[str, Any]) -> None:
    properties.test_output_holds_no_string_a_detector_flags.hypothesis.inner_test(attrs)
    properties.test_output_holds_no_drop_key.hypothesis.inner_test(attrs)


@FUZZ
@pytest.mark.fuzz
@given(properties.any_json, st.one_of(st.none(), properties.small_policies))
def test_arbitrary_json_never_crashes_the_sanitizer(value: Any, policy: SanitizerPolicy | None) -> None:
    properties.test_arbitrary_json_raises_nothing_but_payload_limit_error.hypothesis.inner_test(value, policy)
