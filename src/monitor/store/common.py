"""Helpers shared by the SQLite entity modules: time columns and row reads."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

Params = Sequence[Any] | Mapping[str, Any]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    """Times are stored as UTC ISO-8601 text (sortable, readable in the sqlite3 shell)."""
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


def from_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def required_time(value: str | None) -> datetime:
    """A column the code always writes; EPOCH only if a row was edited by hand."""
    return from_iso(value) or EPOCH


def rows(conn: sqlite3.Connection, sql: str, params: Params = ()) -> list[sqlite3.Row]:
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    return list(cur.execute(sql, params).fetchall())


def one(conn: sqlite3.Connection, sql: str, params: Params = ()) -> sqlite3.Row | None:
    found = rows(conn, sql, params)
    return found[0] if found else None
