"""The worker pool's own guarantees (src/monitor/workers.py), on real worker processes: a worker
killed during a task is replaced and the task retried once, then a worker Failure; close() lets the
running task finish and lets waiting callers out at once; workers start with the pool."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from helpers import SEEDS, corpus_pages, page_title, pid_exists
from monitor.analysis import analyse_entry
from monitor.config import load_seeds
from monitor.models import Entry, Failure, FailureKind, FetchResult
from monitor.score import build_scorer
from monitor.workers import WorkerPool


def _page(entry: Entry, body: bytes) -> FetchResult:
    assert entry.link
    return FetchResult(entry.link, entry.link, 200, body, {"content-type": "text/html"})


def _long_page(paragraphs: int) -> tuple[Entry, Any]:
    """A real article's paragraphs over and over: seconds of extraction for one worker."""
    lines = [line.strip() for line in sorted(SEEDS.glob("*.txt"))[0].read_text().splitlines() if line.strip()]
    body = "".join(f"<p>{lines[1 + i % (len(lines) - 1)]} ({i})</p>" for i in range(paragraphs))
    raw = f"<html><head><title>{lines[0]}</title></head><body><article>{body}</article></body></html>".encode()
    entry = Entry("long", "http://127.0.0.1/f", lines[0], "http://127.0.0.1/long.html", None, "", "")
    return entry, _page(entry, raw)


def _analyse_in_thread(pool: WorkerPool, entry: Entry, page: FetchResult) -> tuple[threading.Thread, list[Any]]:
    """A feed thread's call, started: the thread and the list its answer goes to."""
    done: list[Any] = []
    caller = threading.Thread(target=lambda: done.append(pool.analyse(entry, page, None)))
    caller.start()
    return caller, done


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _busy_worker(pool: WorkerPool, old: frozenset[int] = frozenset()) -> int:
    """The pid of the pool's (one) worker, not in `old`, once it is well into a task."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = [p for p in pool.pids() if p not in old]
        if pids:
            start = _cpu(pids[0])
            while time.monotonic() < deadline and _cpu(pids[0]) < start + 0.1:
                time.sleep(0.01)
            return pids[0]
        time.sleep(0.01)
    raise AssertionError("no worker got the task")


def test_a_worker_killed_during_a_task_is_replaced_and_the_task_retried() -> None:
    scorer = build_scorer(load_seeds(SEEDS))
    pool = WorkerPool(scorer, 1)
    try:
        entry, page = _long_page(8000)
        caller, done = _analyse_in_thread(pool, entry, page)
        victim = _busy_worker(pool)
        os.kill(victim, signal.SIGKILL)
        caller.join(timeout=120)
        assert done == [analyse_entry(entry, page, None, scorer)]  # retried by a fresh worker
        assert pool.rebuilds == 1 and len(pool.pids()) == 1 and victim not in pool.pids()
    finally:
        pool.close()


def test_an_entry_that_kills_its_worker_twice_is_a_worker_failure_and_the_pool_goes_on() -> None:
    scorer = build_scorer(load_seeds(SEEDS))
    pool = WorkerPool(scorer, 1)
    try:
        entry, page = _long_page(8000)
        caller, done = _analyse_in_thread(pool, entry, page)
        first = _busy_worker(pool)
        os.kill(first, signal.SIGKILL)
        os.kill(_busy_worker(pool, frozenset({first})), signal.SIGKILL)  # the retry, on the replacement
        caller.join(timeout=120)
        assert done == [
            Failure(FailureKind.WORKER, "a worker process died while extracting http://127.0.0.1/long.html")
        ]
        assert pool.rebuilds == 2
        key, body = corpus_pages()[5]
        small = Entry("e", "http://127.0.0.1/f", page_title(body), f"http://127.0.0.1/{key}", None, "", "")
        assert pool.analyse(small, _page(small, body), None) == analyse_entry(small, _page(small, body), None, scorer)
    finally:
        pool.close()


def test_close_lets_the_running_task_finish_and_lets_waiting_callers_out_at_once() -> None:
    scorer = build_scorer(load_seeds(SEEDS))
    pool = WorkerPool(scorer, 1)
    entry, page = _long_page(12000)
    first, running = _analyse_in_thread(pool, entry, page)
    busy = _busy_worker(pool)
    key, body = corpus_pages()[1]
    small = Entry("e", "http://127.0.0.1/f", page_title(body), f"http://127.0.0.1/{key}", None, "", "")
    second, waiting = _analyse_in_thread(pool, small, _page(small, body))
    second.join(timeout=0.2)
    assert second.is_alive()  # it waits for the one worker
    closer = threading.Thread(target=pool.close)
    closer.start()
    second.join(timeout=30)
    assert waiting == [Failure(FailureKind.WORKER, "worker pool stopped")]
    assert first.is_alive()  # still extracting: close() waits for it
    closer.join(timeout=120)
    first.join(timeout=1)
    assert running == [analyse_entry(entry, page, None, scorer)]
    assert pool.pids() == [] and not pid_exists(busy)
    assert pool.analyse(small, _page(small, body), None) == Failure(FailureKind.WORKER, "worker pool stopped")


def test_workers_start_when_the_pool_is_created() -> None:
    pool = WorkerPool(build_scorer(load_seeds(SEEDS)), 2)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(pool.pids()) < 2:
            time.sleep(0.01)
        assert len(pool.pids()) == 2  # before any task: the first pages need not wait for forks
    finally:
        pool.close()


def test_a_caller_interrupted_mid_task_does_not_cost_the_pool_its_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor import workers

    scorer = build_scorer(load_seeds(SEEDS))
    pool = WorkerPool(scorer, 1)
    try:
        key, body = corpus_pages()[7]
        entry = Entry("e", "http://127.0.0.1/f", page_title(body), f"http://127.0.0.1/{key}", None, "", "")
        old = pool.start()

        def interrupted(conn: object) -> bytearray:
            raise KeyboardInterrupt  # as Ctrl-C in `monitor backfill`, whose main thread analyses

        monkeypatch.setattr(workers, "_receive", interrupted)
        with pytest.raises(KeyboardInterrupt):
            pool.analyse(entry, _page(entry, body), None)
        monkeypatch.undo()
        caller, done = _analyse_in_thread(pool, entry, _page(entry, body))
        caller.join(timeout=60)  # the one worker's slot was refilled: no wait forever
        assert done == [analyse_entry(entry, _page(entry, body), None, scorer)]
        assert len(pool.pids()) == 1 and pool.pids() != old
    finally:
        pool.close()
