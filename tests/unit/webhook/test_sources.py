"""The optional source-address check."""

from __future__ import annotations

import pytest

from cio_security.errors import ConfigurationError
from cio_security.webhook.sources import SourceAddressPolicy


def test_off_when_empty() -> None:
    policy = SourceAddressPolicy.parse("  ")
    assert not policy.enabled
    assert policy.allows("203.0.113.1") and policy.allows(None)


@pytest.mark.parametrize(
    ("source", "allowed"),
    [
        ("192.0.2.1", True),
        ("192.0.2.255", True),
        ("192.0.3.1", False),
        ("198.51.100.9", True),  # a bare address is a /32
        ("198.51.100.10", False),
        ("2001:db8::1", True),
        ("2001:db9::1", False),
        ("::ffff:192.0.2.7", True),  # IPv4-mapped IPv6
        ("not-an-ip", False),
        ("", False),
        (None, False),
    ],
)
def test_ranges(source: str | None, allowed: bool) -> None:
    policy = SourceAddressPolicy.parse("192.0.2.0/24,198.51.100.9 2001:db8::/32")
    assert policy.allows(source) is allowed


def test_an_invalid_range_names_itself() -> None:
    with pytest.raises(ConfigurationError, match=r"300\.1\.1\.0/24"):
        SourceAddressPolicy.parse("192.0.2.0/24, 300.1.1.0/24")
