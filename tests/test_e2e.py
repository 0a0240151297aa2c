"""End to end: the CLI against a real HTTP server on 127.0.0.1, real SQLite, real seeds."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import SEEDS, corpus_pages, page_title, rss, run, seed_and_other, seed_page, write_feeds
from httpserver import TestServer

SEED_FILES = sorted(SEEDS.glob("*.txt"))


@pytest.fixture(scope="module")
def pages() -> list[tuple[str, bytes]]:
    return corpus_pages()


def _serve_pages(server: TestServer, pages: list[tuple[str, bytes]], held_out: Path) -> tuple[bytes, str]:
    items = []
    for key, body in pages:
        server.add(f"/pages/{key}.html", body, content_type="text/html; charset=utf-8")
        items.append({"title": page_title(body), "link": server.url(f"/pages/{key}.html")})
    title, body = seed_page(held_out)
    server.add("/pages/held-out.html", body, content_type="text/html; charset=utf-8")
    items.insert(len(items) // 2, {"title": title, "link": server.url("/pages/held-out.html")})
    return rss(items), server.url("/pages/held-out.html")


@pytest.mark.slow
@pytest.mark.parametrize("held_out", SEED_FILES, ids=[f.name[:3] for f in SEED_FILES])
def test_leave_one_seed_out_on_real_pages(
    tmp_path: Path, server: TestServer, pages: list[tuple[str, bytes]], held_out: Path
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for f in SEED_FILES:
        if f != held_out:
            shutil.copy(f, seeds / f.name)
    feed, held_url = _serve_pages(server, pages, held_out)
    server.add("/feed.xml", feed, etag='"v1"', last_modified="Fri, 20 Nov 2026 08:00:00 GMT")
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": server.url("/feed.xml"), "name": "local"}])
    db = tmp_path / "m.db"
    common = ["--feeds", feeds, "--seeds", seeds, "--db", db]

    result = run(*common, "poll")
    assert result.exit_code == 0, result.output
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == len(pages) + 1
    matched = {
        row[0]
        for row in con.execute(
            "SELECT a.url FROM matches m JOIN articles a ON a.id = m.article_id WHERE m.status = 'active'"
        )
    }
    assert held_url in matched
    false_positives = len(matched - {held_url})
    assert false_positives < 0.05 * len(pages), sorted(matched)

    out = run(*common, "digest", "--format", "json")
    assert out.exit_code == 0, out.output
    listed = json.loads(out.output)
    assert held_url in [m["url"] for m in listed["matches"]]

    again = run(*common, "poll")
    assert again.exit_code == 0, again.output
    assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == len(pages) + 1
    assert {r[0] for r in con.execute("SELECT a.url FROM matches m JOIN articles a ON a.id = m.article_id")} == matched
    feed_requests = server.requests_for("/feed.xml")
    assert feed_requests[-1].headers.get("if-none-match") == '"v1"'
    assert feed_requests[-1].headers.get("if-modified-since") == "Fri, 20 Nov 2026 08:00:00 GMT"


def _small_feed(server: TestServer, tmp_path: Path) -> list[str]:
    items = [
        *seed_and_other(server, SEED_FILES[0]),
        {
            "title": "Page that is gone",
            "link": server.url("/a/missing.html"),
            "description": "The summary stands in when the page fails.",
        },
    ]
    server.add("/feed.xml", rss(items), etag='"e1"')
    return [i["link"] for i in items]


@pytest.mark.slow
def test_poll_then_digest_records_and_then_reports_nothing_new(tmp_path: Path, server: TestServer) -> None:
    links = _small_feed(server, tmp_path)
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": server.url("/feed.xml"), "name": "local"}])
    common = ["--feeds", feeds, "--seeds", SEEDS, "--db", tmp_path / "m.db"]
    result = run(*common, "poll")
    assert result.exit_code == 0
    assert "local: 3 new, 1 matches" in result.output

    con = sqlite3.connect(tmp_path / "m.db")
    rows = dict(con.execute("SELECT url, extraction FROM articles").fetchall())
    assert rows[links[0]] == "page"
    assert rows[links[2]].startswith("feed: HTTP 404")

    first = json.loads(run(*common, "digest", "--format", "json").output)
    assert [m["url"] for m in first["matches"]] == [links[0]]
    for key in ("url", "title", "feed", "published", "score", "explanation", "first_seen"):
        assert key in first["matches"][0]
    assert first["matches"][0]["feed"] == "local"
    assert "generated_at" in first
    second = json.loads(run(*common, "digest", "--format", "json").output)
    assert second["matches"] == []
    everything = json.loads(run(*common, "digest", "--all", "--format", "json").output)
    assert [m["url"] for m in everything["matches"]] == [links[0]]

    md = run(*common, "digest", "--all").output
    assert "Burkina Faso" in md
    listed = run(*common, "matches", "--limit", "5")
    assert links[0] in listed.output


def test_unreachable_and_broken_feeds_do_not_stop_the_others(tmp_path: Path, server: TestServer) -> None:
    _small_feed(server, tmp_path)
    server.add("/html", b"<!doctype html><html><body><p>Not a feed</p></body></html>", content_type="text/html")
    feeds = write_feeds(
        tmp_path / "feeds.yaml",
        [
            {"url": "http://127.0.0.1:9/feed.xml", "name": "closed port"},
            {"url": server.url("/html"), "name": "html page"},
            {"url": server.url("/feed.xml"), "name": "good", "full_text": False},
        ],
    )
    result = run("--feeds", feeds, "--seeds", SEEDS, "--db", tmp_path / "m.db", "poll")
    assert result.exit_code == 0, result.output
    assert "ERROR closed port:" in result.output
    assert "ERROR html page: got an HTML page" in result.output
    assert "good: 3 new" in result.output
    con = sqlite3.connect(tmp_path / "m.db")
    errors = dict(con.execute("SELECT name, last_error FROM feeds").fetchall())
    assert errors["good"] is None and errors["closed port"] and errors["html page"]
    assert server.requests_for("/a/seed.html") == []  # full_text: false never fetches pages


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("feeds: [\n  - url: http://x\n  bad", "malformed YAML"),
        ("feeds:\n  - name: no url here\n", "feed #1: missing url"),
        ("feeds:\n  - url: http://127.0.0.1/f\n    interval: often\n", "bad interval"),
    ],
)
def test_bad_feeds_yaml_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(content)
    result = CliRunnerNoCatch.invoke("--feeds", feeds, "--seeds", SEEDS, "--db", tmp_path / "m.db", "poll")
    assert result.exit_code == 2
    assert str(feeds) in result.stderr and message in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_empty_seeds_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "seeds").mkdir()
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": "http://127.0.0.1:9/f"}])
    result = CliRunnerNoCatch.invoke("--feeds", feeds, "--seeds", tmp_path / "seeds", "--db", tmp_path / "m.db", "poll")
    assert result.exit_code == 2
    assert "no seed articles" in result.stderr


def test_unwritable_database_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": "http://127.0.0.1:9/f"}])
    result = CliRunnerNoCatch.invoke("--feeds", feeds, "--seeds", SEEDS, "--db", blocker / "m.db", "poll")
    assert result.exit_code == 2
    assert "cannot open database" in result.stderr


def test_score_command_keeps_input_order(tmp_path: Path) -> None:
    lines = [
        {"id": "a", "title": "Local bakery wins award", "summary": "A bakery in Ohio won a regional prize for bread."},
        {"id": "b", "title": SEED_FILES[0].read_text().splitlines()[0], "text": SEED_FILES[0].read_text()},
        {"id": 3, "summary": "Football results from the weekend."},
    ]
    stdin = "\n".join(json.dumps(x) for x in lines) + "\n"
    result = run("--seeds", SEEDS, "score", input=stdin)
    assert result.exit_code == 0
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [o["id"] for o in out] == ["a", "b", 3]
    assert out[1]["match"] is True and out[0]["match"] is False
    assert all(0.0 <= o["score"] <= 1.0 for o in out)
    bad = CliRunnerNoCatch.invoke("--seeds", SEEDS, "score", input="not json\n")
    assert bad.exit_code == 2 and "line 1" in bad.stderr


@pytest.mark.slow
def test_console_script_help_for_every_command() -> None:
    exe = Path(sys.executable).with_name("monitor")
    top = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("poll", "digest", "score", "matches", "eval", "feedback", "explain"):
        assert command in top
        sub = subprocess.run([exe, command, "--help"], capture_output=True, text=True)
        assert sub.returncode == 0 and "Usage: monitor" in sub.stdout


class CliRunnerNoCatch:
    """Invoke with stderr kept apart, as a user's terminal shows it."""

    @staticmethod
    def invoke(*args: str | Path, input: str | None = None):  # type: ignore[no-untyped-def]
        from click.testing import CliRunner

        from monitor.cli import cli

        return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def test_feedback_and_explain(tmp_path: Path, server: TestServer) -> None:
    links = _small_feed(server, tmp_path)
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": server.url("/feed.xml"), "name": "local"}])
    common = ["--feeds", feeds, "--seeds", SEEDS, "--db", tmp_path / "m.db"]
    assert run(*common, "poll").exit_code == 0

    explained = json.loads(run(*common, "explain", links[0], "--format", "json").output)
    assert explained["match"] is True
    assert explained["nearest_seed"].endswith(".txt")
    assert explained["facets"] and explained["terms"] and explained["sentence"]
    text = run(*common, "explain", links[0]).output
    assert "MATCH" in text and "nearest seed:" in text and "best sentence:" in text

    con = sqlite3.connect(tmp_path / "m.db")
    article_id = con.execute("SELECT id FROM articles WHERE url = ?", (links[0],)).fetchone()[0]
    out = run(*common, "feedback", str(article_id), "irrelevant")
    assert out.exit_code == 0 and f"article #{article_id} marked irrelevant" in out.output
    assert con.execute("SELECT relevant FROM judgments WHERE article_id = ?", (article_id,)).fetchone()[0] == 0
    after = json.loads(run(*common, "explain", links[0], "--format", "json").output)
    assert after["score"] < explained["score"]  # the judgment changes later scores

    missing = CliRunnerNoCatch.invoke(*common, "feedback", "http://127.0.0.1/nope", "relevant")
    assert missing.exit_code == 2 and "no stored article" in missing.stderr
