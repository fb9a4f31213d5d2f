"""Hypothesis strategies and settings shared by the sanitizer's property and fuzz tests: generated
JSON objects whose keys include every spelling of the default policy's keys, arbitrary JSON, and
small policies that reach the limits. Deterministic (derandomized, no example database)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from cio_security.sanitizer.keys import normalize_key
from cio_security.sanitizer.policy import (
    DEFAULT_ALLOW_KEYS,
    DEFAULT_DROP_KEYS,
    DEFAULT_HASH_KEYS,
    SanitizerPolicy,
)
from unit.sanitizer.samples import (
    card_ints,
    embedded_sensitive,
    separated_cards,
    separated_ibans,
    separated_ssns,
    ssn_ints,
)

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


# --- key variants (issue 16): words around a policy name, conventions, lookalike letters ----------

# Ordinary words put before a policy name ("user_ssn", "primary_phone"). None is a predicate
# ("is", "has") nor makes an allowed name with what follows ("email" + "address").
PREFIX_WORDS = (
    "user", "primary", "billing", "shipping", "x", "my", "new", "old", "current", "customer",
    "account", "contact", "main", "alt", "secondary", "personal", "profile", "default", "backup", "a",
)  # fmt: skip
# Trailing numbers and qualifiers ("phone1", "phone_no", "ssn_encrypted").
SUFFIX_WORDS = ("1", "2", "01", "no", "value", "encrypted", "raw", "plain", "confirmation")


def _lookalikes_of() -> dict[str, list[str]]:
    """ASCII letter -> the BMP characters that fold to it (NFKC, case folding, Unicode's
    confusables), each keeping the letter's case (no new word boundary)."""
    found: dict[str, list[str]] = {}
    for code in range(0x80, 0x10000):
        char = chr(code)
        folded = normalize_key(char)
        if len(folded) == 1 and folded.isascii() and folded.isalpha() and char.isalpha():
            letter = folded.upper() if char.isupper() else folded if char.islower() else None
            if letter is not None:
                found.setdefault(letter, []).append(char)
    return found


LOOKALIKES_OF = _lookalikes_of()


CONVENTIONS = ("snake", "kebab", "dotted", "spaced", "camel", "pascal", "upper")
JOINERS = {"snake": "_", "kebab": "-", "dotted": ".", "spaced": " ", "camel": "", "pascal": "", "upper": "_"}


def cased(words: list[str], convention: str) -> list[str]:
    """Each word cased as a naming convention writes it (joined by ``JOINERS[convention]``)."""
    if convention == "camel":
        return [w if i == 0 else w[:1].upper() + w[1:] for i, w in enumerate(words)]
    if convention == "pascal":
        return [w[:1].upper() + w[1:] for w in words]
    if convention == "upper":
        return [w.upper() for w in words]
    return list(words)


@st.composite
def with_lookalikes(draw: st.DrawFn, text: str) -> str:
    """``text`` with some of its letters replaced by lookalikes of the same case."""
    chars = list(text)
    for index, char in enumerate(chars):
        if char in LOOKALIKES_OF and draw(st.integers(0, 2)) == 0:
            chars[index] = draw(st.sampled_from(LOOKALIKES_OF[char]))
    return "".join(chars)


@st.composite
def key_variants(draw: st.DrawFn, names: frozenset[str]) -> tuple[str, str]:
    """(a policy name, a key that means it): ordinary words before it, numbers or qualifiers after
    it, any naming convention, lookalike letters in the name's own words."""
    name = draw(st.sampled_from(sorted(names)))
    prefix = draw(st.lists(st.sampled_from(PREFIX_WORDS), max_size=2))
    suffix = draw(st.lists(st.sampled_from(SUFFIX_WORDS), max_size=2))
    convention = draw(st.sampled_from(CONVENTIONS))
    words = cased([*prefix, *name.split("_"), *suffix], convention)
    own = range(len(prefix), len(words) - len(suffix))
    words = [draw(with_lookalikes(w)) if i in own else w for i, w in enumerate(words)]
    return name, JOINERS[convention].join(words)


policy_keys = st.sampled_from(
    sorted({s for key in DEFAULT_DROP_KEYS | DEFAULT_HASH_KEYS | DEFAULT_ALLOW_KEYS for s in spellings(key)})
)
keys = st.one_of(
    st.text(max_size=10),
    policy_keys,
    st.sampled_from(["phone_hash", "ip_hash", "note", "Phone_hash", "primaryPhoneHash"]),
    key_variants(DEFAULT_DROP_KEYS | DEFAULT_HASH_KEYS).map(lambda pair: pair[1]),
)
texts = st.one_of(
    st.text(max_size=20),
    embedded_sensitive().map(lambda pair: pair[1]),
    st.one_of(separated_cards(), separated_ssns(), separated_ibans()),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), texts, card_ints, ssn_ints()
)
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
