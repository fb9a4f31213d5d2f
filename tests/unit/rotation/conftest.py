"""Fixtures of the rotation's unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cio_security.rotation.kinds import forget_known_identities


@pytest.fixture(autouse=True)
def _no_known_identities() -> Iterator[None]:
    """Each test starts with the rotation's in-memory cache of credential identities empty."""
    forget_known_identities()
    yield
    forget_known_identities()
