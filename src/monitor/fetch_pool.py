"""The connection pool behind the default Fetcher: HTTP keep-alive that keeps the guard's pinning.

Requests keep the host *name* in the URL (Host header, TLS SNI and the certificate check use it
as usual) and the pinning happens in the network backend: a guarded request's new connection
goes to the addresses the guard checked for that very request (handed over in a thread-local:
the connection is made in the thread that sends the request, inside ``send``), trying them in
turn. Connections are kept per (pinned, scheme, host name, port): a kept connection is reused
only for its own host name, every pinned one went to addresses checked for that name (by the
request that opened it; the guard still checks every request, so a name whose answer turns
private is refused before any kept connection is looked at), and a page never reuses a
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

KEEPALIVE_EXPIRY = 5.0  # seconds an idle connection is kept (then closed by the pool's sweeper, or on its next use)
MAX_CONNECTIONS = 100  # in use at once (more requests wait for one, up to the pool timeout)
MAX_IDLE = 100  # kept idle at most; the oldest is closed first


class _Attempt:
    """What the backend needs to know about the request being sent in this thread."""

    __slots__ = ("addresses", "deadline_at", "host")

    def __init__(self, host: str, addresses: tuple[str, ...], deadline_at: float) -> None:
        self.host = host
        self.addresses = addresses  # empty: not pinned, connect to the name
        self.deadline_at = deadline_at


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
    """httpcore's sync backend; a pinned request's new connection goes only to the addresses the
    guard checked for it, in turn (the next one gets what is left of the deadline)."""

    def __init__(self) -> None:
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
        if attempt is None or attempt.host != host:  # cannot happen: connections are made in send
            raise httpcore.ConnectError(f"no request is connecting to {host}")
        if not attempt.addresses:
            return _WatchedStream(self.inner.connect_tcp(host, port, timeout, local_address, socket_options))
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


_Key = tuple[bool, bytes, bytes, int]  # (pinned, scheme, host name, port)


class KeepAlivePool:
    """httpx's HTTPTransport in essence (the same request, response and error mapping) over a
    pool of httpcore connections that keeps them alive, with the backend above.

    Not httpcore's ConnectionPool: it re-examines every connection it holds twice per request
    (a readability poll per idle connection, and a count of all connections per idle one), so
    with a hundred kept connections it cost ~3 ms of CPU per request (bench_fetch). Here a
    request looks up the idle connections of its own key only; idle connections are kept in
    the order they became idle, so the expired ones are closed from the front when the pool is
    next used, and the oldest one when more than `max_idle` are idle. A sweeper thread (started
    with the first idle connection, ended by ``close``) closes the expired ones when nothing uses
    the pool: a Fetcher idle between jobs (`monitor worker`) would otherwise hold up to
    `max_idle` sockets, most of them long closed by their servers, until its next request.
    """

    def __init__(self, *, max_idle: int = MAX_IDLE) -> None:
        self.backend = _Backend()
        self._ssl_context = httpx.create_ssl_context()  # as HTTPTransport (certifi, SSL_CERT_FILE)
        self._max_idle = max_idle
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)  # connections in use
        self._lock = threading.Lock()
        self._idle: dict[httpcore.HTTPConnection, tuple[_Key, float]] = {}  # oldest first
        self._by_key: dict[_Key, list[httpcore.HTTPConnection]] = {}
        self._closed = False
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()  # set by close(): the sweeper ends

    @property
    def idle(self) -> int:
        """Idle connections kept for reuse."""
        return len(self._idle)

    def send(self, request: httpx.Request, addresses: tuple[str, ...], deadline_at: float) -> httpx.Response:
        """Send `request` (its body unread in the response). A new connection goes to
        `addresses` when given (the guard's, for this host name: pinned), else to the name. A kept
        connection that fails before a response (the server closed or reset it just as the
        request went out) costs one resend on a new connection; a new connection's failure is
        the request's failure."""
        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=typing.cast(Iterable[bytes], request.stream),
            extensions=request.extensions,
        )
        origin = core.url.origin
        key: _Key = (bool(addresses), origin.scheme, origin.host, origin.port)
        wait = request.extensions.get("timeout", {}).get("pool")
        if not self._slots.acquire(timeout=wait):
            raise httpx.PoolTimeout("no free connection")
        _LOCAL.attempt = _Attempt(origin.host.decode("ascii"), addresses, deadline_at)
        try:
            conn, response = self._exchange(core, origin, key, deadline_at)
        except BaseException:
            self._slots.release()
            raise
        finally:
            _LOCAL.attempt = None
        stream = _PooledStream(typing.cast(Iterable[bytes], response.stream), self, conn, key)
        try:
            return httpx.Response(
                status_code=response.status,
                headers=response.headers,
                stream=stream,
                extensions=response.extensions,
            )
        except BaseException:
            stream.close()  # the connection and the slot go back
            raise

    def _exchange(
        self, core: httpcore.Request, origin: httpcore.Origin, key: _Key, deadline_at: float
    ) -> tuple[httpcore.HTTPConnection, httpcore.Response]:
        fresh = False
        while True:
            conn, reused = self._checkout(key, origin, fresh)
            try:
                return conn, conn.handle_request(core)
            except Exception as exc:
                self._put_back(conn, key)  # closes it, unless it is still usable
                if reused and _reuse_failed(exc) and not watchdog_fired() and time.monotonic() < deadline_at:
                    fresh = True  # GET is idempotent: once more, on a new connection
                    continue
                mapped = _as_httpx(exc)
                if mapped is exc:
                    raise
                raise mapped from exc

    def _checkout(self, key: _Key, origin: httpcore.Origin, fresh: bool) -> tuple[httpcore.HTTPConnection, bool]:
        """An idle connection of `key` (the latest to become idle), or a new one: (it, reused)."""
        stale: list[httpcore.HTTPConnection] = []
        found: httpcore.HTTPConnection | None = None
        with self._lock:
            self._expire(time.monotonic(), stale)
            conns = None if fresh else self._by_key.get(key)
            while conns:
                conn = conns[-1]
                self._forget(conn, key)
                # expired, or the server closed it while idle (its socket reads as readable)
                if conn.has_expired() or not conn.is_available():
                    stale.append(conn)
                    continue
                found = conn
                break
        for conn in stale:
            conn.close()
        if found is not None:
            return found, True
        new = httpcore.HTTPConnection(
            origin=origin,
            ssl_context=self._ssl_context,
            keepalive_expiry=KEEPALIVE_EXPIRY,
            network_backend=self.backend,
        )
        return new, False

    def _put_back(self, conn: httpcore.HTTPConnection, key: _Key) -> None:
        """A connection its request is done with: kept idle if it can serve another, else closed."""
        stale: list[httpcore.HTTPConnection] = [conn]
        if conn.is_available():
            with self._lock:
                if not self._closed:
                    stale.pop()
                    self._idle[conn] = (key, time.monotonic())
                    self._by_key.setdefault(key, []).append(conn)
                    if self._sweeper is None:
                        self._sweeper = threading.Thread(target=self._sweep, name="fetch-idle-sweep", daemon=True)
                        self._sweeper.start()
                    while len(self._idle) > self._max_idle:
                        oldest, (old_key, _) = next(iter(self._idle.items()))
                        self._forget(oldest, old_key)
                        stale.append(oldest)
        for old in stale:
            old.close()

    def _sweep(self) -> None:
        """Every KEEPALIVE_EXPIRY seconds until close(): close the idle connections that expired."""
        while not self._stop.wait(KEEPALIVE_EXPIRY):
            stale: list[httpcore.HTTPConnection] = []
            with self._lock:
                self._expire(time.monotonic(), stale)
            for conn in stale:  # idle ones, taken out under the lock: no request holds them
                conn.close()

    def _expire(self, now: float, stale: list[httpcore.HTTPConnection]) -> None:
        """Take the connections idle for longer than KEEPALIVE_EXPIRY (under the lock)."""
        while self._idle:
            conn, (key, since) = next(iter(self._idle.items()))
            if now - since <= KEEPALIVE_EXPIRY:
                return
            self._forget(conn, key)
            stale.append(conn)

    def _forget(self, conn: httpcore.HTTPConnection, key: _Key) -> None:
        del self._idle[conn]
        conns = self._by_key[key]
        conns.remove(conn)
        if not conns:
            del self._by_key[key]

    def close(self) -> None:
        """Close the idle connections; connections still in use are closed when released."""
        self._stop.set()
        with self._lock:
            self._closed = True
            idle = list(self._idle)
            self._idle.clear()
            self._by_key.clear()
        for conn in idle:
            conn.close()


class _PooledStream(httpx.SyncByteStream):
    """A response body; closing it gives the connection back to the pool (or closes it)."""

    def __init__(self, stream: Iterable[bytes], pool: KeepAlivePool, conn: httpcore.HTTPConnection, key: _Key) -> None:
        self._stream = stream
        self._pool: KeepAlivePool | None = pool
        self._conn = conn
        self._key = key

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except Exception as exc:
            mapped = _as_httpx(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            close = getattr(self._stream, "close", None)
            if close is not None:
                close()  # an unfinished response closes its connection
        finally:
            try:
                pool._put_back(self._conn, self._key)
            finally:
                pool._slots.release()


def _reuse_failed(exc: Exception) -> bool:
    """A kept connection failed before a response: the server closed or reset it as the request
    went out ("Server disconnected without sending a response"), or it held bytes a previous
    response should not have sent (a protocol error). Not a timeout: a slow server stays slow."""
    return isinstance(exc, httpcore.RemoteProtocolError | httpcore.ReadError | httpcore.WriteError)


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
