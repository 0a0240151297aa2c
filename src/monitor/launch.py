"""The ``monitor`` console script: starts the worker pool's fork server first for a command
that polls, then runs the CLI (cli.py).

Why first: the CLI's imports take ~0.25 s and the fork server's ~0.5 s CPU; started after the
former (by ``App.analyser``) the server was still importing when the first page was fetched, and
that page waited for it (measured on a cold ``monitor poll``: first result 0.76 s after start,
0.63 s when started here). This module imports nothing heavy, so neither does the fork server
when it imports this script (worker_main.py). A ``poll`` with ``settings.workers: 1`` started it
for nothing: it exits with the command. The service (``monitor run``) starts it when it builds
its pool, as before: it runs for hours, and ``workers: 1`` must not keep an idle server."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

POOLED = frozenset({"poll", "backfill"})  # one-shot commands that extract pages in the pool


def pools(args: Sequence[str]) -> bool:
    """Whether the command line runs a command that uses the worker pool (a cheap look: an
    option's value spelt like such a command only starts the server for nothing)."""
    return (os.cpu_count() or 1) > 1 and any(a in POOLED for a in args)


def main() -> None:
    if pools(sys.argv[1:]):
        from .pool_server import start

        start()
    from .cli import main as cli_main

    cli_main()
