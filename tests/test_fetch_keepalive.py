"""Keep-alive in the default Fetcher: connections reused per host name only, pinned to checked
addresses, under the deadline watchdog, bounded, retried once when the server drops a kept one.

Every connection goes to 127.0.0.1 (tests/httpserver.py in keep-alive mode); host names resolve
through injected resolvers, and the feeds' (system) name resolution is replaced by a backend
that connects to 127.0.0.1.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers import LoopbackNetwork
from httpserver import SAMPLE_RSS, TestServer
from monitor.errors import BlockedAddressError, FetchError
from monitor.fetch import Fetcher
from monitor.models import FetchSettings

TLS = Path(__file__).resolve().parent / "fixtures" / "tls"  # self-signed, for pinned.test
SETTINGS = FetchSettings(allow_hosts=("127.0.0.1",), timeout=5.0, deadline=10.0, host_spacing=0.0)
NAMES = {"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"], "pinned.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}


def resolve(host: str) -> list[str]:
    return NAMES[host]


@pytest.fixture
def ka() -> Iterator[TestServer]:
    srv = TestServer(keep_alive=True)
    try:
        yield srv
    finally:
        srv.stop()


def wait_for(condition: object, seconds: float = 10.0) -> bool:
    """Poll `condition` (a callable) until true or `seconds` pass; the server's threads see a
    client's close asynchronously."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return bool(condition())  # type: ignore[operator]


def test_pages_of_one_host_share_one_connection(ka: TestServer) -> None:
    for i in range(5):
        ka.add(f"/p{i}.html", f"<html>{i}</html>".encode(), content_type="text/html", gzip=i % 2 == 1)
    ka.add("/cached.html", b"<html>c</html>", content_type="text/html", etag='"v1"')
    ka.add_redirect("/old.html", "/p0.html", status=301)
    host = f"a.test:{ka.port}"
    with Fetcher(SETTINGS, resolver=resolve) as f:
        for i in range(5):
            assert f.fetch_page(f"http://{host}/p{i}.html").content == f"<html>{i}</html>".encode()
        assert f.fetch_page(f"http://{host}/cached.html", etag='"v1"').status == 304
        assert f.fetch_page(f"http://{host}/old.html").content == b"<html>0</html>"
        with pytest.raises(FetchError, match="HTTP 404"):
            f.fetch_page(f"http://{host}/missing.html")
        assert f.fetch_page(f"http://{host}/p1.html").content == b"<html>1</html>"
    # 5 pages, a 304, a redirect and its target, a 404, one more page: one TCP connection
    assert ka.accepted == 1
    assert ka.connection_hosts() == [[host] * 10]


def test_two_names_on_one_address_never_share_a_connection(ka: TestServer) -> None:
    ka.add("/x.html", b"<html>x</html>", content_type="text/html")
    with Fetcher(SETTINGS, resolver=resolve) as f:
        for name in ("a.test", "b.test", "a.test", "b.test", "b.test"):
            f.fetch_page(f"http://{name}:{ka.port}/x.html")
    a, b = f"a.test:{ka.port}", f"b.test:{ka.port}"
    assert [r.headers["host"] for r in ka.requests] == [a, b, a, b, b]
    assert ka.accepted == 2
    assert sorted(ka.connection_hosts()) == [[a, a], [b, b, b]]


def test_a_redirect_to_another_name_gets_its_own_connection(ka: TestServer) -> None:
    ka.add("/final.html", b"<html>ok</html>", content_type="text/html")
    ka.add_redirect("/start.html", f"http://b.test:{ka.port}/final.html")
    with Fetcher(SETTINGS, resolver=resolve) as f:
        for _ in range(2):
            res = f.fetch_page(f"http://a.test:{ka.port}/start.html")
            assert res.content == b"<html>ok</html>"
            assert res.final_url == f"http://b.test:{ka.port}/final.html"
    a, b = f"a.test:{ka.port}", f"b.test:{ka.port}"
    assert sorted(ka.connection_hosts()) == [[a, a], [b, b]]


def test_feeds_and_pages_do_not_share_connections(ka: TestServer) -> None:
    # a page must not reuse a connection a feed opened to an address nobody checked
    ka.add("/feed.xml", SAMPLE_RSS)
    ka.add("/a.html", b"<html>a</html>", content_type="text/html")
    system = LoopbackNetwork()
    with Fetcher(SETTINGS, resolver=resolve) as f:
        assert f._pool is not None
        f._pool.backend.inner = system
        for _ in range(2):
            assert f.fetch_feed(f"http://a.test:{ka.port}/feed.xml").content == SAMPLE_RSS
            assert f.fetch_page(f"http://a.test:{ka.port}/a.html").content == b"<html>a</html>"
    # the feed's connection went to the name (the 'system' resolved it), the page's to the address
    # the guard checked: two connections, each reused once
    assert system.tried == ["a.test", "127.0.0.1"]
    assert ka.accepted == 2
    assert sorted(ka.connection_hosts()) == [[f"a.test:{ka.port}"] * 2] * 2


@pytest.mark.parametrize("kind", ["drip", "driphead"])
def test_a_drip_on_a_reused_connection_is_cut_at_the_deadline(ka: TestServer, kind: str) -> None:
    ka.add("/first.html", b"<html>1</html>", content_type="text/html")
    # a drip byte every 0.5 s never trips the 5 s read timeout: only the watchdog stops it
    settings = FetchSettings(allow_hosts=("127.0.0.1",), timeout=5.0, deadline=1.5, host_spacing=0.0)
    with Fetcher(settings, resolver=resolve) as f:
        f.fetch_page(f"http://a.test:{ka.port}/first.html")
        started = time.monotonic()
        with pytest.raises(FetchError) as err:
            f.fetch_page(f"http://a.test:{ka.port}/fault/{kind}/x")
        elapsed = time.monotonic() - started
    assert str(err.value) == "timed out after 1.5 s (total deadline for the request)"
    assert elapsed < 30  # the fault drips for 60 s
    assert ka.accepted == 1  # the drip came on the reused connection


def test_a_kept_connection_dropped_by_the_server_is_retried_on_a_new_one() -> None:
    with TestServer(keep_alive=True, drop_after=1) as srv:
        srv.add("/1.html", b"<html>1</html>", content_type="text/html")
        srv.add("/2.html", b"<html>2</html>", content_type="text/html")
        with Fetcher(SETTINGS, resolver=resolve) as f:
            assert f.fetch_page(f"http://a.test:{srv.port}/1.html").content == b"<html>1</html>"
            # the kept connection reads the next request and closes unanswered
            assert f.fetch_page(f"http://a.test:{srv.port}/2.html").content == b"<html>2</html>"
        host = f"a.test:{srv.port}"
        assert srv.accepted == 2
        assert srv.connection_hosts() == [[host, host], [host]]
        assert len(srv.requests_for("/2.html")) == 2


def test_a_new_connection_dropped_by_the_server_is_an_error_not_a_retry() -> None:
    with TestServer(keep_alive=True, drop_after=0) as srv:
        srv.add("/1.html", b"<html>1</html>", content_type="text/html")
        with Fetcher(SETTINGS, resolver=resolve) as f:
            with pytest.raises(FetchError) as err:
                f.fetch_page(f"http://a.test:{srv.port}/1.html")
        assert str(err.value) == "connection closed by server without a response"
        assert len(srv.requests) == 1


def test_the_guard_checks_every_request_even_with_a_kept_connection(ka: TestServer) -> None:
    ka.add("/x.html", b"<html>x</html>", content_type="text/html")
    names = {"swap.test": ["127.0.0.1"]}
    with Fetcher(SETTINGS, resolver=lambda host: names[host]) as f:
        f.fetch_page(f"http://swap.test:{ka.port}/x.html")
        names["swap.test"] = ["127.0.0.2"]  # loopback, not allowed: refused before any connection
        with pytest.raises(BlockedAddressError, match="127.0.0.2"):
            f.fetch_page(f"http://swap.test:{ka.port}/x.html")
        assert f._pool is not None and f._pool.idle == 1  # the kept one, unused
    assert len(ka.requests) == 1


def test_politeness_still_gates_every_request_on_a_kept_connection(ka: TestServer) -> None:
    ka.add("/x.html", b"<html>x</html>", content_type="text/html")
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    settings = FetchSettings(allow_hosts=("127.0.0.1",), timeout=5.0, deadline=10.0, host_spacing=2.0)
    with Fetcher(settings, resolver=resolve, clock=lambda: now[0], sleep=sleep) as f:
        for _ in range(3):
            f.fetch_page(f"http://a.test:{ka.port}/x.html")
    assert slept == [2.0, 2.0]
    assert ka.accepted == 1


def test_close_closes_the_idle_connections(ka: TestServer) -> None:
    ka.add("/x.html", b"<html>x</html>", content_type="text/html")
    f = Fetcher(SETTINGS, resolver=resolve)
    for name in ("a.test", "b.test"):
        f.fetch_page(f"http://{name}:{ka.port}/x.html")
    assert f._pool is not None and f._pool.idle == 2
    assert wait_for(lambda: ka.open_connections() == 2)
    f.close()
    assert f._pool.idle == 0
    assert wait_for(lambda: ka.open_connections() == 0)  # the server saw both closed


@pytest.fixture
def tls_ka() -> Iterator[TestServer]:
    """The keep-alive server behind TLS with pinned.test's certificate."""
    srv = TestServer(keep_alive=True)
    srv.use_tls(TLS / "pinned.test.pem", TLS / "pinned.test.key")
    try:
        yield srv
    finally:
        srv.stop()


def test_tls_connection_kept_for_its_name_and_verified_for_another(
    tls_ka: TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls_ka.add("/a.html", b"<html>tls</html>", content_type="text/html")
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS / "pinned.test.pem"))  # trust only this certificate
    with Fetcher(SETTINGS, resolver=resolve) as f:
        for _ in range(3):
            assert f.fetch_page(f"https://pinned.test:{tls_ka.port}/a.html").content == b"<html>tls</html>"
        # the same address under a name the certificate does not carry: a new connection, refused
        with pytest.raises(FetchError, match="TLS|certificate|SSL"):
            f.fetch_page(f"https://other.test:{tls_ka.port}/a.html")
    assert len(tls_ka.requests) == 3
    assert tls_ka.connection_hosts() == [[f"pinned.test:{tls_ka.port}"] * 3]


def test_idle_connections_expire_when_the_pool_is_next_used(ka: TestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitor.fetch_pool.KEEPALIVE_EXPIRY", 0.05)
    ka.add("/x.html", b"<html>x</html>", content_type="text/html")
    with Fetcher(SETTINGS, resolver=resolve) as f:
        f.fetch_page(f"http://a.test:{ka.port}/x.html")
        time.sleep(0.3)  # longer than the expiry: a.test's connection is no longer reused
        f.fetch_page(f"http://b.test:{ka.port}/x.html")
        assert f._pool is not None and f._pool.idle == 1  # b.test's; a.test's was closed
        assert wait_for(lambda: ka.open_connections() == 1)
        f.fetch_page(f"http://a.test:{ka.port}/x.html")
    assert ka.accepted == 3


def test_idle_connections_expire_while_nothing_uses_the_pool(ka: TestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Fetcher idle between jobs (`monitor worker`) closes its expired connections anyway."""
    monkeypatch.setattr("monitor.fetch_pool.KEEPALIVE_EXPIRY", 0.1)
    ka.add("/x.html", b"<html>x</html>", content_type="text/html")
    f = Fetcher(SETTINGS, resolver=resolve)
    try:
        for name in ("a.test", "b.test"):
            f.fetch_page(f"http://{name}:{ka.port}/x.html")
        assert f._pool is not None and f._pool._sweeper is not None
        assert wait_for(lambda: ka.open_connections() == 0)  # no request since: the sweeper closed them
        assert f._pool.idle == 0
        f.fetch_page(f"http://a.test:{ka.port}/x.html")  # and the pool still works
        assert ka.accepted == 3
    finally:
        f.close()
    sweeper = f._pool._sweeper
    assert wait_for(lambda: not sweeper.is_alive())  # close() ends it


def test_idle_connections_are_bounded(ka: TestServer) -> None:
    ka.add("/x.html", b"<html>x</html>", content_type="text/html")
    with Fetcher(SETTINGS, resolver=resolve) as f:
        assert f._pool is not None
        f._pool._max_idle = 1
        for name in ("a.test", "b.test"):
            f.fetch_page(f"http://{name}:{ka.port}/x.html")
        assert f._pool.idle == 1  # the oldest (a.test's) was closed
        assert wait_for(lambda: ka.open_connections() == 1)
        f.fetch_page(f"http://b.test:{ka.port}/x.html")
    assert ka.accepted == 2
    assert sorted(ka.connection_hosts()) == [[f"a.test:{ka.port}"], [f"b.test:{ka.port}"] * 2]


def test_concurrent_fetches_reuse_at_most_per_host_connections(ka: TestServer) -> None:
    for i in range(60):
        ka.add(f"/p{i}.html", f"<html>{i}</html>".encode(), content_type="text/html")
    names = ("a.test", "b.test", "other.test")
    results: dict[int, bytes] = {}

    def one(f: Fetcher, i: int) -> None:
        results[i] = f.fetch_page(f"http://{names[i % 3]}:{ka.port}/p{i}.html").content

    settings = FetchSettings(allow_hosts=("127.0.0.1",), timeout=5.0, deadline=10.0, host_spacing=0.0, per_host=2)
    with Fetcher(settings, resolver=resolve) as f, ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(lambda i: one(f, i), range(60)))
    assert results == {i: f"<html>{i}</html>".encode() for i in range(60)}
    # a connection goes back to the pool before its request gives up its turn with the host
    assert ka.accepted <= 3 * 2
    for hosts in ka.connection_hosts():
        assert len(set(hosts)) == 1  # each connection served one host name only


def test_a_kept_connection_the_server_closed_while_idle_is_not_reused(ka: TestServer) -> None:
    ka.add("/1.html", b"<html>1</html>", content_type="text/html")
    ka.add("/2.html", b"<html>2</html>", content_type="text/html")
    with Fetcher(SETTINGS, resolver=resolve) as f:
        f.fetch_page(f"http://a.test:{ka.port}/1.html")
        ka._httpd.abort_connections()  # the server hangs up the idle connection
        assert wait_for(lambda: ka.open_connections() == 0)
        assert f.fetch_page(f"http://a.test:{ka.port}/2.html").content == b"<html>2</html>"
    # seen closed before reuse: a new connection at once, the request sent only once
    assert ka.accepted == 2
    assert len(ka.requests_for("/2.html")) == 1
