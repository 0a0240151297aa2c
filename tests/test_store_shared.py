"""store.shared: the pure pieces both backends' SQL modules use (the backends themselves run the
storage contract suite, tests/test_storage.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.changes.track import Verdict
from monitor.models import FetchRecord, VersionChange
from monitor.store.records import MatchQuery
from monitor.store.shared import POSTGRES, SQLITE, fetch_record, page_window, reports_change

NOW = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


def test_postgres_gets_named_parameters_and_keeps_casts() -> None:
    text = "SELECT 1 WHERE (:since::timestamptz IS NULL OR a.x >= :since) AND b = :b_2"
    assert SQLITE.sql(text) == text
    assert POSTGRES.sql(text) == "SELECT 1 WHERE (%(since)s::timestamptz IS NULL OR a.x >= %(since)s) AND b = %(b_2)s"


def test_times_are_iso_text_in_sqlite_and_datetimes_in_postgres() -> None:
    assert SQLITE.write_time(NOW) == "2026-11-20T07:00:00+00:00"
    assert SQLITE.read_time("2026-11-20T07:00:00") == NOW  # naive text is UTC
    assert POSTGRES.write_time(NOW) is NOW and POSTGRES.read_time(NOW) is NOW
    assert SQLITE.required_time(None) == POSTGRES.required_time(None) == datetime(1970, 1, 1, tzinfo=UTC)


def test_lists_are_json_in_sqlite_and_arrays_in_postgres() -> None:
    assert SQLITE.write_list(("a", "b")) == '["a", "b"]' and SQLITE.read_list('["a", "b"]') == ("a", "b")
    assert SQLITE.read_list(None) == () == POSTGRES.read_list(None)
    assert POSTGRES.write_list(("a", "b")) == ["a", "b"] and POSTGRES.read_list(["a", "b"]) == ("a", "b")


def test_one_fetch_record_statement_in_each_dialect() -> None:
    record = FetchRecord(fetched_at=NOW, next_due=NOW, validators=("e1", None), title="T")
    sqlite_sql, sqlite_params = fetch_record(SQLITE, "https://example.org/feed", record)
    pg_sql, pg_params = fetch_record(POSTGRES, "https://example.org/feed", record)
    assert POSTGRES.sql(sqlite_sql) == pg_sql
    assert "error_count = 0" in sqlite_sql and "etag = :etag" in sqlite_sql and "title = :title" in sqlite_sql
    assert "status =" not in sqlite_sql  # a record without a status leaves the feed's alone
    assert sqlite_params["now"] == "2026-11-20T07:00:00+00:00" and pg_params["now"] == NOW
    assert (pg_params["etag"], pg_params["lm"], pg_params["url"]) == ("e1", None, "https://example.org/feed")


@pytest.mark.parametrize(
    ("page", "total", "expected"),
    [
        (1, 0, (1, 1, 0)),  # an empty list is one empty page
        (0, 45, (1, 3, 0)),
        (2, 45, (2, 3, 20)),
        (9, 45, (3, 3, 40)),  # past the last page: the last page
    ],
)
def test_page_window(page: int, total: int, expected: tuple[int, int, int]) -> None:
    number, pages, window = page_window(MatchQuery(page=page, size=20), total)
    assert (number, pages, window["offset"]) == expected and window["limit"] == 20


def _verdict(material: bool, changed: bool) -> Verdict:
    change = VersionChange(material, 0.5, "s", (("added", "", "x"),)) if changed else None
    return Verdict(material=material, significance=0.5, summary="s", reason="" if material else "minor", change=change)


def test_a_new_version_is_reported_when_material_or_when_all_are_asked_for() -> None:
    assert reports_change(_verdict(True, True), "material")
    assert not reports_change(_verdict(False, True), "material")
    assert reports_change(_verdict(False, True), "all")
    assert not reports_change(_verdict(True, False), "all")  # a first version is no change
    assert not reports_change(None, "all")
