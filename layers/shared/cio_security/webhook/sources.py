"""The optional source-address check: defence in depth beside the signature, never instead of it.

Customer.io publishes the addresses it sends webhooks from (App API ``GET /v1/info/ip_addresses``;
they change over time). With ``WEBHOOK_ALLOWED_SOURCE_CIDRS`` set, a request from anywhere else is
refused (403) before any other work; unset, every source may try its signature.

>>> policy = SourceAddressPolicy.parse("192.0.2.0/24, 2001:db8::/32")
>>> policy.allows("192.0.2.10"), policy.allows("198.51.100.1"), policy.allows(None)
(True, False, False)
>>> SourceAddressPolicy.parse("").allows("198.51.100.1")
True
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from cio_security.config import WEBHOOK_ALLOWED_SOURCE_CIDRS
from cio_security.errors import ConfigurationError

__all__ = ["SourceAddressPolicy"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class SourceAddressPolicy:
    """The networks a request may come from; none means every source is allowed."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> SourceAddressPolicy:
        """Comma- or space-separated CIDR ranges (a bare address is a /32 or /128). Raises
        ConfigurationError naming the first invalid range (ranges are not secrets)."""
        networks: list[Network] = []
        for item in text.replace(",", " ").split():
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ConfigurationError(
                    f"{WEBHOOK_ALLOWED_SOURCE_CIDRS}: {item[:50]!r} is not a CIDR range"
                ) from None
        return cls(tuple(networks))

    @property
    def enabled(self) -> bool:
        return bool(self.networks)

    def allows(self, source_ip: str | None) -> bool:
        """Whether a request from ``source_ip`` may go on; an unknown or unparsable source is
        refused when the check is on."""
        if not self.networks:
            return True
        if not source_ip:
            return False
        try:
            address = ipaddress.ip_address(source_ip.strip())
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:192.0.2.10 is 192.0.2.10
        return any(address in network for network in self.networks)
