"""A real threaded HTTP server on 127.0.0.1 for end-to-end tests, with fault injection.

Usage (see the ``server`` fixture in conftest.py)::

    server.add("/feed.xml", rss_bytes, etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    server.add_file("/page.html", Path("tests/fixtures/pages/x.html.gz"), "text/html")
    server.add_redirect("/old", "/feed.xml", status=301)
    url = server.fault("503")          # -> http://127.0.0.1:PORT/fault/503/x

Fault kinds, each served at ``/fault/<kind>/<anything>``:

==============  =================================================================================
hang            reads the request, never answers (until the server stops)
drip            200 + headers, then one body byte every 0.5 s for up to ~60 s
driphead        the status line, then the headers one byte every 0.5 s for up to ~60 s
500             500 Internal Server Error
503             503 Service Unavailable with ``Retry-After: 120``
429             429 Too Many Requests with ``Retry-After`` as an HTTP-date ~60 s ahead
gzipbomb        ``Content-Encoding: gzip``; ~100 KB on the wire, 100 MiB of zeros decoded
oversized       50 MiB plain body (with Content-Length), streamed
wrongtype       a valid RSS document served as ``image/png``
html            an HTML page, 200 ``text/html``
truncated       the first half of an RSS document
redirectloop    302 A -> B -> A (``/fault/redirectloop/x`` <-> ``/fault/redirectloop/x-b``)
reset           reads the request then closes the socket with RST (SO_LINGER 0)
gone            410 Gone
moved           301 to ``base_url + "/" + <anything>`` (``/fault/moved/feeds/a.xml``)
notfound        404 Not Found
==============  =================================================================================

By default every connection is closed after one response (HTTP/1.0 semantics), so no idle
keep-alive connection can outlive a test. ``TestServer(keep_alive=True)`` opts in to HTTP/1.1
persistent connections: every response carries a Content-Length (a 304 has no body) and no
``Connection: close``, so a client may send further requests on the connection; the hang,
drip, driphead, oversized and reset faults still end their connection. ``accepted`` counts the
TCP connections accepted, ``connection_hosts()`` lists the Host headers of the requests each
connection carried and ``open_connections()`` the ones still open. ``drop_after=N`` makes the
server read the request that follows the N-th response of a connection and close it without
answering (a server dropping a kept connection just as the client reuses it). ``stop()``
returns quickly even with hanging or dripping connections open: handler threads are daemons,
they wait on a stop event, and stop() shuts down every open client socket.
"""

from __future__ import annotations

import email.utils
import gzip as gzip_module
import http.server
import socket
import ssl
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

FAULT_KINDS = (
    "hang",
    "drip",
    "driphead",
    "500",
    "503",
    "429",
    "gzipbomb",
    "oversized",
    "wrongtype",
    "html",
    "truncated",
    "redirectloop",
    "reset",
    "gone",
    "moved",
    "notfound",
)

GZIP_BOMB_DECODED_SIZE = 100 * 1024 * 1024
OVERSIZED_SIZE = 50 * 1024 * 1024
DRIP_INTERVAL = 0.5
DRIP_MAX_SECONDS = 60.0
HANG_MAX_SECONDS = 300.0

SAMPLE_RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
  <channel>
    <title>Fault server sample feed</title>
    <link>http://127.0.0.1/</link>
    <description>A small valid RSS document used by the fault-injection server.</description>
    <item>
      <title>First sample item</title>
      <link>http://127.0.0.1/items/1</link>
      <guid isPermaLink="false">sample-1</guid>
      <pubDate>Mon, 01 Jan 2024 10:00:00 GMT</pubDate>
      <description>The first sample item of the fault server.</description>
    </item>
    <item>
      <title>Second sample item</title>
      <link>http://127.0.0.1/items/2</link>
      <guid isPermaLink="false">sample-2</guid>
      <pubDate>Tue, 02 Jan 2024 10:00:00 GMT</pubDate>
      <description>The second sample item of the fault server.</description>
    </item>
  </channel>
</rss>
"""

SAMPLE_HTML = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Not a feed</title></head>
<body><h1>Welcome</h1><p>This is an ordinary web page, not an RSS or Atom feed.</p></body>
</html>
"""


def _build_gzip_bomb() -> bytes:
    """A gzip stream (~100 KB) that decodes to GZIP_BOMB_DECODED_SIZE zero bytes.

    Cheap (tens of milliseconds): one 1 MiB chunk of zeros is deflated once and ended with a
    full flush, which resets the compressor, so every further chunk would compress to the very
    same bytes; the block is repeated, then the final block and the gzip trailer are appended.
    """
    chunk = bytes(1024 * 1024)
    count, rest = divmod(GZIP_BOMB_DECODED_SIZE, len(chunk))
    assert rest == 0
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate; the gzip framing is added here
    block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    final = comp.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name, mtime 0
    trailer = struct.pack("<II", crc, GZIP_BOMB_DECODED_SIZE & 0xFFFFFFFF)
    return header + block * count + final + trailer


# Built once at import (i.e. at collection), so no request ever pays for it.
GZIP_BOMB = _build_gzip_bomb()


def gzip_bomb() -> bytes:
    """A gzip stream (~100 KB) that decodes to GZIP_BOMB_DECODED_SIZE zero bytes (prebuilt)."""
    return GZIP_BOMB


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # as sent, including any query string
    headers: dict[str, str]  # lower-case names


@dataclass
class _Route:
    body: bytes  # as sent on the wire (already gzip-compressed when encoding is set)
    status: int = 200
    content_type: str | None = "application/xml"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    content_encoding: str | None = None


def _etag_matches(if_none_match: str, etag: str) -> bool:
    if if_none_match.strip() == "*":
        return True

    def strip_weak(tag: str) -> str:
        tag = tag.strip()
        return tag[2:] if tag.startswith("W/") else tag

    return strip_weak(etag) in {strip_weak(t) for t in if_none_match.split(",")}


def _not_modified_since(if_modified_since: str, last_modified: str) -> bool:
    if if_modified_since.strip() == last_modified.strip():
        return True
    try:
        ims = email.utils.parsedate_to_datetime(if_modified_since)
        lm = email.utils.parsedate_to_datetime(last_modified)
    except (TypeError, ValueError):
        return False
    try:
        return lm <= ims
    except TypeError:  # naive vs aware
        return False


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: TestServer

    def __init__(self, owner: TestServer) -> None:
        self.owner = owner
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request, client_address):  # type: ignore[no-untyped-def]
        with self._open_lock:
            self._open.add(request)
            self.owner.accepted += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # type: ignore[no-untyped-def]
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def abort_connections(self) -> None:
        with self._open_lock:
            socks = list(self._open)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):  # type: ignore[no-untyped-def]
        pass  # clients hanging up mid-body are expected in fault tests


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"
    timeout = 10  # socket timeout for reads/writes of one connection
    server_version = "monitor-test-server/1.0"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def setup(self) -> None:
        super().setup()
        owner = self.server.owner
        if owner.keep_alive:
            self.protocol_version = "HTTP/1.1"  # persistent connections unless one side closes
        self._served = 0  # responses sent on this connection
        self._hosts = owner._new_connection()  # Host headers of this connection's requests

    # --- dispatch --------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch(head=True)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._dispatch(head=False)

    def _dispatch(self, *, head: bool) -> None:
        owner = self.server.owner
        owner._record(
            RecordedRequest(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
            )
        )
        self._hosts.append(self.headers.get("Host", ""))
        if owner.drop_after is not None and self._served >= owner.drop_after:
            self.close_connection = True  # read, never answered: the connection is closed
            return
        self._served += 1
        path = urlsplit(self.path).path
        if path.startswith("/fault/"):
            rest = path[len("/fault/") :]
            kind, _, tail = rest.partition("/")
            self._fault(kind, tail, head=head)
            return
        route = owner._route(self.path)
        if route is None:
            self._simple(404, b"not found\n", "text/plain", head=head)
            return
        self._serve_route(route, head=head)

    # --- helpers ---------------------------------------------------------------------------

    def _simple(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        *,
        head: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if not self.server.owner.keep_alive:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _serve_route(self, route: _Route, *, head: bool) -> None:
        validators: dict[str, str] = {}
        if route.etag is not None:
            validators["ETag"] = route.etag
        if route.last_modified is not None:
            validators["Last-Modified"] = route.last_modified
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        not_modified = False
        if route.status == 200:
            if inm is not None and route.etag is not None:
                not_modified = _etag_matches(inm, route.etag)
            elif inm is None and ims is not None and route.last_modified is not None:
                not_modified = _not_modified_since(ims, route.last_modified)
        if not_modified:
            self.send_response(304)
            for name, value in validators.items():
                self.send_header(name, value)
            if not self.server.owner.keep_alive:
                self.send_header("Connection", "close")
            self.end_headers()
            return
        headers = dict(validators)
        if route.content_encoding:
            headers["Content-Encoding"] = route.content_encoding
        headers.update(route.headers)
        self._simple(route.status, route.body, route.content_type, head=head, headers=headers)

    def _wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when the server is stopping."""
        return self.server.owner._stop.wait(seconds)

    # --- faults ----------------------------------------------------------------------------

    def _fault(self, kind: str, tail: str, *, head: bool) -> None:
        owner = self.server.owner
        if kind == "hang":
            self._wait(HANG_MAX_SECONDS)
            self.close_connection = True
        elif kind == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.flush()
            payload = SAMPLE_RSS
            start = time.monotonic()
            i = 0
            while time.monotonic() - start < DRIP_MAX_SECONDS:
                if self._wait(DRIP_INTERVAL):
                    break
                try:
                    self.wfile.write(payload[i % len(payload) : i % len(payload) + 1])
                    self.wfile.flush()
                except OSError:
                    break
                i += 1
        elif kind == "driphead":
            self.close_connection = True
            try:
                self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/rss+xml\r\n")
                self.wfile.flush()
                start = time.monotonic()
                while time.monotonic() - start < DRIP_MAX_SECONDS:
                    if self._wait(DRIP_INTERVAL):
                        break
                    self.wfile.write(b"X")
                    self.wfile.flush()
            except OSError:
                pass
        elif kind == "500":
            self._simple(500, b"internal error\n", "text/plain", head=head)
        elif kind == "503":
            self._simple(503, b"try later\n", "text/plain", head=head, headers={"Retry-After": "120"})
        elif kind == "429":
            when = email.utils.formatdate(time.time() + 60, usegmt=True)
            self._simple(429, b"slow down\n", "text/plain", head=head, headers={"Retry-After": when})
        elif kind == "gzipbomb":
            self._simple(
                200,
                gzip_bomb(),
                "application/rss+xml",
                head=head,
                headers={"Content-Encoding": "gzip"},
            )
        elif kind == "oversized":
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(OVERSIZED_SIZE))
            self.send_header("Connection", "close")
            self.end_headers()
            if head:
                return
            prefix = b'<?xml version="1.0"?><rss version="2.0"><channel><title>big</title>'
            chunk = b" " * 65536
            try:
                self.wfile.write(prefix)
                sent = len(prefix)
                while sent < OVERSIZED_SIZE and not owner._stop.is_set():
                    part = chunk[: OVERSIZED_SIZE - sent]
                    self.wfile.write(part)
                    sent += len(part)
            except OSError:
                pass
        elif kind == "wrongtype":
            self._simple(200, SAMPLE_RSS, "image/png", head=head)
        elif kind == "html":
            self._simple(200, SAMPLE_HTML, "text/html; charset=utf-8", head=head)
        elif kind == "truncated":
            self._simple(200, SAMPLE_RSS[: len(SAMPLE_RSS) // 2], "application/rss+xml", head=head)
        elif kind == "redirectloop":
            name = tail or "x"
            target = name[: -len("-b")] if name.endswith("-b") else name + "-b"
            self._simple(
                302,
                b"",
                "text/plain",
                head=head,
                headers={"Location": f"/fault/redirectloop/{target}"},
            )
        elif kind == "reset":
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            self.connection.close()
        elif kind == "gone":
            self._simple(410, b"gone\n", "text/plain", head=head)
        elif kind == "moved":
            query = urlsplit(self.path).query
            location = owner.base_url + "/" + tail + (("?" + query) if query else "")
            self._simple(301, b"", "text/plain", head=head, headers={"Location": location})
        elif kind == "notfound":
            self._simple(404, b"not found\n", "text/plain", head=head)
        else:
            self._simple(404, b"unknown fault kind\n", "text/plain", head=head)


class TestServer:
    """Threaded HTTP server on 127.0.0.1 (random port) serving registered routes and faults."""

    __test__ = False  # not a pytest test class

    def __init__(self, *, keep_alive: bool = False, drop_after: int | None = None) -> None:
        self.keep_alive = keep_alive
        self.drop_after = drop_after
        self.accepted = 0  # TCP connections accepted
        self._connections: list[list[str]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._routes: dict[str, _Route] = {}
        self.requests: list[RecordedRequest] = []
        self._httpd = _Server(self)
        self.host, self.port = self._httpd.server_address[:2]  # type: ignore[misc]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"test-http-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._stopped = False

    def use_tls(self, cert: Path, key: Path) -> None:
        """Serve https from now on with this certificate (e.g. tests/fixtures/tls); the URLs
        stay http:// here: callers name the scheme and host they test."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)

    # --- registration ----------------------------------------------------------------------

    def url(self, path: str) -> str:
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + path

    def add(
        self,
        path: str,
        body: bytes,
        *,
        status: int = 200,
        content_type: str = "application/xml",
        headers: dict[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        gzip: bool = False,
    ) -> None:
        """Serve `body` at `path` (exact path; a query string, if given, must match too).

        With ``gzip=True`` the body is sent gzip-compressed with ``Content-Encoding: gzip``.
        With `etag` / `last_modified` the validators are sent and a matching If-None-Match /
        If-Modified-Since gets 304 (If-None-Match wins when both are present).
        """
        self._add(
            path,
            gzip_module.compress(body) if gzip else body,
            status=status,
            content_type=content_type,
            headers=headers,
            etag=etag,
            last_modified=last_modified,
            encoding="gzip" if gzip else None,
        )

    def add_file(
        self,
        path: str,
        file: Path,
        content_type: str,
        *,
        gzip: bool = False,
        **kw: object,
    ) -> None:
        """Serve a file. A ``.gz`` file is served decompressed, or as is with
        ``Content-Encoding: gzip`` when ``gzip=True``; other files are compressed on request."""
        data = Path(file).read_bytes()
        if str(file).endswith(".gz"):
            if gzip:
                self._add(path, data, content_type=content_type, encoding="gzip", **kw)  # type: ignore[arg-type]
                return
            data = gzip_module.decompress(data)
        self.add(path, data, content_type=content_type, gzip=gzip, **kw)  # type: ignore[arg-type]

    def add_redirect(self, path: str, location: str, *, status: int = 302) -> None:
        """Redirect `path` to `location` (absolute URL or a path on this server)."""
        self._add(path, b"", status=status, content_type="text/plain", headers={"Location": location})

    def remove(self, path: str) -> None:
        with self._lock:
            self._routes.pop(path, None)

    def fault(self, kind: str, name: str = "x") -> str:
        """URL of a faulty endpoint; for ``moved`` pass the target path as `name`."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        return self.url(f"/fault/{kind}/{name.lstrip('/')}")

    def _add(
        self,
        path: str,
        body: bytes,
        *,
        status: int = 200,
        content_type: str | None = "application/xml",
        headers: dict[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        encoding: str | None = None,
    ) -> None:
        if not path.startswith("/"):
            path = "/" + path
        route = _Route(
            body=body,
            status=status,
            content_type=content_type,
            headers=dict(headers or {}),
            etag=etag,
            last_modified=last_modified,
            content_encoding=encoding,
        )
        with self._lock:
            self._routes[path] = route

    def _route(self, raw_path: str) -> _Route | None:
        with self._lock:
            route = self._routes.get(raw_path)
            if route is None:
                route = self._routes.get(urlsplit(raw_path).path)
            return route

    # --- inspection ------------------------------------------------------------------------

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def _new_connection(self) -> list[str]:
        hosts: list[str] = []
        with self._lock:
            self._connections.append(hosts)
        return hosts

    def connection_hosts(self) -> list[list[str]]:
        """For each connection that carried a request, the Host headers of its requests."""
        with self._lock:
            return [list(hosts) for hosts in self._connections if hosts]

    def open_connections(self) -> int:
        """Client connections the server still has open (idle kept ones included)."""
        with self._httpd._open_lock:
            return len(self._httpd._open)

    def requests_for(self, path: str) -> list[RecordedRequest]:
        """Requests whose path (with or without the query string) equals `path`."""
        with self._lock:
            reqs = list(self.requests)
        return [r for r in reqs if r.path == path or urlsplit(r.path).path == path]

    # --- lifecycle -------------------------------------------------------------------------

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.abort_connections()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> TestServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
