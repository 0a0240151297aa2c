"""The test server itself: routes, conditional GET, gzip and every fault kind (127.0.0.1 only)."""

from __future__ import annotations

import email.utils
import gzip
import http.client
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from httpserver import SAMPLE_RSS, TestServer

LM = "Mon, 01 Jan 2024 00:00:00 GMT"


def _conn(server: TestServer, timeout: float = 5.0) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)


def test_serves_body_and_records_requests(server: TestServer) -> None:
    server.add("/feed.xml", b"<rss/>", headers={"X-Test": "1"})
    r = httpx.get(server.url("/feed.xml?a=1"), headers={"User-Agent": "ua-test"})
    assert r.status_code == 200
    assert r.content == b"<rss/>"
    assert r.headers["content-type"] == "application/xml"
    assert r.headers["x-test"] == "1"
    reqs = server.requests_for("/feed.xml")
    assert len(reqs) == 1
    assert reqs[0].method == "GET"
    assert reqs[0].path == "/feed.xml?a=1"
    assert reqs[0].headers["user-agent"] == "ua-test"
    assert httpx.get(server.url("/missing")).status_code == 404


def test_conditional_get(server: TestServer) -> None:
    server.add("/e.xml", b"<rss/>", etag='"v1"', last_modified=LM)
    r = httpx.get(server.url("/e.xml"))
    assert r.status_code == 200
    assert r.headers["etag"] == '"v1"'
    assert r.headers["last-modified"] == LM
    assert httpx.get(server.url("/e.xml"), headers={"If-None-Match": '"v1"'}).status_code == 304
    assert httpx.get(server.url("/e.xml"), headers={"If-None-Match": '"v0"'}).status_code == 200
    assert httpx.get(server.url("/e.xml"), headers={"If-Modified-Since": LM}).status_code == 304
    older = "Sun, 31 Dec 2023 00:00:00 GMT"
    assert httpx.get(server.url("/e.xml"), headers={"If-Modified-Since": older}).status_code == 200
    server.add("/lm.xml", b"<rss/>", last_modified=LM)
    r = httpx.get(server.url("/lm.xml"), headers={"If-Modified-Since": LM})
    assert r.status_code == 304
    assert "etag" not in r.headers
    # a resource with no validators never answers 304
    server.add("/plain.xml", b"<rss/>")
    assert httpx.get(server.url("/plain.xml"), headers={"If-None-Match": "*"}).status_code == 200


def test_gzip_and_add_file(server: TestServer, tmp_path: Path) -> None:
    server.add("/z.xml", SAMPLE_RSS, gzip=True)
    c = _conn(server)
    c.request("GET", "/z.xml")
    resp = c.getresponse()
    raw = resp.read()
    assert resp.getheader("Content-Encoding") == "gzip"
    assert gzip.decompress(raw) == SAMPLE_RSS
    assert httpx.get(server.url("/z.xml")).content == SAMPLE_RSS  # httpx decodes

    gz = tmp_path / "page.html.gz"
    gz.write_bytes(gzip.compress(b"<html>hi</html>"))
    server.add_file("/page.html", gz, "text/html")
    r = httpx.get(server.url("/page.html"))
    assert r.content == b"<html>hi</html>"
    assert "content-encoding" not in r.headers
    server.add_file("/page2.html", gz, "text/html", gzip=True)
    r = httpx.get(server.url("/page2.html"))
    assert r.headers["content-encoding"] == "gzip"
    assert r.content == b"<html>hi</html>"
    plain = tmp_path / "f.xml"
    plain.write_bytes(b"<rss/>")
    server.add_file("/f.xml", plain, "application/rss+xml", etag='"x"')
    assert httpx.get(server.url("/f.xml"), headers={"If-None-Match": '"x"'}).status_code == 304


def test_redirect_helper(server: TestServer) -> None:
    server.add("/new.xml", b"<rss/>")
    server.add_redirect("/old.xml", "/new.xml", status=301)
    r = httpx.get(server.url("/old.xml"), follow_redirects=True)
    assert r.status_code == 200
    assert str(r.url) == server.url("/new.xml")


@pytest.mark.parametrize(
    ("kind", "status"),
    [("500", 500), ("gone", 410), ("notfound", 404), ("html", 200), ("wrongtype", 200)],
)
def test_simple_status_faults(server: TestServer, kind: str, status: int) -> None:
    r = httpx.get(server.fault(kind))
    assert r.status_code == status
    if kind == "html":
        assert r.headers["content-type"].startswith("text/html")
        assert b"<html" in r.content
    if kind == "wrongtype":
        assert r.headers["content-type"] == "image/png"
        assert r.content == SAMPLE_RSS


def test_retry_after_faults(server: TestServer) -> None:
    r = httpx.get(server.fault("503"))
    assert r.status_code == 503
    assert r.headers["retry-after"] == "120"
    r = httpx.get(server.fault("429"))
    assert r.status_code == 429
    when = email.utils.parsedate_to_datetime(r.headers["retry-after"])
    delta = (when - datetime.now(UTC)).total_seconds()
    assert 30 < delta < 90


def test_truncated(server: TestServer) -> None:
    r = httpx.get(server.fault("truncated"))
    assert r.status_code == 200
    assert SAMPLE_RSS.startswith(r.content)
    assert 0 < len(r.content) < len(SAMPLE_RSS)


def test_redirect_loop_and_moved(server: TestServer) -> None:
    r = httpx.get(server.fault("redirectloop", "a"))
    assert r.status_code == 302
    assert r.headers["location"] == "/fault/redirectloop/a-b"
    r = httpx.get(server.url("/fault/redirectloop/a-b"))
    assert r.headers["location"] == "/fault/redirectloop/a"
    with pytest.raises(httpx.TooManyRedirects):
        httpx.get(server.fault("redirectloop"), follow_redirects=True)

    server.add("/feeds/new.xml", b"<rss/>")
    r = httpx.get(server.fault("moved", "feeds/new.xml"))
    assert r.status_code == 301
    assert r.headers["location"] == server.url("/feeds/new.xml")
    assert httpx.get(server.fault("moved", "feeds/new.xml"), follow_redirects=True).content == (b"<rss/>")


def test_gzipbomb(server: TestServer) -> None:
    c = _conn(server)
    c.request("GET", "/fault/gzipbomb/x")
    resp = c.getresponse()
    raw = resp.read()
    assert resp.getheader("Content-Encoding") == "gzip"
    assert len(raw) < 200_000
    d = gzip.GzipFile(fileobj=__import__("io").BytesIO(raw))
    total = 0
    while chunk := d.read(1 << 20):
        total += len(chunk)
    assert total >= 100 * 1024 * 1024


def test_oversized(server: TestServer) -> None:
    with httpx.stream("GET", server.fault("oversized")) as r:
        assert r.status_code == 200
        assert int(r.headers["content-length"]) == 50 * 1024 * 1024
        total = 0
        for chunk in r.iter_raw():
            total += len(chunk)
        assert total == 50 * 1024 * 1024


def test_hang_times_out_and_stop_is_quick() -> None:
    srv = TestServer()
    try:
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(srv.fault("hang"), timeout=0.5)
        # leave a hanging and a dripping connection open, then stop
        socks = []
        for kind in ("hang", "drip"):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.sendall(f"GET /fault/{kind}/x HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
            socks.append(s)
        time.sleep(0.3)
    finally:
        t0 = time.monotonic()
        srv.stop()
        elapsed = time.monotonic() - t0
    for s in socks:
        s.close()
    assert elapsed < 5


@pytest.mark.slow
def test_drip(server: TestServer) -> None:
    t0 = time.monotonic()
    with httpx.stream("GET", server.fault("drip"), timeout=5) as r:
        assert r.status_code == 200
        got = b""
        for chunk in r.iter_raw():
            got += chunk
            if len(got) >= 3:
                break
    assert got == SAMPLE_RSS[: len(got)]
    assert time.monotonic() - t0 >= 1.0  # three bytes at one per 0.5 s


def test_reset(server: TestServer) -> None:
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        httpx.get(server.fault("reset"))
    assert server.requests_for("/fault/reset/x")


def test_unknown_fault_kind(server: TestServer) -> None:
    with pytest.raises(ValueError):
        server.fault("nope")


@pytest.mark.slow
def test_driphead(server: TestServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET /fault/driphead/x HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        got = b""
        while got.count(b"X") < 2:
            data = s.recv(1024)
            assert data
            got += data
    assert got.startswith(b"HTTP/1.0 200 OK\r\n")


def test_default_mode_closes_every_connection(server: TestServer) -> None:
    server.add("/a.xml", b"<rss/>")
    conn = _conn(server)
    conn.request("GET", "/a.xml")
    resp = conn.getresponse()
    assert resp.read() == b"<rss/>"
    assert resp.getheader("Connection") == "close"
    assert resp.version == 10
    conn.close()


def test_keep_alive_mode_serves_many_requests_on_one_connection() -> None:
    with TestServer(keep_alive=True) as srv:
        srv.add("/a.xml", b"<rss/>", etag='"v1"')
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5.0)
        for headers in ({}, {"If-None-Match": '"v1"'}, {}):
            conn.request("GET", "/a.xml", headers=headers)
            resp = conn.getresponse()
            resp.read()
            assert resp.version == 11
            assert resp.getheader("Connection") is None
            assert resp.status == 304 or resp.getheader("Content-Length") == "6"
        conn.request("GET", "/missing")
        assert conn.getresponse().status == 404
        conn.close()
        assert srv.accepted == 1
        assert srv.connection_hosts() == [[f"127.0.0.1:{srv.port}"] * 4]
        deadline = time.monotonic() + 5
        while srv.open_connections() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert srv.open_connections() == 0


def test_drop_after_reads_the_next_request_and_closes() -> None:
    with TestServer(keep_alive=True, drop_after=1) as srv:
        srv.add("/a.xml", b"<rss/>")
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5.0)
        conn.request("GET", "/a.xml")
        assert conn.getresponse().read() == b"<rss/>"
        conn.request("GET", "/a.xml")
        with pytest.raises(http.client.RemoteDisconnected):
            conn.getresponse()
        conn.close()
        assert len(srv.requests) == 2
        assert srv.accepted == 1
