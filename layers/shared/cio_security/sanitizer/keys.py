"""Keys as the sanitizer reads them: the normalised form a policy name is stored in
(``normalize_key``), the words a key is made of (``key_words``), what a policy does with a key
(``key_action``), the name a hashed field is written under (``k`` becomes ``k`` + ``HASH_SUFFIX``),
and the description of a key that the walk looks up for every key it meets (``describe_key``).

>>> normalize_key("creditCardNumber")
'creditcardnumber'
>>> key_words("billing_addressLine1")
('billing', 'address', 'line', '1')
>>> normalize_key("\\u0440\\u0430ssword")  # Cyrillic er and a
'password'

Matching, for a policy's normalised names (see ``key_action``):

1. The whole name, normalised: an ``allow`` name is trusted, a ``drop`` or ``hash`` name applies.
2. A name ending in ``hash`` whose rest is a ``hash`` name (``phone_hash``, ``PrimaryPhoneHash``)
   names a hashed field: it may only carry a digest the sanitizer made (``HASHED``).
3. Otherwise the name's last words: a policy name matches when it is the key's last word or last
   words joined (``user_ssn``, ``x-api-key``, ``billing_address_line1``), also once trailing
   numbers and qualifiers (``QUALIFIERS``: ``phone1``, ``phone_no``, ``ssn_encrypted``) are set
   aside. The longest matching name wins; an ``allow`` name that wins makes the key an ordinary one
   (``billing_email_address`` is not hashed as an ``address``), never a trusted one. A name whose
   first word is a predicate (``PREDICATES``: ``is_mobile``, ``has_password``) states a yes/no fact
   and is not matched by its last words.

Words are split at separators (anything but a letter or digit), case changes (``userSSN``,
``IPAddress``) and between letters and digits (``phone1``), after lookalike letters are folded:
NFKC (fullwidth and mathematical letters), then Unicode's confusables (``cio_security.sanitizer.
lookalikes``: Cyrillic, Greek, Armenian, Cherokee and other letters that look like ASCII ones). A
name written as one lowercase word (``userssn``) cannot be split and is matched whole only.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from typing import Final

from cio_security.sanitizer.detectors import Detection, detect

HASH_SUFFIX: Final = "_hash"
# Keys up to this length are cached (normalised forms and descriptions); longer ones are described
# anew each time, so that a stream of long random keys cannot fill the caches with large entries.
CACHED_KEY_LENGTH: Final = 256

# What a policy does with a key (``key_action``). A policy stores DROP, HASH and ALLOW for its
# names; the others are what matching finds for keys that are not policy names themselves.
PLAIN: Final = 0  # an ordinary key: containers walked, strings and numbers scanned
DROP: Final = 1
HASH: Final = 2
ALLOW: Final = 3  # trusted: a scalar value is kept as it is, containers are still walked
HASHED: Final = 4  # names a hashed field: only a digest (or None) is kept, never a raw value
HASH_LIKE: Final = 5  # an ordinary key whose name ends in "hash": it may collide with a hashed one
DETECTED: Final = 6  # the key itself holds a card number, an SSN or an IBAN
NOT_ALLOWED: Final = 7  # a policy in deny_unknown mode does not name the key: dropped
# How a policy stores an allowed name whose values are still scanned (not in its ``trusted`` set):
# the key passes as an ordinary one (PLAIN or HASH_LIKE), and a deny_unknown policy lets it through.
ALLOW_SCANNED: Final = 8

# Trailing words that qualify the thing a name ends with rather than name another thing.
QUALIFIERS: Final = frozenset(
    {
        "number", "num", "no", "nr", "value", "val", "raw", "plain", "plaintext", "encrypted",
        "enc", "hash", "hashed", "confirm", "confirmation",
    }
)  # fmt: skip

# First words that make a name a yes/no fact about a thing rather than the thing ("is_mobile",
# "has_password"): such a name is not matched by its last words.
PREDICATES: Final = frozenset({"is", "has", "had", "was", "were", "can", "should", "will", "did", "does"})

_NOT_KEY_CHARACTER: Final = re.compile(r"[\W_]+")
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ALPHANUMERIC_RUN: Final = re.compile(r"[^\W_]+")
_ASCII_WORD: Final = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_SEVERITY: Final = {ALLOW: 0, ALLOW_SCANNED: 0, HASH: 1, DROP: 2}


@functools.cache
def _lookalike_table() -> dict[int, str]:
    """The lookalikes as a ``str.translate`` table, loaded when a non-ASCII key first needs it."""
    from cio_security.sanitizer.lookalikes import LOOKALIKES  # noqa: PLC0415 - only for non-ASCII keys

    return {ord(char): ascii_form for char, ascii_form in LOOKALIKES.items()}


def _fold_lookalikes(key: str) -> str:
    """``key`` with compatibility forms and lookalike letters folded, case kept where it can be
    (a lookalike of an uppercase letter becomes the uppercase ASCII letter), for splitting words."""
    key = unicodedata.normalize("NFKC", key)
    if key.isascii():
        return key
    table = _lookalike_table()
    out = []
    for char in key:
        if not char.isascii():
            lower = char.casefold()
            ascii_form = table.get(ord(lower)) if len(lower) == 1 else None
            if ascii_form is not None:
                char = ascii_form.upper() if char.isupper() else ascii_form  # noqa: PLW2901
        out.append(char)
    return "".join(out)


def _normalize(key: str) -> str:
    if not key.isascii():
        key = unicodedata.normalize("NFKC", key).casefold().translate(_lookalike_table())
    return _NOT_KEY_CHARACTER.sub("", key.casefold())


_normalize_cached = functools.lru_cache(maxsize=8192)(_normalize)


def normalize_key(key: str) -> str:
    """Fold a key's case, separators (``_``, ``-``, spaces, any punctuation), compatibility forms
    (fullwidth letters) and lookalike letters (Cyrillic a, Greek omicron...), so that camelCase,
    snake_case, kebab-case, acronyms and homoglyphs agree.

    >>> {normalize_key(k) for k in ("creditCardNumber", "credit-card-number", "CREDIT_CARD_NUMBER")}
    {'creditcardnumber'}
    >>> normalize_key("IPAddress") == normalize_key("ip_address")
    True
    """
    return _normalize_cached(key) if len(key) <= CACHED_KEY_LENGTH else _normalize(key)


def _unicode_words(run: str) -> list[str]:
    """A run of letters and digits split at case changes and between letters and digits."""
    words, start = [], 0
    for index in range(1, len(run)):
        before, char = run[index - 1], run[index]
        if (
            before.isdigit() != char.isdigit()
            or (char.isupper() and not before.isupper())
            or (before.isupper() and char.isupper() and index + 1 < len(run) and run[index + 1].islower())
        ):
            words.append(run[start:index])
            start = index
    words.append(run[start:])
    return words


def key_words(key: str) -> tuple[str, ...]:
    """The words of a key, folded like ``normalize_key`` (see the module docstring).

    >>> key_words("userSSN"), key_words("x-api-key"), key_words("IPAddress")
    (('user', 'ssn'), ('x', 'api', 'key'), ('ip', 'address'))
    """
    folded = _fold_lookalikes(key)
    words: list[str] = []
    for run in _ALPHANUMERIC_RUN.findall(folded):
        words += _ASCII_WORD.findall(run) if run.isascii() else _unicode_words(run)
    return tuple(_normalize(word) for word in words)


def _suffix_action(words: tuple[str, ...], names: dict[str, int], longest: int) -> int | None:
    """The action of the longest policy name that the key's last words make, also once trailing
    numbers and qualifiers are set aside (the more severe one between names of one length)."""
    best: tuple[int, int] | None = None  # (length, severity)
    action = None
    end = len(words)
    while end > 0:
        joined = ""
        for start in range(end - 1, -1, -1):
            joined = words[start] + joined
            if len(joined) > longest:
                break
            found = names.get(joined)
            if found is not None and (rank := (len(joined), _SEVERITY.get(found, 0))) > (best or (0, -1)):
                best, action = rank, found
        last = words[end - 1]
        if not (last.isdigit() or last in QUALIFIERS):
            break
        end -= 1
    return action


def key_action(key: str, names: dict[str, int], longest: int) -> int:
    """What a policy (``names``: normalised name -> DROP, HASH, ALLOW or ALLOW_SCANNED;
    ``longest``: the length of its longest name) does with ``key``: one of PLAIN, DROP, HASH,
    ALLOW, HASHED, HASH_LIKE (see the module docstring; a key named by an ALLOW_SCANNED name is an
    ordinary one, PLAIN or HASH_LIKE). The key's own content (a card number in it) is not
    considered."""
    normalised = normalize_key(key)
    exact = names.get(normalised)
    if exact == ALLOW_SCANNED:
        return HASH_LIKE if normalised.endswith("hash") else PLAIN
    if exact is not None:
        return exact
    words = key_words(key)
    ends_in_hash = normalised.endswith("hash")
    if ends_in_hash and (
        names.get(normalised[:-4]) == HASH
        or (words[-1:] == ("hash",) and _suffix_action(words[:-1], names, longest) == HASH)
    ):
        return HASHED
    action = None if len(words) > 1 and words[0] in PREDICATES else _suffix_action(words, names, longest)
    if action is None or action in (ALLOW, ALLOW_SCANNED):
        return HASH_LIKE if ends_in_hash else PLAIN
    return action


def key_segment(key: str) -> str:
    """A key's path segment in the report: ``.name``, or ``["first name"]`` when the key is not an
    identifier."""
    return f".{key}" if _IDENTIFIER.fullmatch(key) else f"[{json.dumps(key)}]"


REDACTED_SEGMENT: Final = "[?]"

# What the walk needs to know of a key under a policy: its action (DETECTED when the key holds
# sensitive data), its path segment, and a detail: the detection for DETECTED, the normalised name
# of the key's "_hash" output for HASH, the key's normalised name for HASHED and HASH_LIKE (the
# collision rule compares the two), "" otherwise.
type KeyInfo = tuple[int, str, str]
# How many descriptions a policy keeps (in a plain dict: a lookup costs less than an lru_cache
# call), emptied when full so that it stays bounded. The walk reads it directly for keys seen before
# and calls describe_key for the others.
KEY_INFOS_SIZE: Final = 8192


def describe_key(
    key: str, names: dict[str, int], longest: int, cache: dict[str, KeyInfo], *, deny_unknown: bool = False
) -> KeyInfo:
    """Describe a key under a policy; kept in ``cache`` when it is a plain ``str`` of at most
    ``CACHED_KEY_LENGTH`` characters (a subclass is described anew, with its own methods). With
    ``deny_unknown`` (the policy's mode), an ordinary key that no allowed name names whole is
    NOT_ALLOWED.

    >>> describe_key("phone_hash", {"phone": HASH}, 5, {})
    (4, '.phone_hash', 'phonehash')
    >>> describe_key("plan", {"phone": HASH}, 5, {}, deny_unknown=True)[0] == NOT_ALLOWED
    True
    """
    cached = type(key) is str and len(key) <= CACHED_KEY_LENGTH
    if cached and (info := cache.get(key)) is not None:
        return info
    detection: Detection | None = detect(key)
    if detection is not None:
        info = (DETECTED, REDACTED_SEGMENT, detection)
    else:
        action = key_action(key, names, longest)
        if deny_unknown and action in (PLAIN, HASH_LIKE) and names.get(normalize_key(key)) != ALLOW_SCANNED:
            action = NOT_ALLOWED
        if action == HASH:
            detail = normalize_key(key + HASH_SUFFIX)
        elif action in (HASHED, HASH_LIKE):
            detail = normalize_key(key)
        else:
            detail = ""
        info = (action, key_segment(key), detail)
    if cached:
        if len(cache) >= KEY_INFOS_SIZE:
            cache.clear()
        cache[key] = info
    return info
