"""The connection pool behind the default Fetcher: HTTP keep-alive that keeps the guard's pinning.

httpcore's pool keys connections by the URL's origin (scheme, host name, port), so requests keep
the host *name* in the URL (Host header, TLS SNI and the certificate check use it as usual) and
the pinning happens here, in the network backend: a connection for a guarded request connects
to the addresses the guard checked for that very request (handed over in a thread-local: sync
httpcore creates a connection in the thread that asked for it, inside ``handle_request``),
trying them in turn. A kept connection is therefore reused only for its own host name, and every
connection of the pinned pool went to a checked address. The Fetcher keeps pinned requests and
the others (feeds, IP literals, names allowed by name) in two pools, so a page never reuses a
connection that a feed opened to an address the system resolved and nobody checked.

Every socket read and write first registers its socket with the calling thread's deadline
watchdog (``fetch_limits.watch_socket``), so a server that drips its headers on a *reused*
connection is cut at the deadline like one on a new connection.

Only fetch*.py modules import httpx and httpcore.
"""

from __future__ import annotations

import threading
import time
import typing
from collections.abc import Iterable, Iterator

import httpcore
import httpx

from monitor.fetch_limits import watch_socket, watchdog_fired

KEEPALIVE_EXPIRY = 5.0  # seconds an idle connection is kept; closed when the pool is next used
MAX_CONNECTIONS = 100
_REUSED_RETRIES = 2  # a GET that a kept connection's server dropped unanswered is sent again


class _Attempt:
    """What the backend needs to know about the request being sent in this thread."""

    __slots__ = ("addresses", "connected", "deadline_at", "host")

    def __init__(self, host: str, addresses: tuple[str, ...], deadline_at: float) -> None:
        self.host = host
        self.addresses = addresses
        self.deadline_at = deadline_at
        self.connected = False  # a new connection was opened for it (not a kept one reused)


_LOCAL = threading.local()


class _WatchedStream(httpcore.NetworkStream):
    """A connection's stream whose socket joins the current request's watchdog on every use."""

    __slots__ = ("_inner", "_sock")

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        self._sock = inner.get_extra_info("socket")

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        watch_socket(self._sock)
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        watch_socket(self._sock)
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: typing.Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        watch_socket(self._sock)  # the handshake reads too
        return _WatchedStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """httpcore's sync backend; when `pinned`, connections go only to the checked addresses."""

    def __init__(self, *, pinned: bool) -> None:
        self.pinned = pinned
        self.inner: httpcore.NetworkBackend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        attempt: _Attempt | None = getattr(_LOCAL, "attempt", None)
        if attempt is not None:
            attempt.connected = True
        if not self.pinned:
            return _WatchedStream(self.inner.connect_tcp(host, port, timeout, local_address, socket_options))
        if attempt is None or attempt.host != host or not attempt.addresses:
            # never connect a pinned pool's connection to an address nobody checked
            raise httpcore.ConnectError(f"no checked address to connect to for {host}")
        last = len(attempt.addresses) - 1
        for i, address in enumerate(attempt.addresses):
            try:
                stream = self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                left = attempt.deadline_at - time.monotonic()
                if i == last or left <= 0:
                    raise
                if timeout is None or left < timeout:  # the next address gets what is left
                    timeout = left
                continue
            return _WatchedStream(stream)
        raise AssertionError("unreachable: addresses is not empty")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class KeepAlivePool:
    """httpx's HTTPTransport in essence (the same request, response and error mapping) over an
    httpcore pool that keeps connections alive, with the backend above."""

    def __init__(self, *, pinned: bool, max_keepalive: int) -> None:
        self.backend = _Backend(pinned=pinned)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),  # as HTTPTransport (certifi, SSL_CERT_FILE)
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=max_keepalive,
            keepalive_expiry=KEEPALIVE_EXPIRY,
            network_backend=self.backend,
        )

    @property
    def connections(self) -> int:
        """Connections in the pool (open or idle)."""
        return len(self._pool.connections)

    def send(self, request: httpx.Request, addresses: tuple[str, ...], deadline_at: float) -> httpx.Response:
        """Send `request` (its body unread in the response). New connections go to `addresses`
        (the pinned pool). A kept connection that the server closed just as the request went out
        ("disconnected without sending a response", a reset) costs a resend on another one; a
        new connection's failure is the request's failure."""
        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=typing.cast(Iterable[bytes], request.stream),
            extensions=request.extensions,
        )
        attempt = _Attempt(url.raw_host.decode("ascii"), addresses, deadline_at)
        _LOCAL.attempt = attempt
        try:
            retries = _REUSED_RETRIES
            while True:
                attempt.connected = False
                try:
                    response = self._pool.handle_request(core)
                    break
                except Exception as exc:
                    if (
                        retries > 0
                        and not attempt.connected
                        and _dropped_unanswered(exc)
                        and not watchdog_fired()
                        and time.monotonic() < deadline_at
                    ):
                        retries -= 1
                        continue
                    mapped = _as_httpx(exc)
                    if mapped is exc:
                        raise
                    raise mapped from exc
        finally:
            _LOCAL.attempt = None
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(typing.cast(Iterable[bytes], response.stream)),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except Exception as exc:
            mapped = _as_httpx(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


def _dropped_unanswered(exc: Exception) -> bool:
    """The server closed (or reset) the connection before any response: safe to send a GET again."""
    if isinstance(exc, httpcore.RemoteProtocolError):
        return "without sending a response" in str(exc)
    return isinstance(exc, httpcore.ReadError | httpcore.WriteError)


# httpcore's exceptions as httpx's (the most specific match), as httpx's HTTPTransport maps them
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
)


def _as_httpx(exc: Exception) -> Exception:
    mapped: type[httpx.HTTPError] | None = None
    for source, target in _EXCEPTIONS:
        if isinstance(exc, source) and (mapped is None or issubclass(target, mapped)):
            mapped = target
    if mapped is None:
        return exc
    return mapped(str(exc))
