"""The address guard for article links (SSRF): refuse loopback, private, link-local and reserved
addresses, unless allowed by host, address or CIDR. Pure apart from the injected resolver."""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from monitor.errors import BlockedAddressError, FetchError
from monitor.fetch_errors import _oneline

Resolver = Callable[[str], list[str]]
"""host name -> IP address strings."""
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


# --- SSRF guard ------------------------------------------------------------------------------


def default_resolver(host: str) -> list[str]:
    """All addresses `host` resolves to (system resolver)."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        addr = str(info[4][0])
        if addr not in seen:
            seen.append(addr)
    return seen


@functools.lru_cache(maxsize=16)  # once per settings, not per request (~0.1 ms of every page)
def _parse_allow(allow_hosts: tuple[str, ...]) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    names: set[str] = set()
    nets: list[IPNetwork] = []
    for raw in allow_hosts:
        entry = raw.strip()
        if not entry:
            continue
        try:
            nets.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry.lower().rstrip("."))
    return frozenset(names), tuple(nets)


def _non_public_reason(ip: IPAddress) -> str | None:
    """Why `ip` is not a public unicast address, or None when it is."""
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "non-public"
    return None


@functools.lru_cache(maxsize=4096)  # hosts repeat (a feed's pages): ~20 us of every request saved
def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)  # addresses repeat; is_private & co. test a list of networks
def _verdict(addr: str, allow_hosts: tuple[str, ...]) -> tuple[IPAddress, str | None]:
    """The address as checked, and why it is refused (None: allowed). ValueError: not an address."""
    ip: IPAddress = ipaddress.ip_address(addr.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    names, nets = _parse_allow(allow_hosts)
    if str(ip) in names or any(ip.version == n.version and ip in n for n in nets):
        return ip, None
    return ip, _non_public_reason(ip)


def check_address(url: str, allow_hosts: Sequence[str], resolver: Resolver) -> None:
    """Refuse (BlockedAddressError) URLs the monitor must not fetch on a third party's behalf.

    Refused: a scheme other than http/https, a URL without a host, and a host with ANY address
    that is loopback, private, link-local, reserved, multicast, unspecified or otherwise not
    global -- unless the host name, the IP, or a CIDR containing the IP is in `allow_hosts`.
    A host that cannot be resolved gives a (non-permanent) FetchError.
    """
    checked_addresses(url, allow_hosts, resolver)


def checked_addresses(url: str, allow_hosts: Sequence[str], resolver: Resolver) -> tuple[str, ...]:
    """check_address, returning the addresses the host name resolved to, every one checked: the
    connection must go to one of these, not to a second DNS answer that may differ (DNS
    rebinding). Empty when there is nothing to pin: the host is an IP literal (the URL already
    names the address) or allowed by name (not resolved here), or an address has a zone index."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise BlockedAddressError(f"refused invalid URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = scheme or "(none)"
        raise BlockedAddressError(f"refused URL scheme {shown!r} (only http and https): {url}")
    if not host:
        raise BlockedAddressError(f"refused URL without a host: {url}")
    host = host.lower().rstrip(".")
    allow = tuple(allow_hosts)
    names, _ = _parse_allow(allow)
    if host in names:
        return ()
    literal = _literal(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = list(resolver(host))
        except (OSError, UnicodeError) as exc:
            raise FetchError(f"DNS lookup failed for {host}: {_oneline(exc)}") from None
        if not addresses:
            raise FetchError(f"DNS lookup failed for {host}: no addresses")
    for addr in addresses:
        try:
            ip, reason = _verdict(addr, allow)
        except ValueError:
            raise BlockedAddressError(f"refused {host}: resolver returned {addr!r}") from None
        if reason is not None:
            what = f"{ip} is" if literal is not None else f"{host} resolves to {ip},"
            raise BlockedAddressError(f"refused {url}: {what} a {reason} address (not in allow_hosts)")
    if literal is not None or any("%" in addr for addr in addresses):
        return ()
    return tuple(addresses)
