"""The worker pool's fork server (workers.py): what it preloads, and starting it.

Standard library only: what it starts is imported by the fork server, not here.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import sys
import threading
from multiprocessing import spawn

log = logging.getLogger("monitor.workers")

# the main script (and argv) for the fork server to import, read there by worker_main.py (not
# imported here: importing it imports the script)
MAIN_ENV = "MONITOR_FORKSERVER_MAIN"


def context() -> multiprocessing.context.BaseContext:
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
            "monitor.workers",
            "monitor.score.warm",
            "trafilatura",
            "monitor.extract_warm",
        ]
    )
    return ctx


_STARTING = threading.Lock()  # MAIN_ENV is set for one start at a time


def start() -> None:
    """Start the fork server now (if it is not running), without waiting for it: its imports
    (trafilatura, the scorer's tables: ~0.5 s CPU) then overlap the polling process's own start
    (building the scorer, fetching the feeds) instead of holding up the first pages (measured:
    the first result came ~1.9 s after the first page was submitted). A system that cannot start
    it is reported by the pool on first use.

    The main script and argv go to worker_main.py in the environment the server inherits, set only
    while it starts: no other child (a notify command) inherits them (argv may hold a --db URL)."""
    context()
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
