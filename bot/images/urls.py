"""Which result URLs the bot fetches for the Images API: the one rule, checked on every hop.

An API (or a gateway, or whoever answers in its place) names the URL, so a URL is a request the
bot makes on someone else's behalf. Only http(s) is fetched; link-local and cloud metadata
addresses never are; loopback and private addresses only when the API itself lives on one (a
gateway on the same machine or network serving its own files). Every address the host resolves
to is checked, and the connection then goes to the checked address itself, so a name that answers
differently the second time (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from bot.errors import BadResponse
from bot.i18n import lazy

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REFUSED = lazy("The image service sent a result address the bot won't fetch.")
UNREACHABLE = lazy("The finished image could not be downloaded from the image service.")
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "instance-data"})
# Cloud metadata services outside link-local: AWS over IPv6, Alibaba Cloud.
METADATA_ADDRESSES = frozenset(map(ipaddress.ip_address, ("fd00:ec2::254", "100.100.100.200")))
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _never(address: IPAddress) -> bool:
    """Addresses no result may come from, whoever the API is."""
    return (
        address in METADATA_ADDRESSES
        or address.is_link_local  # 169.254.0.0/16 (the metadata address), fe80::/10
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


def allowed(address: IPAddress, *, internal_ok: bool) -> bool:
    """Whether a result may be fetched from ``address`` (internal ones only for an internal API)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if _never(address):
        return False
    return internal_ok or address.is_global


async def _addresses(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, looked up off the loop."""
    with contextlib.suppress(ValueError):
        return [ipaddress.ip_address(host)]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise BadResponse(UNREACHABLE) from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def is_internal(base_url: str) -> bool:
    """Whether the API at ``base_url`` is itself on a loopback or private address."""
    parts = urlsplit(base_url)
    found = await _addresses(parts.hostname or "", parts.port or 443)
    return any(not address.is_global for address in found)


async def check_result_url(url: str, *, internal_ok: bool) -> IPAddress:
    """The address to fetch ``url`` from; BadResponse when not http(s) or resolving anywhere forbidden."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme not in ("http", "https") or not host or host in METADATA_HOSTS:
        raise BadResponse(REFUSED, code="unsafe_url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise BadResponse(REFUSED, code="unsafe_url") from None
    found = await _addresses(host, port)
    if not found or not all(allowed(a, internal_ok=internal_ok) for a in found):
        raise BadResponse(REFUSED, code="unsafe_url")
    return found[0]


@contextlib.asynccontextmanager
async def fetch_result(
    session: aiohttp.ClientSession, url: str, api_base: str, limits: aiohttp.ClientTimeout
) -> AsyncIterator[aiohttp.ClientResponse]:
    """``session.get(url)`` for a result URL the API named, following redirects under the rule.

    The connection goes to the very address that was checked (the name is kept for the Host
    header and for TLS), so a name that answers differently the second time gains nothing.
    """
    internal_ok = await is_internal(api_base)
    target = URL(url)
    for _ in range(MAX_REDIRECTS + 1):
        address = await check_result_url(str(target), internal_ok=internal_ok)
        async with session.get(
            target.with_host(str(address)),
            headers={"Host": target.host_port_subcomponent or ""},
            server_hostname=target.host if target.scheme == "https" else None,
            timeout=limits,
            allow_redirects=False,
        ) as resp:
            location = resp.headers.get("Location")
            if resp.status not in _REDIRECTS or not location:
                yield resp
                return
        target = target.join(URL(location))
    raise BadResponse(UNREACHABLE, code="too_many_redirects")
