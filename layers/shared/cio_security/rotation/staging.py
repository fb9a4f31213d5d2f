"""The staging secret (DESIGN 5): where the operator writes the next value of a rotated secret.

Customer.io issues keys in its own UI, so the rotation generates nothing: the operator writes
the new value to the secret's name + ``/staged``, and finishSecret resets it to ``{}``.

>>> staging_secret_name("cio-security/customerio/track-credentials")
'cio-security/customerio/track-credentials/staged'
>>> is_nothing_staged(" {} ")
True
"""

from __future__ import annotations

import json
from typing import Final

__all__ = ["NOTHING_STAGED", "STAGING_SUFFIX", "is_nothing_staged", "staging_secret_name"]

STAGING_SUFFIX: Final = "/staged"
NOTHING_STAGED: Final = "{}"
"""What an empty staging secret holds (the template's initial value, and finishSecret's reset)."""


def staging_secret_name(secret_name: str) -> str:
    """The staging secret of a rotated secret: its name + ``/staged``."""
    return secret_name + STAGING_SUFFIX


def is_nothing_staged(raw: str) -> bool:
    """True when a staging secret's string holds no value: blank, ``{}`` or ``null``."""
    text = raw.strip()
    if not text:
        return True
    try:
        return json.loads(text) in ({}, None)
    except ValueError:
        return False
