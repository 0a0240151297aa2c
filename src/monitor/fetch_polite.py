"""Politeness towards one host: Retry-After parsing, and the per-host concurrency and spacing gate."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Protocol

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


class Politeness(Protocol):
    """Where the Fetcher takes its turn with a host: `hold(host)` is held for one request, from
    before it starts until its response is read. The default is one process's gates
    (LocalPoliteness); PostgreSQL workers share theirs across machines (store.pg_hosts)."""

    def hold(self, host: str) -> AbstractContextManager[None]: ...


class _HostGate:
    def __init__(self, per_host: int) -> None:
        self.slots = threading.BoundedSemaphore(max(1, per_host))
        self.lock = threading.Lock()
        self.last_start: float | None = None


class _Turn:
    """One request's turn with a host (a class, not a generator: it is taken for every request)."""

    __slots__ = ("_gate", "_owner")

    def __init__(self, owner: LocalPoliteness, gate: _HostGate) -> None:
        self._owner = owner
        self._gate = gate

    def __enter__(self) -> None:
        gate, owner = self._gate, self._owner
        gate.slots.acquire()
        try:
            with gate.lock:
                now = owner._clock()
                start = now if gate.last_start is None else max(now, gate.last_start + owner.spacing)
                gate.last_start = start
            wait = start - now
            if wait > 0:
                owner._sleep(wait)
        except BaseException:
            gate.slots.release()
            raise

    def __exit__(self, *exc: object) -> None:
        self._gate.slots.release()


class LocalPoliteness:
    """At most `per_host` requests in flight per host in this process, each starting at least
    `spacing` seconds after the previous start (slots are reserved under a lock, so concurrent
    callers queue up at spacing intervals)."""

    def __init__(
        self,
        per_host: int,
        spacing: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_host = per_host
        self.spacing = max(0.0, spacing)
        self._clock = clock
        self._sleep = sleep
        self._gates: dict[str, _HostGate] = {}
        self._gates_lock = threading.Lock()

    def _gate(self, host: str) -> _HostGate:
        gate = self._gates.get(host)  # gates are never removed: a hit needs no lock
        if gate is not None:
            return gate
        with self._gates_lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = _HostGate(self.per_host)
            return gate

    def hold(self, host: str) -> AbstractContextManager[None]:
        return _Turn(self, self._gate(host))
