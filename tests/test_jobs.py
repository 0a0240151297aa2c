"""Feed and digest jobs on a real PostgreSQL server (tests/pg.py) with procrastinate: one
waiting job per feed, every entry stored once by concurrent workers, a stale result never
written, a stalled worker's job put back, and the CLI's one-line refusals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from helpers import SEEDS, rss, run, write_feeds
from httpserver import TestServer
from monitor import app as application
from monitor import jobs
from monitor.fetch import Fetcher
from monitor.models import FeedUpdate, FetchRecord, FetchResult
from monitor.store.pg_feeds import StaleWrite
from monitor.store.postgres import PostgresStore

FEEDS, ENTRIES = 8, 3
PAGE = b"<!doctype html><html><body><article><h1>Title</h1><p>%s</p></article></body></html>"


def _serve(server: TestServer, tmp_path: Path) -> Path:
    feeds = []
    for f in range(FEEDS):
        items = []
        for e in range(ENTRIES):
            path = f"/p/{f}-{e}.html"
            server.add(path, PAGE % f"Story {f}-{e} about the harbour.".encode(), content_type="text/html")
            items.append({"title": f"Story {f}-{e}", "link": server.url(path)})
        server.add(f"/feed{f}.xml", rss(items), etag=f'"f{f}"')
        feeds.append({"url": server.url(f"/feed{f}.xml"), "name": f"feed{f}"})
    settings = {
        "fetch": {"allow_hosts": ["127.0.0.1"], "host_spacing": 0, "timeout": 5, "deadline": 15},
        "digest": {"targets": [{"type": "file", "dir": str(tmp_path / "digests"), "formats": ["json"]}]},
    }
    return write_feeds(tmp_path / "feeds.yaml", feeds, settings)


@pytest.fixture
def project(tmp_path: Path, server: TestServer, pg_url: str) -> Iterator[application.App]:
    feeds = _serve(server, tmp_path)
    a = application.open_app(application.Paths(feeds=feeds, seeds=SEEDS, db=pg_url))
    try:
        yield a
    finally:
        a.close()


def _queue(url: str) -> jobs.procrastinate.App:
    queue = jobs.build_queue(url).open()
    with PostgresStore(url) as store:
        jobs.ensure_schema(store, queue)
        jobs.ensure_schema(store, queue)  # a second start finds the schema and leaves it
    return queue


def _waiting(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'").fetchone()
    return int(row[0]) if row else 0


@pytest.mark.slow
def test_due_feeds_become_one_waiting_job_each_and_workers_store_every_entry_once(
    project: application.App, pg_url: str, server: TestServer
) -> None:
    queue = _queue(pg_url)
    try:
        assert jobs.defer_due(project, queue) == FEEDS
        assert jobs.defer_due(project, queue) == 0  # queueing_lock: one waiting job per feed
        assert jobs.defer_digest(queue) is True and jobs.defer_digest(queue) is False
    finally:
        queue.close()
    # A worker with wait=False stops when the queue looks empty (a job whose feed's lock is
    # held is not taken): run it until nothing is left.
    for _ in range(3 * FEEDS):
        jobs.run_worker(project, pg_url, concurrency=4, wait=False)
        if not _waiting(pg_url):
            break

    with psycopg.connect(pg_url) as conn:
        articles = conn.execute("SELECT count(*), count(DISTINCT (feed_id, entry_id)) FROM articles").fetchone()
        assert articles == (FEEDS * ENTRIES, FEEDS * ENTRIES)
        assert conn.execute("SELECT min(version), max(version) FROM feeds").fetchone() == (1, 1)  # one write each
        done = conn.execute(
            "SELECT task_name, status, count(*) FROM procrastinate_jobs GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
    assert ("monitor.poll_feed", "succeeded", FEEDS) in done and ("monitor.deliver_digests", "succeeded", 1) in done
    feed_requests = [r for r in server.requests if r.path.startswith("/feed")]
    assert len(feed_requests) == FEEDS  # each feed fetched once
    again = _queue(pg_url)
    try:
        assert jobs.defer_due(project, again) == 0  # polled: nothing is due
    finally:
        again.close()


def test_a_job_whose_feed_was_written_meanwhile_drops_its_result(project: application.App, pg_url: str) -> None:
    url = project.settings.feeds[0].url
    other = PostgresStore(pg_url)  # the retried job, on another machine, finishing first
    later = datetime(2030, 1, 1, tzinfo=UTC)

    class Paused(Fetcher):
        def fetch_feed(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
            other.apply(FeedUpdate(url=url, record=FetchRecord(fetched_at=later, next_due=later)))
            return super().fetch_feed(url, etag=etag, last_modified=last_modified)

    try:
        with Paused(project.settings.fetch) as fetcher:
            outcome = jobs.poll_one(jobs.WorkerContext(app=project, fetcher=fetcher), url)
        assert outcome.startswith("error:") and "stale result not written" in outcome
        state = project.store.feed_state(url)
        assert (state.last_fetch_at, state.etag, state.error_count) == (later, None, 0)  # the other job's write
        assert isinstance(project.store, PostgresStore)
        with pytest.raises(StaleWrite):
            project.store.apply_at_version(FeedUpdate(url=url, record=FetchRecord(later, later)), version=0)
    finally:
        other.close()


def test_a_paused_job_whose_feed_was_polled_again_writes_nothing(
    project: application.App, pg_url: str, server: TestServer
) -> None:
    """Job A stops after reading its first page (a paused worker); meanwhile its job runs again
    elsewhere on pages since corrected and stores them. A then wakes up holding the old text:
    its entries and its outcome are refused (the later job's claim fenced it), nothing is stored
    twice and no stale version appears."""
    url = project.settings.feeds[0].url
    later: list[str] = []
    for e in range(ENTRIES):  # pages long enough for the extractor to keep their text
        server.add(f"/p/0-{e}.html", _long_page(f"Story 0-{e} as first published."), content_type="text/html")

    class Paused(Fetcher):
        def fetch_page(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
            old = super().fetch_page(url, etag=etag, last_modified=last_modified)
            if not later:
                for e in range(ENTRIES):
                    server.add(f"/p/0-{e}.html", _long_page(f"Story 0-{e}, corrected."), content_type="text/html")
                with Fetcher(project.settings.fetch) as fresh:
                    later.append(jobs.poll_one(jobs.WorkerContext(app=project, fetcher=fresh), feed))
            return old

    feed = url
    with Paused(project.settings.fetch) as fetcher:
        outcome = jobs.poll_one(jobs.WorkerContext(app=project, fetcher=fetcher), url)
    assert later == [f"{ENTRIES} new, 0 matches"]
    assert outcome.startswith("error:") and "stale result not written" in outcome
    with psycopg.connect(pg_url) as conn:
        texts = conn.execute(
            "SELECT a.text FROM articles a JOIN feeds f ON f.id = a.feed_id WHERE f.url = %s", [url]
        ).fetchall()
        versions = conn.execute("SELECT count(*) FROM article_versions").fetchone()
        row = conn.execute("SELECT version, error_count, last_error FROM feeds WHERE url = %s", [url]).fetchone()
    assert len(texts) == ENTRIES and all("corrected" in str(t) for (t,) in texts)
    assert versions == (ENTRIES,)
    assert row == (2, 0, None)  # two claims; the later job's outcome stands


def _long_page(first: str) -> bytes:
    body = " ".join([first] + ["The harbour board met on Monday to discuss the new quay and its costs."] * 8)
    return PAGE % body.encode()


def test_monitor_run_keeps_a_bounded_backlog_per_host(project: application.App, pg_url: str) -> None:
    queue = _queue(pg_url)
    try:
        assert jobs.defer_due(project, queue, backlog_per_host=3) == 3  # all 8 feeds are on 127.0.0.1
        assert jobs.defer_due(project, queue, backlog_per_host=3) == 0  # the other 5 stay due
        assert jobs.defer_due(project, queue, backlog_per_host=5) == 2
    finally:
        queue.close()
    assert _waiting(pg_url) == 5


def test_due_feeds_are_queued_hosts_in_turn() -> None:
    urls = [
        "http://a.example/1",
        "http://a.example/2",
        "http://a.example:8080/3",
        "http://b.example/1",
        "http://c.example/1",
        "http://b.example/2",
    ]
    assert jobs.in_turn(urls) == [
        "http://a.example/1",
        "http://b.example/1",
        "http://c.example/1",
        "http://a.example/2",
        "http://b.example/2",
        "http://a.example:8080/3",
    ]  # the port is not another host: politeness is per host name, as in the Fetcher


def test_a_job_of_a_silent_worker_is_put_back_in_the_queue(project: application.App, pg_url: str) -> None:
    queue = _queue(pg_url)
    try:
        jobs.defer_due(project, queue)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            # a worker that took a job and was then killed: its heartbeat stops
            [worker] = conn.execute(
                "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '1 hour') RETURNING id"
            ).fetchone() or [0]
            conn.execute(
                "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s WHERE id = "
                "(SELECT min(id) FROM procrastinate_jobs WHERE task_name = %s)",
                [worker, jobs.POLL_TASK],
            )
        assert asyncio.run(_retry_stalled(pg_url)) == 1
        with psycopg.connect(pg_url) as conn:
            statuses = conn.execute("SELECT DISTINCT status FROM procrastinate_jobs").fetchall()
        assert statuses == [("todo",)]
    finally:
        queue.close()


async def _retry_stalled(url: str, seconds: float = jobs.STALLED_AFTER) -> int:
    queue = jobs.build_queue(url)
    async with queue.open_async():
        return await jobs.retry_stalled_jobs(queue, seconds)


def test_worker_and_run_on_sqlite_are_one_line_errors(tmp_path: Path) -> None:
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": "http://127.0.0.1:9/f.xml", "name": "x"}])
    result = run("--feeds", feeds, "--seeds", SEEDS, "--db", tmp_path / "m.db", "worker")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "monitor: error: `monitor worker` takes its jobs from PostgreSQL: give --db postgresql://… (MONITOR_DB)"
    )


def _job_statuses(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone() == (None,):
            return {}  # the queue's schema is not installed yet
        found = conn.execute(
            "SELECT status, count(*) FROM procrastinate_jobs WHERE task_name = %s GROUP BY 1", [jobs.POLL_TASK]
        ).fetchall()
    return {str(status): int(n) for status, n in found}


def _wait_for(check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_sigkilled_workers_job_is_retried_and_every_effect_happens_once(
    project: application.App, pg_url: str, server: TestServer, tmp_path: Path
) -> None:
    """Worker A takes the job of a feed that hangs and is SIGKILLed holding it; worker B goes on,
    the stalled job is put back, B runs it: every entry stored once, the hanging feed's failure
    written once."""
    hang = server.fault("hang", "feed.xml")
    settings = {"fetch": {"allow_hosts": ["127.0.0.1"], "host_spacing": 0, "timeout": 2, "deadline": 10}}
    others = [{"url": f.url, "name": f.name} for f in project.settings.feeds]
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": hang, "name": "hang"}, *others], settings)
    a = application.open_app(application.Paths(feeds=feeds, seeds=SEEDS, db=pg_url))
    queue = _queue(pg_url)
    try:
        assert jobs.defer_due(a, queue, backlog_per_host=FEEDS + 1) == FEEDS + 1
    finally:
        queue.close()
        a.close()
    cmd = [str(Path(sys.executable).parent / "monitor"), "--feeds", str(feeds), "--seeds", str(SEEDS), "worker"]
    env = {"MONITOR_DB": pg_url, "PATH": "/usr/bin:/bin", "NO_PROXY": "*"}
    worker_a = subprocess.Popen([*cmd, "--concurrency", "1"], env=env, stderr=subprocess.DEVNULL)
    worker_b = None
    try:
        _wait_for(lambda: _job_statuses(pg_url).get("doing", 0) == 1 and _hang_taken(pg_url), 60)
        worker_b = subprocess.Popen([*cmd, "--concurrency", "2"], env=env, stderr=subprocess.DEVNULL)
        os.kill(worker_a.pid, signal.SIGKILL)
        worker_a.wait(timeout=10)
        time.sleep(jobs.HEARTBEAT + 2)  # A's heartbeat is now older than any live worker's
        assert asyncio.run(_retry_stalled(pg_url, seconds=jobs.HEARTBEAT + 1)) == 1
        _wait_for(lambda: _job_statuses(pg_url) == {"succeeded": FEEDS + 1}, 90)
    finally:
        for p in (worker_a, worker_b):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=60)
    with psycopg.connect(pg_url) as conn:
        articles = conn.execute("SELECT count(*), count(DISTINCT (feed_id, entry_id)) FROM articles").fetchone()
        hanging = conn.execute("SELECT error_count, version FROM feeds WHERE url = %s", [hang]).fetchone()
    assert articles == (FEEDS * ENTRIES, FEEDS * ENTRIES)
    assert hanging == (1, 2)  # the failure recorded once, by B (A claimed it first: version 1, B: 2)


def _hang_taken(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing' AND args->>'url' LIKE '%%/fault/hang/%%'"
        ).fetchone()
    return bool(row and row[0])


@pytest.mark.slow
def test_monitor_run_on_postgresql_queues_the_due_feeds_and_does_not_poll(
    project: application.App, pg_url: str, server: TestServer
) -> None:
    cmd = [str(Path(sys.executable).parent / "monitor"), "--feeds", str(project.paths.feeds), "--seeds", str(SEEDS)]
    env = {"MONITOR_DB": pg_url, "PATH": "/usr/bin:/bin", "NO_PROXY": "*"}
    service = subprocess.Popen([*cmd, "run", "--tick", "1"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _job_statuses(pg_url).get("todo", 0) == FEEDS, 60)
        time.sleep(2)  # two more ticks: the waiting jobs are not queued again
        assert _job_statuses(pg_url) == {"todo": FEEDS}
    finally:
        service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=60)
    assert service.returncode == 0, err
    assert "deferred 8 feed jobs" in err and "deferred 0 feed jobs" in err
    assert not [r for r in server.requests if r.path.startswith("/feed")]  # the workers poll, not the service
