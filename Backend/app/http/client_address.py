"""Who is calling: the peer's address, or - behind a trusted proxy only - the address
the proxies say they were called from.

X-Forwarded-For can be written by anyone, so it is believed only when the direct
peer is one of TRUSTED_PROXIES. Each proxy appends the address it was called from,
so the header is read from the right: trusted proxies are skipped, and the first
address that is not one of them is the caller. Entries to its left were written by
the caller itself and are ignored. An entry that is not an address stops the walk at
the proxy that wrote it (the nearest address PayTrace can vouch for), so a forged
header can only make PayTrace see a proxy, never an address of the forger's choosing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.requests import Request

IPNetwork = IPv4Network | IPv6Network
IPAddress = IPv4Address | IPv6Address
UNKNOWN = "unknown"


def parse_address(text: str) -> IPAddress | None:
    """An address from a header entry (`1.2.3.4`, `1.2.3.4:80`, `[::1]:80`), or None."""
    text = text.strip().strip('"')
    if text.startswith("["):  # [v6]:port
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    # ::ffff:1.2.3.4 is 1.2.3.4: allow-lists are written in IPv4.
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def in_networks(address: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def forwarded_chain(header_values: Iterable[str]) -> list[str]:
    """The X-Forwarded-For entries, left to right, over every copy of the header."""
    return [part.strip() for value in header_values for part in value.split(",") if part.strip()]


def resolve_client(
    peer: str | None, forwarded_for: Sequence[str], trusted_proxies: Sequence[IPNetwork]
) -> str:
    """The caller's address, as text; UNKNOWN when the peer has no address."""
    current = parse_address(peer) if peer else None
    if current is None:
        return peer or UNKNOWN
    for entry in reversed(forwarded_for):
        if not in_networks(current, trusted_proxies):
            break
        hop = parse_address(entry)
        if hop is None:
            break
        current = hop
    return str(current)


def request_client(request: Request, trusted_proxies: Sequence[IPNetwork]) -> str:
    """The caller of `request`, as resolve_client reads it."""
    return resolve_client(
        request.client.host if request.client else None,
        forwarded_chain(request.headers.getlist("x-forwarded-for")),
        trusted_proxies,
    )
