"""Many loopback HTTP hosts in one thread, for tests and benchmarks of politeness across workers.

Each host is its own loopback address (127.0.0.2, 127.0.0.3, …: Linux answers on all of
127.0.0.0/8), so host names differ the way real hosts do and the Fetcher's per-host key (the
host, not the port) tells them apart. One asyncio loop serves them all; per host it records
the most requests it ever had in flight at once (from the request's head read to its response
written), each request's start time, and the count per path. Every connection is closed after
one response (HTTP/1.0).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter, defaultdict
from urllib.parse import urlsplit


def loopback(i: int) -> str:
    """The i-th test host's address: 127.0.0.2 … 127.0.0.254 (127.0.0.1 stays the usual one)."""
    if not 0 <= i < 253:
        raise ValueError(f"at most 253 loopback hosts (127.0.0.2-254), not host {i}")
    return f"127.0.0.{2 + i}"


class HostsServer:
    """`hosts` loopback hosts; `delay` seconds before each response (so overlaps last long
    enough to be seen)."""

    def __init__(self, hosts: int, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.addresses = [loopback(i) for i in range(hosts)]
        self.ports: dict[str, int] = {}
        self.routes: dict[tuple[str, str], tuple[bytes, str, float]] = {}
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.starts: dict[str, list[float]] = defaultdict(list)
        self.hits: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._thread = threading.Thread(target=self._loop.run_forever, name="hosts-server", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=30)

    async def _listen(self) -> None:
        for address in self.addresses:
            server = await asyncio.start_server(
                lambda r, w, a=address: self._handle(a, r, w), host=address, port=0, backlog=128
            )
            self._servers.append(server)
            self.ports[address] = server.sockets[0].getsockname()[1]

    def url(self, address: str, path: str) -> str:
        return f"http://{address}:{self.ports[address]}{path}"

    def add(
        self, address: str, path: str, body: bytes, content_type: str = "application/rss+xml", *, delay: float = 0.0
    ) -> str:
        """Serve `body` at `path` of `address` (replacing what was there), after `delay` seconds
        more than the server's own."""
        with self._lock:
            self.routes[(address, path)] = (body, content_type, delay)
        return self.url(address, path)

    async def _handle(self, address: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            writer.close()
            return
        parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        path = urlsplit(parts[1]).path if len(parts) > 1 else "/"
        with self._lock:
            self.in_flight[address] += 1
            self.max_in_flight[address] = max(self.max_in_flight[address], self.in_flight[address])
            self.starts[address].append(time.monotonic())
            self.hits[(address, path)] += 1
            route = self.routes.get((address, path))
        try:
            body, ctype, delay = route if route else (b"not found\n", "text/plain", 0.0)
            if self.delay + delay:
                await asyncio.sleep(self.delay + delay)
            status = "200 OK" if route else "404 Not Found"
            writer.write(
                f"HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except ConnectionError:
            pass  # a client killed mid-response
        finally:
            with self._lock:
                self.in_flight[address] -= 1
            writer.close()

    def stop(self) -> None:
        async def close() -> None:
            for server in self._servers:
                server.close()
            for server in self._servers:
                await server.wait_closed()

        try:
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()

    def __enter__(self) -> HostsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
