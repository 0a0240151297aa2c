"""Extraction and scoring in worker processes (src/monitor/workers.py), against real pages
served on 127.0.0.1: the same stored articles and scores as in-process, no entry lost when a
worker is killed, one-line errors for a bad settings.workers."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from helpers import SEEDS, corpus_pages, page_title, pid_exists, rss, run, seed_and_other, write_feeds
from httpserver import TestServer
from monitor import app
from monitor.analysis import ProcessedEntry, analyse_entry
from monitor.config import load_seeds, load_settings
from monitor.errors import ConfigError
from monitor.models import Document, Entry, Failure, FailureKind, Score, default_workers
from monitor.score import Scorer, build_scorer
from monitor.workers import WorkerPool

FETCH = {"allow_hosts": ["127.0.0.1"], "host_spacing": 0, "timeout": 5, "deadline": 15}


def serve_feeds(server: TestServer, pages: list[tuple[str, bytes]], feeds: int) -> list[dict[str, object]]:
    """`pages` spread over `feeds` feeds on the server; the feed entries for feeds.yaml."""
    items: list[list[dict[str, str]]] = [[] for _ in range(feeds)]
    for i, (key, body) in enumerate(pages):
        path = f"/p/{i}-{key}.html"
        server.add(path, body, content_type="text/html; charset=utf-8")
        items[i % feeds].append({"title": page_title(body), "link": server.url(path)})
    out: list[dict[str, object]] = []
    for f, its in enumerate(items):
        server.add(f"/feed{f}.xml", rss(its, title=f"feed {f}"))
        out.append({"url": server.url(f"/feed{f}.xml"), "name": f"feed {f}"})
    return out


def stored(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    con = sqlite3.connect(db)
    try:
        articles = con.execute(
            "SELECT entry_id, url, canonical_url, title, text, content_hash, extraction, language, published "
            "FROM articles ORDER BY entry_id"
        ).fetchall()
        matches = con.execute(
            "SELECT a.entry_id, m.score, m.nearest_seed, m.facets, m.terms, m.sentence "
            "FROM matches m JOIN articles a ON a.id = m.article_id ORDER BY a.entry_id"
        ).fetchall()
    finally:
        con.close()
    return articles, matches


@pytest.mark.slow
def test_worker_processes_store_the_same_articles_and_scores_as_in_process(tmp_path: Path, server: TestServer) -> None:
    items = seed_and_other(server, sorted(SEEDS.glob("*.txt"))[4], other=3)
    pages = corpus_pages()[10:16]
    feeds = serve_feeds(server, pages, 2)
    server.add("/seeded.xml", rss(items, title="seeded"))
    feeds.append({"url": server.url("/seeded.xml"), "name": "seeded"})
    results = {}
    for workers in (1, 2):
        cfg = write_feeds(tmp_path / f"feeds{workers}.yaml", feeds, {"fetch": FETCH, "workers": workers})
        db = tmp_path / f"m{workers}.db"
        a = app.open_app(app.Paths(feeds=cfg, seeds=SEEDS, db=db))
        try:
            polled = app.poll(a)
            assert (a._pool is not None) == (workers > 1)
            if a._pool is not None:
                assert len(a._pool.pids()) == 2  # both cores were used
        finally:
            a.close()
        assert [r.error for r in polled] == [None, None, None]
        results[workers] = stored(db)
    articles, matches = results[2]
    assert len(articles) == len(pages) + 2
    assert sum(1 for a in articles if a[6] == "page") >= len(pages)  # real extraction happened
    assert len(matches) >= 1  # the seed's page matches
    assert results[2] == results[1]


def test_pool_scores_every_real_page_exactly_as_in_process() -> None:
    scorer = build_scorer(load_seeds(SEEDS))
    pool = WorkerPool(scorer, 2)
    try:
        for i, (key, body) in enumerate(corpus_pages()[:12]):
            entry = Entry(f"e{i}", "http://127.0.0.1/f", page_title(body), f"http://127.0.0.1/{key}", None, "", "")
            page = _page(entry, body)
            assert pool.analyse(entry, page, None) == analyse_entry(entry, page, None, scorer)
    finally:
        pool.close()


def _page(entry: Entry, body: bytes) -> Any:
    from monitor.models import FetchResult

    assert entry.link
    return FetchResult(entry.link, entry.link, 200, body, {"content-type": "text/html"})


class _ParentOnlyScorer:
    """Not the lexical Scorer (as the semantic one): it must stay in the parent."""

    threshold = 0.5

    def __init__(self) -> None:
        self.pid_seen: set[int] = set()

    def score(self, doc: Document) -> Score:
        self.pid_seen.add(os.getpid())
        return Score(value=min(1.0, len(doc.text) / 1e5), match=False)


def test_a_scorer_that_is_not_shipped_scores_in_the_parent() -> None:
    scorer = _ParentOnlyScorer()
    pool = WorkerPool(scorer, 2)
    try:
        key, body = corpus_pages()[0]
        entry = Entry("e", "http://127.0.0.1/f", page_title(body), f"http://127.0.0.1/{key}", None, "", "")
        done = pool.analyse(entry, _page(entry, body), None)
        assert isinstance(done, ProcessedEntry) and done.article.extraction == "page" and done.scored
        assert done.score.value == pytest.approx(len(done.article.text) / 1e5)
        assert scorer.pid_seen == {os.getpid()}
        assert pool.pids() and os.getpid() not in pool.pids()  # the extraction ran in a worker
    finally:
        pool.close()


@pytest.mark.slow
def test_a_killed_worker_loses_no_entry(tmp_path: Path, server: TestServer) -> None:
    pages = corpus_pages()
    feeds = serve_feeds(server, pages, 4)
    cfg = write_feeds(tmp_path / "feeds.yaml", feeds, {"fetch": FETCH, "workers": 2})
    db = tmp_path / "m.db"
    a = app.open_app(app.Paths(feeds=cfg, seeds=SEEDS, db=db))
    try:
        polled: list[Any] = []
        poller = threading.Thread(target=lambda: polled.extend(app.poll(a)))
        poller.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (a._pool is None or len(a._pool.pids()) < 2 or _count(db) < 10):
            time.sleep(0.05)
        assert a._pool is not None and _count(db) < len(pages), "the poll ended before a worker could be killed"
        victim = a._pool.pids()[0]
        os.kill(victim, signal.SIGKILL)
        poller.join(timeout=300)
        assert not poller.is_alive()
        assert a._pool.rebuilds >= 1 and victim not in a._pool.pids()
        # entries whose retry failed too are a Failure value: not stored, retried by the next poll
        if _count(db) < len(pages):
            lost = [r.error for r in polled if r.error is not None]
            assert lost and all(e.kind is FailureKind.WORKER and "not processed" in str(e) for e in lost)
            app.poll(a)
    finally:
        a.close()
    con = sqlite3.connect(db)
    rows = con.execute("SELECT entry_id, extraction FROM articles").fetchall()
    con.close()
    assert len(rows) == len(pages) == len({r[0] for r in rows})  # every entry, each once
    assert all(extraction == "page" or extraction.startswith("feed: ") for _, extraction in rows)
    assert sum(1 for _, extraction in rows if extraction == "page") >= len(pages) - 10


def _count(db: Path) -> int:
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return int(con.execute("SELECT count(*) FROM articles").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_workers_are_gone_after_close() -> None:
    pool = WorkerPool(build_scorer(load_seeds(SEEDS)), 2)
    pids = pool.start()
    assert len(pids) == 2
    pool.close()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


# --- settings.workers ----------------------------------------------------------------------------


def test_workers_default_to_the_cpu_count_and_accept_zero_and_one(tmp_path: Path) -> None:
    cfg = write_feeds(tmp_path / "f.yaml", [{"url": "http://127.0.0.1:9/f"}], {"fetch": FETCH})
    assert load_settings(cfg).workers == default_workers() == min(64, os.cpu_count() or 1)
    for n in (0, 1, 3):
        cfg.write_text(json.dumps({"feeds": ["http://127.0.0.1:9/f"], "settings": {"workers": n}}))
        assert load_settings(cfg).workers == n


@pytest.mark.parametrize("value", [-1, "two", True, 2.5, 65, None])
def test_a_bad_workers_value_is_one_line(tmp_path: Path, value: object) -> None:
    cfg = tmp_path / "f.yaml"
    cfg.write_text(json.dumps({"feeds": ["http://127.0.0.1:9/f"], "settings": {"workers": value}}))
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    msg = str(info.value)
    assert msg.startswith(f"{cfg}: settings.workers: must be an integer from 0 to 64") and "\n" not in msg
    result = run("--feeds", cfg, "--seeds", SEEDS, "--db", tmp_path / "m.db", "poll")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"monitor: error: {msg}"]


def test_a_misspelt_workers_key_is_an_unknown_key(tmp_path: Path) -> None:
    cfg = tmp_path / "f.yaml"
    cfg.write_text(json.dumps({"feeds": ["http://127.0.0.1:9/f"], "settings": {"worker": 2}}))
    with pytest.raises(ConfigError, match=r"settings: unknown key 'worker'"):
        load_settings(cfg)


def test_the_scorer_sent_to_workers_pickles_and_scores_the_same() -> None:
    import pickle

    scorer = build_scorer(load_seeds(SEEDS))
    scorer.learn(Document(id="j", title="A judged page", text=corpus_text(3)), True)
    copy = pickle.loads(pickle.dumps(scorer))
    assert type(copy) is Scorer and copy.threshold == scorer.threshold
    for i in range(6):
        doc = Document(id=str(i), title="", text=corpus_text(i))
        assert copy.score(doc) == scorer.score(doc)


def corpus_text(i: int) -> str:
    from monitor.extract import extract_page

    key, body = corpus_pages()[i]
    return extract_page(body, "text/html", f"http://127.0.0.1/{key}")[0]


ORPHAN = """
import sys
from pathlib import Path
from monitor.config import load_seeds
from monitor.score import build_scorer
from monitor.workers import WorkerPool

pool = WorkerPool(build_scorer(load_seeds(Path(sys.argv[1]))), 2)
print(" ".join(map(str, pool.start())), flush=True)
sys.stdin.read()  # until killed
"""


@pytest.mark.slow
def test_workers_exit_when_the_polling_process_is_killed() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", ORPHAN, str(SEEDS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2
        proc.kill()  # SIGKILL: no clean-up runs in the polling process
        proc.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(pid_exists(p) for p in pids):
            time.sleep(0.1)
        assert not any(pid_exists(p) for p in pids), "orphaned workers left running"
    finally:
        proc.kill()
        proc.communicate()  # waits and closes the pipes (unclosed pipes are warnings, i.e. errors)


MAIN_SCRIPT = """
import os
import sys
from pathlib import Path

if __name__ == "__mp_main__":  # a process of the pool running this script (none should)
    with open(Path(__file__).with_name("runs.txt"), "a") as out:
        out.write(f"{os.getpid()} {os.getppid()} {sys.argv[1:] == ['seeds-arg']}\\n")

if __name__ == "__main__":
    from monitor.config import load_seeds
    from monitor.score import build_scorer
    from monitor.workers import WorkerPool

    pool = WorkerPool(build_scorer(load_seeds(Path(os.environ["SEEDS"]))), 2)
    print(os.getpid(), " ".join(map(str, pool.start())), flush=True)
    pool.close()
"""


@pytest.mark.slow
def test_no_process_of_the_pool_runs_the_main_script(tmp_path: Path) -> None:
    # multiprocessing runs the parent's main script in each worker (on Python 3.11 the fork server
    # never preloads it: CPython gh-126631); for `monitor` that imported the whole CLI, which a
    # worker does not need. worker_main.py makes it count as loaded: it runs nowhere, and the pool works.
    script, runs = tmp_path / "main_script.py", tmp_path / "runs.txt"
    script.write_text(MAIN_SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script), "seeds-arg"],
        env={**os.environ, "SEEDS": str(SEEDS)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    parent, *workers = map(int, out.stdout.split())
    assert parent > 0 and len(workers) == 2 and all(w > 0 for w in workers)
    assert not runs.exists(), runs.read_text()  # neither the fork server nor a worker ran it


def test_the_fork_servers_preload_leaves_the_collector_on_and_the_shared_objects_frozen() -> None:
    # pool_preload.py turns the collector off while the fork server imports and builds the tables
    # every worker shares; a worker must not inherit it off (its garbage would pile up).
    probe = (
        "import gc, sys; import monitor.pool_preload as p; "
        "print(gc.isenabled(), gc.get_freeze_count(), all(m in sys.modules for m in p.MODULES))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    enabled, frozen, imported = out.stdout.split()
    assert enabled == "True" and imported == "True", out.stdout
    assert int(frozen) > 50_000, out.stdout  # the tables and modules, out of the collector's sight


def test_the_console_script_runs_the_cli() -> None:
    script = Path(sys.executable).with_name("monitor")  # installed from pyproject's [project.scripts]
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "poll" in out.stdout, out.stderr


def test_an_entry_no_worker_could_process_is_not_stored_and_the_next_poll_stores_it(
    tmp_path: Path, server: TestServer
) -> None:
    from datetime import UTC, datetime

    from monitor.fetch import Fetcher
    from monitor.models import FeedSpec, FetchResult, FetchSettings
    from monitor.pipeline import run_feed
    from monitor.store import open_storage

    pages = corpus_pages()[20:23]
    items = []
    for i, (_key, body) in enumerate(pages):
        server.add(f"/x/{i}.html", body, content_type="text/html")
        items.append({"title": page_title(body), "link": server.url(f"/x/{i}.html")})
    server.add("/x.xml", rss(items), etag='"v1"')
    spec = FeedSpec(url=server.url("/x.xml"), name="x")
    scorer = build_scorer(load_seeds(SEEDS))
    broken = {items[1]["link"]}

    def analyse(entry: Entry, page: FetchResult | None, why_not: str | None) -> ProcessedEntry | Failure:
        if entry.link in broken:  # as WorkerPool.analyse after a second dead worker
            return Failure(FailureKind.WORKER, "a worker process died")
        return analyse_entry(entry, page, why_not, scorer)

    store = open_storage(tmp_path / "m.db")
    try:
        with Fetcher(FetchSettings(allow_hosts=("127.0.0.1",), host_spacing=0)) as f:
            store.sync_feeds([spec])

            def poll() -> Any:
                now = datetime.now(UTC)
                return run_feed(spec, store=store, fetcher=f, scorer=scorer, now=lambda: now, analyse=analyse)

            first = poll()
            assert first.error == Failure(
                FailureKind.WORKER, "1 entry not processed, retried at the next poll: a worker process died"
            )
            assert sorted(store.known_entries(spec.url)) == sorted([items[0]["link"], items[2]["link"]])
            state = store.feed_state(spec.url)
            assert state.etag is None and state.error_count == 1  # so the next poll gets the feed in full
            broken.clear()
            second = poll()
            assert second.error is None and second.new_entries == 1
            assert sorted(store.known_entries(spec.url)) == sorted(it["link"] for it in items)
            assert store.feed_state(spec.url).error_count == 0
            assert poll().not_modified
    finally:
        store.close()


def test_the_plan_of_a_poll_that_lost_entries_keeps_the_old_validators() -> None:
    from datetime import UTC, datetime

    from monitor.models import FeedSpec, FeedState, FeedUpdate, FetchRecord, Move
    from monitor.plan import entries_lost

    now = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
    spec = FeedSpec(url="http://127.0.0.1/f", name="f", interval=600)
    done = FeedUpdate(
        url=spec.url,
        record=FetchRecord(fetched_at=now, next_due=now, validators=('"v2"', None), title="F"),
        move=Move(fetch_url="http://127.0.0.1/g"),
    )
    state = FeedState(url=spec.url, name="f", etag='"v1"', error_count=2)
    lost = (Failure(FailureKind.WORKER, "died on a"), Failure(FailureKind.WORKER, "died on b"))
    update = entries_lost(done, spec, state, lost, now)
    assert update.record is not None and update.record.validators is None  # None: keep '"v1"'
    assert update.record.error == Failure(
        FailureKind.WORKER, "2 entries not processed, retried at the next poll: died on a"
    )
    assert update.move == done.move and update.entries == ()
    delay = (update.record.next_due - now).total_seconds()
    assert 600 * 4 * 0.9 <= delay <= 600 * 4 * 1.1  # the third failure in a row: backed off
    assert entries_lost(done, spec, state, (), now) is done


def test_without_process_support_pages_are_extracted_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing.forkserver

    def no_processes(*args: object, **kwargs: object) -> None:
        raise OSError(38, "Function not implemented")  # e.g. a sandbox without fork or AF_UNIX

    # where every worker start asks the fork server for a process
    monkeypatch.setattr(multiprocessing.forkserver, "connect_to_new_process", no_processes)
    scorer = build_scorer(load_seeds(SEEDS))
    pool = WorkerPool(scorer, 2)
    try:
        key, body = corpus_pages()[2]
        entry = Entry("e", "http://127.0.0.1/f", page_title(body), f"http://127.0.0.1/{key}", None, "", "")
        done = pool.analyse(entry, _page(entry, body), None)
        assert done == analyse_entry(entry, _page(entry, body), None, scorer)
        assert isinstance(done, ProcessedEntry) and done.article.extraction == "page"
        assert pool.unavailable == "OSError: [Errno 38] Function not implemented" and pool.pids() == []
    finally:
        pool.close()


def test_backfill_urls_extracts_in_the_pool_and_retries_a_lost_url_next_run(
    tmp_path: Path, server: TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = corpus_pages()[30:33]
    urls = []
    for i, (_key, body) in enumerate(pages):
        server.add(f"/b/{i}.html", body, content_type="text/html")
        urls.append(server.url(f"/b/{i}.html"))
    results = {}
    for workers in (1, 2):
        cfg = write_feeds(
            tmp_path / f"feeds{workers}.yaml", [{"url": server.url("/none.xml")}], {"fetch": FETCH, "workers": workers}
        )
        db = tmp_path / f"b{workers}.db"
        a = app.open_app(app.Paths(feeds=cfg, seeds=SEEDS, db=db))
        try:
            counts = app.backfill_urls(a, urls, since=None)
            # one URL at a time: one worker is enough (the executor starts them on demand)
            assert (a._pool is not None and len(a._pool.pids()) >= 1) == (workers > 1)
        finally:
            a.close()
        assert counts["stored"] == 3 and counts["failed"] == 0
        results[workers] = stored(db)
    assert results[2] == results[1]
    assert all(row[3] and row[6] == "page" for row in results[2][0])  # titles from the pages

    lost = urls[1]
    real = app.App.analyser

    def losing(self: app.App) -> Any:
        inner = real(self)
        assert inner is not None

        def analyse(entry: Entry, page: Any, why_not: str | None) -> ProcessedEntry | Failure:
            if entry.link == lost:
                return Failure(FailureKind.WORKER, "a worker process died")
            return inner(entry, page, why_not)

        return analyse

    monkeypatch.setattr(app.App, "analyser", losing)
    cfg, db = tmp_path / "feeds2.yaml", tmp_path / "lost.db"
    a = app.open_app(app.Paths(feeds=cfg, seeds=SEEDS, db=db))
    try:
        assert app.backfill_urls(a, urls, since=None)["failed"] == 1
        assert lost not in a.store.known_entries(app.BACKFILL_FEED)
        monkeypatch.setattr(app.App, "analyser", real)
        again = app.backfill_urls(a, urls, since=None)
        assert (again["stored"], again["skipped"]) == (1, 2)
    finally:
        a.close()
