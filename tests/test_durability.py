"""Durability: `monitor poll` killed with SIGKILL at random moments, and concurrent writers.

Real processes (the console script next to sys.executable), a real HTTP server on 127.0.0.1,
one SQLite database.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import SEEDS, corpus_pages, page_title, rss, run, seed_page, write_feeds
from httpserver import TestServer

MONITOR = str(Path(sys.executable).with_name("monitor"))
SEED_FILES = sorted(SEEDS.glob("*.txt"))
SETTINGS = {"fetch": {"allow_hosts": ["127.0.0.1"], "host_spacing": 0, "per_host": 8, "timeout": 5, "deadline": 15}}


def serve_feeds(server: TestServer, n_feeds: int, per_feed: int, prefix: str = "p") -> dict[str, list[str]]:
    """Feeds whose items link to real article pages (plus one seed-like page each, so there
    are matches); returns feed URL → the entry links it serves."""
    pages = corpus_pages()
    out: dict[str, list[str]] = {}
    for f in range(n_feeds):
        items = []
        for i in range(per_feed):
            key, body = pages[(f * per_feed + i) % len(pages)]
            path = f"/{prefix}/{f}/{key}.html"
            server.add(path, body, content_type="text/html; charset=utf-8")
            items.append({"title": page_title(body), "link": server.url(path)})
        title, body = seed_page(SEED_FILES[f % len(SEED_FILES)])
        server.add(f"/{prefix}/{f}/seed.html", body, content_type="text/html; charset=utf-8")
        items.insert(per_feed // 2, {"title": title, "link": server.url(f"/{prefix}/{f}/seed.html")})
        server.add(f"/{prefix}/feed{f}.xml", rss(items), etag=f'"{prefix}-{f}"')
        out[server.url(f"/{prefix}/feed{f}.xml")] = [it["link"] for it in items]
    return out


def check_database(db: Path, served: dict[str, list[str]]) -> None:
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        for feed_url, links in served.items():
            rows = con.execute(
                "SELECT a.url FROM articles a JOIN feeds f ON f.id = a.feed_id WHERE f.url = ?", (feed_url,)
            ).fetchall()
            stored = [r[0] for r in rows]
            assert sorted(stored) == sorted(links), feed_url  # every entry, exactly once
            entries = con.execute("SELECT entries FROM feeds WHERE url = ?", (feed_url,)).fetchone()[0]
            assert entries == len(links), "the feed's entry counter matches its articles"
        dup = con.execute("SELECT article_id, count(*) FROM matches GROUP BY article_id HAVING count(*) > 1").fetchall()
        assert dup == []
        assert con.execute("SELECT count(*) FROM matches").fetchone()[0] >= 1
    finally:
        con.close()


@pytest.mark.slow
def test_poll_killed_twenty_times_then_completed(tmp_path: Path, server: TestServer) -> None:
    served = serve_feeds(server, n_feeds=3, per_feed=9)
    cfg = write_feeds(tmp_path / "feeds.yaml", [{"url": u, "name": f"feed{i}"} for i, u in enumerate(served)], SETTINGS)
    db = tmp_path / "m.db"
    cmd = [MONITOR, "--feeds", str(cfg), "--seeds", str(SEEDS), "--db", str(db), "poll"]
    rng = random.Random(20261123)
    finished_early = 0
    for _ in range(20):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=rng.uniform(0.2, 2.2))
            finished_early += 1  # the pass completed before the kill: fine, it stays consistent
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        if db.exists():  # every intermediate state is a valid database
            con = sqlite3.connect(db, timeout=30)
            assert con.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            con.close()
    assert finished_early < 20, "the kills must interrupt real work"

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 failed" in done.stdout
    check_database(db, served)

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "0 new entries" in again.stdout
    check_database(db, served)


@pytest.mark.slow
def test_poll_and_long_writers_run_concurrently_without_lock_errors(tmp_path: Path, server: TestServer) -> None:
    first = serve_feeds(server, n_feeds=2, per_feed=6, prefix="a")
    cfg = write_feeds(
        tmp_path / "feeds.yaml",
        [{"url": u, "name": f"feed{i}", "full_text": False} for i, u in enumerate(first)],
        SETTINGS,
    )
    db = tmp_path / "m.db"
    common = ["--feeds", str(cfg), "--seeds", str(SEEDS), "--db", str(db)]
    assert run(*common, "poll").exit_code == 0  # some articles to give feedback on

    # the poll: new feeds with full-text pages, so it writes for several seconds
    second = serve_feeds(server, n_feeds=3, per_feed=9, prefix="b")
    write_feeds(tmp_path / "feeds.yaml", [{"url": u, "name": f"feed{i}"} for i, u in enumerate(second)], SETTINGS)
    poll = subprocess.Popen([MONITOR, *common, "poll"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    others: list[subprocess.CompletedProcess[str]] = []
    verdicts = ["relevant", "irrelevant"]
    started = time.monotonic()
    while poll.poll() is None and time.monotonic() - started < 90:
        verdict = verdicts[len(others) % 2]
        others.append(
            subprocess.run([MONITOR, *common, "feedback", "1", verdict], capture_output=True, text=True, timeout=120)
        )
        others.append(
            subprocess.run([MONITOR, *common, "backfill", "--rescore"], capture_output=True, text=True, timeout=120)
        )
    out, err = poll.communicate(timeout=120)
    assert poll.returncode == 0, out + err
    assert len(others) >= 2, "the writers overlapped the poll"
    for proc in others:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "locked" not in (proc.stdout + proc.stderr).lower()
    assert "locked" not in (out + err).lower() and "0 failed" in out
    check_database(db, second)
