"""Keyed hashing: HMAC-SHA256 with the pepper, full hex. Never a bare SHA-256, which a phone
number's or an IP address's small space makes trivially reversible."""

from __future__ import annotations

import functools
import hashlib
import hmac


def pepper_bytes(pepper: str | bytes) -> bytes:
    """Accept the pepper as str (UTF-8) or bytes; refuse an empty one."""
    key = pepper.encode("utf-8") if isinstance(pepper, str) else bytes(pepper)
    if not key:
        raise ValueError("pepper must not be empty")
    return key


def keyed_hash(value: str | bytes, pepper: str | bytes) -> str:
    """HMAC-SHA256 of ``value`` keyed with ``pepper``, as 64 lowercase hex characters.

    >>> keyed_hash("+44 20 7946 0000", "x" * 32) == keyed_hash("+44 20 7946 0000", "x" * 32)
    True
    """
    data = value.encode("utf-8") if isinstance(value, str) else value
    mac = _keyed(pepper_bytes(pepper)).copy()
    mac.update(data)
    return mac.hexdigest()


@functools.lru_cache(maxsize=8)
def _keyed(key: bytes) -> hmac.HMAC:
    """An HMAC already keyed with ``key``: copying it skips the key schedule on every hash (a
    record hashes several values with the same pepper). Few peppers live in one process."""
    return hmac.new(key, digestmod=hashlib.sha256)
