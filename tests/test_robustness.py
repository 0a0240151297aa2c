"""Robustness end to end: the CLI against the local fault-injection server (127.0.0.1 only).

Every corpus feed through one poll, hostile XML, permanent redirects, 410 Gone, recovery after
failures, and a 100-feed pass mixing healthy feeds with every fault kind.
"""

from __future__ import annotations

import json
import re
import sqlite3
import tarfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest

from helpers import SEEDS, rss, run, write_feeds
from httpserver import FAULT_KINDS, TestServer
from monitor.errors import ParseError
from monitor.models import FeedSpec, FeedUpdate, Move
from monitor.parse import parse_feed, strip_html
from monitor.store import Store

CORPUS_ARCHIVE = Path(__file__).parent / "fixtures" / "corpus-feeds" / "feeds.tar.xz"
FEED_SUFFIXES = (".xml", ".json")
_HEADER = re.compile(rb"^Header:\s*Content-type:\s*([^\r\n]*)", re.I | re.M)

# Corpus files that are not usable feeds at all: each must end as a one-line per-feed error.
UNUSABLE = {
    "feed-rs/rss2/rss_2.0_invalid_1.xml": "truncated before the first complete item",
    "feed-rs/xml/xml_sample_1.xml": "plain XML, not a feed",
    "feed-rs/xml/xml_sample_2.xml": "plain XML, not a feed",
    "feedjira/AmazonWebServicesBlogFirstEntryContent.xml": "a fragment: one entry's content",
    "feedjira/HREFConsideredHarmfulFirstEntry.xml": "a fragment: one entry",
    "feedjira/PaulDixExplainsNothingFirstEntryContent.xml": "a fragment: one entry's content",
    "feedjira/TechCrunchFirstEntry.xml": "a fragment: one item",
    "feedjira/TechCrunchFirstEntryDescription.xml": "a fragment: one description",
    "feedjira/TenderLovemakingFirstEntry.xml": "a fragment: one entry",
    "feedparser/encoding/bozo_invalid-bytes-with-bom.xml": "broken before any item",
    "feedparser/illformed/aaa_illformed.xml": "broken before any item",
    "feedparser/illformed/rss_empty_document.xml": "no element at all",
    "feedparser/illformed/undeclared_namespace.xml": "broken before any item",
    "miniflux/xml/iso88591.xml": "plain XML, not a feed",
    "miniflux/xml/iso88591_utf8_mismatch.xml": "plain XML, not a feed",
}

# (path, charset a truthful server sends, entry index or None for the feed title)
SPOT_CHECKS = [
    ("miniflux/parser/encoding_WINDOWS-1251.xml", "windows-1251", 0),
    ("miniflux/parser/encoding_ISO-8859-1.xml", "iso-8859-1", 3),
    ("miniflux/parser/no_encoding_ISO-8859-1.xml", "iso-8859-1", 1),
    ("feedparser/illformed/chardet/koi8r.xml", "koi8-r", 0),
    ("feedparser/illformed/chardet/big5.xml", "big5", None),
    ("feedparser/illformed/chardet/eucjp.xml", "euc-jp", 0),
    ("feedparser/illformed/chardet/shiftjis.xml", "shift_jis", 0),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """relative path → bytes, for every feed file of the corpus archive."""
    out = tmp_path_factory.mktemp("corpus")
    with tarfile.open(CORPUS_ARCHIVE, "r:xz") as tar:
        tar.extractall(out, filter="data")
    files = {
        f.relative_to(out).as_posix(): f.read_bytes()
        for f in sorted(out.rglob("*"))
        if f.is_file() and f.suffix in FEED_SUFFIXES
    }
    assert len(files) == 230
    return files


def content_type(path: str, body: bytes) -> str:
    """What the server sends: the header the feedparser test says it expects, else by suffix."""
    m = _HEADER.search(body[:2048])
    if m:
        return m.group(1).decode("ascii").strip()
    return "application/feed+json" if path.endswith(".json") else "application/xml"


def db_rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return list(con.execute(sql, params))
    finally:
        con.close()


def feeds_by_url(db: Path) -> dict[str, sqlite3.Row]:
    return {r["url"]: r for r in db_rows(db, "SELECT * FROM feeds")}


def articles_per_feed(db: Path) -> dict[str, int]:
    rows = db_rows(
        db, "SELECT f.url, count(a.id) AS n FROM feeds f LEFT JOIN articles a ON a.feed_id = f.id GROUP BY f.url"
    )
    return {r["url"]: r["n"] for r in rows}


def expected_entries(body: bytes, ctype: str) -> int:
    try:
        return len(parse_feed(body, {"content-type": ctype}, "http://127.0.0.1/x").entries)
    except ParseError:
        return 0


def fetch_settings(**kw: object) -> dict[str, object]:
    fetch = {"allow_hosts": ["127.0.0.1"], "host_spacing": 0, "timeout": 5, "deadline": 15, "per_host": 16}
    fetch.update(kw)
    return {"fetch": fetch}


def poll_lines(output: str) -> dict[str, str]:
    """feed name → its summary line from `monitor poll` (names here never contain ': ')."""
    out = {}
    for line in output.splitlines():
        m = re.match(r"^(ERROR|ok   ) (.+?): (.*)$", line)
        if m:
            out[m.group(2)] = f"{m.group(1).strip()}: {m.group(3)}"
    return out


# --- every corpus feed ---------------------------------------------------------------------


@pytest.mark.slow
def test_every_corpus_feed_goes_through_one_poll(tmp_path: Path, server: TestServer, corpus: dict[str, bytes]) -> None:
    feeds = []
    for path, body in corpus.items():
        server.add(f"/corpus/{path}", body, content_type=content_type(path, body))
        feeds.append({"url": server.url(f"/corpus/{path}"), "name": path, "full_text": False})
    cfg = write_feeds(tmp_path / "feeds.yaml", feeds, fetch_settings())
    db = tmp_path / "m.db"

    result = run("--feeds", cfg, "--seeds", SEEDS, "--db", db, "poll")
    assert result.exit_code == 0, result.output
    lines = poll_lines(result.output)
    assert set(lines) == set(corpus), "every feed gets exactly one summary line"

    rows = feeds_by_url(db)
    stored = articles_per_feed(db)
    failed = {path for path, line in lines.items() if line.startswith("ERROR")}
    assert failed == set(UNUSABLE), lines
    for path, body in corpus.items():
        url = server.url(f"/corpus/{path}")
        row = rows[url]
        if path in UNUSABLE:
            assert row["last_error"] and "\n" not in row["last_error"]
            assert "internal error" not in row["last_error"]
            assert stored[url] == 0
            continue
        assert row["last_error"] is None and row["last_success_at"], path
        # everything the parser makes of the document as served is stored, once
        assert stored[url] == expected_entries(body, content_type(path, body)), path

    # usable despite errors: stored with a warning (undefined entity, junk before <?xml, unbound prefix)
    warned = {r["name"] for r in rows.values() if r["last_warning"]}
    for path in (
        "feed-rs/rss2/rss_2.0_dbengines.xml",
        "feedjira/AmazonWebServicesBlog.xml",
        "feedjira/PaulDixExplainsNothingWFW.xml",
    ):
        assert path in warned and stored[server.url(f"/corpus/{path}")] > 0
        assert "warning: feed is malformed but usable" in lines[path]
    assert len(warned) >= 10
    # JSON Feed is a feed format too
    assert stored[server.url("/corpus/feedjira/json_feed.json")] == 20

    # text decoding: what feedparser itself decodes with the right charset
    con = sqlite3.connect(db)
    for path, charset, index in SPOT_CHECKS:
        body = corpus[path]
        truth = feedparser.parse(body, response_headers={"content-type": f"application/xml; charset={charset}"})
        url = server.url(f"/corpus/{path}")
        if index is None:
            want = strip_html(truth.feed["title"])
            got = con.execute("SELECT title FROM feeds WHERE url = ?", (url,)).fetchone()[0]
        else:
            want = strip_html(truth.entries[index]["title"])
            got = con.execute(
                "SELECT a.title FROM articles a JOIN feeds f ON f.id = a.feed_id WHERE f.url = ? ORDER BY a.id "
                "LIMIT 1 OFFSET ?",
                (url, index),
            ).fetchone()[0]
        assert got == want, path
        assert not re.search("[ÐÑÃÂ][\u0080-\u00ff]", got), f"mojibake in {path}: {got!r}"
    ibash = con.execute(
        "SELECT a.title FROM articles a JOIN feeds f ON f.id = a.feed_id "
        "WHERE f.name = 'miniflux/parser/encoding_WINDOWS-1251.xml' ORDER BY a.id"
    ).fetchone()[0]
    assert ibash == "Цитата #17703"
    con.close()


def test_http_charset_wins_when_the_document_lies(tmp_path: Path, server: TestServer) -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Новости</title>'
        "<item><title>Привет, мир</title><link>http://127.0.0.1/1</link></item></channel></rss>"
    ).encode("koi8-r")
    server.add("/lies.xml", body, content_type="application/rss+xml; charset=koi8-r")
    cfg = write_feeds(tmp_path / "feeds.yaml", [{"url": server.url("/lies.xml"), "name": "lies", "full_text": False}])
    result = run("--feeds", cfg, "--seeds", SEEDS, "--db", tmp_path / "m.db", "poll")
    assert result.exit_code == 0, result.output
    assert [r["title"] for r in db_rows(tmp_path / "m.db", "SELECT title FROM articles")] == ["Привет, мир"]


def test_html_page_and_other_non_feeds_are_clear_per_feed_errors(tmp_path: Path, server: TestServer) -> None:
    server.add("/good.xml", rss([{"title": "Fine", "link": "http://127.0.0.1/fine"}]))
    server.add("/plain.txt", b"just some text, no markup at all\n", content_type="text/plain")
    cfg = write_feeds(
        tmp_path / "feeds.yaml",
        [
            {"url": server.fault("html"), "name": "html", "full_text": False},
            {"url": server.url("/plain.txt"), "name": "plain", "full_text": False},
            {"url": server.url("/good.xml"), "name": "good", "full_text": False},
        ],
    )
    result = run("--feeds", cfg, "--seeds", SEEDS, "--db", tmp_path / "m.db", "poll")
    assert result.exit_code == 0, result.output
    lines = poll_lines(result.output)
    assert lines["html"] == "ERROR: got an HTML page, not a feed (is the URL a feed?)"
    assert lines["plain"].startswith("ERROR: not a feed")
    assert lines["good"].startswith("ok: 1 new")


# --- hostile XML ---------------------------------------------------------------------------


def _billion_laughs() -> bytes:
    decls = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10)
    ]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n' + "\n".join(decls) + "\n]>\n"
        '<rss version="2.0"><channel><title>laughs</title><item><title>&lol9;</title>'
        "<link>http://127.0.0.1/lol</link><description>&lol9;</description></item></channel></rss>"
    ).encode()


def _quadratic_blowup() -> bytes:
    """One 200 KB entity referenced 5,000 times: 1 GB if expanded (expat's amplification limit
    stops it, but feedparser's loose fallback parser would expand it without limit)."""
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + "A" * 200_000 + '">\n]>\n'
        '<rss version="2.0"><channel><title>q</title><item><title>x</title><link>http://127.0.0.1/q</link>'
        "<description>" + "&a;" * 5000 + "</description></item></channel></rss>"
    ).encode()


def _xxe(target: str) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{target}">\n]>\n'
        '<rss version="2.0"><channel><title>xxe</title><item><title>leak &xxe; here</title>'
        "<link>http://127.0.0.1/xxe</link><description>&xxe;</description></item></channel></rss>"
    ).encode()


def test_entity_bombs_and_external_entities_are_refused(tmp_path: Path, server: TestServer) -> None:
    server.add("/dtd/evil.ent", b"EXTERNAL-ENTITY-CONTENT", content_type="text/plain")
    hostile = {
        "laughs": _billion_laughs(),
        "quadratic": _quadratic_blowup(),
        "xxe-file": _xxe("file:///etc/passwd"),
        "xxe-http": _xxe(server.url("/dtd/evil.ent")),
        "xxe-utf16": _xxe("file:///etc/passwd")
        .replace(b'version="1.0"?>', b'version="1.0" encoding="utf-16"?>')
        .decode()
        .encode("utf-16"),
        "param-entity": (
            b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
            b'<rss version="2.0"><channel><title>p</title><item><title>t</title>'
            b"<link>http://127.0.0.1/p</link></item></channel></rss>"
        ),
    }
    feeds = []
    for name, body in hostile.items():
        server.add(f"/{name}.xml", body)
        feeds.append({"url": server.url(f"/{name}.xml"), "name": name, "full_text": False})
    # a DOCTYPE without entity declarations is fine, and its external DTD is never fetched
    netscape = (
        '<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        f'"{server.url("/dtd/rss-0.91.dtd")}">\n<rss version="0.91"><channel><title>n</title>'
        "<item><title>Netscape item</title><link>http://127.0.0.1/n</link></item></channel></rss>"
    ).encode()
    server.add("/netscape.xml", netscape)
    feeds.append({"url": server.url("/netscape.xml"), "name": "netscape", "full_text": False})
    cfg = write_feeds(tmp_path / "feeds.yaml", feeds, fetch_settings())
    db = tmp_path / "m.db"

    started = time.monotonic()
    result = run("--feeds", cfg, "--seeds", SEEDS, "--db", db, "poll")
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert elapsed < 30, f"poll took {elapsed:.1f} s: entities were expanded"
    lines = poll_lines(result.output)
    for name in hostile:
        assert lines[name].startswith("ERROR: refused: the document declares XML entities"), lines[name]
    assert lines["netscape"].startswith("ok: 1 new")
    assert server.requests_for("/dtd/evil.ent") == [] and server.requests_for("/dtd/rss-0.91.dtd") == []

    passwd = Path("/etc/passwd").read_bytes()
    first = passwd.splitlines()[0] if passwd else b"root:x:0:0"
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("m.db*"))
    assert first not in raw and b"EXTERNAL-ENTITY-CONTENT" not in raw
    assert b"lollollol" not in raw and b"A" * 1000 not in raw
    assert db.stat().st_size < 5 * 1024 * 1024


# --- empty input ---------------------------------------------------------------------------


def test_entries_with_nothing_in_them_are_stored_with_the_reason(tmp_path: Path, server: TestServer) -> None:
    """No title, no summary, and a page that is blank or cannot be reached: each entry is still
    stored (empty title and text, the extraction status says why), scored, and not retried."""
    server.add("/blank.html", b"", content_type="text/html")
    server.add("/spaces.html", b"<html><head><title> </title></head><body> \n </body></html>", content_type="text/html")
    server.add("/picture", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    links = {
        server.url("/blank.html"): "feed: no article text found",
        server.url("/spaces.html"): "feed: no article text found",
        "http://127.0.0.1:1/article": "feed: connection refused",  # nothing listens on port 1
        server.url("/missing.html"): "feed: HTTP 404 Not Found",
        server.url("/picture"): "feed: not an HTML page (image/png)",
    }
    items = [f"<item><title></title><description></description><link>{u}</link></item>" for u in links]
    # blank but for markup and whitespace
    items[-1] = items[-1].replace("<title></title>", "<title> <![CDATA[ ]]> </title>")
    items[-1] = items[-1].replace("<description></description>", "<description>&lt;p&gt; &lt;/p&gt;</description>")
    # nothing at all, not even a link: nothing to store, skipped without failing the feed
    items.append('<item><title/><description/><guid isPermaLink="false">nothing</guid></item>')
    body = '<?xml version="1.0"?><rss version="2.0"><channel><title>Empty</title>' + "".join(items) + "</channel></rss>"
    server.add("/empty.xml", body.encode())
    feed_url = server.url("/empty.xml")
    cfg = write_feeds(tmp_path / "feeds.yaml", [{"url": feed_url, "name": "empty", "full_text": True}])
    db = tmp_path / "m.db"
    common = ["--feeds", cfg, "--seeds", SEEDS, "--db", db]

    result = run(*common, "poll")
    assert result.exit_code == 0
    assert poll_lines(result.output)["empty"] == "ok: 5 new, 0 matches"  # no warning: every entry was scored
    rows = db_rows(db, "SELECT * FROM articles")
    assert {r["url"]: r["extraction"] for r in rows} == links
    assert all(r["title"] == "" and r["text"] == "" and r["summary"] == "" for r in rows)
    row = feeds_by_url(db)[feed_url]
    assert row["entries"] == 5 and row["last_error"] is None and row["last_warning"] is None

    asked = len(server.requests)
    again = run(*common, "poll")
    assert poll_lines(again.output)["empty"] == "ok: 0 new, 0 matches"
    assert [r.path for r in server.requests[asked:]] == ["/empty.xml"], "stored entries are not processed again"
    assert articles_per_feed(db)[feed_url] == 5

    # the commands that score stored articles read the same empty texts
    assert run(*common, "backfill", "--rescore").exit_code == 0
    assert run(*common, "explain", str(rows[0]["id"])).exit_code == 0


# --- 301, 410, recovery --------------------------------------------------------------------


def test_permanent_redirect_updates_the_fetch_url_and_validators(tmp_path: Path, server: TestServer) -> None:
    items = [{"title": f"Moved item {i}", "link": f"http://127.0.0.1/m/{i}"} for i in range(3)]
    server.add("/new/feed.xml", rss(items), etag='"new-1"', last_modified="Fri, 20 Nov 2026 08:00:00 GMT")
    configured = server.fault("moved", "new/feed.xml")  # 301 → /new/feed.xml
    cfg = write_feeds(tmp_path / "feeds.yaml", [{"url": configured, "name": "moved", "full_text": False}])
    db = tmp_path / "m.db"
    common = ["--feeds", cfg, "--seeds", SEEDS, "--db", db]

    assert run(*common, "poll").exit_code == 0
    row = feeds_by_url(db)[configured]  # still keyed by the url in feeds.yaml
    assert row["fetch_url"] == server.url("/new/feed.xml")
    assert row["etag"] == '"new-1"' and row["last_modified"] == "Fri, 20 Nov 2026 08:00:00 GMT"
    assert articles_per_feed(db)[configured] == 3

    moved_path = "/fault/moved/new/feed.xml"
    before = len(server.requests_for(moved_path))
    second = run(*common, "poll")
    assert "moved: not modified" in second.output
    assert len(server.requests_for(moved_path)) == before, "the old URL is not asked again"
    last = server.requests_for("/new/feed.xml")[-1]
    assert last.headers.get("if-none-match") == '"new-1"'  # validators of the fetched URL

    status = json.loads(run(*common, "status", "--format", "json").output)
    (feed,) = status["feeds"]
    assert feed["url"] == configured and feed["fetch_url"] == server.url("/new/feed.xml")
    assert articles_per_feed(db)[configured] == 3


def test_permanent_redirect_back_to_the_configured_url_clears_the_fetch_url(tmp_path: Path, server: TestServer) -> None:
    items = [{"title": "Home again", "link": "http://127.0.0.1/h"}]
    home = server.url("/home/feed.xml")
    server.add("/home/feed.xml", rss(items), etag='"home-1"')
    server.add_redirect("/away/feed.xml", home, status=301)
    cfg = write_feeds(tmp_path / "feeds.yaml", [{"url": home, "name": "home", "full_text": False}])
    db = tmp_path / "m.db"
    with Store(db) as store:  # a feed that had moved away earlier
        store.sync_feeds([FeedSpec(url=home, name="home", full_text=False)])
        store.apply(FeedUpdate(url=home, move=Move(server.url("/away/feed.xml"), etag='"away-validator"')))
    result = run("--feeds", cfg, "--seeds", SEEDS, "--db", db, "poll")
    assert "ok    home: 1 new" in result.output
    assert server.requests_for("/away/feed.xml")[0].headers.get("if-none-match") == '"away-validator"'
    row = feeds_by_url(db)[home]
    assert row["fetch_url"] is None and row["etag"] == '"home-1"'


def test_status_shows_where_a_permanently_moved_feed_is_fetched_from(tmp_path: Path, server: TestServer) -> None:
    server.add("/new/feed.xml", rss([{"title": "Moved item", "link": "http://127.0.0.1/m/1"}]))
    server.add_redirect("/old/feed.xml", "/new/feed.xml", status=301)  # a real 301 Moved Permanently
    server.add("/stay.xml", rss([{"title": "Stayed item", "link": "http://127.0.0.1/s/1"}]))
    old, new, stay = server.url("/old/feed.xml"), server.url("/new/feed.xml"), server.url("/stay.xml")
    cfg = write_feeds(
        tmp_path / "feeds.yaml",
        [{"url": old, "name": "mover", "full_text": False}, {"url": stay, "name": "stayer", "full_text": False}],
    )
    common = ["--feeds", cfg, "--seeds", SEEDS, "--db", tmp_path / "m.db"]

    text = run(*common, "status").output
    assert "moved to:" not in text  # not polled yet: nothing has moved

    assert run(*common, "poll").exit_code == 0
    assert [r.path for r in server.requests_for("/old/feed.xml")] == ["/old/feed.xml"]
    assert feeds_by_url(tmp_path / "m.db")[old]["fetch_url"] == new

    lines = run(*common, "status").output.splitlines()
    mover = next(i for i, line in enumerate(lines) if line.startswith("[ok] mover: entries 1,"))
    assert lines[mover + 1] == f"    moved to: {new}"  # right under the feed it belongs to
    assert sum("moved to:" in line for line in lines) == 1, "the feed that did not move has no such line"
    assert any(line.startswith("[ok] stayer: entries 1,") for line in lines)


def test_gone_feed_is_visible_not_due_and_comes_back_when_it_works(tmp_path: Path, server: TestServer) -> None:
    server.add("/gone.xml", b"gone\n", status=410, content_type="text/plain")
    server.add("/ok.xml", rss([{"title": "Still here", "link": "http://127.0.0.1/h"}]))
    cfg = write_feeds(
        tmp_path / "feeds.yaml",
        [
            {"url": server.url("/gone.xml"), "name": "gone", "full_text": False, "interval": "1m"},
            {"url": server.url("/ok.xml"), "name": "ok", "full_text": False, "interval": "1m"},
        ],
    )
    db = tmp_path / "m.db"
    common = ["--feeds", cfg, "--seeds", SEEDS, "--db", db]
    result = run(*common, "poll")
    assert "ERROR gone: HTTP 410 Gone" in result.output

    text = run(*common, "status").output
    assert re.search(r"^\[gone\] gone: ", text, re.M) and "last error: HTTP 410 Gone" in text
    with Store(db) as store:
        due = store.due_feeds(datetime.now(UTC) + timedelta(days=30))
    assert due == [server.url("/ok.xml")], "a gone feed is never due again"

    server.add("/gone.xml", rss([{"title": "Back again", "link": "http://127.0.0.1/b"}]))
    assert "ok    gone: 1 new" in run(*common, "poll").output  # an explicit poll re-checks it
    row = feeds_by_url(db)[server.url("/gone.xml")]
    assert row["status"] == "active" and row["error_count"] == 0 and row["last_error"] is None


def test_failing_feed_backs_off_then_recovers(tmp_path: Path, server: TestServer) -> None:
    server.add("/flaky.xml", b"boom\n", status=500, content_type="text/plain")
    cfg = write_feeds(
        tmp_path / "feeds.yaml",
        [{"url": server.url("/flaky.xml"), "name": "flaky", "full_text": False, "interval": "10m"}],
    )
    db = tmp_path / "m.db"
    common = ["--feeds", cfg, "--seeds", SEEDS, "--db", db]

    def delay() -> float:
        row = feeds_by_url(db)[server.url("/flaky.xml")]
        due = datetime.fromisoformat(row["next_due_at"])
        return (due - datetime.fromisoformat(row["last_fetch_at"])).total_seconds()

    delays = []
    for failures in (1, 2, 3):
        assert "ERROR flaky: HTTP 500" in run(*common, "poll").output
        assert feeds_by_url(db)[server.url("/flaky.xml")]["error_count"] == failures
        delays.append(delay())
    # capped exponential backoff with ±10 % jitter: 10 min, 20 min, 40 min
    for got, base in zip(delays, (600, 1200, 2400), strict=True):
        assert base * 0.89 <= got <= base * 1.11, delays

    server.add("/flaky.xml", rss([{"title": "Recovered", "link": "http://127.0.0.1/r"}]))
    assert "ok    flaky: 1 new" in run(*common, "poll").output
    row = feeds_by_url(db)[server.url("/flaky.xml")]
    assert row["error_count"] == 0 and row["last_error"] is None and row["status"] == "active"
    assert 540 <= delay() <= 660, "back to the normal interval"


# --- the fault-injection pass ---------------------------------------------------------------


@pytest.mark.slow
def test_hundred_feed_pass_with_every_fault_kind(tmp_path: Path, server: TestServer, corpus: dict[str, bytes]) -> None:
    faults = [k for k in FAULT_KINDS if k != "moved"]
    feeds: list[dict[str, object]] = []
    kinds: dict[str, str] = {}
    for kind in faults:
        for i in range(3):
            url = server.fault(kind, f"f{i}")
            kinds[url] = kind
            feeds.append({"url": url, "name": f"{kind}-{i}", "full_text": False, "interval": "30s"})
    healthy: dict[str, int] = {}
    usable = [(p, b) for p, b in corpus.items() if p not in UNUSABLE and expected_entries(b, content_type(p, b)) > 0]
    for path, body in usable:
        if len(feeds) >= 97:
            break
        server.add(f"/corpus/{path}", body, content_type=content_type(path, body))
        url = server.url(f"/corpus/{path}")
        healthy[url] = expected_entries(body, content_type(path, body))
        feeds.append({"url": url, "name": path, "full_text": False, "interval": "30s"})
    for i, (path, body) in enumerate(usable[-3:]):  # 301 to a healthy copy
        server.add(f"/moved-to/{i}/feed", body, content_type=content_type(path, body))
        url = server.fault("moved", f"moved-to/{i}/feed")
        healthy[url] = expected_entries(body, content_type(path, body))
        feeds.append({"url": url, "name": f"moved-{i}", "full_text": False, "interval": "30s"})
    assert len(feeds) == 100
    cfg = write_feeds(tmp_path / "feeds.yaml", feeds, fetch_settings(timeout=1, deadline=3))
    db = tmp_path / "m.db"

    before = datetime.now(UTC).replace(microsecond=0)
    started = time.monotonic()
    result = run("--feeds", cfg, "--seeds", SEEDS, "--db", db, "poll")
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert elapsed < 120, f"the pass took {elapsed:.0f} s"
    assert "100 feeds," in result.output

    rows = feeds_by_url(db)
    stored = articles_per_feed(db)
    for url, n in healthy.items():
        assert rows[url]["last_error"] is None and stored[url] == n, rows[url]["name"]
    for i in range(3):
        assert rows[server.fault("moved", f"moved-to/{i}/feed")]["fetch_url"] == server.url(f"/moved-to/{i}/feed")

    usable_faults = {"wrongtype": "served as image/png", "truncated": "malformed but usable"}
    for url, kind in kinds.items():
        row = rows[url]
        fetched = datetime.fromisoformat(row["last_fetch_at"])
        due = datetime.fromisoformat(row["next_due_at"])
        assert fetched >= before and due > fetched, row["name"]
        if kind in usable_faults:  # usable despite the fault: stored, with a warning
            assert row["last_error"] is None and usable_faults[kind] in row["last_warning"], row["name"]
            assert stored[url] >= 1
            continue
        assert row["last_error"] and row["error_count"] == 1, row["name"]
        assert "internal error" not in row["last_error"]
        delay = (due - fetched).total_seconds()
        if kind == "503":
            assert delay >= 120 and "retry after 120 s" in row["last_error"]
        elif kind == "429":
            assert delay >= 55 and "retry after" in row["last_error"]
        else:  # first failure: the interval (30 s) with ±10 % jitter
            assert 27 <= delay <= 33.5, (row["name"], delay)
        if kind == "gone":
            assert row["status"] == "gone"
        else:
            assert row["status"] == "active"
    errors = {kind: rows[server.fault(kind, "f0")]["last_error"] for kind in faults}
    assert "timed out" in errors["hang"] or "deadline" in errors["hang"]
    assert "deadline" in errors["drip"] or "timed out" in errors["drip"]
    assert "deadline" in errors["driphead"] or "timed out" in errors["driphead"]
    assert "redirect loop" in errors["redirectloop"]
    assert "reset" in errors["reset"] or "closed" in errors["reset"]
    assert errors["gzipbomb"] == errors["oversized"] == "response larger than 10485760 bytes"
    assert "HTML page" in errors["html"]
    assert errors["notfound"].startswith("HTTP 404")


def test_a_scorer_failure_on_one_entry_keeps_the_feed_and_is_retried(tmp_path: Path) -> None:
    from monitor.models import Document, FetchResult, Score
    from monitor.pipeline import run_feed

    content = rss(
        [{"title": "Boom", "link": "http://127.0.0.1/boom"}, {"title": "Fine", "link": "http://127.0.0.1/ok"}]
    )

    class Fetcher:
        def fetch_feed(self, url: str, **_: object) -> FetchResult:
            return FetchResult(url=url, final_url=url, status=200, content=content, headers={})

        def fetch_page(self, url: str) -> FetchResult:
            raise AssertionError(url)

    class Scorer:
        threshold = 0.5
        broken = True

        def score(self, doc: Document) -> Score:
            if self.broken and doc.title == "Boom":
                raise IndexError("scorer bug")
            return Score(value=0.9, match=True)

    spec = FeedSpec(url="http://127.0.0.1/feed", name="f", full_text=False)
    scorer = Scorer()
    with Store(tmp_path / "m.db") as store:
        store.sync_feeds([spec])
        first = run_feed(spec, store=store, fetcher=Fetcher(), scorer=scorer, now=lambda: datetime.now(UTC))
        assert first.error is None and first.new_entries == 2 and first.matches == 1
        assert first.warning == "1 entry could not be scored (internal error, logged)"
        scorer.broken = False  # the scorer is fixed: the next poll scores the entry it missed
        second = run_feed(spec, store=store, fetcher=Fetcher(), scorer=scorer, now=lambda: datetime.now(UTC))
        assert second.error is None and second.warning is None and second.matches == 1
        assert store.counts().articles == 2 and store.counts().matches == 2


def test_rescore_goes_on_past_an_article_the_scorer_fails_on(
    tmp_path: Path, server: TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor import app as app_mod

    items = [
        {"title": f"Item {i}", "link": f"http://example.org/rescore/{i}", "description": f"Text of item {i}."}
        for i in range(3)
    ]
    server.add("/rescore.xml", rss(items))
    cfg = write_feeds(tmp_path / "feeds.yaml", [{"url": server.url("/rescore.xml"), "full_text": False}])
    db = tmp_path / "m.db"
    assert run("--feeds", cfg, "--seeds", SEEDS, "--db", db, "poll").exit_code == 0

    a = app_mod.open_app(app_mod.Paths(feeds=cfg, seeds=SEEDS, db=db))
    try:
        real = a.scorer.score

        def flaky(doc: Any) -> Any:
            if "item 1" in (doc.text or "").lower():
                raise RuntimeError("scorer bug")
            return real(doc)

        monkeypatch.setattr(a.scorer, "score", flaky)
        counts = app_mod.rescore(a, since=None)
    finally:
        a.close()
    assert counts["articles"] == 3 and counts["failed"] == 1
    assert counts["none"] + counts["kept"] + counts["new"] + counts["demoted"] == 2
