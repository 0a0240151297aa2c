"""Politeness shared by every worker on every machine (fetch_polite.Politeness on PostgreSQL).

Per host, `per_host` slot rows (`host_slots`) and one next-allowed start time (`host_turns`,
migration m005). Taking a turn is one short transaction: claim a free slot (`FOR UPDATE SKIP
LOCKED`, so concurrent claimers never wait on each other's row locks), then move the host's
next-allowed time on by `spacing` (`greatest(next_at, now) + spacing`: the row lock orders the
claimers, so starts are at least `spacing` apart across machines) and lease the slot until the
request can no longer be running. Times are the database's clock, so machines' clocks need not
agree.

A slot is leased, not merely locked: a worker killed mid-request holds its slots until the lease
ends (the fetch deadline plus a margin), by which time its request has certainly ended at the
server, so the server never sees more than `per_host` requests even then. A paused worker's
lease ends the same way; its request then was cut off by the server or long answered.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ..errors import StorageError

Conn = psycopg.Connection[dict[str, Any]]
LEASE_MARGIN = 5.0  # seconds past the fetch deadline before a silent holder's slot is taken back
_POLL_FIRST, _POLL_MAX = 0.02, 0.25  # seconds between tries while every slot of a host is taken


class PgPoliteness:
    """`hold(host)`: one of the host's `per_host` slots across all workers, starting at least
    `spacing` seconds after the previous start to that host anywhere."""

    def __init__(
        self,
        url: str,
        *,
        per_host: int,
        spacing: float,
        deadline: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_host = max(1, per_host)
        self.spacing = max(0.0, spacing)
        self.lease = max(0.0, deadline) + LEASE_MARGIN
        self._sleep = sleep
        self._lock = threading.Lock()  # the worker's threads share one connection, briefly each
        self._known: set[str] = set()
        try:
            self.conn: Conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)
        except psycopg.Error as exc:
            raise StorageError(f"cannot open the politeness connection: {_first_line(exc)}") from None

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def hold(self, host: str) -> Iterator[None]:
        holder = uuid.uuid4().hex
        pause = _POLL_FIRST
        while (claimed := self._claim(host, holder)) is None:
            self._sleep(pause * random.uniform(0.5, 1.5))  # jitter: waiting workers do not retry in step
            pause = min(_POLL_MAX, pause * 2)
        slot, wait = claimed
        try:
            if wait > 0:
                self._sleep(wait)
            yield
        finally:
            self._run(lambda conn: release(conn, host, slot, holder))

    def _claim(self, host: str, holder: str) -> tuple[int, float] | None:
        if host not in self._known:
            self._run(lambda conn: ensure_host(conn, host, self.per_host))
            self._known.add(host)
        claimed: tuple[int, float] | None = self._run(
            lambda conn: claim(conn, host, holder, self.per_host, self.spacing, self.lease)
        )
        return claimed

    def _run(self, work: Callable[[Conn], Any]) -> Any:
        with self._lock:
            try:
                return work(self.conn)
            except psycopg.Error as exc:
                raise StorageError(f"host politeness: {_first_line(exc)}") from None


def ensure_host(conn: Conn, host: str, per_host: int) -> None:
    with conn.transaction():
        conn.execute("INSERT INTO host_turns (host) VALUES (%s) ON CONFLICT DO NOTHING", [host])
        conn.execute(
            "INSERT INTO host_slots (host, slot) SELECT %s, s FROM generate_series(0, %s - 1) s ON CONFLICT DO NOTHING",
            [host, per_host],
        )


def claim(conn: Conn, host: str, holder: str, per_host: int, spacing: float, lease: float) -> tuple[int, float] | None:
    """(slot, seconds to wait before starting), or None when all `per_host` slots are leased."""
    with conn.transaction():
        row = conn.execute(
            """SELECT slot FROM host_slots WHERE host = %s AND slot < %s AND until < clock_timestamp()
               ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED""",
            [host, per_host],
        ).fetchone()
        if row is None:
            return None
        turn = conn.execute(
            """UPDATE host_turns SET next_at = greatest(next_at, clock_timestamp()) + make_interval(secs => %(s)s)
               WHERE host = %(host)s
               RETURNING greatest(0, extract(epoch FROM next_at - clock_timestamp()) - %(s)s)::float8 AS wait""",
            {"s": spacing, "host": host},
        ).fetchone()
        wait = float(turn["wait"]) if turn else 0.0
        conn.execute(
            """UPDATE host_slots SET holder = %s, until = clock_timestamp() + make_interval(secs => %s)
               WHERE host = %s AND slot = %s""",
            [holder, wait + lease, host, row["slot"]],
        )
        return int(row["slot"]), wait


def release(conn: Conn, host: str, slot: int, holder: str) -> None:
    """Free the slot, unless its lease ran out and another worker holds it now."""
    conn.execute(
        "UPDATE host_slots SET holder = NULL, until = '-infinity' WHERE host = %s AND slot = %s AND holder = %s",
        [host, slot, holder],
    )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
