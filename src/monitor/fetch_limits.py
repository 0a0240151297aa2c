"""Size caps and deadlines: gzip/deflate inflated in bounded pieces (a gzip bomb never inflates in
one go), and the total-deadline watchdog that shuts a request's socket when its deadline passes."""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from isal import isal_zlib

_DECODE_PIECE = 256 * 1024  # most decoded bytes produced from one step of gzip/deflate
# Inflating is ~0.35 ms of CPU per news page with zlib; ISA-L's inflate (isal_zlib, zlib's API and
# stream formats) takes half that, in the one process that fetches for every worker.
# (isal's stub declares `error` as an instance; it is the exception class)
DecodeError: tuple[type[Exception], ...] = (zlib.error, isal_zlib.error)  # type: ignore[assignment]


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
        self._d: isal_zlib.Decompress | None = None
        self._head = b""
        self._gap: bytes | None = None  # bytes seen after a complete gzip member
        self._done = False

    def _new(self, data: bytes) -> isal_zlib.Decompress:
        if self.kind == "gzip":
            return isal_zlib.decompressobj(16 + zlib.MAX_WBITS)
        wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0
        return isal_zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)

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
                self._d = isal_zlib.decompressobj(16 + zlib.MAX_WBITS)
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


# --- total deadline watchdog ------------------------------------------------------------------


class _Watchdog:
    """Shuts down the request's socket(s) when the total deadline passes.

    Per-read timeouts cannot stop a server that drips the response *headers* one byte at a
    time, and body chunks are checked only once headers are complete; this closes that gap.
    While it is entered it is the calling thread's watchdog: the default client's connections
    (fetch_pool) register their socket before every read and write (``watch_socket``), so a
    kept connection reused by this request is covered too. With an injected client or through
    a proxy, sockets come from httpcore's documented ``trace`` extension (new connections only;
    those clients do not keep connections alive).
    """

    _EVENTS = ("connection.connect_tcp.complete", "connection.start_tls.complete")

    def __init__(self, delay: float) -> None:
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._finished = False
        self.fired = False
        self._last: socket.socket | None = None  # the socket watched last: one test per read
        self._at = time.monotonic() + max(0.0, delay)

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down when the deadline passes (now, if it has passed)."""
        if sock is self._last:
            return
        with self._lock:
            if self._finished:
                return
            self._last = sock
            self._socks.append(sock)
            fired = self.fired
        if fired:
            _shutdown(sock)

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
        _CURRENT.watchdog = self
        return self

    def __exit__(self, *exc: object) -> None:
        _CURRENT.watchdog = None
        with self._lock:
            self._finished = True  # a later _fire does nothing
            self._socks = []  # queued until its deadline: do not keep the sockets that long
            self._last = None


_CURRENT = threading.local()  # .watchdog: the watchdog of the request this thread is sending


def watch_socket(sock: socket.socket | None) -> None:
    """Put `sock` under the calling thread's current watchdog, if any (a thread-local look-up:
    cheap enough for every read and write of a connection)."""
    watchdog: _Watchdog | None = getattr(_CURRENT, "watchdog", None)
    if watchdog is not None and sock is not None:
        watchdog.watch(sock)


def watchdog_fired() -> bool:
    """Whether the calling thread's current watchdog has shut its sockets (deadline passed)."""
    watchdog: _Watchdog | None = getattr(_CURRENT, "watchdog", None)
    return watchdog is not None and watchdog.fired


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
