"""Imports the polling process's main script into the worker pool's fork server, once.

A worker (a fork of the fork server, workers.py) runs the parent's main script as ``__mp_main__``
before its first task unless its ``__main__`` already is that script. ``"__main__"`` in the fork
server's preload list is meant to import it there once, but on Python 3.11 (and any Python without
the fix of CPython gh-126631: forkserver.py asks for a ``main_path`` key that spawn.py names
``init_main_from_path``) it never does, so every worker ran it again. For the ``monitor`` console
script that is ``from monitor.cli import main``: the CLI and all it imports, ~70 ms CPU per worker
(measured), on each worker's way to its first page. The parent names the script and its argv in
``MAIN_ENV`` (workers.start_server); this module, preloaded first, imports it as the fixed stdlib
does. Nothing else imports it (importing it imports the script named there).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from multiprocessing import process, spawn

MAIN_ENV = "MONITOR_FORKSERVER_MAIN"  # workers.MAIN_ENV: {"path": the parent's main script, "argv": its argv}


def _import_main() -> None:
    try:
        main = json.loads(os.environ.get(MAIN_ENV) or "null")
        path, argv = str(main["path"]), [str(a) for a in main["argv"]]
    except (ValueError, TypeError, KeyError):
        return  # none (python -c, an interactive parent)
    if getattr(sys.modules["__main__"], "__file__", None) == path:
        return  # the stdlib imported it already
    sys.argv[:] = argv  # what a worker's own run of it would see (spawn.prepare sets it there)
    # as forkserver.main does for "__main__": a script that starts processes at import is refused
    process.current_process()._inheriting = True  # type: ignore[attr-defined]
    try:
        spawn.import_main_path(path)
    except Exception as exc:  # never stop the fork server: each worker then runs it itself, as before
        logging.getLogger("monitor.workers").debug("main script not preloaded: %s", exc)
    finally:
        del process.current_process()._inheriting  # type: ignore[attr-defined]


_import_main()
