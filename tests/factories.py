"""Record factories: a valid record with every field defaulted, so a test names only what it is about."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from monitor.extract import build_article
from monitor.models import (
    Article,
    Entry,
    FeedSpec,
    FeedState,
    FetchOutcome,
    FetchResult,
    MatchItem,
    ParsedFeed,
    Score,
)

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
FEED = "http://127.0.0.1/feed.xml"


def match_item(article_id: int = 1, **fields: Any) -> MatchItem:
    base = MatchItem(
        article_id=article_id,
        url=f"https://news.example.org/{article_id}",
        title=f"Story {article_id}",
        feed="Example News",
        published=None,
        first_seen=NOW,
        score=0.9,
    )
    return replace(base, **fields)


def entry(entry_id: str = "1", **fields: Any) -> Entry:
    base = Entry(
        id=entry_id,
        feed_url=FEED,
        title=f"Title {entry_id}",
        link=f"http://127.0.0.1/{entry_id}",
        published=NOW,
        summary="body text",
        content="",
    )
    return replace(base, **fields)


def article(entry_id: str = "1", **entry_fields: Any) -> Article:
    """The article a feed-text-only poll builds from an entry."""
    return build_article(entry(entry_id, **entry_fields), None, None)


def spec(url: str = FEED, **fields: Any) -> FeedSpec:
    return replace(FeedSpec(url=url, name="local"), **fields)


def feed_state(url: str = FEED, **fields: Any) -> FeedState:
    return replace(FeedState(url=url, name="local"), **fields)


def fetched(status: int = 200, **fields: Any) -> FetchResult:
    base = FetchResult(url=FEED, final_url=FEED, status=status, content=b"", headers={})
    return replace(base, **fields)


def outcome(*entries: Entry, warning: str | None = None, **fetch_fields: Any) -> FetchOutcome:
    """A 200 whose document parsed into these entries."""
    parsed = ParsedFeed(title="Local feed", entries=entries, warning=warning)
    return FetchOutcome(fetched=fetched(**fetch_fields), parsed=parsed)


HIT = Score(value=0.9, match=True, nearest_seed="s.txt", facets=("Sahel: Mali",), terms=("junta",))
MISS = Score(value=0.1, match=False)
