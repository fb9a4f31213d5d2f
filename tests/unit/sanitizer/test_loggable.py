"""``personal_data_shape``: its default (the webhook ``event_id`` guard, the quarantine, the
operator's tools) and ``digit_runs_are_counters`` (a deletion ``request_id``), where a bare run of
digits is a counter and only what is written as personal data counts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cio_security.sanitizer.loggable import personal_data_shape
from unit.sanitizer.samples import (
    card_numbers,
    ibans,
    separated_cards,
    separated_ssns,
    surrounding_text,
    us_ssns,
)

BARE_RUNS = [
    ("dsar-123456789", "us_ssn"),
    ("REQ-2026-123456789", "us_ssn"),
    ("zendesk-512345678", "us_ssn"),
    ("dsar-675931594757", "card_number"),
    ("dsar-4111111111111111", "card_number"),
    ("REQ-0512345678", "phone"),
]


@pytest.mark.parametrize(("text", "shape"), BARE_RUNS)
def test_by_default_a_bare_run_still_has_its_shape(text: str, shape: str) -> None:
    # The default withholds ids from logs: its callers' behaviour is unchanged.
    assert personal_data_shape(text) == shape


@pytest.mark.parametrize(("text", "shape"), BARE_RUNS)
def test_a_bare_run_is_a_counter(text: str, shape: str) -> None:
    assert personal_data_shape(text, digit_runs_are_counters=True) is None


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("dsar-alice@example.com", "email"),
        ("+14155550100", "phone"),
        ("+44 20 7946 0000", "phone"),
        ("(415) 555-0100", "phone"),
        ("415.555.0100", "phone"),
        ("415-555-0100", "phone"),
        ("020 7946 0000", "phone"),
        ("07946 000000", "phone"),
        ("123-45-6789", "us_ssn"),
        ("123 45 6789", "us_ssn"),
        ("4111 1111 1111 1111", "card_number"),
        ("4111-1111-1111-1111", "card_number"),
        ("+4111111111111111", "card_number"),
        ("GB82WEST12345698765432", "iban"),
        ("GB82 WEST 1234 5698 7654 32", "iban"),
        # Every match is looked at: a bare run first does not hide what follows it.
        ("dsar-123456789 4111 1111 1111 1111", "card_number"),
        ("dsar-4111111111111111 4111-1111-1111-1111", "card_number"),
        ("dsar-123456789/123-45-6789", "us_ssn"),
        ("REQ-0512345678 020 7946 0000", "phone"),
        ("REQ-0512345678 GB82WEST12345698765432", "iban"),
    ],
)
def test_what_is_written_as_personal_data_counts(text: str, shape: str) -> None:
    assert personal_data_shape(text, digit_runs_are_counters=True) == shape
    assert personal_data_shape(text) is not None


@settings(derandomize=True, database=None, deadline=None)
@given(st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True), st.sampled_from("-_ /:#"), st.integers(min_value=0))
def test_a_prefixed_counter_of_any_size_is_no_personal_data(prefix: str, joiner: str, n: int) -> None:
    assert personal_data_shape(f"{prefix}{joiner}{n}", digit_runs_are_counters=True) is None


@settings(derandomize=True, database=None, deadline=None)
@given(
    st.one_of(card_numbers(), separated_cards(), us_ssns(), separated_ssns(), ibans()),
    surrounding_text,
    surrounding_text,
)
def test_the_keyword_only_ever_accepts_more(value: str, before: str, after: str) -> None:
    text = f"{before} {value} {after}"
    if personal_data_shape(text) is None:
        assert personal_data_shape(text, digit_runs_are_counters=True) is None
    if not value.isdigit():  # written as personal data: still found, whatever surrounds it
        assert personal_data_shape(text, digit_runs_are_counters=True) is not None
