"""HTTP fetching: polite, bounded and guarded. The only module that imports httpx.

* ``Fetcher.fetch_feed``: conditional GET of a feed (the user's own configuration, not guarded).
* ``Fetcher.fetch_page``: GET of an article page (third-party link: SSRF-guarded on every hop).

Every failure comes out as a :class:`~monitor.errors.FetchError` with a one-line message; no
httpx exception escapes. Bodies are capped on *decoded* bytes (gzip/deflate are inflated here in
bounded pieces, so a gzip bomb never inflates in one go), and every request has a total deadline
checked between body chunks, so a slow-drip server cannot hold a worker. Requests to one host
are limited in concurrency (``per_host``) and spaced (``host_spacing``).
"""

from __future__ import annotations

import email.utils
import errno
import heapq
import ipaddress
import itertools
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from monitor import USER_AGENT
from monitor.errors import BlockedAddressError, FetchError
from monitor.models import FetchResult, FetchSettings

Resolver = Callable[[str], list[str]]
"""host name -> IP address strings."""

MAX_REDIRECTS = 10
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_DECODE_PIECE = 256 * 1024  # most decoded bytes produced from one step of gzip/deflate

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
ACCEPT_ENCODING = "gzip, deflate"

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


def _parse_allow(allow_hosts: Sequence[str]) -> tuple[set[str], list[IPNetwork]]:
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
    return names, nets


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


def check_address(url: str, allow_hosts: Sequence[str], resolver: Resolver) -> None:
    """Refuse (BlockedAddressError) URLs the monitor must not fetch on a third party's behalf.

    Refused: a scheme other than http/https, a URL without a host, and a host with ANY address
    that is loopback, private, link-local, reserved, multicast, unspecified or otherwise not
    global -- unless the host name, the IP, or a CIDR containing the IP is in `allow_hosts`.
    A host that cannot be resolved gives a (non-permanent) FetchError.
    """
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
    names, nets = _parse_allow(allow_hosts)
    if host in names:
        return
    literal: IPAddress | None
    try:
        literal = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        literal = None
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
            ip: IPAddress = ipaddress.ip_address(addr.split("%", 1)[0])
        except ValueError:
            raise BlockedAddressError(f"refused {host}: resolver returned {addr!r}") from None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if str(ip) in names or any(ip.version == n.version and ip in n for n in nets):
            continue
        reason = _non_public_reason(ip)
        if reason is not None:
            what = f"{ip} is" if literal is not None else f"{host} resolves to {ip},"
            raise BlockedAddressError(f"refused {url}: {what} a {reason} address (not in allow_hosts)")


# --- Retry-After -------------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or HTTP-date); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            return None
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


# --- bounded decoding ----------------------------------------------------------------------------


def _encoding_kind(header: str) -> str | None:
    """'identity', 'gzip', 'deflate', or None for anything else (left to httpx)."""
    codings = [c.strip().lower() for c in header.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return "identity"
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip"):
        return "gzip"
    if len(codings) == 1 and codings[0] == "deflate":
        return "deflate"
    return None


class _BoundedDecoder:
    """Inflates gzip (multi-member) or deflate (zlib-wrapped or raw) in pieces of at most
    `piece` bytes, so the caller can stop a decompression bomb before it is inflated."""

    def __init__(self, kind: str, piece: int = _DECODE_PIECE) -> None:
        self.kind = kind
        self.piece = piece
        self._d: zlib._Decompress | None = None
        self._head = b""
        self._gap: bytes | None = None  # bytes seen after a complete gzip member
        self._done = False

    def _new(self, data: bytes) -> zlib._Decompress:
        if self.kind == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._done or not data:
            return
        if self._d is None:
            self._head += data
            if self.kind == "deflate" and len(self._head) < 2:
                return
            data, self._head = self._head, b""
            self._d = self._new(data)
        yield from self._run(data)

    def _run(self, data: bytes) -> Iterator[bytes]:
        assert self._d is not None
        buf = data
        while not self._done:
            if self._gap is not None:  # between gzip members: another member, or the end?
                self._gap += buf
                buf = b""
                if len(self._gap) < 2:
                    return
                if not self._gap.startswith(b"\x1f\x8b"):
                    self._done = True  # trailing garbage after the stream is ignored
                    return
                buf, self._gap = self._gap, None
                self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out = self._d.decompress(buf, self.piece)
            if out:
                yield out
            buf = self._d.unconsumed_tail
            if self._d.eof:
                if self.kind != "gzip":
                    self._done = True
                    return
                self._gap = b""
                buf = self._d.unused_data
                continue
            if not buf and len(out) < self.piece:
                return

    def flush(self) -> Iterator[bytes]:
        if self._d is None and self._head:
            data, self._head = self._head, b""
            self._d = self._new(data)
            yield from self._run(data)
        if self._d is not None and not self._done and self._gap is None:
            yield from self._run(b"")
            if not self._done:
                tail = self._d.flush()
                if tail:
                    yield tail


# --- errors ------------------------------------------------------------------------------------


def _oneline(exc: BaseException | str) -> str:
    if isinstance(exc, BaseException):
        text = str(exc) or type(exc).__name__
    else:
        text = exc
    return " ".join(text.split())


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _errnos(exc: BaseException) -> set[int]:
    return {e.errno for e in _chain(exc) if isinstance(e, OSError) and e.errno is not None}


def _transport_message(exc: Exception, host: str) -> str:
    """One-line description of an httpx transport failure (timeouts are handled by the caller)."""
    text = _oneline(exc)
    low = text.lower()
    codes = _errnos(exc)
    if isinstance(exc, httpx.ConnectError):
        if any(isinstance(e, socket.gaierror) for e in _chain(exc)) or any(
            s in low
            for s in (
                "name or service not known",
                "nodename nor servname",
                "temporary failure in name resolution",
                "no address associated",
                "name resolution",
                "getaddrinfo",
            )
        ):
            return f"DNS lookup failed for {host}"
        if errno.ECONNREFUSED in codes or "connection refused" in low:
            return "connection refused"
        if errno.ECONNRESET in codes or "connection reset" in low:
            return "connection reset by peer"
        if errno.ENETUNREACH in codes or "network is unreachable" in low:
            return "network unreachable"
        if errno.EHOSTUNREACH in codes or "no route to host" in low:
            return "host unreachable"
        if any(isinstance(e, ssl.SSLError) for e in _chain(exc)) or "ssl" in low:
            return f"TLS error: {text}"
        return f"connection failed: {text}"
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.CloseError):
        if errno.ECONNRESET in codes or "connection reset" in low:
            return "connection reset by peer"
        if errno.EPIPE in codes or "broken pipe" in low:
            return "connection closed by server (broken pipe)"
        return f"network error: {text}"
    if isinstance(exc, httpx.RemoteProtocolError):
        if "without sending a response" in low or "server disconnected" in low:
            return "connection closed by server without a response"
        if "complete message body" in low or "incomplete" in low:
            return "connection closed before the response body was complete"
        return f"HTTP protocol error: {text}"
    if isinstance(exc, httpx.ProtocolError):
        return f"HTTP protocol error: {text}"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"unsupported URL: {text}"
    if isinstance(exc, httpx.InvalidURL):
        return f"invalid URL: {text}"
    if isinstance(exc, httpx.DecodingError):
        return f"could not decode response body: {text}"
    if isinstance(exc, httpx.ProxyError):
        return f"proxy error: {text}"
    return f"HTTP error ({type(exc).__name__}): {text}"


def _status_message(status: int, reason: str, retry_after: float | None) -> str:
    reason = reason or httpx.codes.get_reason_phrase(status)
    msg = f"HTTP {status} {reason}".rstrip()
    if retry_after is not None:
        msg += f" (retry after {retry_after:.0f} s)"
    return msg


# --- total deadline watchdog ------------------------------------------------------------------


class _Watchdog:
    """Shuts down the request's socket(s) when the total deadline passes.

    Per-read timeouts cannot stop a server that drips the response *headers* one byte at a
    time, and body chunks are checked only once headers are complete; this closes that gap.
    Sockets come from httpcore's documented ``trace`` extension (new connections only, which is
    why the default client does not keep connections alive).
    """

    _EVENTS = ("connection.connect_tcp.complete", "connection.start_tls.complete")

    def __init__(self, delay: float) -> None:
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._finished = False
        self.fired = False
        self._at = time.monotonic() + max(0.0, delay)

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event not in self._EVENTS:
            return
        stream = info.get("return_value")
        getter = getattr(stream, "get_extra_info", None)
        sock = getter("socket") if callable(getter) else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._socks.append(sock)
            fired = self.fired
        if fired:
            _shutdown(sock)

    def _fire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.fired = True
            socks = list(self._socks)
        for sock in socks:
            _shutdown(sock)

    def __enter__(self) -> _Watchdog:
        _DEADLINES.add(self._at, self._fire)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._finished = True  # a later _fire does nothing


class _Deadlines:
    """One daemon thread fires every request's watchdog. (A threading.Timer per request cost a
    thread start per request: ~30 % of the CPU of a 304 re-poll.) A finished watchdog stays
    queued until its deadline and is then dropped: firing it is a no-op."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()  # ties never compare the callables
        self._thread: threading.Thread | None = None

    def add(self, at: float, fire: Callable[[], None]) -> None:
        with self._cond:
            heapq.heappush(self._queue, (at, next(self._order), fire))
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(target=self._run, name="fetch-deadlines", daemon=True)
                self._thread.start()
            elif self._queue[0][2] is fire:
                self._cond.notify()  # the new deadline is the earliest: wake up sooner

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                at, _, fire = self._queue[0]
                delay = at - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._queue)
            fire()


_DEADLINES = _Deadlines()


def _shutdown(sock: socket.socket) -> None:
    try:
        # the plain-socket method, also for an SSLSocket: unblocks a read in another thread
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


# --- politeness --------------------------------------------------------------------------------


class _HostGate:
    def __init__(self, per_host: int) -> None:
        self.slots = threading.BoundedSemaphore(max(1, per_host))
        self.lock = threading.Lock()
        self.last_start: float | None = None


# --- fetcher -----------------------------------------------------------------------------------


class Fetcher:
    """Thread-safe HTTP fetcher for feeds and article pages (see module docstring)."""

    def __init__(
        self,
        settings: FetchSettings,
        *,
        client: httpx.Client | None = None,
        resolver: Resolver | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._resolver: Resolver = resolver or default_resolver
        self._clock = clock
        self._sleep = sleep
        self._owns_client = client is None
        self._client = client or httpx.Client(
            headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=False,
            # a fresh connection per request lets the deadline watchdog see every socket
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=0),
        )
        self._gates: dict[str, _HostGate] = {}
        self._gates_lock = threading.Lock()

    # --- public API ----------------------------------------------------------------------------

    def fetch_feed(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """Conditional GET of a feed: 304 -> ``status=304, content=b""``; errors -> FetchError."""
        headers = {"Accept": FEED_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        result = self._fetch(url, headers, cap=self.settings.max_feed_bytes, guard=False)
        if result.status == 304:
            # not modified: the validators we sent are still valid unless the server sent new
            return FetchResult(
                url=result.url,
                final_url=result.final_url,
                status=304,
                content=b"",
                headers=result.headers,
                etag=result.etag or etag,
                last_modified=result.last_modified or last_modified,
                permanent_redirect=result.permanent_redirect,
            )
        return result

    def fetch_page(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """GET of an article page; the SSRF guard checks the URL and every redirect hop. With
        validators (a re-check of a stored article) it is conditional: 304 -> ``status=304``."""
        headers = {"Accept": PAGE_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._fetch(url, headers, cap=self.settings.max_page_bytes, guard=True)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- politeness ----------------------------------------------------------------------------

    def _gate(self, host: str) -> _HostGate:
        with self._gates_lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = _HostGate(self.settings.per_host)
            return gate

    @contextmanager
    def _polite(self, host: str) -> Iterator[None]:
        """Hold one of the host's `per_host` slots, starting at least `host_spacing` seconds
        after the previous request start to that host (slots are reserved under a lock, so
        concurrent callers queue up at spacing intervals)."""
        gate = self._gate(host)
        gate.slots.acquire()
        try:
            spacing = max(0.0, self.settings.host_spacing)
            with gate.lock:
                now = self._clock()
                start = now if gate.last_start is None else max(now, gate.last_start + spacing)
                gate.last_start = start
            wait = start - now
            if wait > 0:
                self._sleep(wait)
            yield
        finally:
            gate.slots.release()

    # --- core ----------------------------------------------------------------------------------

    def _fetch(self, url: str, headers: dict[str, str], *, cap: int, guard: bool) -> FetchResult:
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING, **headers}
        deadline = max(0.001, self.settings.deadline)
        started: float | None = None
        current = url
        seen: set[str] | None = None  # built on the first redirect: parsing URLs is not free
        permanent: str | None = None
        permanent_chain = True
        redirects = 0
        while True:
            if guard:
                check_address(current, self.settings.allow_hosts, self._resolver)
            try:
                parts = urlsplit(current)
                scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
            except ValueError as exc:
                raise FetchError(f"invalid URL {current!r}: {_oneline(exc)}") from None
            if scheme not in ("http", "https"):
                raise FetchError(f"unsupported URL scheme {scheme or '(none)'!r}: {current}")
            if not host:
                raise FetchError(f"invalid URL {current!r}: no host")
            with self._polite(host):
                if started is None:
                    started = time.monotonic()
                deadline_at = started + deadline
                outcome = self._one_request(current, headers, host, cap, deadline_at)
            if isinstance(outcome, FetchResult):
                return FetchResult(
                    url=url,
                    final_url=outcome.final_url,
                    status=outcome.status,
                    content=outcome.content,
                    headers=outcome.headers,
                    etag=outcome.etag,
                    last_modified=outcome.last_modified,
                    permanent_redirect=permanent,
                )
            status, target = outcome
            redirects += 1
            if redirects > MAX_REDIRECTS:
                raise FetchError(f"too many redirects (more than {MAX_REDIRECTS})")
            key = _url_key(target)
            if seen is None:
                seen = {_url_key(url)}
            if key in seen:
                raise FetchError(f"redirect loop: {current} redirects back to {target}")
            seen.add(key)
            if permanent_chain and status in _PERMANENT_REDIRECTS:
                permanent = target
            else:
                permanent_chain = False
            current = target

    def _one_request(
        self, url: str, headers: dict[str, str], host: str, cap: int, deadline_at: float
    ) -> FetchResult | tuple[int, str]:
        """One hop: a FetchResult, or (status, absolute target URL) for a redirect."""
        remaining = deadline_at - time.monotonic()
        if remaining <= 0:
            raise self._deadline_error()
        per_op = max(0.001, min(self.settings.timeout, remaining))
        limited_by_deadline = per_op < self.settings.timeout
        watchdog = _Watchdog(remaining)
        try:
            with watchdog:
                request = self._client.build_request(
                    "GET",
                    url,
                    headers=headers,
                    timeout=httpx.Timeout(per_op),
                    extensions={"trace": watchdog.trace},
                )
                response = self._client.send(request, stream=True)
                try:
                    outcome = self._handle(response, url, cap, deadline_at)
                finally:
                    response.close()
            if watchdog.fired:  # the cut-off socket may have looked like a normal end of body
                raise self._deadline_error()
            return outcome
        except FetchError:
            if watchdog.fired:
                raise self._deadline_error() from None
            raise
        except httpx.TimeoutException as exc:
            if watchdog.fired or limited_by_deadline or time.monotonic() >= deadline_at:
                raise self._deadline_error() from None
            raise FetchError(_timeout_message(exc, self.settings.timeout)) from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            if watchdog.fired:
                raise self._deadline_error() from None
            raise FetchError(_transport_message(exc, host)) from None
        except (UnicodeError, ValueError) as exc:  # e.g. an unencodable host name
            raise FetchError(f"invalid URL {url!r}: {_oneline(exc)}") from None
        except (OSError, ssl.SSLError) as exc:  # only if the watchdog raced a TLS read
            if watchdog.fired:
                raise self._deadline_error() from None
            raise FetchError(f"network error: {_oneline(exc)}") from None

    def _deadline_error(self) -> FetchError:
        return FetchError(f"timed out after {self.settings.deadline:g} s (total deadline for the request)")

    def _handle(
        self, response: httpx.Response, url: str, cap: int, deadline_at: float
    ) -> FetchResult | tuple[int, str]:
        status = response.status_code
        hdrs = {k.lower(): v for k, v in response.headers.items()}
        if status in _REDIRECT_STATUSES and hdrs.get("location", "").strip():
            location = hdrs["location"].strip()
            try:
                target = str(response.url.join(location))
            except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
                raise FetchError(f"HTTP {status} redirect to an invalid URL {location!r}: {_oneline(exc)}") from None
            return status, target
        if status == 304:
            return FetchResult(
                url=url,
                final_url=str(response.url),
                status=304,
                content=b"",
                headers=hdrs,
                etag=hdrs.get("etag"),
                last_modified=hdrs.get("last-modified"),
            )
        if 200 <= status < 300:
            content = self._read_body(response, hdrs, cap, deadline_at)
            return FetchResult(
                url=url,
                final_url=str(response.url),
                status=status,
                content=content,
                headers=hdrs,
                etag=hdrs.get("etag"),
                last_modified=hdrs.get("last-modified"),
            )
        retry_after = None
        if status in _RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after(hdrs.get("retry-after"), datetime.now(UTC))
        if status in _REDIRECT_STATUSES:
            raise FetchError(f"HTTP {status} redirect without a Location header", status=status)
        raise FetchError(
            _status_message(status, response.reason_phrase, retry_after),
            status=status,
            retry_after=retry_after,
            permanent=status == 410,
        )

    def _read_body(self, response: httpx.Response, hdrs: dict[str, str], cap: int, deadline_at: float) -> bytes:
        too_large = f"response larger than {cap} bytes"
        kind = _encoding_kind(hdrs.get("content-encoding", ""))
        if kind == "identity":
            length = hdrs.get("content-length", "").strip()
            if length.isdigit() and int(length) > cap:
                raise FetchError(too_large)
        chunks: list[bytes] = []
        total = 0

        def take(piece: bytes) -> None:
            nonlocal total
            total += len(piece)
            if total > cap:
                raise FetchError(too_large)
            chunks.append(piece)

        def check_deadline() -> None:
            if time.monotonic() > deadline_at:
                raise self._deadline_error()

        if kind is None or response.is_stream_consumed:
            # an encoding we did not ask for (br, zstd, stacked), or a response already read
            # into memory (e.g. from an injected mock transport): httpx decodes
            for piece in response.iter_bytes():
                check_deadline()
                take(piece)
            return b"".join(chunks)
        decoder = _BoundedDecoder(kind) if kind != "identity" else None
        try:
            for raw in response.iter_raw():
                check_deadline()
                if decoder is None:
                    take(raw)
                else:
                    for piece in decoder.feed(raw):
                        take(piece)
            if decoder is not None:
                for piece in decoder.flush():
                    take(piece)
        except zlib.error as exc:
            raise FetchError(f"could not decode {kind} response body: {_oneline(exc)}") from None
        return b"".join(chunks)


def _url_key(url: str) -> str:
    try:
        return str(httpx.URL(url).copy_with(fragment=None))
    except (httpx.InvalidURL, ValueError, UnicodeError):
        return url


def _timeout_message(exc: httpx.TimeoutException, timeout: float) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timed out after {timeout:g} s"
    if isinstance(exc, httpx.PoolTimeout):
        return f"timed out after {timeout:g} s waiting for a free connection"
    if isinstance(exc, httpx.WriteTimeout):
        return f"timed out after {timeout:g} s sending the request"
    return f"timed out after {timeout:g} s"
