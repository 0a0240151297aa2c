"""Extraction and scoring in worker processes, so a poll uses every core.

Why processes: trafilatura parses with one module-level lxml parser that two threads must not
use at once (extract.py serialises it with a lock; concurrent use crashed with "double free or
corruption"), and extraction is CPU-bound under the GIL anyway. Separate processes have separate
parsers and separate GILs. Fetching stays in the polling process (threads, per-host politeness);
only a fetched page crosses to a worker, and a frozen ``ProcessedEntry`` comes back.

* Workers are forks of a ``forkserver`` that has imported this module (never a ``fork`` of the
  polling process, which runs feed threads), started by ``App.analyser`` (before the scorer is
  built, so the two overlap) or by the pool. They receive the parent's lexical scorer once, at
  start (a pickled ``Scorer``), so every process scores with the very same profile and
  judgments. A scorer that is not the plain lexical one (the semantic backend holds a model)
  stays in the parent: workers then only extract, and the parent scores.
* Entries without a page (feed-only, fetch failed) are analysed in the parent: no lxml, no IPC.
* Each worker has its own socket pair; a feed thread takes a free worker, sends it the page and
  reads the answer itself: no manager or feeder thread in this process (with
  ``ProcessPoolExecutor`` the hand-off cost this process 0.60 ms CPU per article, now 0.36,
  measured). A worker that dies (a segfault in lxml, the OOM killer, SIGKILL) is seen (end of file)
  by the one thread waiting on its socket: that thread starts a replacement and sends the entry
  once more; an entry whose retry also kills its worker comes back as a ``Failure`` (kind
  ``worker``), which the pipeline does not store, and the plan keeps the feed's old validators
  (``plan.entries_lost``), so the next poll processes it again. Nothing is lost, and a page that
  kills workers every time costs one feed its backoff. The other workers carry on meanwhile.
* The workers are started as soon as the pool exists (``App.analyser`` creates it before the
  poll fetches its feeds), in a thread of their own, so the first pages do not wait for forks.
* A worker exits by itself when its parent is gone (even after SIGKILL of the parent), and
  ignores SIGINT: Ctrl-C is the parent's to handle, which then shuts the pool down.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import pickle
import queue
import signal
import socket
import struct
import threading
import time
from multiprocessing import spawn
from pathlib import Path
from typing import Any

from .analysis import (
    ArticleFeatures,
    ProcessedEntry,
    ScorerLike,
    analyse_entry,
    article_features,
    page_article,
    score_article,
    with_features,
)
from .models import Article, Entry, Failure, FailureKind, FetchResult
from .score import Scorer

log = logging.getLogger("monitor.workers")

ATTEMPTS = 2  # a task whose worker died is sent once more, to a fresh worker
PARENT_CHECK = 0.5  # seconds between a worker's checks that its parent is still alive
CLOSE_WAIT = 10.0  # seconds close() lets running tasks finish before it kills their workers
PROTOCOL = pickle.HIGHEST_PROTOCOL  # both ends are the same Python

# --- inside a worker process -----------------------------------------------------------------

_scorer: ScorerLike | None = None  # set once per worker by _init


def _init(scorer: ScorerLike | None, poller: int) -> None:
    global _scorer
    _scorer = scorer
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        # An orphan would wait for a task forever, and keep the fork server alive too (every
        # worker holds the server's "alive" pipe). Its socket's end of file says so when the
        # parent's end is closed, unless a child of the parent inherited that end (a plain
        # os.fork elsewhere): so also ask whether the polling process still exists (it is not our
        # parent: the fork server is).
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


class _Raised:
    """An exception raised by ``_work``, carried to the caller (which raises it) in a reply."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _serve(conn: socket.socket, payload: bytes | None, poller: int) -> None:
    """A worker's life: answer tasks on its socket until the pool closes it (or the parent dies)."""
    _init(None if payload is None else pickle.loads(payload), poller)
    while True:
        try:
            entry, page, why_not = pickle.loads(_receive(conn))
        except (EOFError, OSError):  # the pool closed our socket, or the parent is gone
            return
        try:
            reply = pickle.dumps(_work(entry, page, why_not), PROTOCOL)
        except Exception as exc:  # the caller raises it, as a call in its own process would
            try:
                reply = pickle.dumps(_Raised(exc), PROTOCOL)
            except Exception:  # (an exception that does not pickle)
                reply = pickle.dumps(_Raised(RuntimeError(repr(exc))), PROTOCOL)
        try:
            _send(conn, reply)
        except OSError:  # the parent is gone (or killed this worker's caller: close())
            return


# One message: its length, then the pickle. Written in one call (unlike Connection.send_bytes,
# which writes a message over 16 kB as two: the reader then wakes up twice) and read straight
# into one buffer.
_LENGTH = struct.Struct("!Q")


def _send(conn: socket.socket, message: bytes) -> None:
    conn.sendall(_LENGTH.pack(len(message)) + message)


def _receive(conn: socket.socket) -> bytearray:
    """The next message; EOFError when the other end is closed (its process gone)."""
    (size,) = _LENGTH.unpack(_read(conn, _LENGTH.size))
    return _read(conn, size)


def _read(conn: socket.socket, size: int) -> bytearray:
    data = bytearray(size)
    view, got = memoryview(data), 0
    while got < size:  # one call, unless a signal interrupts it
        n = conn.recv_into(view[got:], size - got, socket.MSG_WAITALL)
        if n == 0:
            raise EOFError
        got += n
    return data


# --- in the polling process --------------------------------------------------------------------

# the main script, for the fork server to count as loaded, read there by worker_main.py (not
# imported here: importing it changes this process's __main__)
MAIN_ENV = "MONITOR_FORKSERVER_MAIN"


def _context() -> multiprocessing.context.ForkServerContext:
    """The fork server (started by exec, so never a fork of our threads) imports monitor.workers
    once; each worker is a fork of it, so starting (and restarting) workers costs no imports
    (the scorer's word tables take ~0.5 s CPU to build per process)."""
    ctx = multiprocessing.get_context("forkserver")
    # First worker_main.py: the parent's main script counts as loaded, so no process of the pool
    # runs it (a worker would import all it imports: for `monitor`, the CLI). Then pool_preload.py:
    # what a worker needs, the scorer's tables and trafilatura, loaded on first use elsewhere: once
    # here, shared by every fork; extract_warm runs one extraction, so trafilatura's first-page
    # tables are built too (with the garbage collector off meanwhile, and frozen after)
    ctx.set_forkserver_preload(["monitor.worker_main", "monitor.pool_preload"])
    return ctx


_STARTING = threading.Lock()  # MAIN_ENV is set for one start at a time


def start_server() -> None:
    """Start the fork server now (if it is not running), without waiting for it: its imports
    (trafilatura, the scorer's tables: ~0.5 s CPU) then overlap the polling process's own start
    (building the scorer, fetching the feeds) instead of holding up the first pages (measured:
    the first result came ~1.9 s after the first page was submitted). A system that cannot start
    it is reported by the pool on first use.

    The main script's path goes to worker_main.py in the environment the server inherits, set only
    while it starts: no other child (a notify command) inherits it.
    A running server is left alone, and so is the environment (feed threads may be reading it)."""
    _context()
    with _STARTING:
        running = getattr(multiprocessing.forkserver._forkserver, "_forkserver_pid", None)
        if running is not None and _alive(running):
            return
        main = spawn.get_preparation_data("main").get("init_main_from_path")
        saved = os.environ.pop(MAIN_ENV, None)
        if main:
            os.environ[MAIN_ENV] = json.dumps({"path": main})
        try:
            multiprocessing.forkserver.ensure_running()
        except (OSError, ValueError) as exc:
            log.debug("fork server not started early: %s", exc)
        finally:
            os.environ.pop(MAIN_ENV, None)
            if saved is not None:
                os.environ[MAIN_ENV] = saved


class _Worker:
    """A worker process and this process's end of its socket pair, used by one thread at a time:
    the one that took it from the pool's free queue."""

    __slots__ = ("process", "conn", "pid")

    def __init__(self, process: multiprocessing.process.BaseProcess, conn: socket.socket) -> None:
        self.process, self.conn = process, conn
        self.pid = int(process.pid or 0)


class WorkerPool:
    """The worker processes of one ``monitor poll`` or one service run; thread-safe.

    ``analyse`` has the Analyser signature (analysis.py) (pass it to ``run_feed``, ``process_entry``).
    """

    def __init__(self, scorer: ScorerLike, workers: int) -> None:
        self.scorer = scorer
        self.workers = max(1, workers)
        # only the plain lexical scorer is shipped to workers (the semantic one holds a model);
        # pickled once for them all
        self._payload = pickle.dumps(scorer, PROTOCOL) if type(scorer) is Scorer else None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a worker stopped (close waits for them all)
        # the workers not in use; None once the pool is closed or unavailable (each taker puts it
        # back, for the next waiting thread)
        self._free: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        self._live: dict[int, _Worker] = {}  # pid → every started worker, in use or not
        self._slots = 0  # workers started or starting: at most self.workers
        self._closed = False
        self.rebuilds = 0  # how often a dead worker was replaced (tests, logs)
        self.unavailable: str | None = None  # why this system cannot run workers (then: in-process)
        self._starter = threading.Thread(target=self._fill, name="worker-start", daemon=True)
        self._starter.start()

    def _fill(self) -> None:
        """Start the workers, each free for a task as soon as it runs (the fork server may still be
        importing what they need: the feed threads fetch meanwhile)."""
        start_server()  # (again, if it died) with the main script for it to preload
        while True:
            with self._lock:
                if self._closed or self.unavailable or self._slots >= self.workers:
                    return
                self._slots += 1
            worker = self._spawn()
            if worker is None:
                return
            self._put(worker)

    def _spawn(self) -> _Worker | None:
        """A new worker in a slot already counted; None if the pool closed or this system cannot
        start one (then the pool is unavailable: pages are extracted in this process)."""
        try:
            ours, theirs = socket.socketpair()
            try:
                process = _context().Process(
                    target=_serve, args=(theirs, self._payload, os.getpid()), name="monitor-worker", daemon=True
                )
                process.start()
            except BaseException:
                ours.close()
                raise
            finally:
                theirs.close()  # only the worker holds its end: its death is an end of file here
        except (OSError, ValueError) as exc:
            with self._lock:
                self._slots -= 1
            self._give_up(exc)
            return None
        worker = _Worker(process, ours)
        with self._lock:
            if not self._closed:
                self._live[worker.pid] = worker
                return worker
        self._stop([worker])
        return None

    def _take(self) -> _Worker | None:
        """A free worker (waiting for one); None once the pool is closed or unavailable."""
        worker = self._free.get()
        if worker is None:
            self._free.put(None)  # for the next waiting thread
        return worker

    def _put(self, worker: _Worker) -> None:
        """Give a worker back (stopped instead, once the pool is closed)."""
        with self._lock:
            if not self._closed:
                self._free.put(worker)
                return
        self._stop([worker])

    def _stop(self, workers: list[_Worker], wait: float = CLOSE_WAIT) -> None:
        """End these workers, which no thread is using: a closed socket ends a worker's loop."""
        for worker in workers:
            worker.conn.close()
        for worker in workers:
            worker.process.join(wait)
            if worker.process.exitcode is None:
                worker.process.kill()
                worker.process.join()
            worker.process.close()
            with self._changed:
                self._live.pop(worker.pid, None)
                self._changed.notify_all()

    def _replace(self, dead: _Worker) -> _Worker | None:
        """A fresh worker in a dead one's slot, for the retry; None if the pool closed or none
        can start."""
        self._stop([dead], wait=1.0)  # (its socket's end of file said it is gone, or going)
        with self._lock:
            if self._closed:
                return None
            self.rebuilds += 1
        start_server()  # (again, if it died too)
        return self._spawn()

    def _discard(self, worker: _Worker) -> None:
        """Drop a worker whose caller was interrupted mid-conversation: its socket is closed (it exits
        after its task) and another worker takes its slot, started in a thread (this one is leaving)."""
        worker.conn.close()

        def refill() -> None:
            fresh = self._replace(worker)
            if fresh is not None:
                self._put(fresh)

        threading.Thread(target=refill, name="worker-start", daemon=True).start()

    def start(self) -> list[int]:
        """Wait until every worker has started; their pids."""
        self._starter.join()
        return self.pids()

    def pids(self) -> list[int]:
        """The pids of the current worker processes."""
        with self._lock:
            return sorted(self._live)

    def analyse(self, entry: Entry, page: FetchResult | None, why_not: str | None) -> ProcessedEntry | Failure:
        if page is None or self.unavailable:  # no parser involved: cheaper here than a round trip
            return analyse_entry(entry, page, why_not, self.scorer)  # (extract.py's lock guards lxml)
        task = pickle.dumps((entry, page, why_not), PROTOCOL)
        worker, error, died = self._take(), "worker pool stopped", False
        for _attempt in range(ATTEMPTS):
            if worker is None:
                break
            try:
                _send(worker.conn, task)
                reply = _receive(worker.conn)
            except (EOFError, OSError):  # the worker died (no other process holds its socket)
                error, died = f"a worker process died while extracting {entry.link}", True
                log.warning("%s; starting another", error)
                worker = self._replace(worker)
                continue
            except BaseException:  # (KeyboardInterrupt in `monitor backfill`'s main thread)
                self._discard(worker)
                raise
            self._put(worker)
            return self._answer(pickle.loads(reply))
        if worker is not None:  # the replacement of a worker that the retry killed too
            self._put(worker)
        if not died and not self._closed and self.unavailable:  # no worker could start
            return analyse_entry(entry, page, why_not, self.scorer)
        return Failure(FailureKind.WORKER, error)

    def _answer(self, done: Any) -> ProcessedEntry | Failure:
        if isinstance(done, ProcessedEntry):
            return done
        if isinstance(done, _Raised):
            raise done.exc
        article, features = done  # the parent scores (see the module docstring)
        return with_features(score_article(article, self.scorer), features)

    def _give_up(self, exc: BaseException) -> None:
        with self._lock:
            if self.unavailable:
                return
            self.unavailable = f"{type(exc).__name__}: {exc}"
            self._free.put(None)  # callers waiting for a worker analyse in this process
        log.error("worker processes unavailable (%s): extracting in this process", self.unavailable)

    def close(self) -> None:
        """Stop the workers: callers waiting for one get a Failure at once, a running task is let
        finish (for up to CLOSE_WAIT seconds; then its worker is killed)."""
        with self._lock:
            self._closed = True
            idle = []
            while True:
                try:
                    worker = self._free.get_nowait()
                except queue.Empty:
                    break
                if worker is not None:
                    idle.append(worker)
            self._free.put(None)
        self._stop(idle)
        self._starter.join(CLOSE_WAIT)
        for kill in (False, True):
            with self._changed:
                if self._changed.wait_for(lambda: not self._live, CLOSE_WAIT):
                    return
                busy = list(self._live.values())
            if kill:
                log.warning("worker pool: %d workers did not stop in time", len(busy))
                return
            for worker in busy:  # its caller sees it die, and returns a Failure
                with contextlib.suppress(ValueError):  # (unless it just stopped it: closed)
                    worker.process.kill()
