"""`monitor run`: the only APScheduler user. A tick polls the feeds that are due; a daily job
delivers the digest. One service per database; SIGTERM/SIGINT stop it within seconds."""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
from datetime import UTC
from pathlib import Path
from types import FrameType
from typing import IO

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from . import app as application
from .errors import ConfigError, MonitorError
from .score import zipf
from .store import describe_location
from .web import Running, start_in_thread

log = logging.getLogger("monitor.service")
STOP_GRACE = 5.0  # seconds a running poll gets to finish its current entry after a signal


class InstanceLock:
    """An flock beside the database: the kernel drops it when the process dies, even on SIGKILL."""

    def __init__(self, db: Path | None) -> None:
        """db None: nothing to lock (a database server, not a file)."""
        self.path = Path(f"{db}.lock") if db is not None else None
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+")  # noqa: SIM115 - held for the service's lifetime
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise ConfigError(
                f"{self.path.parent / self.path.stem}: already used by a running `monitor run` ({holder})"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}")
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def run_service(paths: application.Paths, *, tick: float = 5.0, now: application.Clock = application.utcnow) -> None:
    # A file lock guards a SQLite file; on PostgreSQL several machines share the database and
    # the work is spread by the job queue instead (docs/scaling.md).
    lock = InstanceLock(paths.db if isinstance(paths.db, Path) else None)
    lock.acquire()
    try:
        a = _start(paths, now)
    except BaseException:
        lock.release()
        raise
    try:
        web = _start_web(a)
    except BaseException:
        a.close()
        lock.release()
        raise
    stop = threading.Event()
    busy = threading.Lock()
    scheduler = BlockingScheduler(timezone=UTC)
    _schedule(scheduler, a, tick, stop, busy)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    settings = a.settings.digest
    log.info(
        "service started: %d feeds, tick %ss, digest at %s %s, db %s",
        len(a.settings.feeds),
        tick,
        settings.time,
        settings.timezone,
        describe_location(paths.db),
    )
    try:
        scheduler.start()
    finally:
        if web is not None:
            web.stop()
        _stop(a, lock, stop, busy)


def _start_web(a: application.App) -> Running | None:
    """settings.web: the web page runs beside the scheduler, on the same App and store."""
    if a.settings.web is None:
        return None
    token = os.environ.get("MONITOR_WEB_TOKEN") or None
    return start_in_thread(a, a.settings.web.host, a.settings.web.port, token)


def _start(paths: application.Paths, now: application.Clock) -> application.App:
    a = application.open_app(paths, now=now)
    try:
        # The story engine reads wordfreq's table; the scorer shares it rather than keep its own
        # copy (score/zipf.py): ~30 MB less for as long as the service runs.
        zipf.share_wordfreq()
        a.restore_scorer = False  # learnt once at start: restoring costs the service memory
        # Build the scorer now (with the semantic backend: load the model): a model that cannot
        # be loaded is a start-up error (exit 2), not one logged at every tick.
        _ = a.scorer
    except BaseException:
        a.close()
        raise
    return a


def _schedule(
    scheduler: BlockingScheduler, a: application.App, tick: float, stop: threading.Event, busy: threading.Lock
) -> None:
    """The tick (poll what is due) and the daily digest; `busy` keeps them from overlapping."""

    queue = _job_queue(a)

    def tick_job() -> None:
        with busy:
            try:
                a.store.set_value("heartbeat", a.now().astimezone(UTC).isoformat(timespec="seconds"))
                if queue is not None:  # PostgreSQL: `monitor worker`s poll (jobs.py)
                    log.info("deferred %d feed jobs", queue.defer_due())
                else:
                    for r in application.poll(a, only_due=True, should_stop=stop.is_set):
                        if r.error:
                            log.warning("feed=%s error=%s", r.name, r.error)
                        elif r.new_entries or r.matches:
                            log.info("feed=%s new=%d matches=%d", r.name, r.new_entries, r.matches)
                if pruned := application.prune_expired(a):
                    log.info("retention: %d article texts dropped", pruned)
            except MonitorError as exc:
                log.error("poll failed: %s", exc)
            except Exception:
                log.exception("poll crashed; the next tick tries again")

    def digest_job() -> None:
        with busy:
            try:
                if queue is not None:
                    log.info("digest job %s", "deferred" if queue.defer_digest() else "already waiting")
                    return
                for target, outcome in application.deliver_all(a):
                    log.info("digest target=%s %s", target, outcome)
            except MonitorError as exc:
                log.error("digest failed: %s", exc)
            except Exception:
                log.exception("digest crashed; pending digests are retried next time")

    scheduler.add_job(
        tick_job, IntervalTrigger(seconds=tick), id="tick", max_instances=1, coalesce=True, next_run_time=a.now()
    )
    settings = a.settings.digest
    if settings.targets:
        hour, minute = (int(x) for x in settings.time.split(":"))
        scheduler.add_job(
            digest_job,
            CronTrigger(hour=hour, minute=minute, timezone=settings.timezone),
            id="digest",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )


class _Queue:
    """`monitor run` on PostgreSQL: due feeds and the digest become jobs for the workers."""

    def __init__(self, a: application.App, url: str) -> None:
        from . import jobs  # procrastinate is part of the optional postgres extra

        self._jobs, self._app = jobs, a
        self._queue = jobs.build_queue(url).open()
        jobs.ensure_schema(a.store, self._queue)

    def defer_due(self) -> int:
        return self._jobs.defer_due(self._app, self._queue)

    def defer_digest(self) -> bool:
        return self._jobs.defer_digest(self._queue)


def _job_queue(a: application.App) -> _Queue | None:
    if not isinstance(a.paths.db, str):
        return None
    return _Queue(a, application.job_queue_url(a, "run"))


def _stop(a: application.App, lock: InstanceLock, stop: threading.Event, busy: threading.Lock) -> None:
    stop.set()
    finished = busy.acquire(timeout=STOP_GRACE)
    log.info(
        "service stopped" + ("" if finished else " (a poll was still running; its open transaction is rolled back)")
    )
    lock.release()
    if not finished:
        # Every write is one transaction, so leaving now loses at most the entry in flight.
        logging.shutdown()
        os._exit(0)
    a.close()
