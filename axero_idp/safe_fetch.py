"""Fetching a URL that someone outside the company chose, without becoming a proxy
into the internal network (SSRF).

Used by sso/ (IdP metadata) and media/ (profile photos). Every address the host name
resolves to must be public (unless the caller's policy allows private networks; IPv6
forms that reach an internal IPv4 address through a translator count as internal); the
connection goes to the address that was checked, so a second DNS answer (rebinding)
cannot redirect it; redirects are followed only when the policy allows, each hop
checked again from scratch; the body is read in chunks up to a byte cap, under a
connect timeout, a read timeout and a total deadline. TLS is verified against the
URL's host name.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from axero_idp.errors import ValidationFailed

_CHUNK = 64 * 1024
_PATH_SAFE = "!#$%&'()*+,/:;=?@[]~"


@dataclass(frozen=True)
class FetchPolicy:
    label: str  # how messages name the URL: "metadata URL", "image URL"
    allow_private: bool
    schemes: frozenset[str]
    max_bytes: int
    # None: any port; otherwise only these (checked only when private networks are not
    # allowed: a test server listens on a random loopback port).
    ports: frozenset[int] | None = None
    max_redirects: int = 0
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    deadline: float = 20.0
    accept: str = "*/*"


@dataclass(frozen=True)
class Fetched:
    url: str  # the final URL, after redirects
    body: bytes
    content_type: str
    # 304 when a conditional request found the resource unchanged (no body).
    status: int = 200
    # The validators to send next time (RFC 9110 §8.8): ETag and Last-Modified.
    etag: str = ""
    last_modified: str = ""


@dataclass(frozen=True)
class _Answer:
    status: int
    location: str | None = None
    content_type: str = ""
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""


class FetchRefused(ValidationFailed):
    """The URL or the answer is unacceptable: asking again will not help."""


class FetchTooLarge(FetchRefused):
    """The body is larger than the policy's cap."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


class FetchFailed(ValidationFailed):
    """A network failure (connection, timeout, a 5xx): worth a retry later."""


# IPv6 ranges refused whatever they embed: IPv4-compatible (::a.b.c.d, deprecated),
# IPv4-translated (::ffff:0:a.b.c.d), NAT64 local-use and site-local (deprecated).
# Python's is_global calls all of them global.
_NEVER_PUBLIC_V6 = tuple(
    ipaddress.IPv6Network(net)
    for net in ("::/96", "::ffff:0:0:0/96", "64:ff9b:1::/48", "fec0::/10")
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches through a translator, if any:
    ::ffff:10.0.0.1 (mapped), 2002:0a00:0001:: (6to4), 64:ff9b::10.0.0.1 (NAT64)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in net for net in _NEVER_PUBLIC_V6):
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            # ::ffff:127.0.0.1 or 64:ff9b::a9fe:a9fe is an internal address in disguise.
            return embedded.is_global and not embedded.is_multicast
    return ip.is_global and not ip.is_multicast


def _address_for(host: str, port: int, policy: FetchPolicy) -> str:
    """Resolve once, check every answer, return the one address to connect to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FetchRefused(f"{policy.label}: cannot resolve {host!r}") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise FetchRefused(f"{policy.label}: cannot resolve {host!r}")
    if not policy.allow_private:
        for address in addresses:
            if not _is_public(address):
                raise FetchRefused(f"{policy.label}: {host!r} resolves to a non-public address")
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, *, address: str, connect_timeout: float, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._address = address
        self._connect_timeout = connect_timeout

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self._connect_timeout)
        self.sock.settimeout(self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, *, address: str, connect_timeout: float, **kwargs: Any) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, context=self._tls, **kwargs)
        self._address = address
        self._connect_timeout = connect_timeout

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self._connect_timeout)
        sock.settimeout(self.timeout)
        # The certificate is verified against the host name of the URL, not the address.
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str


def _target(url: str, policy: FetchPolicy) -> _Target:
    label = policy.label
    parts = urlsplit(url.strip())
    if parts.scheme not in policy.schemes:
        allowed = " or ".join(sorted(policy.schemes))
        raise FetchRefused(f"{label} must be {allowed}")
    if not parts.hostname:
        raise FetchRefused(f"{label} has no host")
    if parts.username is not None or parts.password is not None:
        raise FetchRefused(f"{label} must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise FetchRefused(f"{label} has a bad port") from exc
    if policy.ports is not None and not policy.allow_private and port not in policy.ports:
        raise FetchRefused(f"{label}: port {port} is not allowed")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # As a browser would: spaces, control and non-ASCII characters percent-encoded
    # (UTF-8), existing escapes kept. http.client refuses them raw, which looked like a
    # network failure and was retried forever.
    path = quote(path, safe=_PATH_SAFE)
    return _Target(parts.scheme, parts.hostname, port, path)


def url_check(url: str, policy: FetchPolicy) -> None:
    """FetchRefused when url's scheme, credentials or port break the policy (its address
    is checked at each request: DNS answers change)."""
    _target(url, policy)


def _late(policy: FetchPolicy) -> str:
    return f"{policy.label}: no complete answer within {policy.deadline:g} s"


def _shutdown(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _read_capped(
    response: http.client.HTTPResponse, conn: Any, policy: FetchPolicy, end: float
) -> bytes:
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > policy.max_bytes:
        raise FetchTooLarge(policy.max_bytes)  # refused before reading a byte of it
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise FetchFailed(_late(policy))
        if conn.sock is not None:
            # A trickling server keeps each read under the read timeout; the deadline
            # bounds the whole body.
            conn.sock.settimeout(min(policy.read_timeout, remaining))
        try:
            chunk = response.read1(min(_CHUNK, policy.max_bytes + 1 - size))
        except TimeoutError as exc:
            if time.monotonic() >= end:
                raise FetchFailed(_late(policy)) from exc
            raise
        if not chunk:
            if time.monotonic() >= end:
                raise FetchFailed(_late(policy))  # the watchdog cut a body short
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > policy.max_bytes:
            raise FetchTooLarge(policy.max_bytes)


def _answer(
    response: http.client.HTTPResponse,
    conn: Any,
    policy: FetchPolicy,
    end: float,
    *,
    conditional: bool,
) -> _Answer:
    """A final (not redirect) answer: its body when 200, none when 304 to a
    conditional request; anything else is refused (4xx) or failed (5xx)."""
    if response.status >= 500:
        raise FetchFailed(f"{policy.label} answered HTTP {response.status}")
    etag = response.getheader("ETag", "")[:255]
    last_modified = response.getheader("Last-Modified", "")[:64]
    if response.status == 304 and conditional:
        return _Answer(304, etag=etag, last_modified=last_modified)
    if response.status != 200:
        raise FetchRefused(f"{policy.label} answered HTTP {response.status}")
    body = _read_capped(response, conn, policy, end)
    content_type = response.getheader("Content-Type", "")
    return _Answer(200, None, content_type, body, etag, last_modified)


@contextlib.contextmanager
def _pinned_request(
    target: _Target, policy: FetchPolicy, end: float, verb: str
) -> Iterator[http.client.HTTPConnection]:
    """A connection to the address checked for target, for one request of `verb`:
    shut down at `end` under whatever read is waiting, an untrusted certificate as
    FetchRefused, network trouble as FetchFailed."""
    address = _address_for(target.host, target.port, policy)
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    conn = connection_class(
        target.host,
        port=target.port,
        address=address,
        connect_timeout=min(policy.connect_timeout, max(end - time.monotonic(), 0.001)),
        timeout=policy.read_timeout,
    )
    # The hard deadline: per-read timeouts alone let a server trickle headers or body
    # forever; at the deadline the socket is shut down under whatever read is waiting.
    watchdog = threading.Timer(max(end - time.monotonic(), 0.0), _shutdown, args=(conn,))
    watchdog.daemon = True
    watchdog.start()
    try:
        yield conn
    except ssl.SSLCertVerificationError as exc:
        # Not a network hiccup: the same certificate will fail the same way.
        raise FetchRefused(
            f"{policy.label}: TLS certificate not trusted for {target.host!r}"
        ) from exc
    except (OSError, http.client.HTTPException) as exc:
        if time.monotonic() >= end:
            raise FetchFailed(_late(policy)) from exc
        raise FetchFailed(f"{verb} failed: {type(exc).__name__}") from exc
    finally:
        watchdog.cancel()
        conn.close()


def _fetch_once(
    target: _Target, policy: FetchPolicy, end: float, headers: Mapping[str, str]
) -> _Answer:
    """One request; a redirect and a 304 carry no body."""
    with _pinned_request(target, policy, end, "fetch") as conn:
        conn.request("GET", target.path, headers={**headers, "Accept": policy.accept})
        response = conn.getresponse()
        if response.status in (301, 302, 303, 307, 308) and policy.max_redirects:
            return _Answer(response.status, location=response.getheader("Location"))
        return _answer(response, conn, policy, end, conditional=bool(headers))


def safe_fetch(
    url: str, policy: FetchPolicy, *, headers: Mapping[str, str] | None = None
) -> Fetched:
    """GET url under policy; FetchRefused (final), FetchTooLarge or FetchFailed (retry).

    `headers` adds request headers: a conditional GET passes If-None-Match /
    If-Modified-Since, and then a 304 comes back as a Fetched with status 304.
    """
    end = time.monotonic() + policy.deadline
    current = url
    for _hop in range(policy.max_redirects + 1):
        answer = _fetch_once(_target(current, policy), policy, end, headers or {})
        if answer.status in (200, 304):
            return Fetched(
                url=current,
                body=answer.body,
                content_type=answer.content_type,
                status=answer.status,
                etag=answer.etag,
                last_modified=answer.last_modified,
            )
        location = answer.location
        if not location:
            raise FetchRefused(f"{policy.label} answered HTTP {answer.status} without a Location")
        # Relative Locations are resolved against the hop that sent them; the next
        # iteration checks scheme, credentials, port and address again.
        current = urljoin(current, location)
    raise FetchRefused(f"{policy.label}: more than {policy.max_redirects} redirects")


@dataclass(frozen=True)
class Posted:
    status: int  # the receiver's HTTP status (a redirect is not followed)
    body: bytes  # the start of its answer, capped by the policy


def safe_post(url: str, policy: FetchPolicy, *, body: bytes, headers: Mapping[str, str]) -> Posted:
    """POST body to url under policy (the same address checks and deadline as a GET;
    no redirects: a webhook receiver that moved is told by its owner). Any status comes
    back; FetchRefused when the URL is unacceptable, FetchFailed on network trouble."""
    end = time.monotonic() + policy.deadline
    target = _target(url, policy)
    with _pinned_request(target, policy, end, "post") as conn:
        conn.request("POST", target.path, body=body, headers=dict(headers))
        response = conn.getresponse()
        return Posted(response.status, response.read(policy.max_bytes))
