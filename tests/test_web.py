"""The web page (`monitor serve`) through Starlette's TestClient over a real SQLite file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from helpers import SEEDS, run, write_feeds
from monitor import app as application
from monitor.app import App
from monitor.web import create_app
from monitor.web.server import start_in_thread
from webdata import BAD, HOSTILE, fill

TOKEN = "s3cret-token-for-tests-0123456789"


@pytest.fixture
def data(tmp_path: Path) -> Iterator[App]:
    a = fill(tmp_path / "m.db", extra=25)
    try:
        yield a
    finally:
        a.close()


@pytest.fixture
def client(data: App) -> TestClient:
    return TestClient(create_app(data), base_url="http://127.0.0.1")


def ids_of(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'id="match-(\d+)"', html)]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no CSRF field in the form"
    return found.group(1)


def article_id(a: App, title_start: str) -> int:
    return next(m.article_id for m in a.store.matches_since(None) if m.title.startswith(title_start))


# --- pages -------------------------------------------------------------------------------------


def test_digest_page_shows_the_latest_digest_in_sections_and_lists_earlier_ones(client: TestClient, data: App) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.url.path == "/digest"
    digest_id = data.store.digests()[-1].id
    assert f"Digest #{digest_id}" in r.text and "New stories (28)" in r.text
    assert f'href="/digest/{digest_id}"' in r.text
    assert ids_of(r.text)[0] == article_id(data, "Burkina")  # best first
    assert client.get(f"/digest/{digest_id}").text.count('class="match"') == 28
    assert client.get("/digest/999").status_code == 404


def test_matches_are_best_first_filtered_and_paginated(client: TestClient, data: App) -> None:
    first = client.get("/matches")
    scores = [m.score for m in data.store.matches_since(None)]
    assert scores == sorted(scores, reverse=True)
    assert ids_of(first.text) == [m.article_id for m in data.store.matches_since(None)][:20]
    assert "page 1 of 2" in first.text
    second = client.get("/matches?page=2")
    assert len(ids_of(second.text)) == 8 and 'rel="prev"' in second.text
    assert ids_of(client.get("/matches?min_score=0.5").text) == [article_id(data, "Burkina"), article_id(data, "<scr")]
    assert len(ids_of(client.get("/matches?feed=Bad+feed").text)) == 0
    assert len(ids_of(client.get("/matches?feed=Good+feed").text)) == 20
    assert len(ids_of(client.get("/matches?since=2099-01-01").text)) == 0
    bad = client.get("/matches?since=yesterday&min_score=7")
    assert bad.status_code == 200 and "is not YYYY-MM-DD" in bad.text and "from 0 to 1" in bad.text


def test_search_uses_the_full_text_index(client: TestClient, data: App) -> None:
    r = client.get("/matches", params={"q": "rainfall farmers"})
    assert ids_of(r.text) == [article_id(data, "Rainfall")]
    assert ids_of(client.get("/matches", params={"q": "markets"}).text)  # bulk stories' text
    assert ids_of(client.get("/matches", params={"q": 'NEAR( "( * OR'}).text) == []  # no FTS syntax error


def test_article_page_explains_and_highlights_the_best_sentence(client: TestClient, data: App) -> None:
    aid = article_id(data, "Burkina")
    r = client.get(f"/article/{aid}")
    assert r.status_code == 200
    info = application.explain(data, str(aid))
    assert info["nearest_seed"] in r.text and "Nearest seed" in r.text
    marked = re.findall(r'<mark class="best">(.*?)</mark>', r.text, re.S)
    assert len(marked) == 1 and marked[0].strip()
    assert "STORY TRACKING" not in r.text and 'id="versions"' in r.text  # the place kept for #11
    assert client.get("/article/99999").status_code == 404


def test_feeds_page_shows_health_of_a_failing_feed(client: TestClient) -> None:
    r = client.get("/feeds")
    row = re.search(r'<tr class="feed failing">(.*?)</tr>', r.text, re.S)
    assert row and BAD in row.group(1)
    assert "HTTP 500 &lt;b&gt;from&lt;/b&gt; 127.0.0.1" in row.group(1)
    assert '<tr class="feed ok">' in r.text and "2026-11-23 07:30 UTC" in r.text  # next due


# --- feedback -----------------------------------------------------------------------------------


def test_feedback_is_stored_as_monitor_feedback_stores_it(client: TestClient, data: App) -> None:
    aid = article_id(data, "Rainfall")
    page = client.get(f"/article/{aid}")
    assert "Not judged yet." in page.text
    r = client.post(
        f"/article/{aid}/feedback", data={"verdict": "irrelevant", "csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].startswith(f"/article/{aid}?t0=")
    assert [(j.document.id, j.relevant) for j in data.store.judgments()] == [(str(aid), False)]
    shown = client.get(r.headers["location"])
    assert "judged irrelevant" in shown.text and re.search(r"Threshold \d\.\d{4} → \d\.\d{4}", shown.text)
    assert "judged irrelevant" in client.get("/matches?judged=yes").text
    assert aid not in ids_of(client.get("/matches?judged=no&page=2").text + client.get("/matches?judged=no").text)


def test_feedback_without_a_valid_csrf_token_is_refused(client: TestClient, data: App) -> None:
    aid = article_id(data, "Rainfall")
    client.get("/digest")  # sets the CSRF cookie
    for form in ({"verdict": "relevant"}, {"verdict": "relevant", "csrf": "0" * 64}):
        assert client.post(f"/article/{aid}/feedback", data=form).status_code == 403
    other = TestClient(create_app(data), base_url="http://127.0.0.1")  # another process: another secret
    token = csrf_of(other.get("/digest").text)
    assert client.post(f"/article/{aid}/feedback", data={"verdict": "relevant", "csrf": token}).status_code == 403
    assert data.store.judgments() == []
    fresh = TestClient(create_app(data), base_url="http://127.0.0.1").get("/digest")
    set_cookie = fresh.headers["set-cookie"].lower()  # a new browser gets a SameSite=Strict, HttpOnly cookie
    assert "monitor_csrf=" in set_cookie and "samesite=strict" in set_cookie and "httponly" in set_cookie


# --- escaping and external resources --------------------------------------------------------------


def test_every_page_escapes_hostile_stored_text_and_loads_nothing_external(client: TestClient, data: App) -> None:
    aid = article_id(data, "<scr")
    pages = ["/digest", "/matches", f"/article/{aid}", "/feeds", "/matches?q=script"]
    for path in pages:
        r = client.get(path)
        assert r.status_code == 200, path
        assert "<script" not in r.text.lower() and "<img" not in r.text.lower(), path
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert not re.search(r"""(src|href)=["']?(https?:)?//(?!127\.0\.0\.1)""", r.text), path
        assert "<link" not in r.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in client.get(f"/article/{aid}").text
    assert HOSTILE not in client.get("/digest").text


# --- the access token -------------------------------------------------------------------------


def test_with_a_token_every_page_needs_it_by_header_or_login_cookie(data: App) -> None:
    c = TestClient(create_app(data, token=TOKEN), base_url="http://127.0.0.1")
    r = c.get("/matches", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert c.get("/matches", headers={"X-Monitor-Token": "wrong"}, follow_redirects=False).status_code == 303
    assert c.get("/matches", headers={"X-Monitor-Token": TOKEN}).status_code == 200
    assert c.post("/article/1/feedback", data={"verdict": "relevant"}).status_code == 401
    login = c.get("/login")
    wrong = c.post("/login", data={"token": "nope", "csrf": csrf_of(login.text)})
    assert wrong.status_code == 401 and "Wrong token" in wrong.text
    ok = c.post("/login", data={"token": TOKEN, "csrf": csrf_of(login.text)}, follow_redirects=False)
    assert ok.status_code == 303 and "httponly" in ok.headers["set-cookie"].lower()
    assert c.get("/feeds").status_code == 200  # the cookie now carries the token
    assert c.post("/login", data={"token": TOKEN}).status_code == 403  # login is CSRF-protected too


def test_without_a_token_a_foreign_host_header_is_refused(data: App) -> None:
    """DNS rebinding: a web site's name resolving to 127.0.0.1 must not read or judge."""
    from dataclasses import replace

    from monitor.models import WebSettings

    assert TestClient(create_app(data), base_url="http://evil.example").get("/matches").status_code == 400
    assert TestClient(create_app(data), base_url="http://localhost:8080").get("/matches").status_code == 200
    data.settings = replace(data.settings, web=WebSettings(base_url="http://monitor.lan:8080"))
    assert TestClient(create_app(data), base_url="http://monitor.lan:8080").get("/matches").status_code == 200
    with_token = TestClient(create_app(data, token=TOKEN), base_url="http://evil.example")
    assert with_token.get("/matches", headers={"X-Monitor-Token": TOKEN}).status_code == 200


def test_binding_off_loopback_needs_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_WEB_TOKEN", raising=False)
    common = ["--seeds", SEEDS, "--db", tmp_path / "m.db", "--feeds", tmp_path / "none.yaml"]
    from click.testing import CliRunner

    from monitor.cli import cli

    r = CliRunner().invoke(cli, [str(c) for c in common] + ["serve", "--host", "0.0.0.0"])
    assert r.exit_code == 2 and "needs MONITOR_WEB_TOKEN" in r.stderr and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "m.db").exists()  # refused before opening anything
    monkeypatch.setenv("MONITOR_WEB_TOKEN", "short")
    r = CliRunner().invoke(cli, [str(c) for c in common] + ["serve", "--host", "0.0.0.0"])
    assert r.exit_code == 2 and "too short" in r.stderr


def test_a_busy_port_is_a_one_line_error(data: App) -> None:
    running = start_in_thread(data, "127.0.0.1", 0, None)
    try:
        r = httpx.get(f"http://127.0.0.1:{running.port}/feeds", timeout=10)
        assert r.status_code == 200 and "Bad feed" in r.text
        with pytest.raises(Exception, match="cannot listen on 127.0.0.1"):
            start_in_thread(data, "127.0.0.1", running.port, None)
    finally:
        running.stop()
    assert not running.thread.is_alive()


# --- settings.web and digest links ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("web", "message"),
    [
        ({"hots": "x"}, "unknown key 'hots'"),
        ({"port": 0}, "settings.web.port: must be an integer"),
        ({"port": "8080"}, "settings.web.port: must be an integer"),
        ({"base_url": "javascript:alert(1)"}, "settings.web.base_url"),
        ({"base_url": "http://h/?q=1"}, "settings.web.base_url"),
        ({"host": ""}, "settings.web.host"),
        ("yes", "settings.web: must be a mapping"),
    ],
)
def test_settings_web_is_validated_strictly(tmp_path: Path, web: object, message: str) -> None:
    from monitor.config import load_settings
    from monitor.errors import ConfigError

    path = write_feeds(tmp_path / "feeds.yaml", [], {"web": web})
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(path)


def test_settings_web_defaults_and_base_url(tmp_path: Path) -> None:
    from monitor.config import load_settings

    s = load_settings(write_feeds(tmp_path / "feeds.yaml", [], {"web": {"base_url": "http://127.0.0.1:8080/"}}))
    assert s.web is not None and (s.web.host, s.web.port, s.web.base_url) == ("127.0.0.1", 8080, "http://127.0.0.1:8080")
    assert load_settings(write_feeds(tmp_path / "f2.yaml", [], {})).web is None


def test_digests_link_entries_to_their_page_when_base_url_is_set(data: App) -> None:
    from monitor.digest import render
    from monitor.models import Digest

    items = tuple(data.store.matches_since(None)[:2])
    linked = Digest(generated_at=items[0].first_seen, matches=items, base_url="http://127.0.0.1:8080")
    page = f"http://127.0.0.1:8080/article/{items[0].article_id}"
    for fmt in ("html", "text", "md"):
        assert page in render(linked, fmt), fmt
        assert "/article/" not in render(Digest(generated_at=items[0].first_seen, matches=items), fmt), fmt


def test_the_cli_has_a_serve_command() -> None:
    out = run("serve", "--help")
    assert out.exit_code == 0 and "--host" in out.output and "--port" in out.output


def test_monitor_run_serves_the_page_when_settings_web_is_set(data: App, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from monitor.models import WebSettings
    from monitor.service import _start_web

    assert _start_web(data) is None  # no settings.web: no page
    monkeypatch.setenv("MONITOR_WEB_TOKEN", TOKEN)
    data.settings = replace(data.settings, web=WebSettings(host="127.0.0.1", port=0))
    running = _start_web(data)
    assert running is not None
    try:
        url = f"http://127.0.0.1:{running.port}/feeds"
        assert httpx.get(url, timeout=10, follow_redirects=False).status_code == 303  # the token is required
        assert "Bad feed" in httpx.get(url, headers={"X-Monitor-Token": TOKEN}, timeout=10).text
    finally:
        running.stop()


def test_a_delivered_file_digest_links_entries_when_base_url_is_set(data: App, tmp_path: Path) -> None:
    from dataclasses import replace

    from monitor.models import DigestSettings, FileTarget, WebSettings

    target = FileTarget(dir=str(tmp_path / "out"), formats=("html",))
    data.settings = replace(
        data.settings, digest=DigestSettings(targets=(target,)), web=WebSettings(base_url="http://127.0.0.1:8080")
    )
    assert application.deliver_all(data)[0][1] != "nothing new"
    html = next((tmp_path / "out").glob("*.html")).read_text(encoding="utf-8")
    first = data.store.matches_since(None)[0].article_id
    assert f'href="http://127.0.0.1:8080/article/{first}"' in html


@pytest.mark.slow
def test_monitor_serve_runs_as_a_process_and_stops_on_sigterm(tmp_path: Path) -> None:
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    fill(tmp_path / "m.db").close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).parent / "monitor"
    args = [str(exe), "--db", str(tmp_path / "m.db"), "--seeds", str(SEEDS), "--feeds", str(tmp_path / "none.yaml")]
    env = {k: v for k, v in os.environ.items() if k != "MONITOR_WEB_TOKEN"}
    proc = subprocess.Popen([*args, "serve", "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/feeds", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "monitor serve did not start"
                time.sleep(0.2)
        assert r.status_code == 200 and "Bad feed" in r.text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0 and "Traceback" not in stderr  # a graceful stop, the store closed
