"""Politeness towards one host: Retry-After parsing, and the per-host concurrency and spacing gate."""

from __future__ import annotations

import email.utils
import threading
from datetime import UTC, datetime

# --- Retry-After -------------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or HTTP-date); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            return None
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


# --- politeness --------------------------------------------------------------------------------


class _HostGate:
    def __init__(self, per_host: int) -> None:
        self.slots = threading.BoundedSemaphore(max(1, per_host))
        self.lock = threading.Lock()
        self.last_start: float | None = None
