"""Outbound requests to URLs that users type: webhooks, notification URLs (and later shop URLs).

Such a URL must not make this server reach what only it can reach: loopback, private
networks, link-local addresses (the cloud metadata service at 169.254.169.254), and the
other special ranges, in any spelling (``2130706433``, ``0x7f.1``, ``[::ffff:127.0.0.1]``).
The policy, in one place:

- :func:`check_url` when a URL is saved: a refused IP literal or ``localhost`` name is an
  input error at once;
- :func:`guarded` around every send: inside it, name lookups go through the
  policy, which resolves a host once, refuses it if any of its addresses is not public, and
  hands the HTTP library only the checked addresses. The library connects to exactly what
  was checked (there is no second lookup for a DNS-rebinding answer to sneak into), and every
  redirect opens a new connection through the same check. It works below any HTTP client
  (httpx for webhooks, ``requests`` inside apprise), so no client is trusted to get it right.

Private networks can be allowed only by the server setting ``outbound_allowed_networks``.
Tests inject the resolver (:class:`Policy` ``resolver``).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from lastmile.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]
"""``(host, port) -> addresses`` (strings): one DNS lookup."""

_system_getaddrinfo = socket.getaddrinfo
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LEGACY_IPV4 = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}", re.IGNORECASE)


BLOCKED = (
    "is not a public address (a private network can be allowed with the server setting "
    "LASTMILE_OUTBOUND_ALLOWED_NETWORKS)"
)


class BlockedAddress(socket.gaierror):
    """The host is, or resolves to, an address this server may not reach.

    A ``gaierror`` so that HTTP libraries treat it like a name that does not resolve
    (a failed delivery), never as a crash."""


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's lookup (the real one, even inside :func:`guarded`)."""
    infos = _system_getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def ip_literal(host: str) -> IPAddress | None:
    """The address if ``host`` is an IP literal in any spelling the C library accepts
    (dotted, decimal ``2130706433``, hex ``0x7f000001``, octal ``0177.0.0.1``, short
    ``127.1``, bracketed IPv6), else None."""
    name = host.strip().strip("[]").rstrip(".").split("%")[0]
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(name):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return None
    return None


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4, Teredo)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


@dataclass(frozen=True)
class Policy:
    """Which addresses outbound requests may reach, and how names are looked up."""

    allowed_networks: tuple[IPNetwork, ...] = ()
    resolver: Resolver = system_resolver
    blocked: list[str] = field(default_factory=list, compare=False)
    """Hosts refused while this policy was in force (to say why a send failed)."""

    @classmethod
    def from_settings(cls, settings: Settings, resolver: Resolver | None = None) -> Policy:
        networks = tuple(
            ipaddress.ip_network(n, strict=False) for n in settings.outbound_allowed_networks
        )
        return cls(allowed_networks=networks, resolver=resolver or default_resolver())

    def permits(self, ip: IPAddress) -> bool:
        """Public unicast addresses, and those in the explicitly allowed networks."""
        if any(ip in network for network in self.allowed_networks):
            return True
        inner = _embedded_ipv4(ip)
        if inner is not None and not self.permits(inner):
            return False
        return ip.is_global and not ip.is_multicast

    def addresses(self, host: str, port: int) -> list[str]:
        """Look ``host`` up once and return its addresses if every one is permitted."""
        literal = ip_literal(host)
        if literal is not None:
            found: list[IPAddress] = [literal]
        else:
            found = [ipaddress.ip_address(a.split("%")[0]) for a in self.resolver(host, port)]
        if not found or not all(self.permits(ip) for ip in found):
            self.blocked.append(host)
            raise BlockedAddress(socket.EAI_NONAME, f"{host} is not a public address")
        return [str(ip) for ip in found]


_resolver_override: list[Resolver] = []


def default_resolver() -> Resolver:
    """The resolver policies use unless given one (tests swap it with :func:`use_resolver`)."""
    return _resolver_override[-1] if _resolver_override else system_resolver


@contextmanager
def use_resolver(resolver: Resolver) -> Iterator[None]:
    """Resolve with ``resolver`` in every policy made inside the block (tests)."""
    _resolver_override.append(resolver)
    try:
        yield
    finally:
        _resolver_override.remove(resolver)


class UrlRefused(ValueError):
    """A URL the policy refuses outright (the message says why, for the field's error)."""


def check_url(url: str, policy: Policy, *, schemes: frozenset[str]) -> None:
    """Refuse at save time what can never be sent: another scheme, no host, ``localhost``,
    or an IP literal outside the policy. Names are checked again on every send (they can
    change), so a name is not looked up here."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError as exc:
        raise UrlRefused("is not a URL") from exc
    if parts.scheme.lower() not in schemes:
        raise UrlRefused(f"must start with {' or '.join(sorted(s + '://' for s in schemes))}")
    if not host:
        raise UrlRefused("has no host")
    if host.rstrip(".").lower() == "localhost" or host.rstrip(".").lower().endswith(".localhost"):
        raise UrlRefused("points at this server (localhost)")
    literal = ip_literal(host)
    if literal is not None and not policy.permits(literal):
        raise UrlRefused(f"points at {literal}, which {BLOCKED}")


_active: ContextVar[Policy | None] = ContextVar("lastmile_outbound_policy", default=None)
"""The policy in force: a context variable, so it follows the work into libraries that hand
it to worker threads with the caller's context (apprise does), and no further."""
_install_lock = threading.Lock()
_installed = False


def _getaddrinfo(
    host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
) -> Any:
    policy = _active.get()
    if policy is None or host is None:
        return _system_getaddrinfo(host, port, family, type, proto, flags)
    name = host.decode() if isinstance(host, bytes) else str(host)
    number = int(port) if isinstance(port, int | str) and str(port).isdigit() else 0
    results: list[Any] = []
    for address in policy.addresses(name, number):
        try:
            results += _system_getaddrinfo(
                address, port, family, type, proto, flags | socket.AI_NUMERICHOST
            )
        except socket.gaierror:
            continue  # e.g. an IPv6 address asked for with family AF_INET
    if not results:
        raise socket.gaierror(socket.EAI_NONAME, f"{name} has no usable address")
    return results


def _install() -> None:
    global _installed
    with _install_lock:
        if not _installed:
            socket.getaddrinfo = _getaddrinfo
            _installed = True


@contextmanager
def guarded(policy: Policy) -> Iterator[Policy]:
    """Every connection opened inside the block (in this thread, or in workers that run with
    a copy of its context) goes only to addresses that ``policy`` checked; other work in the
    process is unaffected."""
    _install()
    token = _active.set(policy)
    try:
        yield policy
    finally:
        _active.reset(token)


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport whose every connection goes through ``policy`` (see :func:`guarded`).

    For long-lived clients of one configured server (a routing or geocoding server): the
    connection pool opens connections, redirects included, only inside the policy, without
    wrapping each call site."""

    def __init__(self, policy: Policy, inner: httpx.BaseTransport | None = None) -> None:
        self.policy = policy
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with guarded(self.policy):
            return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
