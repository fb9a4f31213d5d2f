"""Hypothesis strategies and settings shared by the sanitizer's property and fuzz tests: generated
JSON objects whose keys include every spelling of the default policy's keys, arbitrary JSON, and
small policies that reach the limits. Deterministic (derandomized, no example database)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from cio_security.sanitizer.policy import (
    DEFAULT_ALLOW_KEYS,
    DEFAULT_DROP_KEYS,
    DEFAULT_HASH_KEYS,
    SanitizerPolicy,
)
from unit.sanitizer.samples import embedded_sensitive

DETERMINISTIC = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def spellings(key: str) -> list[str]:
    """A snake_case key as written in other conventions: itself, upper case, kebab-case, title
    words and camelCase."""
    words = key.split("_")
    camel = words[0] + "".join(w.title() for w in words[1:])
    return [key, key.upper(), "-".join(words), " ".join(w.title() for w in words), camel]


policy_keys = st.sampled_from(
    sorted({s for key in DEFAULT_DROP_KEYS | DEFAULT_HASH_KEYS | DEFAULT_ALLOW_KEYS for s in spellings(key)})
)
keys = st.one_of(st.text(max_size=10), policy_keys, st.sampled_from(["phone_hash", "ip_hash", "note"]))
texts = st.one_of(st.text(max_size=20), embedded_sensitive().map(lambda pair: pair[1]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), texts)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)),
    max_leaves=25,
)
json_objects = st.dictionaries(keys, json_values, max_size=6)

small_policies = st.builds(
    SanitizerPolicy,
    drop=st.just(DEFAULT_DROP_KEYS),
    hash=st.just(DEFAULT_HASH_KEYS),
    allow=st.just(DEFAULT_ALLOW_KEYS),
    max_depth=st.integers(1, 6),
    max_nodes=st.integers(1, 60),
    max_string_length=st.integers(1, 40),
)
any_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text()),
    lambda children: st.one_of(st.lists(children), st.dictionaries(st.text(), children)),
    max_leaves=60,
)
