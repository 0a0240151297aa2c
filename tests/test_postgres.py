"""`--db` selects the backend: the CLI end to end on a real PostgreSQL server (tests/pg.py),
and URLs the build cannot serve are refused in one line before anything is created.

The Storage contract itself runs against PostgreSQL in tests/test_storage.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from helpers import SEEDS, rss, run, seed_and_other, write_feeds
from httpserver import TestServer
from monitor.errors import StorageError
from monitor.store import database_location, describe_location
from monitor.store.pg_migrations import MIGRATIONS
from monitor.store.postgres import PostgresStore

SEED = sorted(SEEDS.glob("*.txt"))[0]


def test_poll_digest_and_status_on_postgresql(tmp_path: Path, server: TestServer, pg_url: str) -> None:
    items = seed_and_other(server, SEED)
    server.add("/feed.xml", rss(items), etag='"e1"')
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": server.url("/feed.xml"), "name": "local"}])
    common = ["--feeds", feeds, "--seeds", SEEDS, "--db", pg_url]

    result = run(*common, "poll")
    assert result.exit_code == 0, result.output
    assert "local: 2 new, 1 matches" in result.output
    first = json.loads(run(*common, "digest", "--format", "json").output)
    assert [m["url"] for m in first["matches"]] == [items[0]["link"]]
    assert json.loads(run(*common, "digest", "--format", "json").output)["matches"] == []  # exactly once
    again = run(*common, "poll")  # the 304 path: nothing new, the stored validators were sent
    assert again.exit_code == 0 and "local: not modified" in again.output
    [status] = json.loads(run(*common, "status", "--format", "json").output)["feeds"]
    assert (status["entries"], status["matches"], status["etag"]) == (2, 1, '"e1"')
    assert not (tmp_path / "postgresql:").exists() and not Path("postgresql:").exists()
    with psycopg.connect(pg_url) as conn:  # the rows are in PostgreSQL, not in a file
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (2,)


@pytest.mark.slow
def test_monitor_db_environment_variable_selects_postgresql(tmp_path: Path, pg_url: str) -> None:
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": "http://127.0.0.1:9/feed.xml", "name": "x"}])
    done = subprocess.run(
        [str(Path(sys.executable).parent / "monitor"), "--feeds", str(feeds), "status", "--format", "json"],
        env={"MONITOR_DB": pg_url, "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [f["url"] for f in json.loads(done.stdout)["feeds"]] == ["http://127.0.0.1:9/feed.xml"]
    assert list(tmp_path.iterdir()) == [feeds]  # no folder `postgresql:`, no SQLite file


@pytest.mark.parametrize("url", ["mysql://u@127.0.0.1/db", "sqlite+pysqlite://x", "HTTP://127.0.0.1/db"])
def test_a_scheme_the_build_cannot_serve_is_one_line_and_exit_2(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("--db", url, "status")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "unsupported database" in result.output and "postgresql://" in result.output
    assert list(tmp_path.iterdir()) == []


def test_postgresql_without_psycopg_is_refused_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "psycopg" else real(name, *a))
    with pytest.raises(StorageError, match=r"needs psycopg; install it with pip install 'monitor\[postgres\]'"):
        database_location("postgresql://u@127.0.0.1/db")
    result = run("--db", "postgres://u@127.0.0.1/db", "status")
    assert result.exit_code == 2 and "needs psycopg" in result.output


def test_a_path_stays_a_sqlite_file_and_passwords_stay_out_of_messages() -> None:
    assert database_location("data/monitor.db") == Path("data/monitor.db")
    assert database_location("C:/data/m.db") == Path("C:/data/m.db")
    assert describe_location("postgresql://u:s3cret@127.0.0.1:5/db") == "postgresql://u:***@127.0.0.1:5/db"


def test_an_unreachable_server_is_one_line() -> None:
    port = _closed_port()
    one_line = rf"^postgresql://u:\*\*\*@127.0.0.1:{port}/db\S*: cannot open database: [^\n]*refused"
    with pytest.raises(StorageError, match=one_line):
        PostgresStore(f"postgresql://u:s3cret@127.0.0.1:{port}/db?connect_timeout=5")


def test_migrations_run_once_and_reopening_keeps_the_data(pg_url: str) -> None:
    with PostgresStore(pg_url) as store:
        assert store.schema_version == len(MIGRATIONS)
        store.set_value("k", "v")
    with PostgresStore(pg_url) as again:
        assert again.schema_version == len(MIGRATIONS) and again.get_value("k") == "v"


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_workers_saving_the_same_entries_at_once_store_each_once(pg_url: str) -> None:
    """Two stores (two machines) race on the same entries: unique keys and the row lock keep one
    article per entry, one match, one count, and the match is news exactly once."""
    from concurrent.futures import ThreadPoolExecutor

    from factories import FEED, HIT, NOW, article, spec

    stores = [PostgresStore(pg_url), PostgresStore(pg_url)]
    stores[0].sync_feeds([spec()])
    try:

        def save(i: int) -> tuple[bool, bool]:
            saved = stores[i % 2].save_article(FEED, article(str(i // 2)), "h", HIT, NOW)
            return saved.news, saved.new_article

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(save, range(40)))
        counts = stores[0].counts()
        assert (counts.articles, counts.matches) == (20, 20)
        assert stores[1].feed_statuses()[0].entries == 20
        assert sum(news for news, _ in results) == 20  # each entry's match reported once, whichever store won
        assert sum(new for _, new in results) == 20  # and a first sighting once (a story placement)
    finally:
        for store in stores:
            store.close()


def test_workers_saving_the_same_copies_at_once_store_each_once_with_its_original(pg_url: str) -> None:
    """Two stores race on copies (same URL in another feed): the entry another worker stored while
    this one decided its identity is updated as stored, so every copy points at the original."""
    from concurrent.futures import ThreadPoolExecutor

    from factories import FEED, HIT, NOW, article, spec

    other = "http://127.0.0.1/other.xml"
    stores = [PostgresStore(pg_url), PostgresStore(pg_url)]
    stores[0].sync_feeds([spec(), spec(other, name="other")])
    try:
        originals = [stores[0].save_article(FEED, article(str(n)), "h", HIT, NOW).article_id for n in range(10)]

        def save(i: int) -> tuple[int, int | None, bool]:
            saved = stores[i % 2].save_article(other, article(str(i // 2)), "h", HIT, NOW)
            return saved.article_id, saved.copy_of, saved.new_article

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(save, range(20)))
        by_entry = {n: {r for r in results[2 * n : 2 * n + 2]} for n in range(10)}
        assert all(len({a for a, _, _ in v}) == 1 for v in by_entry.values())  # one row per entry
        assert [{c for _, c, _ in v} for v in by_entry.values()] == [{o} for o in originals]
        assert sum(new for _, _, new in results) == 10  # one save per entry made it
        counts = stores[0].counts()
        assert (counts.articles, counts.matches) == (20, 10)  # copies have no match of their own
    finally:
        for store in stores:
            store.close()
