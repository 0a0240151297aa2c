"""Copies on the store: one article identity across feeds (url key, guid/URL repair, MinHash band
table with a time window), one digest entry that says where else the article ran."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from factories import FEED, HIT, MISS, NOW, entry, spec
from monitor.extract import build_article
from monitor.models import AlsoIn, Article
from monitor.store import SqliteStore

WIRE = "http://127.0.0.1/wire.xml"
OTHER = "http://127.0.0.1/other.xml"
STORY = (
    "Rescue teams searched through the night for survivors after a magnitude 6.1 earthquake struck the "
    "mountain town of Amatrice early on Wednesday, flattening dozens of stone houses. The civil protection "
    "agency said at least 38 people had died and more than 150 were injured. The mayor said half of the "
    "town no longer exists, and asked for tents and blankets before the cold night."
)
OTHER_STORY = (
    "The central bank left its main interest rate unchanged at 4.5 percent on Thursday and signalled that "
    "it would wait for more evidence that inflation is slowing before cutting. Markets had expected the "
    "decision; the currency rose slightly against the dollar after the announcement by the governor."
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "m.db")
    s.sync_feeds([spec(), spec(WIRE, name="Wire"), spec(OTHER, name="Other Times")])
    try:
        yield s
    finally:
        s.close()


def art(feed: str, entry_id: str, link: str, text: str = STORY, title: str = "Quake kills 38 in Amatrice") -> Article:
    return build_article(entry(entry_id, feed_url=feed, link=link, title=title), (text, {"url": link}), None)


def test_the_same_url_in_three_feeds_is_one_entry_also_in_two(store: SqliteStore) -> None:
    first = store.save_article(FEED, art(FEED, "a", "https://news.example.org/quake?utm_source=rss"), "h", HIT, NOW)
    amp = art(WIRE, "b", "https://amp.news.example.org/quake/amp", text=OTHER_STORY)  # the key decides, not text
    second = store.save_article(WIRE, amp, "h", HIT, NOW + timedelta(minutes=5))
    third = store.save_article(OTHER, art(OTHER, "c", "http://www.news.example.org/quake/"), "h", HIT, NOW)
    assert first.news and first.copy_of is None
    assert (second.copy_of, third.copy_of) == (first.article_id, first.article_id)
    assert not second.news and not third.news
    [item] = store.undelivered("t")
    assert item.article_id == first.article_id
    assert set(item.also_in) == {
        AlsoIn("https://amp.news.example.org/quake/amp", "Wire"),
        AlsoIn("http://www.news.example.org/quake/", "Other Times"),
    }


def test_a_near_duplicate_under_another_url_and_headline_is_a_copy(store: SqliteStore) -> None:
    first = store.save_article(FEED, art(FEED, "a", "https://one.example/quake"), "h", HIT, NOW)
    wrapped = "Breaking news from our partners. " + STORY + " Follow us for more updates on this story."
    copy = art(WIRE, "b", "https://two.example/world/italy-quake", wrapped, title="Deadly quake hits Italian town")
    assert store.save_article(WIRE, copy, "h", HIT, NOW + timedelta(hours=2)).copy_of == first.article_id
    different = art(OTHER, "c", "https://three.example/rates", OTHER_STORY, title="Bank holds rates")
    assert store.save_article(OTHER, different, "h", HIT, NOW).copy_of is None
    assert len(store.undelivered("t")) == 2


def test_a_near_duplicate_outside_the_window_is_a_new_article(store: SqliteStore, tmp_path: Path) -> None:
    store.save_article(FEED, art(FEED, "a", "https://one.example/quake"), "h", HIT, NOW)
    later = art(WIRE, "b", "https://two.example/quake-anniversary")
    assert store.save_article(WIRE, later, "h", HIT, NOW + timedelta(days=4)).copy_of is None
    con = sqlite3.connect(tmp_path / "m.db")
    # the first article's band keys were dropped when the later one came in
    assert {r[0] for r in con.execute("SELECT DISTINCT article_id FROM copy_bands")} == {2}


def test_a_changed_guid_or_url_is_an_update_not_a_new_article(store: SqliteStore) -> None:
    first = store.save_article(FEED, art(FEED, "guid-1", "https://one.example/quake"), "h", HIT, NOW)
    same_url = store.save_article(FEED, art(FEED, "guid-2", "https://one.example/quake"), "h", HIT, NOW)
    assert (same_url.copy_of, same_url.news) == (first.article_id, False)
    # a feed-text-only item: too short for shingles to prove anything, so the repair rule
    # (same feed, same headline, same text, within a day) is what joins it
    teaser = "Quake in Amatrice: at least 38 dead."
    brief = build_article(
        entry("t-1", link="https://one.example/brief/1", title="Amatrice quake", summary=teaser), None, None
    )
    old = store.save_article(FEED, brief, "h", HIT, NOW)
    moved = replace(brief.entry, id="t-2", link="https://one.example/brief/2016")
    repaired = store.save_article(FEED, build_article(moved, None, None), "h", HIT, NOW + timedelta(hours=3))
    assert (repaired.copy_of, repaired.news) == (old.article_id, False)
    other = replace(brief.entry, id="t-3", link="https://one.example/brief/3", summary="Aftershock felt in Rome.")
    assert store.save_article(FEED, build_article(other, None, None), "h", HIT, NOW).copy_of is None
    a_day_later = replace(brief.entry, id="t-4", link="https://one.example/brief/4")
    late = store.save_article(FEED, build_article(a_day_later, None, None), "h", HIT, NOW + timedelta(days=2))
    assert late.copy_of is None
    assert len(store.undelivered("t")) == 4


def test_a_copy_reports_an_unreported_original_and_never_demotes_one(store: SqliteStore) -> None:
    teaser = store.save_article(FEED, art(FEED, "a", "https://one.example/quake"), "h", MISS, NOW)
    assert store.undelivered("t") == []
    full = store.save_article(WIRE, art(WIRE, "b", "https://one.example/quake"), "h", HIT, NOW)
    assert full.news and full.copy_of == teaser.article_id
    [item] = store.undelivered("t")
    assert item.article_id == teaser.article_id and item.also_in == (AlsoIn("https://one.example/quake", "Wire"),)
    store.save_article(OTHER, art(OTHER, "c", "https://one.example/quake"), "h", MISS, NOW)
    assert [m.article_id for m in store.undelivered("t")] == [teaser.article_id]


def test_rescoring_a_copy_never_gives_it_a_match_of_its_own(store: SqliteStore) -> None:
    original = store.save_article(FEED, art(FEED, "a", "https://one.example/quake"), "h", MISS, NOW)
    copy = store.save_article(WIRE, art(WIRE, "b", "https://one.example/quake"), "h", MISS, NOW)
    assert store.rescore_article(copy.article_id, HIT, NOW) == "new"
    assert store.match_for(copy.article_id) is None
    assert [m.article_id for m in store.undelivered("t")] == [original.article_id]
    assert store.rescore_article(copy.article_id, MISS, NOW) == "kept"  # a copy demotes nothing
