"""How the Fetcher connects: to the addresses the guard checked (pinned, with the host name kept
for the Host header, SNI and the certificate), without cookies, and through a configured proxy.

Every connection goes to 127.0.0.1 (the test servers); other addresses appear only behind a
fake network backend that connects them to the test server.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import LoopbackNetwork
from httpserver import SAMPLE_RSS, TestServer
from monitor.errors import FetchError
from monitor.fetch import Fetcher
from monitor.models import FetchSettings

TLS = Path(__file__).resolve().parent / "fixtures" / "tls"  # self-signed, for pinned.test
SETTINGS = FetchSettings(allow_hosts=("127.0.0.1",), timeout=5.0, deadline=10.0, host_spacing=0.0)


def only_loopback(host: str) -> list[str]:
    """A resolver for names the system cannot resolve (.test is reserved)."""
    return {"pinned.test": ["127.0.0.1"]}[host]


@pytest.fixture
def tls_server() -> Iterator[TestServer]:
    """tests/httpserver.py's server behind TLS with pinned.test's certificate."""
    srv = TestServer()
    srv.use_tls(TLS / "pinned.test.pem", TLS / "pinned.test.key")
    try:
        yield srv
    finally:
        srv.stop()


def test_page_connects_to_the_checked_address_and_names_the_host(server: TestServer) -> None:
    server.add("/a.html", b"<html>pinned</html>", content_type="text/html")
    lookups: list[str] = []

    def resolver(host: str) -> list[str]:
        lookups.append(host)
        return only_loopback(host)

    url = f"http://pinned.test:{server.port}/a.html"
    with Fetcher(SETTINGS, resolver=resolver) as f:
        res = f.fetch_page(url)
    # the system cannot resolve pinned.test: the connection used the guard's one answer
    assert res.content == b"<html>pinned</html>"
    assert res.final_url == url
    assert lookups == ["pinned.test"]
    assert server.requests[0].headers["host"] == f"pinned.test:{server.port}"


def test_redirect_hops_are_pinned_to_their_own_checked_addresses(server: TestServer) -> None:
    server.add("/final.html", b"<html>ok</html>", content_type="text/html")
    server.add_redirect("/start.html", f"http://pinned.test:{server.port}/final.html")
    with Fetcher(SETTINGS, resolver=only_loopback) as f:
        res = f.fetch_page(server.url("/start.html"))
    assert res.content == b"<html>ok</html>"
    assert res.final_url == f"http://pinned.test:{server.port}/final.html"
    assert [r.headers["host"] for r in server.requests] == [f"127.0.0.1:{server.port}", f"pinned.test:{server.port}"]


def test_tls_to_a_pinned_address_verifies_the_host_name(
    tls_server: TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls_server.add("/a.html", b"<html>over tls</html>", content_type="text/html")
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS / "pinned.test.pem"))  # trust only this certificate
    with Fetcher(SETTINGS, resolver=only_loopback) as f:
        res = f.fetch_page(f"https://pinned.test:{tls_server.port}/a.html")
        assert res.content == b"<html>over tls</html>"
        # the same server under a name its certificate does not carry is refused
        with pytest.raises(FetchError, match="TLS|certificate|SSL"):
            f.fetch_page(f"https://127.0.0.1:{tls_server.port}/a.html")
    assert len(tls_server.requests) == 1


def test_next_checked_address_is_tried_when_one_refuses(server: TestServer) -> None:
    server.add("/x", b"second", content_type="text/html")
    settings = FetchSettings(allow_hosts=("192.0.2.0/24",), timeout=5.0, deadline=10.0, host_spacing=0.0)
    network = LoopbackNetwork(server.port, refused={"192.0.2.1"})  # 192.0.2.2 is served
    with Fetcher(settings, resolver=lambda host: ["192.0.2.1", "192.0.2.2"]) as f:
        assert f._pool is not None
        f._pool.backend.inner = network
        res = f.fetch_page(f"http://two.test:{server.port}/x")
        assert network.tried == ["192.0.2.1", "192.0.2.2"]
        assert res.content == b"second"
        assert server.requests[0].headers["host"] == f"two.test:{server.port}"
        network.tried.clear()
        f._resolver = lambda host: ["192.0.2.1"]
        with pytest.raises(FetchError, match="connection refused"):
            f.fetch_page(f"http://one.test:{server.port}/x")
        assert network.tried == ["192.0.2.1"]


def test_credentials_in_the_url_are_sent_as_basic_auth(server: TestServer) -> None:
    server.add("/private.xml", SAMPLE_RSS)
    server.add("/private.html", b"<html>p</html>", content_type="text/html")
    with Fetcher(SETTINGS, resolver=only_loopback) as f:
        f.fetch_feed(f"http://reader:s%C3%A9same@127.0.0.1:{server.port}/private.xml")
        f.fetch_page(f"http://reader:s%C3%A9same@pinned.test:{server.port}/private.html")  # pinned
        f.fetch_feed(server.url("/private.xml"))
    expected = "Basic " + base64.b64encode("reader:sésame".encode()).decode()
    assert [r.headers.get("authorization") for r in server.requests] == [expected, expected, None]


def test_cookies_are_neither_kept_nor_sent(server: TestServer) -> None:
    server.add("/c.xml", SAMPLE_RSS, headers={"Set-Cookie": "visits=1; Path=/"})
    with Fetcher(SETTINGS) as f:
        for _ in range(2):
            f.fetch_feed(server.url("/c.xml"))
            f.fetch_page(server.url("/c.xml"))
    assert len(server.requests) == 4
    assert all("cookie" not in r.headers for r in server.requests)


def test_a_configured_proxy_is_used_without_cookies(server: TestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # the test server answers absolute-form requests by path, so it can stand in for a proxy
    server.add("/p.xml", SAMPLE_RSS, headers={"Set-Cookie": "visits=1; Path=/"})
    monkeypatch.setenv("HTTP_PROXY", server.base_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with Fetcher(SETTINGS) as f:
        for _ in range(2):
            res = f.fetch_feed("http://feeds.proxied.test/p.xml")
            assert res.content == SAMPLE_RSS
    assert [r.path for r in server.requests] == ["http://feeds.proxied.test/p.xml"] * 2
    assert all("cookie" not in r.headers for r in server.requests)


def test_concurrent_pinned_fetches_each_get_their_page(server: TestServer) -> None:
    for i in range(16):
        server.add(f"/p{i}.html", f"<html>{i}</html>".encode(), content_type="text/html")
    results: dict[int, bytes] = {}

    def one(f: Fetcher, i: int) -> None:
        results[i] = f.fetch_page(f"http://pinned.test:{server.port}/p{i}.html").content

    with Fetcher(SETTINGS, resolver=only_loopback) as f:
        threads = [threading.Thread(target=one, args=(f, i)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert results == {i: f"<html>{i}</html>".encode() for i in range(16)}
