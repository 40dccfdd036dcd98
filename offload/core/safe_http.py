"""Outbound HTTP to addresses users typed in (webhook endpoints), without SSRF.

A URL a client saves is fetched by our server, from inside our network. Without a
guard, `http://169.254.169.254/` (cloud metadata), `http://localhost:5432/` or a
name that resolves to 10.0.0.5 would make Offload a proxy into its own network.

Two checks:
- when the URL is saved, `url_problem` refuses other schemes, credentials in the
  URL, literal private addresses and names that are internal by definition
  (`localhost`, `*.local`, ...). Names are not resolved here: DNS can change
  between saving and sending, so a check at save time would be theatre;
- when sending, `post` connects and then checks the address actually connected to
  (the socket's peer) before a byte of the request is sent, so DNS rebinding and
  names that resolve privately are refused too. Redirects are not followed: a 3xx
  is a failed delivery, never a second request to wherever it points.

`OFFLOAD_ALLOW_PRIVATE_URLS` turns both checks off for development and tests,
where the receiver runs on loopback.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

from django.conf import settings

BAD_SCHEME = "must be an http:// or https:// URL"
NO_HOST = "must name a host"
CREDENTIALS = "must not carry a user name or password; sign with the endpoint's secret instead"
PRIVATE_HOST = "'{host}' is a private, loopback or link-local address; use a public one"
INTERNAL_NAME = "'{host}' is an internal host name; use a public one"
BAD_PORT = "the port is not a number between 1 and 65535"

INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")
INTERNAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class BlockedAddress(OSError):
    """The name resolved to an address we do not send to."""


def _allow_private() -> bool:
    return bool(getattr(settings, "OFFLOAD_ALLOW_PRIVATE_URLS", False))


def is_public(address: str) -> bool:
    """Whether an IP address is globally routable (not private, loopback, link-local,
    multicast, reserved or unspecified; IPv4-mapped IPv6 judged as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def url_problem(url: str) -> str | None:
    """Why `url` may not be an outbound target, or None."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in {"http", "https"}:
        return BAD_SCHEME
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        return BAD_PORT
    if not host:
        return NO_HOST
    if parts.username or parts.password:
        return CREDENTIALS
    if port == 0:
        return BAD_PORT
    if _allow_private():
        return None
    host = host.rstrip(".").lower()
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        if host in INTERNAL_NAMES or host.endswith(INTERNAL_SUFFIXES) or "." not in host:
            return INTERNAL_NAME.format(host=host)
        return None
    return None if is_public(str(literal)) else PRIVATE_HOST.format(host=host)


def _check_peer(sock: socket.socket | None, host: str) -> None:
    if sock is None or _allow_private():
        return
    peer = sock.getpeername()[0]
    if not is_public(peer):
        sock.close()
        raise BlockedAddress(f"{host} resolved to {peer}, which is not a public address")


class _GuardedHTTP(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _check_peer(self.sock, self.host)


class _GuardedHTTPS(http.client.HTTPSConnection):
    def connect(self) -> None:
        # The TCP connection first, checked, then TLS over it: nothing is sent to a
        # blocked address, not even a ClientHello.
        http.client.HTTPConnection.connect(self)
        _check_peer(self.sock, self.host)
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(self.sock, server_hostname=self.host)


def post(
    url: str, body: bytes, headers: Mapping[str, str], *, timeout: float
) -> tuple[int | None, str]:
    """POST `body` to `url`: (status code, error); the error is empty on a 2xx answer.

    Never raises for network trouble: the error says what happened."""
    problem = url_problem(url)
    if problem:
        return None, f"refused: {problem}"
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    connection_class = _GuardedHTTPS if parts.scheme.lower() == "https" else _GuardedHTTP
    connection = connection_class(host, parts.port, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=dict(headers))
        response = connection.getresponse()
        status = response.status
        reason = response.reason
        response.read(64 * 1024)  # drain a little, so the connection closes cleanly
    except BlockedAddress as exc:
        return None, f"refused: {exc}"
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()
    if 200 <= status < 300:
        return status, ""
    return status, f"HTTP {status} {reason}".strip()
