"""Keys as the sanitizer reads them: the normalised form a policy matches (``normalize_key``), the
name a hashed field is written under (``k`` becomes ``k`` + ``HASH_SUFFIX``), and the cached
description of a key that the walk looks up for every key it meets (``key_info``).

>>> normalize_key("creditCardNumber")
'creditcardnumber'
>>> key_info("phone_hash")
('phonehash', '.phone_hash', None, 'phone', 'phone')
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

_NOT_KEY_CHARACTER: Final = re.compile(r"[\W_]+")
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _normalize(key: str) -> str:
    if not key.isascii():
        key = unicodedata.normalize("NFKC", key)
    return _NOT_KEY_CHARACTER.sub("", key.casefold())


_normalize_cached = functools.lru_cache(maxsize=8192)(_normalize)


def normalize_key(key: str) -> str:
    """Fold a key's case, separators (``_``, ``-``, spaces, any punctuation) and compatibility
    forms (fullwidth letters), so that camelCase, snake_case, kebab-case and acronyms agree.

    >>> {normalize_key(k) for k in ("creditCardNumber", "credit-card-number", "CREDIT_CARD_NUMBER")}
    {'creditcardnumber'}
    >>> normalize_key("IPAddress") == normalize_key("ip_address")
    True
    """
    return _normalize_cached(key) if len(key) <= CACHED_KEY_LENGTH else _normalize(key)


def _segment(key: str) -> str:
    """A key's path segment in the report: ``.name``, or ``["first name"]`` when the key is not an
    identifier."""
    return f".{key}" if _IDENTIFIER.fullmatch(key) else f"[{json.dumps(key)}]"


# What the walk needs to know of a key: its normalised form, its path segment, what the detectors
# find in it, and for a key ending in "_hash" the key without the suffix and that base's
# normalised form (None and "" otherwise), for the collision rule.
type KeyInfo = tuple[str, str, Detection | None, str | None, str]
# Keys repeat from record to record: their descriptions are kept in a plain dict (a lookup costs
# less than an lru_cache call), emptied when full so that it stays bounded. The walk reads it
# directly for keys seen before and calls key_info for the others.
KEY_INFOS: Final[dict[str, KeyInfo]] = {}
_KEY_INFOS_SIZE: Final = 8192


def key_info(key: str) -> KeyInfo:
    """Describe a key; kept in ``KEY_INFOS`` when it is a plain ``str`` of at most
    ``CACHED_KEY_LENGTH`` characters (a subclass is described anew, with its own methods)."""
    cached = type(key) is str and len(key) <= CACHED_KEY_LENGTH
    if cached and (info := KEY_INFOS.get(key)) is not None:
        return info
    base = key[: -len(HASH_SUFFIX)] if key.endswith(HASH_SUFFIX) else None
    info = (_normalize(key), _segment(key), detect(key), base, "" if base is None else normalize_key(base))
    if cached:
        if len(KEY_INFOS) >= _KEY_INFOS_SIZE:
            KEY_INFOS.clear()
        KEY_INFOS[key] = info
    return info
