"""Retention's wiring: drop the text of never-reported articles older than settings.retention
(the store keeps their identity; store/retention.py), a bounded amount of work at a time."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # app.py re-exports this function, so it cannot be imported here at run time
    from .app import App

PRUNE_BATCH = 500  # articles per transaction: a batch holds the write lock for well under a second
TICK_SECONDS = 1.0  # what one service tick or `monitor poll` spends on retention at most


def prune_expired(app: App, *, seconds: float | None = TICK_SECONDS) -> int:
    """Batches until nothing is left to look at or `seconds` have passed (None: until done);
    returns how many articles lost their text. Nothing to do without settings.retention."""
    if app.settings.retention is None:
        return 0
    cut = app.now() - timedelta(seconds=app.settings.retention)
    started, dropped = time.monotonic(), 0
    while True:
        batch = app.store.prune(cut, PRUNE_BATCH)
        dropped += batch.dropped
        if batch.scanned < PRUNE_BATCH or (seconds is not None and time.monotonic() - started >= seconds):
            return dropped
