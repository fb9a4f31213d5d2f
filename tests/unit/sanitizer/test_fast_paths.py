"""The sanitizer's fast paths agree with the general ones: the detectors' ASCII pre-filters with
the regex they stand in front of (text by text and many texts at once), exact-type dispatch with
subclasses and other mappings, and the key cache with policies whose string limit is shorter than
a cached key."""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cio_security.sanitizer.attributes import sanitize
from cio_security.sanitizer.detectors import _CANDIDATE, Detection, _first_detection, detect, none_detected
from cio_security.sanitizer.policy import SanitizerPolicy
from unit.sanitizer.samples import embedded_sensitive
from unit.sanitizer.strategies import DETERMINISTIC

PEPPER = "unit-test-pepper-0123456789abcdef"


def unfiltered_detect(text: str) -> Detection | None:
    """``detect`` without the ASCII pre-filter: the regex pre-filter and the detectors alone."""
    if len(text) < 9 or _CANDIDATE(text) is None:
        return None
    return _first_detection(text)


# Text dense in what the pre-filter counts: digits, letters beside digits, separators.
dense_text = st.text("0123456789 -.,abcXYZGB\u00a0\u2013\u0663", max_size=40)


@DETERMINISTIC
@given(st.one_of(dense_text, st.text(max_size=40), embedded_sensitive().map(lambda pair: pair[1])))
def test_ascii_prefilter_changes_no_answer(text: str) -> None:
    assert detect(text) == unfiltered_detect(text)


@DETERMINISTIC
@given(st.lists(st.one_of(dense_text, st.text(max_size=20)), min_size=1, max_size=8))
def test_many_texts_at_once_agree_with_each_text(texts: list[str]) -> None:
    assert none_detected(texts) == all(unfiltered_detect(text) is None for text in texts)


def test_no_candidate_spans_two_texts() -> None:
    assert none_detected(["order 1234", "56789 shipped", "ab1", "2x"])
    assert not none_detected(["order 1234", "123-45-6789"])


class Text(str):
    __slots__ = ()


class Number(enum.IntEnum):
    ONE = 1


class Items(list[Any]):
    pass


class Proxy(Mapping[Any, Any]):
    def __init__(self, data: dict[Any, Any]) -> None:
        self._data = data

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_subclasses_and_other_mappings_take_the_general_path_to_the_same_result() -> None:
    plain = {
        "note": "card 4111 1111 1111 1111",
        "n": 1,
        "links": [{"href": "https://example.com/1", "ssn": "x"}, "123-45-6789", ["ok"]],
        "phone": "+44 20 7946 0000",
        "identifiers": {"id": "4111111111111111"},
    }
    odd = Proxy(
        {
            Text("note"): Text("card 4111 1111 1111 1111"),
            "n": Number.ONE,
            "links": Items(
                [OrderedDict({"href": Text("https://example.com/1"), "ssn": "x"}), "123-45-6789", ("ok",)]
            ),
            "phone": Text("+44 20 7946 0000"),
            "identifiers": Proxy({"id": "4111111111111111"}),
        }
    )
    expected, result = sanitize(plain, pepper=PEPPER), sanitize(odd, pepper=PEPPER)
    assert result.data == expected.data
    assert result.report == expected.report
    assert result.report.dropped == ("$.note", "$.links[1]", "$.links[0].ssn")


def test_cached_keys_still_meet_a_shorter_string_limit() -> None:
    attrs = {"k" * 8: 1, "k" * 30: 2}
    assert sanitize(attrs, pepper=PEPPER).data == attrs  # both keys described and cached
    policy = SanitizerPolicy(
        drop=frozenset({"password"}), hash=frozenset({"phone"}), allow=frozenset(), max_string_length=10
    )
    result = sanitize(attrs, pepper=PEPPER, policy=policy)
    assert result.data == {"k" * 8: 1}
    assert result.report.reasons == ("too_long",)
