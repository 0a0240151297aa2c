"""What the SQLite and PostgreSQL modules share between SQL rows and records: the statements and
row mappers whose logic is the same, parameterised by the dialect's few differences (times are
ISO text in SQLite and timestamptz in PostgreSQL; named parameters are :name or %(name)s)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..models import FetchRecord
from .common import iso


@dataclass(frozen=True)
class Dialect:
    """How one backend writes a named parameter and a time."""

    named: str  # a named parameter, with {} for its name
    write_time: Callable[[datetime | None], Any]

    def param(self, name: str) -> str:
        return self.named.format(name)


SQLITE = Dialect(named=":{}", write_time=iso)
POSTGRES = Dialect(named="%({})s", write_time=lambda value: value)  # psycopg sends datetimes as timestamptz


def fetch_record(d: Dialect, url: str, record: FetchRecord) -> tuple[str, dict[str, Any]]:
    """The UPDATE writing a poll's fetch record to its feed's row, with its parameters."""
    p = d.param
    sets = [f"last_fetch_at = {p('now')}", f"next_due_at = {p('due')}"]
    params: dict[str, Any] = {"url": url, "now": d.write_time(record.fetched_at), "due": d.write_time(record.next_due)}
    if record.error is None:
        sets += [f"last_success_at = {p('now')}", "error_count = 0", "last_error = NULL"]
        sets.append(f"last_warning = {p('warning')}")
        params["warning"] = record.warning
    else:
        sets += ["error_count = error_count + 1", f"last_error = {p('error')}", f"last_error_at = {p('now')}"]
        params["error"] = record.error.message  # stored as the text `monitor status` shows
    if record.validators is not None:  # every 200 refreshes both, each independently (None clears)
        sets += [f"etag = {p('etag')}", f"last_modified = {p('lm')}"]
        params["etag"], params["lm"] = record.validators
    if record.status is not None:
        sets.append(f"status = {p('status')}")
        params["status"] = record.status
    if record.title:
        sets.append(f"title = {p('title')}")
        params["title"] = record.title
    return f"UPDATE feeds SET {', '.join(sets)} WHERE url = {p('url')}", params
