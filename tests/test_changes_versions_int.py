"""Versions of stored articles: the pure rules, the store, page re-checks on a loopback server
and `monitor history`."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from factories import FEED, HIT, NOW, entry, spec
from helpers import run
from httpserver import TestServer
from monitor.changes.track import degraded, next_check
from monitor.config import load_settings
from monitor.errors import ConfigError
from monitor.extract import build_article, extract_page
from monitor.fetch import Fetcher
from monitor.models import ChangeSettings, Document, FetchSettings, Score
from monitor.recheck import recheck_due
from monitor.store import SqliteStore

LEAD = (
    "The city council of Springfield approved the new harbour dredging plan on Monday after a long debate. "
    "The plan removes silt from the main channel so that larger cargo ships can dock again. "
    "Work starts in March and is expected to last two years, the harbour master said. "
    "Local fishermen had asked for the work for a decade, saying the channel was too shallow at low tide."
)
ARREST = " Police arrested two protesters who chained themselves to the harbour gate during the vote."
LOOPBACK = FetchSettings(allow_hosts=("127.0.0.1",), timeout=2.0, deadline=5.0, host_spacing=0.0)
HOUR = timedelta(hours=1)


def page(text: str, title: str = "Council approves harbour dredging", footer: str = "") -> bytes:
    paras = "".join(f"<p>{html.escape(s)}</p>" for s in re.split(r"(?<=\.)\s+", text.strip()) if s)
    return (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>"
        f"<nav><a href='/'>Home</a></nav><article><h1>{html.escape(title)}</h1>{paras}</article>"
        f"<footer>{html.escape(footer)}</footer></body></html>"
    ).encode()


class AlwaysMatches:
    def score(self, doc: Document) -> Score:
        return HIT


# --- pure rules --------------------------------------------------------------------------------


def test_next_check_is_the_first_schedule_point_after_now() -> None:
    schedule = ChangeSettings().recheck
    assert next_check(NOW, NOW, schedule) == NOW + HOUR
    assert next_check(NOW, NOW + 2 * HOUR, schedule) == NOW + 6 * HOUR
    assert next_check(NOW, NOW + timedelta(days=8), schedule) is None


def test_a_feed_text_standing_in_for_a_read_page_is_degraded() -> None:
    assert degraded("feed: HTTP 500", "page") is True
    assert degraded("page", "page") is False
    assert degraded("feed", "feed") is False  # a feed-only article is never degraded
    assert degraded("feed: timeout", None) is False


# --- config ------------------------------------------------------------------------------------


def test_changes_settings_defaults_and_values(tmp_path: Path) -> None:
    f = tmp_path / "feeds.yaml"
    f.write_text("feeds: []\n", encoding="utf-8")
    assert load_settings(f).changes == ChangeSettings()
    f.write_text("feeds: []\nsettings:\n  changes:\n    notify: all\n    recheck: 2h, 30m\n", encoding="utf-8")
    assert load_settings(f).changes == ChangeSettings(notify="all", recheck=(1800.0, 7200.0))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("notify: sometimes", "settings.changes.notify: must be one of material, all"),
        ("recheck: [1h, soon]", "settings.changes.recheck: bad interval 'soon'"),
        ("often: yes", "settings.changes: unknown key 'often'"),
    ],
)
def test_bad_changes_settings_are_one_line_errors(tmp_path: Path, body: str, message: str) -> None:
    f = tmp_path / "feeds.yaml"
    f.write_text(f"feeds: []\nsettings:\n  changes:\n    {body}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_settings(f)


# --- the store ---------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "m.db")
    s.sync_feeds([spec()])
    try:
        yield s
    finally:
        s.close()


def _page_article(text: str, entry_id: str = "1", link: str = "http://127.0.0.1/1") -> object:
    return build_article(entry(entry_id, link=link), (text, {"url": link}), None)


def test_a_failed_page_read_keeps_the_text_and_makes_no_version(store: SqliteStore) -> None:
    aid = store.save_article(FEED, _page_article(LEAD), "h1", HIT, NOW).article_id  # type: ignore[arg-type]
    fallback = build_article(entry("1"), None, "HTTP 500 Internal Server Error")
    saved = store.save_article(FEED, fallback, "h2", HIT, NOW + HOUR)
    assert (saved.news, saved.version) == (False, "")
    assert [v.number for v in store.versions(aid)] == [1]
    found = store.find_article(str(aid))
    assert found is not None and found.text == LEAD


def test_a_flip_back_is_a_minor_version(store: SqliteStore) -> None:
    aid = store.save_article(FEED, _page_article(LEAD), "h1", HIT, NOW).article_id  # type: ignore[arg-type]
    store.reserve_digest("t", store.undelivered("t"), NOW)
    edited = store.save_article(FEED, _page_article(LEAD + ARREST), "h2", HIT, NOW + HOUR)  # type: ignore[arg-type]
    assert edited.news and edited.material
    store.reserve_digest("t", store.undelivered("t"), NOW + HOUR)
    back = store.save_article(FEED, _page_article(LEAD), "h3", HIT, NOW + 2 * HOUR)  # type: ignore[arg-type]
    assert (back.news, back.material, back.version) == (False, False, "flip back to an earlier version")
    assert [(v.number, v.material) for v in store.versions(aid)] == [(1, False), (2, True), (3, False)]
    assert store.undelivered("t") == []


# --- re-checks on a loopback server ------------------------------------------------------------


def _reported(store: SqliteStore, server: TestServer, body: bytes) -> int:
    """An article first read from its page on the server (as a poll would), reported once."""
    url = server.url("/story.html")
    read = build_article(entry("1", link=url), extract_page(body, "text/html", url), None)
    saved = store.save_article(FEED, read, "h1", HIT, NOW)
    store.reserve_digest("t", store.undelivered("t"), NOW)
    store.set_recheck(saved.article_id, NOW + HOUR)
    return saved.article_id


def _recheck(store: SqliteStore, at: timedelta, schedule: ChangeSettings | None = None) -> object:
    with Fetcher(LOOPBACK) as fetcher:
        return recheck_due(store, fetcher, AlwaysMatches(), lambda: NOW + at, schedule or ChangeSettings())


def test_a_recheck_is_a_conditional_get_and_a_304_changes_nothing(store: SqliteStore, server: TestServer) -> None:
    server.add("/story.html", page(LEAD), content_type="text/html", etag='"v1"')
    aid = _reported(store, server, page(LEAD))
    assert _recheck(store, timedelta(minutes=30)).checked == 0  # not due yet
    first = _recheck(store, HOUR)  # 200: same text, validators stored
    assert (first.checked, first.versions) == (1, 0)  # type: ignore[attr-defined]
    second = _recheck(store, 6 * HOUR)
    assert second.not_modified == 1  # type: ignore[attr-defined]
    assert server.requests_for("/story.html")[-1].headers.get("if-none-match") == '"v1"'
    assert [r.article_id for r in store.due_rechecks(NOW + timedelta(days=1))] == [aid]
    assert store.due_rechecks(NOW + timedelta(hours=23)) == []


@pytest.mark.parametrize("fault", ["500", "blank", "counter"])
def test_a_500_a_blank_page_or_a_counter_is_never_an_update(store: SqliteStore, server: TestServer, fault: str) -> None:
    aid = _reported(store, server, page(LEAD + " 12 comments."))
    if fault == "500":
        server.add("/story.html", b"oops", status=500, content_type="text/html")
    elif fault == "blank":
        server.add("/story.html", b"<html><body><p>Loading</p></body></html>", content_type="text/html")
    else:
        server.add("/story.html", page(LEAD + " 15 comments."), content_type="text/html")
    result = _recheck(store, HOUR)
    assert result.updates == 0  # type: ignore[attr-defined]
    assert store.undelivered("t") == []
    versions = store.versions(aid)
    assert not any(v.material for v in versions)
    assert len(versions) == (2 if fault == "counter" else 1)
    assert store.due_rechecks(NOW + 6 * HOUR)[0].article_id == aid  # still on its schedule


def test_a_material_edit_found_by_a_recheck_is_reported_once_with_its_diff(
    store: SqliteStore, server: TestServer
) -> None:
    aid = _reported(store, server, page(LEAD))
    server.add("/story.html", page(LEAD + ARREST), content_type="text/html")
    assert _recheck(store, HOUR).updates == 1  # type: ignore[attr-defined]
    [item] = store.undelivered("t")
    assert item.article_id == aid and item.changed and item.revision == 2
    assert item.diff is not None and item.diff.material
    assert ("added", "", ARREST.strip()) in item.diff.changes
    store.reserve_digest("t", [item], NOW + HOUR)
    assert _recheck(store, 6 * HOUR).updates == 0  # type: ignore[attr-defined]
    assert store.undelivered("t") == []


def test_history_lists_every_version_with_its_verdict(store: SqliteStore, tmp_path: Path) -> None:
    store.save_article(FEED, _page_article(LEAD), "h1", HIT, NOW)  # type: ignore[arg-type]
    store.save_article(FEED, _page_article(LEAD + ARREST), "h2", HIT, NOW + HOUR)  # type: ignore[arg-type]
    store.close()
    db = tmp_path / "m.db"
    text = run("--db", db, "history", "http://127.0.0.1/1")
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[2].startswith("v1") and "first version" in lines[2]
    assert lines[3].startswith("v2") and "material" in lines[3] and "1 sentence added" in lines[3]
    data = json.loads(run("--db", db, "history", "1", "--format", "json").output)
    assert [v["material"] for v in data["versions"]] == [False, True]
    missing = run("--db", db, "history", "42")
    assert missing.exit_code == 2 and "no stored article '42'" in missing.output


def test_an_article_from_feed_text_is_not_rechecked_by_its_page(store: SqliteStore, server: TestServer) -> None:
    server.add("/story.html", page(LEAD + ARREST), content_type="text/html")
    summary_only = build_article(entry("1", link=server.url("/story.html"), summary=LEAD), None, None)
    aid = store.save_article(FEED, summary_only, "h1", HIT, NOW).article_id
    store.set_recheck(aid, NOW + HOUR)
    assert store.due_rechecks(NOW + HOUR) == []
    assert _recheck(store, HOUR).checked == 0  # type: ignore[attr-defined]
    assert server.requests_for("/story.html") == []


def test_the_first_read_of_a_page_after_feed_text_is_no_update(store: SqliteStore) -> None:
    failed = build_article(entry("1", summary="Council approves dredging."), None, "HTTP 503 Service Unavailable")
    aid = store.save_article(FEED, failed, "h1", HIT, NOW).article_id
    store.reserve_digest("t", store.undelivered("t"), NOW)
    read = store.save_article(FEED, _page_article(LEAD + ARREST), "h2", HIT, NOW + HOUR)  # type: ignore[arg-type]
    assert (read.news, read.material, read.version) == (False, False, "first read of the page")
    assert [v.extraction for v in store.versions(aid)] == ["feed: HTTP 503 Service Unavailable", "page"]
