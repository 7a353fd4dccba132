"""The address of the client behind a request, for per-address throttles.

The connection's peer (REMOTE_ADDR) is the client unless it is one of the reverse proxies named
in the TRUSTED_PROXIES setting. Then X-Forwarded-For is read from the right (each proxy appends
the address it was reached from), trusted proxies are skipped, and the first address that is
not one of them is the client. Entries left of it were written by whoever sent the request and
prove nothing, so a visitor cannot pick their own address by sending the header: from a peer
that is not a trusted proxy the header is ignored altogether."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def parse_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """The networks of TRUSTED_PROXIES (a single address is a network of one)."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES: {entry!r} is neither an IP address nor a network "
                "such as 10.0.0.0/8."
            ) from None
    return tuple(networks)


def _address(text: str):
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket is the same client.
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def client_address(request) -> str:
    """The client's address as text: REMOTE_ADDR, or from X-Forwarded-For when REMOTE_ADDR is
    a trusted proxy (see the module's docstring)."""
    peer = request.META.get("REMOTE_ADDR") or ""
    networks = parse_networks(tuple(settings.TRUSTED_PROXIES))
    address = _address(peer)
    if not networks or not _trusted(address, networks):
        return str(address) if address is not None else peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        hop_address = _address(hop)
        if hop_address is None:
            # Garbage from the trusted proxy's side: the last hop it vouched for is what we know.
            break
        address = hop_address
        if not _trusted(address, networks):
            break
    return str(address)
