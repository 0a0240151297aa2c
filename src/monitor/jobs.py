"""Distributed work on PostgreSQL with procrastinate (no broker: the queue is tables in the same
database). `monitor run` defers due feeds and the daily digest as jobs; `monitor worker` runs
them, on any number of machines.

Politeness across workers: every request a worker makes (feed or article page) first takes a
turn of its host in PostgreSQL (store.pg_hosts: at most `per_host` leased slots per host and
starts `host_spacing` apart, on every machine together). A feed job carries procrastinate's
`lock` and `queueing_lock` = its feed: one job of a feed runs at a time, and one waits at most.
`monitor run` keeps at most `backlog_per_host` jobs of one host waiting (the rest stay due for a
later tick) and queues hosts in turn, so one big host cannot fill the queue nor the workers.

Exactly once: entries are unique per (feed, entry id); a job claims its feed (a fencing token:
the feed's version moved on) and every write it makes (each entry, the outcome) checks the token
in the write's transaction, so a job retried after its worker stalled or a paused worker waking
up cannot write a stale result; digests are reserved per (target, match, revision). A killed
worker's running job is retried by `retry_stalled`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation

from . import app as application
from .fetch import Fetcher
from .models import Article, FeedUpdate, Score
from .pipeline import run_feed
from .store import Storage
from .store.pg_feeds import StaleWrite
from .store.pg_hosts import PgPoliteness
from .store.postgres import PostgresStore
from .store.records import SavedArticle

log = logging.getLogger("monitor.jobs")

FEEDS_QUEUE = "feeds"
DIGESTS_QUEUE = "digests"
POLL_TASK = "monitor.poll_feed"
DIGEST_TASK = "monitor.deliver_digests"
STALLED_AFTER = 30.0  # seconds without a worker heartbeat before its running jobs are retried
HEARTBEAT = 5.0
BACKLOG_PER_HOST = 8  # waiting feed jobs of one host at most (see defer_due)


@dataclass
class WorkerContext:
    """What a worker's jobs share: the opened project (settings, seeds, store) and one Fetcher."""

    app: application.App
    fetcher: Fetcher


def host_of(url: str) -> str:
    """The politeness key, as the Fetcher's: the host name (not the port)."""
    return (urlsplit(url).hostname or url).lower()


def build_queue(url: str, worker: WorkerContext | None = None) -> procrastinate.App:
    """The procrastinate app with monitor's tasks; `worker` is set only where jobs run."""
    queue = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @queue.task(name=POLL_TASK, queue=FEEDS_QUEUE)
    def poll_feed(url: str) -> str:
        return poll_one(_need(worker), url)

    @queue.task(name=DIGEST_TASK, queue=DIGESTS_QUEUE)
    def deliver_digests() -> str:
        results = application.deliver_all(_need(worker).app)
        return "; ".join(f"{target}: {outcome}" for target, outcome in results)

    @queue.periodic(cron="* * * * *", periodic_id="retry-stalled")
    @queue.task(name="monitor.retry_stalled", queue=FEEDS_QUEUE, queueing_lock="retry-stalled", pass_context=True)
    async def retry_stalled(context: procrastinate.JobContext, timestamp: int) -> int:
        return await retry_stalled_jobs(context.app)

    return queue


async def retry_stalled_jobs(queue: procrastinate.App, seconds: float = STALLED_AFTER) -> int:
    """Put the running jobs of workers silent for `seconds` (killed, cut off) back in the queue."""
    manager = queue.job_manager
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=seconds))
    for job in stalled:
        log.warning("retrying job %s (%s): its worker stopped sending heartbeats", job.id, job.task_name)
        try:
            await manager.retry_job(job)
        except UniqueViolation:
            # its feed was queued again meanwhile (it looked due): that waiting job does the work
            log.warning("job %s: a job of %s is waiting already; this one is ended", job.id, job.queueing_lock)
            await manager.finish_job(job, status=procrastinate.jobs.Status.FAILED, delete_job=False)
    return len(stalled)


def _need(worker: WorkerContext | None) -> WorkerContext:
    if worker is None:  # a programming error: jobs only run in `monitor worker`
        raise RuntimeError("monitor jobs run only in a worker")
    return worker


def ensure_schema(store: Storage, queue: procrastinate.App) -> None:
    """Install procrastinate's tables once (its schema script is not idempotent)."""
    _postgres(store).install_once("procrastinate_jobs", queue.schema_manager.get_schema())


def _postgres(store: Storage) -> PostgresStore:
    if not isinstance(store, PostgresStore):  # jobs exist only on PostgreSQL
        raise RuntimeError("monitor jobs need the PostgreSQL backend")
    return store


def defer_due(a: application.App, queue: procrastinate.App, *, backlog_per_host: int = BACKLOG_PER_HOST) -> int:
    """Queue due feeds of feeds.yaml, hosts in turn, keeping at most `backlog_per_host` jobs of
    one host waiting (the others stay due: a later tick queues them); a feed already waiting
    keeps its one job."""
    configured = {f.url for f in a.settings.feeds}
    waiting: dict[str, int] = defaultdict(int)
    for queued in queue.job_manager.list_jobs(task=POLL_TASK, status="todo"):
        waiting[host_of(str(queued.task_kwargs.get("url", "")))] += 1
    deferred = 0
    for url in in_turn(u for u in a.store.due_feeds(a.now()) if u in configured):
        host = host_of(url)
        if waiting[host] >= backlog_per_host:
            continue
        job = queue.configure_task(POLL_TASK, lock=f"feed:{url}", queueing_lock=f"feed:{url}")
        try:
            job.defer(url=url)
        except AlreadyEnqueued:
            continue
        deferred += 1
        waiting[host] += 1
    return deferred


def in_turn(urls: Iterable[str]) -> list[str]:
    """Round robin over hosts, each host's URLs in their order: consecutive jobs go to different
    hosts, so workers rarely wait on one host's turns while others have work."""
    by_host: dict[str, list[str]] = defaultdict(list)
    for url in urls:
        by_host[host_of(url)].append(url)
    queues = list(by_host.values())
    out: list[str] = []
    for i in range(max((len(q) for q in queues), default=0)):
        out.extend(q[i] for q in queues if i < len(q))
    return out


def defer_digest(queue: procrastinate.App) -> bool:
    """The daily digest as one job (one waiting at most); delivery itself is exactly once."""
    try:
        queue.configure_task(DIGEST_TASK, queueing_lock="digest").defer()
    except AlreadyEnqueued:
        return False
    return True


def poll_one(worker: WorkerContext, url: str) -> str:
    """Poll one feed in a worker; every write is fenced by the token this job claims."""
    a = worker.app
    spec = next((f for f in a.settings.feeds if f.url == url), None)
    if spec is None:
        return "skipped: not in this worker's feeds.yaml"
    store = _postgres(a.store)
    state = store.feed_state(url)
    if state.next_due_at is not None and state.next_due_at > a.now():
        return "skipped: polled since this job was queued"
    fenced = cast(Storage, _Fenced(store, store.claim_feed(url)))
    result = run_feed(
        spec,
        store=fenced,
        fetcher=worker.fetcher,
        scorer=a.scorer,
        now=a.now,
        changes=a.settings.changes,
        stories=a.stories,  # candidates come from the shared store; the clusterer is this worker's
    )
    if result.error is not None:
        return f"error: {result.error}"
    return "not modified" if result.not_modified else f"{result.new_entries} new, {result.matches} matches"


class _Fenced:
    """The store as the pipeline sees it, its writes refused (StaleWrite) once a later job claims."""

    def __init__(self, store: PostgresStore, token: int) -> None:
        self._store = store
        self._token = token

    def save_article(
        self,
        feed_url: str,
        article: Article,
        entry_hash: str,
        score: Score,
        now: datetime,
        *,
        notify: str = "material",
        shingles: frozenset[int] | None = None,
        bands: tuple[str, ...] | None = None,
    ) -> SavedArticle:
        try:
            with self._store.fenced(feed_url, self._token):
                return self._store.save_article(
                    feed_url, article, entry_hash, score, now, notify=notify, shingles=shingles, bands=bands
                )
        except StaleWrite:
            log.warning("%s: claimed by a later job; this job's entries are dropped", feed_url)
            raise

    def apply(self, update: FeedUpdate) -> None:
        try:
            self._store.apply_at_version(update, self._token)
        except StaleWrite:
            log.warning("%s: claimed by a later job; this result is dropped", update.url)
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def run_worker(a: application.App, url: str, *, concurrency: int, wait: bool = True) -> None:
    """`monitor worker`: run feed and digest jobs until SIGTERM/SIGINT (or, wait=False, until
    the queues are empty)."""
    fetch = a.settings.fetch
    turns = PgPoliteness(url, per_host=fetch.per_host, spacing=fetch.host_spacing, deadline=fetch.deadline)
    try:
        with Fetcher(fetch, politeness=turns) as fetcher:
            queue = build_queue(url, WorkerContext(app=a, fetcher=fetcher))
            ensure_schema(a.store, queue)
            _ = a.scorer  # load seeds and the model before taking jobs
            queue.run_worker(
                queues=[FEEDS_QUEUE, DIGESTS_QUEUE],
                concurrency=concurrency,
                wait=wait,
                update_heartbeat_interval=HEARTBEAT,
                stalled_worker_timeout=STALLED_AFTER,
                fetch_job_polling_interval=1.0,
            )
    finally:
        turns.close()
