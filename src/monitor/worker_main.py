"""Tells the worker pool's fork server that the polling process's main script is loaded, without
running it.

multiprocessing prepares each worker (a fork of the fork server, workers.py) by running the
parent's main script as ``__mp_main__``, so that objects defined in the script can be unpickled,
unless the process's ``__main__.__file__`` already names the script. The pool never sends such
objects: a task is ``monitor.workers._serve`` and monitor's own records, the scorer a pickled
``Scorer``. Running the script would only import what it imports: for the ``monitor`` console
script the whole CLI, ~0.28 s CPU (measured) in the fork server on the way to the first pages,
against ~0.11 s for what a worker needs (``monitor.workers``); and on Python 3.11, whose fork
server never preloads ``"__main__"`` (CPython gh-126631), in every worker, ~70 ms each. So the fork
server's ``__main__`` takes the script's path as its ``__file__``, and the script runs in none of
the pool's processes. The parent names the script in ``MAIN_ENV`` (workers.start_server); this
module, preloaded first, reads it. Nothing else imports it.
"""

from __future__ import annotations

import json
import os
import sys

MAIN_ENV = "MONITOR_FORKSERVER_MAIN"  # workers.MAIN_ENV: {"path": the parent's main script}


def _mark_main() -> None:
    try:
        path = str(json.loads(os.environ.get(MAIN_ENV) or "null")["path"])
    except (ValueError, TypeError, KeyError):
        return  # none (python -c, an interactive parent): there is nothing to run
    sys.modules["__main__"].__file__ = path  # what spawn's _fixup_main_from_path compares


_mark_main()
