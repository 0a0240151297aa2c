"""Extraction and scoring in worker processes, so a poll uses every core.

Why processes: trafilatura parses with one module-level lxml parser that two threads must not
use at once (extract.py serialises it with a lock; concurrent use crashed with "double free or
corruption"), and extraction is CPU-bound under the GIL anyway. Separate processes have separate
parsers and separate GILs. Fetching stays in the polling process (threads, per-host politeness);
only a fetched page crosses to a worker, and a frozen ``ProcessedEntry`` comes back.

* Workers are forks of a ``forkserver`` that has imported this module (never a ``fork`` of the
  polling process, which runs feed threads), started by ``App.analyser`` (before
  the scorer is built, so the two overlap) or on first use. They receive the parent's
  lexical scorer once, at start (a pickled ``Scorer``), so every process scores with the very
  same profile and judgments. A scorer that is not the plain lexical one (the semantic backend
  holds a model) stays in the parent: workers then only extract, and the parent scores.
* Entries without a page (feed-only, fetch failed) are analysed in the parent: no lxml, no IPC.
* A worker that dies (a segfault in lxml, the OOM killer, SIGKILL) breaks the whole executor:
  every task in flight fails with ``BrokenProcessPool``. The pool is rebuilt once per breakage and
  each of those tasks is submitted again; an entry whose retry also breaks comes back as a
  ``Failure`` (kind ``worker``), which the pipeline does not store, and the plan keeps the feed's
  old validators (``plan.entries_lost``), so the next poll processes it again. Nothing is lost,
  and a page that kills workers every time costs one feed its backoff.
* A worker exits by itself when its parent is gone (even after SIGKILL of the parent), and
  ignores SIGINT: Ctrl-C is the parent's to handle, which then shuts the pool down.
"""

from __future__ import annotations

import gc
import json
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import sys
import threading
import time
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import spawn
from pathlib import Path

from .models import Article, Entry, Failure, FailureKind, FetchResult
from .pipeline import (
    ArticleFeatures,
    ProcessedEntry,
    ScorerLike,
    analyse_entry,
    article_features,
    page_article,
    score_article,
    with_features,
)
from .score import Scorer

log = logging.getLogger("monitor.workers")

ATTEMPTS = 2  # a task whose worker died is submitted once more, to a fresh pool
PARENT_CHECK = 0.5  # seconds between a worker's checks that its parent is still alive

# --- inside a worker process -----------------------------------------------------------------

_scorer: ScorerLike | None = None  # set once per worker by _init


def _init(scorer: ScorerLike | None, poller: int) -> None:
    global _scorer
    _scorer = scorer
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        # An orphan would wait on its task queue forever, and keep the fork server alive too
        # (every worker holds the server's "alive" pipe). The polling process is not our parent
        # (the fork server is), so ask whether it still exists.
        while _alive(poller):
            time.sleep(PARENT_CHECK)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    # Modules and the scorer live as long as the worker: out of the collector's sight, full
    # collections stop walking them (GC time per page 0.68 → 0.25 ms) and forked pages stay shared.
    gc.freeze()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists (e.g. EPERM)
        return True
    try:  # a zombie (dead, not yet reaped by its parent) is gone too
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _work(
    entry: Entry, page: FetchResult, why_not: str | None
) -> ProcessedEntry | tuple[Article, ArticleFeatures | None]:
    """Extract and score; also the story terms and copy shingles the parent would compute when
    storing (the parent is one process for every worker: what it does per article caps a poll)."""
    article = page_article(entry, page, why_not)
    features = article_features(article)
    if _scorer is None:  # the parent scores (see the module docstring): only the article
        return article, features
    return with_features(score_article(article, _scorer), features)


def _pid() -> int:
    return os.getpid()


# --- in the polling process --------------------------------------------------------------------

# the main script (and argv) for the fork server to import, read there by worker_main.py (not
# imported here: importing it imports the script)
MAIN_ENV = "MONITOR_FORKSERVER_MAIN"


def _context() -> multiprocessing.context.BaseContext:
    """The fork server (started by exec, so never a fork of our threads) imports monitor.workers
    once; each worker is a fork of it, so starting (and restarting) workers costs no imports
    (the scorer's word tables take ~0.5 s CPU to build per process)."""
    ctx = multiprocessing.get_context("forkserver")
    # The parent's main script first: a worker runs it (for `monitor`, the CLI and all it imports)
    # unless the fork server already has; then each fork skips it. "__main__" alone
    # does that only on Pythons with gh-126631 fixed; worker_main.py does it on the others (3.11).
    # Then the scorer's tables and trafilatura, loaded on first use elsewhere: once here, shared by
    # every fork; extract_warm runs one extraction, so trafilatura's first-page tables are built too
    ctx.set_forkserver_preload(
        [
            "__main__",
            "monitor.worker_main",
            __name__,
            "monitor.score.warm",
            "trafilatura",
            "monitor.extract_warm",
        ]
    )
    return ctx


_STARTING = threading.Lock()  # MAIN_ENV is set for one start at a time


def start_server() -> None:
    """Start the fork server now (if it is not running), without waiting for it: its imports
    (trafilatura, the scorer's tables: ~0.5 s CPU) then overlap the polling process's own start
    (building the scorer, fetching the feeds) instead of holding up the first pages (measured:
    the first result came ~1.9 s after the first page was submitted). A system that cannot start
    it is reported by the pool on first use.

    The main script and argv go to worker_main.py in the environment the server inherits, set only
    while it starts: no other child (a notify command) inherits them (argv may hold a --db URL)."""
    _context()
    main = spawn.get_preparation_data("main").get("init_main_from_path")
    with _STARTING:
        saved = os.environ.pop(MAIN_ENV, None)
        if main:
            os.environ[MAIN_ENV] = json.dumps({"path": main, "argv": sys.argv})
        try:
            multiprocessing.forkserver.ensure_running()
        except (OSError, ValueError) as exc:
            log.debug("fork server not started early: %s", exc)
        finally:
            os.environ.pop(MAIN_ENV, None)
            if saved is not None:
                os.environ[MAIN_ENV] = saved


class WorkerPool:
    """A process pool for one ``monitor poll`` or one service run; thread-safe.

    ``analyse`` has the pipeline's Analyser signature (pass it to ``run_feed``, ``process_entry``).
    """

    def __init__(self, scorer: ScorerLike, workers: int) -> None:
        self.scorer = scorer
        self.workers = max(1, workers)
        # only the plain lexical scorer is shipped to workers (the semantic one holds a model)
        self._payload = scorer if type(scorer) is Scorer else None
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._generation = 0
        self._closed = False
        self.rebuilds = 0  # how often a dead worker broke the pool (tests, logs)
        self.unavailable: str | None = None  # why this system cannot run workers (then: in-process)

    def _current(self) -> tuple[ProcessPoolExecutor, int]:
        with self._lock:
            if self._closed:
                raise RuntimeError("worker pool is closed")
            if self._executor is None:
                start_server()  # (again, if it died) with the main script for it to preload
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=_context(),
                    initializer=_init,
                    initargs=(self._payload, os.getpid()),
                )
            return self._executor, self._generation

    def _rebuild(self, generation: int) -> None:
        """Replace a broken executor, once however many tasks saw it break."""
        with self._lock:
            if generation != self._generation or self._executor is None:
                return
            old, self._executor = self._executor, None
            self._generation += 1
            self.rebuilds += 1
        old.shutdown(wait=False, cancel_futures=True)

    def start(self) -> list[int]:
        """Start every worker now and return their pids (otherwise they start on first use)."""
        executor, _ = self._current()
        for future in [executor.submit(_pid) for _ in range(self.workers)]:
            future.result()
        return self.pids()

    def pids(self) -> list[int]:
        """The pids of the current worker processes (none before first use)."""
        with self._lock:
            executor = self._executor
        # _processes is the executor's own pid → Process map; there is no public accessor
        processes = getattr(executor, "_processes", None) or {}
        return sorted(processes)

    def analyse(self, entry: Entry, page: FetchResult | None, why_not: str | None) -> ProcessedEntry | Failure:
        if page is None or self.unavailable:  # no parser involved: cheaper here than a round trip
            return analyse_entry(entry, page, why_not, self.scorer)  # (extract.py's lock guards lxml)
        error = "worker pool stopped"
        for _attempt in range(ATTEMPTS):
            try:
                executor, generation = self._current()
                future = executor.submit(_work, entry, page, why_not)
            except (OSError, ValueError) as exc:  # this system cannot run worker processes
                self._give_up(exc)
                return analyse_entry(entry, page, why_not, self.scorer)
            except BrokenProcessPool:
                error = self._broken(entry, generation)
                continue
            except RuntimeError:
                if not self._closed:
                    raise
                break  # the service is stopping
            try:
                done = future.result()
            except BrokenProcessPool:
                error = self._broken(entry, generation)
                continue
            except CancelledError:  # closed while queued (the service is stopping)
                break
            if isinstance(done, ProcessedEntry):
                return done
            return with_features(score_article(done[0], self.scorer), done[1])
        return Failure(FailureKind.WORKER, error)

    def _broken(self, entry: Entry, generation: int) -> str:
        error = f"a worker process died while extracting {entry.link}"
        log.warning("%s; restarting the worker pool", error)
        self._rebuild(generation)
        return error

    def _give_up(self, exc: BaseException) -> None:
        with self._lock:
            if self.unavailable:
                return
            self.unavailable = f"{type(exc).__name__}: {exc}"
        log.error("worker processes unavailable (%s): extracting in this process", self.unavailable)

    def close(self) -> None:
        """Stop the workers: queued tasks are cancelled, a running one is let finish."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
