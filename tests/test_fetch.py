"""Fetcher against the real test server on 127.0.0.1, and the pure SSRF guard.

No test sends a packet anywhere but loopback: addresses outside 127.0.0.0/8 and ::1 only ever
appear behind an injected resolver and are refused (or checked by the pure check_address)
before any connection.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from httpserver import SAMPLE_RSS, TestServer
from monitor import USER_AGENT
from monitor.errors import BlockedAddressError, FetchError
from monitor.fetch import (
    Fetcher,
    _BoundedDecoder,
    check_address,
    parse_retry_after,
)
from monitor.models import FetchSettings

LM = "Mon, 01 Jan 2024 00:00:00 GMT"
FAST = FetchSettings(
    timeout=1.0,
    deadline=3.0,
    host_spacing=0.0,
    max_feed_bytes=1024 * 1024,
    max_page_bytes=512 * 1024,
)
LOOPBACK_OK = FetchSettings(
    allow_hosts=("127.0.0.1",),
    timeout=1.0,
    deadline=3.0,
    host_spacing=0.0,
)


# Size caps are not about time: roomy timeouts keep these tests independent of machine load
# (the bomb body is prebuilt when httpserver is imported, so no request pays for it).
ROOMY = replace(FAST, timeout=15.0, deadline=60.0)
ROOMY_PAGES = replace(LOOPBACK_OK, timeout=15.0, deadline=60.0)


def no_dns(host: str) -> list[str]:
    raise AssertionError(f"unexpected DNS lookup of {host}")


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FAST) as f:
        yield f


@pytest.fixture
def page_fetcher() -> Iterator[Fetcher]:
    with Fetcher(LOOPBACK_OK) as f:
        yield f


# --- feeds: 200, validators, conditional GET ---------------------------------------------------


def test_200_with_validators_and_user_agent(server: TestServer, fetcher: Fetcher) -> None:
    server.add("/feed.xml", SAMPLE_RSS, etag='"v1"', last_modified=LM)
    res = fetcher.fetch_feed(server.url("/feed.xml"))
    assert res.status == 200
    assert not res.not_modified
    assert res.content == SAMPLE_RSS
    assert res.etag == '"v1"'
    assert res.last_modified == LM
    assert res.url == res.final_url == server.url("/feed.xml")
    assert res.permanent_redirect is None
    assert res.headers["content-type"] == "application/xml"
    assert all(k == k.lower() for k in res.headers)
    req = server.requests_for("/feed.xml")[0]
    assert req.headers["user-agent"] == USER_AGENT
    assert "if-none-match" not in req.headers
    assert "if-modified-since" not in req.headers
    assert "gzip" in req.headers["accept-encoding"]


def test_validators_are_independent(server: TestServer, fetcher: Fetcher) -> None:
    server.add("/etag-only.xml", SAMPLE_RSS, etag='"e"')
    server.add("/lm-only.xml", SAMPLE_RSS, last_modified=LM)
    server.add("/none.xml", SAMPLE_RSS)
    r = fetcher.fetch_feed(server.url("/etag-only.xml"))
    assert (r.etag, r.last_modified) == ('"e"', None)
    r = fetcher.fetch_feed(server.url("/lm-only.xml"))
    assert (r.etag, r.last_modified) == (None, LM)
    r = fetcher.fetch_feed(server.url("/none.xml"))
    assert (r.etag, r.last_modified) == (None, None)


def test_conditional_get_304(server: TestServer, fetcher: Fetcher) -> None:
    server.add("/feed.xml", SAMPLE_RSS, etag='"v1"', last_modified=LM)
    first = fetcher.fetch_feed(server.url("/feed.xml"))
    second = fetcher.fetch_feed(server.url("/feed.xml"), etag=first.etag, last_modified=first.last_modified)
    assert second.status == 304
    assert second.not_modified
    assert second.content == b""
    assert second.etag == '"v1"'
    assert second.last_modified == LM
    req = server.requests_for("/feed.xml")[1]
    assert req.headers["if-none-match"] == '"v1"'
    assert req.headers["if-modified-since"] == LM

    # Last-Modified alone is enough; the validator we sent is handed back on 304
    server.add("/lm.xml", SAMPLE_RSS, last_modified=LM)
    r = fetcher.fetch_feed(server.url("/lm.xml"), last_modified=LM)
    assert r.status == 304
    assert r.last_modified == LM
    assert r.etag is None
    # a changed resource answers 200 again with the new validator
    server.add("/feed.xml", SAMPLE_RSS + b"<!-- v2 -->", etag='"v2"')
    r = fetcher.fetch_feed(server.url("/feed.xml"), etag='"v1"')
    assert r.status == 200
    assert r.etag == '"v2"'


def test_gzip_decoded(server: TestServer, fetcher: Fetcher) -> None:
    server.add("/z.xml", SAMPLE_RSS, gzip=True)
    res = fetcher.fetch_feed(server.url("/z.xml"))
    assert res.content == SAMPLE_RSS
    assert res.headers["content-encoding"] == "gzip"


@pytest.mark.parametrize("wrapped", [True, False])
def test_deflate_decoded(server: TestServer, fetcher: Fetcher, wrapped: bool) -> None:
    if wrapped:
        body = zlib.compress(SAMPLE_RSS)
    else:
        c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        body = c.compress(SAMPLE_RSS) + c.flush()
    server.add("/d.xml", body, headers={"Content-Encoding": "deflate"})
    assert fetcher.fetch_feed(server.url("/d.xml")).content == SAMPLE_RSS


def test_bounded_decoder_multi_member_and_small_pieces() -> None:
    data = gzip.compress(b"a" * 100_000) + gzip.compress(b"b" * 50_000)
    dec = _BoundedDecoder("gzip", piece=1000)
    out = []
    for i in range(0, len(data), 7):
        out.extend(dec.feed(data[i : i + 7]))
    out.extend(dec.flush())
    assert all(len(p) <= 1000 for p in out)
    assert b"".join(out) == b"a" * 100_000 + b"b" * 50_000


def test_corrupt_gzip_is_fetch_error(server: TestServer, fetcher: Fetcher) -> None:
    server.add("/bad.xml", b"\x1f\x8b\x08\x00garbage-garbage", headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="could not decode gzip"):
        fetcher.fetch_feed(server.url("/bad.xml"))


# --- faults ------------------------------------------------------------------------------------


def _fails(fetcher: Fetcher, url: str, *, page: bool = False) -> tuple[FetchError, float]:
    t0 = time.monotonic()
    with pytest.raises(FetchError) as info:
        if page:
            fetcher.fetch_page(url)
        else:
            fetcher.fetch_feed(url)
    return info.value, time.monotonic() - t0


@pytest.mark.slow
def test_hang_times_out(server: TestServer, fetcher: Fetcher) -> None:
    err, elapsed = _fails(fetcher, server.fault("hang"))
    assert "timed out after" in str(err)
    assert err.status is None
    assert elapsed < 20


@pytest.mark.slow
def test_drip_stopped_by_total_deadline(server: TestServer, fetcher: Fetcher) -> None:
    # one byte every 0.5 s never trips the 1 s read timeout; the 3 s deadline stops it
    err, elapsed = _fails(fetcher, server.fault("drip"))
    assert str(err) == "timed out after 3 s (total deadline for the request)"
    assert 2.5 < elapsed < 20


@pytest.mark.slow
def test_header_drip_stopped_by_total_deadline(server: TestServer, fetcher: Fetcher) -> None:
    # headers arrive one byte per 0.5 s: no read timeout, no body chunk; the watchdog stops it
    err, elapsed = _fails(fetcher, server.fault("driphead"))
    assert str(err) == "timed out after 3 s (total deadline for the request)"
    assert 2.5 < elapsed < 20


def test_500(server: TestServer, fetcher: Fetcher) -> None:
    err, _ = _fails(fetcher, server.fault("500"))
    assert str(err) == "HTTP 500 Internal Server Error"
    assert err.status == 500
    assert err.retry_after is None
    assert not err.permanent


def test_503_retry_after_seconds(server: TestServer, fetcher: Fetcher) -> None:
    err, _ = _fails(fetcher, server.fault("503"))
    assert str(err) == "HTTP 503 Service Unavailable (retry after 120 s)"
    assert err.status == 503
    assert err.retry_after == 120
    assert not err.permanent


def test_429_retry_after_http_date(server: TestServer, fetcher: Fetcher) -> None:
    err, _ = _fails(fetcher, server.fault("429"))
    assert err.status == 429
    assert err.retry_after is not None
    assert 30 < err.retry_after <= 61
    assert str(err).startswith("HTTP 429 Too Many Requests (retry after ")


def test_410_gone_is_permanent(server: TestServer, fetcher: Fetcher) -> None:
    err, _ = _fails(fetcher, server.fault("gone"))
    assert str(err) == "HTTP 410 Gone"
    assert err.status == 410
    assert err.permanent


def test_404(server: TestServer, fetcher: Fetcher) -> None:
    err, _ = _fails(fetcher, server.fault("notfound"))
    assert str(err) == "HTTP 404 Not Found"
    assert err.status == 404
    assert not err.permanent


def test_gzip_bomb_capped(server: TestServer) -> None:
    with Fetcher(ROOMY) as fetcher:
        err, elapsed = _fails(fetcher, server.fault("gzipbomb"))
    assert str(err) == f"response larger than {FAST.max_feed_bytes} bytes"
    assert elapsed < 60


def test_gzip_bomb_capped_for_pages(server: TestServer) -> None:
    with Fetcher(ROOMY_PAGES) as page_fetcher:
        err, _ = _fails(page_fetcher, server.fault("gzipbomb"), page=True)
    assert str(err) == f"response larger than {LOOPBACK_OK.max_page_bytes} bytes"


def test_oversized_capped(server: TestServer) -> None:
    with Fetcher(ROOMY) as fetcher:
        err, elapsed = _fails(fetcher, server.fault("oversized"))
    assert str(err) == f"response larger than {FAST.max_feed_bytes} bytes"
    assert elapsed < 60


def test_oversized_without_content_length_capped(server: TestServer, fetcher: Fetcher) -> None:
    # gzip-encoded, so the Content-Length shortcut cannot apply: capped while streaming
    server.add("/big.xml", b" " * (3 * 1024 * 1024), gzip=True)
    err, _ = _fails(fetcher, server.url("/big.xml"))
    assert str(err) == f"response larger than {FAST.max_feed_bytes} bytes"


@pytest.mark.parametrize("kind", ["wrongtype", "html", "truncated"])
def test_content_faults_are_delivered_for_the_parser(server: TestServer, fetcher: Fetcher, kind: str) -> None:
    # not transport errors: the fetcher hands them over; the parser decides
    res = fetcher.fetch_feed(server.fault(kind))
    assert res.status == 200
    assert res.content
    expected = {"wrongtype": "image/png", "html": "text/html", "truncated": "application/rss"}
    assert res.headers["content-type"].startswith(expected[kind])


def test_redirect_loop(server: TestServer, fetcher: Fetcher) -> None:
    err, _ = _fails(fetcher, server.fault("redirectloop", "a"))
    assert str(err).startswith("redirect loop")
    assert len(server.requests) == 2


def test_too_many_redirects(server: TestServer, fetcher: Fetcher) -> None:
    for i in range(12):
        server.add_redirect(f"/r{i}", f"/r{i + 1}")
    server.add("/r12", SAMPLE_RSS)
    err, _ = _fails(fetcher, server.url("/r0"))
    assert str(err) == "too many redirects (more than 10)"
    # ten are fine
    assert fetcher.fetch_feed(server.url("/r2")).content == SAMPLE_RSS


def test_reset(server: TestServer, fetcher: Fetcher) -> None:
    err, _ = _fails(fetcher, server.fault("reset"))
    msg = str(err)
    assert msg in ("connection reset by peer", "connection closed by server without a response")


def test_connection_refused(fetcher: Fetcher) -> None:
    err, _ = _fails(fetcher, "http://127.0.0.1:1/feed.xml")
    assert str(err) == "connection refused"


def test_unsupported_scheme_for_feeds(fetcher: Fetcher) -> None:
    err, _ = _fails(fetcher, "ftp://127.0.0.1/feed.xml")
    assert "unsupported URL scheme 'ftp'" in str(err)


def test_invalid_url_is_fetch_error(fetcher: Fetcher) -> None:
    with pytest.raises(FetchError):
        fetcher.fetch_feed("http://[::1/feed")


@pytest.mark.slow
def test_many_faults_concurrently_bounded(server: TestServer) -> None:
    kinds = ["hang", "drip", "driphead", "500", "503", "429", "gzipbomb", "oversized", "reset", "gone"]
    with Fetcher(FAST) as f:
        errors: dict[str, str] = {}

        def run(kind: str) -> None:
            try:
                f.fetch_feed(server.fault(kind))
            except FetchError as exc:
                errors[kind] = str(exc)

        t0 = time.monotonic()
        threads = [threading.Thread(target=run, args=(k,)) for k in kinds]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert time.monotonic() - t0 < 40
    assert set(errors) == set(kinds)


# --- redirects -----------------------------------------------------------------------------------


def test_permanent_redirect_reported(server: TestServer, fetcher: Fetcher) -> None:
    server.add("/feeds/new.xml", SAMPLE_RSS, etag='"n"')
    res = fetcher.fetch_feed(server.fault("moved", "feeds/new.xml"))
    assert res.status == 200
    assert res.content == SAMPLE_RSS
    assert res.permanent_redirect == server.url("/feeds/new.xml")
    assert res.final_url == server.url("/feeds/new.xml")
    assert res.url == server.fault("moved", "feeds/new.xml")
    assert res.etag == '"n"'


def test_chained_permanent_and_temporary_redirects(server: TestServer, fetcher: Fetcher) -> None:
    server.add("/c.xml", SAMPLE_RSS)
    server.add_redirect("/a.xml", "/b.xml", status=308)
    server.add_redirect("/b.xml", "/c.xml", status=301)
    assert fetcher.fetch_feed(server.url("/a.xml")).permanent_redirect == server.url("/c.xml")
    server.add_redirect("/t.xml", "/a.xml", status=302)
    res = fetcher.fetch_feed(server.url("/t.xml"))
    assert res.permanent_redirect is None  # first hop temporary: keep the configured URL
    assert res.final_url == server.url("/c.xml")
    server.add_redirect("/p.xml", "/t.xml", status=301)
    assert fetcher.fetch_feed(server.url("/p.xml")).permanent_redirect == server.url("/t.xml")


def test_redirect_keeps_conditional_headers(server: TestServer, fetcher: Fetcher) -> None:
    server.add("/new.xml", SAMPLE_RSS, etag='"x"')
    server.add_redirect("/old.xml", "/new.xml", status=301)
    res = fetcher.fetch_feed(server.url("/old.xml"), etag='"x"')
    assert res.status == 304
    assert res.permanent_redirect == server.url("/new.xml")


# --- SSRF guard ----------------------------------------------------------------------------------


def test_page_on_loopback_refused_by_default(server: TestServer, fetcher: Fetcher) -> None:
    server.add("/page.html", b"<html>x</html>", content_type="text/html")
    with pytest.raises(BlockedAddressError, match="loopback") as info:
        fetcher.fetch_page(server.url("/page.html"))
    assert info.value.permanent
    assert server.requests == []  # refused before any connection


@pytest.mark.parametrize("allow", [("127.0.0.1",), ("127.0.0.0/8",), ("localhost",)])
def test_page_allowed_by_allow_list(server: TestServer, allow: tuple[str, ...]) -> None:
    server.add("/page.html", b"<html>x</html>", content_type="text/html")
    settings = FetchSettings(allow_hosts=allow, timeout=2, deadline=5, host_spacing=0)
    host = "localhost" if allow == ("localhost",) else "127.0.0.1"
    url = f"http://{host}:{server.port}/page.html"
    with Fetcher(settings) as f:
        res = f.fetch_page(url)
    assert res.status == 200
    assert res.content == b"<html>x</html>"


def test_feed_on_loopback_not_guarded(server: TestServer, fetcher: Fetcher) -> None:
    server.add("/feed.xml", SAMPLE_RSS)
    assert fetcher.fetch_feed(server.url("/feed.xml")).status == 200


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/", "javascript:alert(1)", "x"],
)
def test_non_http_schemes_refused(url: str) -> None:
    with pytest.raises(BlockedAddressError, match="scheme"):
        check_address(url, ("127.0.0.1", "0.0.0.0/0"), no_dns)
    with Fetcher(FAST, resolver=no_dns) as f, pytest.raises(BlockedAddressError):
        f.fetch_page(url)


def test_injected_resolver_intranet_refused() -> None:
    calls: list[str] = []

    def resolver(host: str) -> list[str]:
        calls.append(host)
        return {"intranet.test": ["127.0.0.2"]}[host]

    with Fetcher(FAST, resolver=resolver) as f:
        with pytest.raises(BlockedAddressError, match="intranet.test resolves to 127.0.0.2"):
            f.fetch_page("http://intranet.test/secret")
    assert calls == ["intranet.test"]
    # allowed by CIDR or by name (pure check: no connection)
    check_address("http://intranet.test/", ("127.0.0.0/24",), resolver)
    check_address("http://INTRANET.test./", ("intranet.test",), no_dns)


@pytest.mark.parametrize(
    ("addrs", "reason"),
    [
        (["10.0.0.5"], "private"),
        (["192.168.1.1"], "private"),
        (["172.16.0.1"], "private"),
        (["169.254.169.254"], "link-local"),
        (["fe80::1"], "link-local"),
        (["fd00::1"], "private"),
        (["224.0.0.1"], "multicast"),
        (["0.0.0.0"], "unspecified"),
        (["::"], "unspecified"),
        (["240.0.0.1"], "reserved"),
        (["::ffff:127.0.0.1"], "loopback"),
        (["100.64.0.1"], "non-public"),
        (["192.0.2.10"], "private"),  # documentation range: not globally routable
        (["93.184.215.14", "127.0.0.1"], "loopback"),  # ANY bad address refuses
    ],
)
def test_check_address_refuses_non_public(addrs: list[str], reason: str) -> None:
    # pure: the injected resolver answers; nothing connects anywhere
    with pytest.raises(BlockedAddressError, match=reason):
        check_address("https://evil.test/x", (), lambda host: addrs)


def test_check_address_accepts_public_without_connecting() -> None:
    # pure check only: this address is never connected to
    check_address("https://public.test/a", (), lambda host: ["93.184.215.14"])
    check_address("http://public.test/a", (), lambda host: ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
    check_address("http://93.184.215.14/", (), no_dns)


def test_ipv6_loopback_refused() -> None:
    with pytest.raises(BlockedAddressError, match="loopback"):
        check_address("http://[::1]:8080/", (), no_dns)
    with Fetcher(FAST, resolver=no_dns) as f, pytest.raises(BlockedAddressError, match="::1"):
        f.fetch_page("http://[::1]:1/page")
    check_address("http://[::1]:8080/", ("::1",), no_dns)
    check_address("http://[::1]:8080/", ("::1/128",), no_dns)


def test_localhost_refused_by_default() -> None:
    with pytest.raises(BlockedAddressError, match="loopback"):
        check_address("http://localhost/", (), lambda host: ["127.0.0.1", "::1"])


def test_unresolvable_host_is_not_permanent() -> None:
    def fail(host: str) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(FetchError) as info:
        check_address("http://nowhere.test/", (), fail)
    assert not isinstance(info.value, BlockedAddressError)
    assert not info.value.permanent
    assert "DNS lookup failed for nowhere.test" in str(info.value)


def test_evil_host_refused_before_connection() -> None:
    def resolver(host: str) -> list[str]:
        return ["10.0.0.5"]

    transport_calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        transport_calls.append(request)
        return httpx.Response(200)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    with Fetcher(FAST, client=client, resolver=resolver) as f:
        with pytest.raises(BlockedAddressError, match="10.0.0.5"):
            f.fetch_page("http://evil.test/")
    assert transport_calls == []
    client.close()


def test_redirect_to_disallowed_loopback_refused(server: TestServer) -> None:
    server.add_redirect("/go", "http://127.0.0.1:1/secret")
    server.add_redirect("/go-named", "http://internal.test:1/secret")
    server.add_redirect("/go-file", "file:///etc/passwd")
    # only 127.0.0.1 itself is allowed: the hops to 127.0.0.9 / file: / 127.0.0.1 by name fail
    narrow = FetchSettings(allow_hosts=("127.0.0.1/32",), timeout=1, deadline=3, host_spacing=0)
    resolver_calls: list[str] = []

    def resolver(host: str) -> list[str]:
        resolver_calls.append(host)
        return {"internal.test": ["127.0.0.9"]}[host]

    with Fetcher(narrow, resolver=resolver) as f:
        with pytest.raises(BlockedAddressError, match="127.0.0.9"):
            f.fetch_page(server.url("/go-named"))
        with pytest.raises(BlockedAddressError, match="scheme"):
            f.fetch_page(server.url("/go-file"))
    assert resolver_calls == ["internal.test"]
    # the same redirect from a host allowed by NAME to an IP that is not allowed
    named = FetchSettings(allow_hosts=("localhost",), timeout=1, deadline=3, host_spacing=0)
    with Fetcher(named) as f, pytest.raises(BlockedAddressError, match="127.0.0.1"):
        f.fetch_page(f"http://localhost:{server.port}/go")


def test_redirect_within_allowed_hosts_followed(server: TestServer, page_fetcher: Fetcher) -> None:
    server.add("/final.html", b"<html>ok</html>", content_type="text/html")
    server.add_redirect("/start.html", server.url("/final.html"))
    res = page_fetcher.fetch_page(server.url("/start.html"))
    assert res.content == b"<html>ok</html>"
    assert res.final_url == server.url("/final.html")
    assert res.permanent_redirect is None


# --- Retry-After ---------------------------------------------------------------------------------


def test_parse_retry_after() -> None:
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after(" 0 ", now) == 0
    assert parse_retry_after("-5", now) == 0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now) == 0  # in the past
    assert parse_retry_after("Mon, 01 Jan 2024 12:01:00 -0000", now) == 60
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("", now) is None
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("nan", now) is None


# --- politeness ----------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(round(seconds, 6))
            self.now += seconds


def test_host_spacing_with_fake_clock(server: TestServer) -> None:
    server.add("/a.xml", SAMPLE_RSS)
    clock = FakeClock()
    settings = FetchSettings(timeout=2, deadline=5, host_spacing=2.5)
    with Fetcher(settings, clock=clock, sleep=clock.sleep) as f:
        f.fetch_feed(server.url("/a.xml"))
        assert clock.sleeps == []
        f.fetch_feed(server.url("/a.xml"))
        f.fetch_feed(server.url("/a.xml"))
        assert clock.sleeps == [2.5, 2.5]
        clock.now += 1.0  # partly waited already
        f.fetch_feed(server.url("/a.xml"))
        assert clock.sleeps == [2.5, 2.5, 1.5]
        clock.now += 10.0  # long enough: no wait
        f.fetch_feed(server.url("/a.xml"))
        assert clock.sleeps == [2.5, 2.5, 1.5]
        # another host name has its own spacing
        f.fetch_feed(f"http://localhost:{server.port}/a.xml")
        assert clock.sleeps == [2.5, 2.5, 1.5]
    assert len(server.requests) == 6


def test_host_spacing_reserves_slots_for_concurrent_callers(server: TestServer) -> None:
    server.add("/a.xml", SAMPLE_RSS)
    clock = FakeClock()
    settings = FetchSettings(timeout=2, deadline=5, host_spacing=1.0, per_host=8)
    # a clock that never advances: concurrent callers must queue at 1 s intervals
    frozen: list[float] = []

    def sleep(seconds: float) -> None:
        with clock.lock:
            frozen.append(round(seconds, 6))

    with Fetcher(settings, clock=clock, sleep=sleep) as f:
        threads = [threading.Thread(target=f.fetch_feed, args=(server.url("/a.xml"),)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
    assert sorted(frozen) == [1.0, 2.0, 3.0]


def test_per_host_concurrency_limit(server: TestServer) -> None:
    active = 0
    peak = 0
    lock = threading.Lock()
    gate = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        gate.wait(0.2)
        with lock:
            active -= 1
        return httpx.Response(200, content=b"ok")

    client = httpx.Client(transport=httpx.MockTransport(handler))
    settings = FetchSettings(timeout=2, deadline=10, host_spacing=0, per_host=2)
    with Fetcher(settings, client=client) as f:
        threads = [threading.Thread(target=f.fetch_feed, args=(f"http://feeds.test/{i}",)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
    client.close()
    assert peak == 2


def test_injected_client_still_sends_user_agent(server: TestServer) -> None:
    server.add("/a.xml", SAMPLE_RSS)
    client = httpx.Client()
    with Fetcher(FAST, client=client) as f:
        f.fetch_feed(server.url("/a.xml"))
    assert server.requests[0].headers["user-agent"] == USER_AGENT
    assert not client.is_closed  # the caller owns it
    client.close()
