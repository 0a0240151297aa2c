"""Typed records the storage returns (every backend returns these, never rows or dicts)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ..models import Document, MatchItem, explanation_text

MatchStatus = Literal["active", "demoted"]
RescoreOutcome = Literal["new", "demoted", "kept", "none"]
DigestStatus = Literal["pending", "delivered"]


@dataclass(frozen=True)
class FeedStatus:
    """One feed as `monitor status` shows it."""

    url: str
    name: str
    tags: tuple[str, ...]
    interval: float | None  # seconds; None for feeds not in feeds.yaml
    full_text: bool
    title: str | None
    status: str  # active | gone | manual
    entries: int
    matches: int  # active matches among its articles
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    next_due_at: datetime | None
    error_count: int
    last_error: str | None
    last_error_at: datetime | None
    last_warning: str | None
    etag: str | None
    last_modified: str | None
    fetch_url: str | None


@dataclass(frozen=True)
class StoredArticle:
    id: int
    feed: str
    url: str | None
    title: str
    text: str
    published: datetime | None
    first_seen: datetime
    language: str | None

    def document(self) -> Document:
        return Document(id=str(self.id), title=self.title, text=self.text, language=self.language)


@dataclass(frozen=True)
class SavedArticle:
    """What storing one processed entry did."""

    article_id: int
    news: bool  # a new match, or a reported one whose content changed or that qualifies again
    copy_of: int | None = None  # the article this one is a copy of (its digest entry)
    version: str = ""  # the new version's verdict ("" when the text did not change)
    material: bool = False  # the new version is material
    reported: int | None = None  # the article whose match is active (itself or its original)
    first_seen: datetime | None = None  # of the reported article: its re-check schedule starts here
    new_article: bool = False  # a first sighting (not an update of a stored entry)


@dataclass(frozen=True)
class StoredVersion:
    """One version of an article's text as `monitor history` lists it."""

    number: int
    seen_at: datetime
    title: str
    words: int
    extraction: str
    material: bool
    significance: float
    summary: str
    reason: str
    text: str = field(default="", repr=False)  # the version's text: the web page diffs consecutive ones


@dataclass(frozen=True)
class Recheck:
    """A reported article whose page is due to be read again (conditional GET)."""

    article_id: int
    feed_url: str
    entry_id: str
    entry_hash: str
    url: str
    title: str
    summary: str
    published: datetime | None
    first_seen: datetime
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class StoredMatch:
    """An article's match row: the score's parts, the lifecycle status and the revision."""

    id: int
    article_id: int
    score: float
    nearest_seed: str
    facets: tuple[str, ...]
    terms: tuple[str, ...]
    sentence: str
    matched_at: datetime
    updated_at: datetime
    revision: int
    status: MatchStatus

    @property
    def explanation(self) -> str:
        return explanation_text(self.nearest_seed, self.facets, self.terms)


@dataclass(frozen=True)
class DigestRecord:
    id: int
    target: str
    created_at: datetime
    status: DigestStatus
    delivered_at: datetime | None
    count: int
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class PendingDigest:
    """A digest reserved for a target but not yet delivered: retried first."""

    id: int
    created_at: datetime
    items: tuple[MatchItem, ...]


@dataclass(frozen=True)
class Counts:
    articles: int
    matches: int  # active
    feeds: int


@dataclass(frozen=True)
class StoryMember:
    """A stored article with its story, replayed to rebuild the in-memory clusterer."""

    article_id: int
    story_id: int
    title: str
    text: str
    url: str | None
    published: datetime | None
    first_seen: datetime


@dataclass(frozen=True)
class Pruned:
    """One retention batch: articles looked at, and those whose text was dropped."""

    scanned: int
    dropped: int


@dataclass(frozen=True)
class MatchQuery:
    """A filtered, paged list of matches (the web page's Matches): active matches, plus judged
    articles whose match was demoted (the analyst must find what they judged), best first."""

    search: str | None = None  # a full-text query; only its best SEARCH_HITS articles are considered
    feed: str = ""  # a feed's name ("" any)
    since: datetime | None = None  # published (else first seen) at or after
    min_score: float | None = None
    judged: str = ""  # "" any | "yes" | "no"
    page: int = 1  # past the last page: the last page
    size: int = 20


@dataclass(frozen=True)
class MatchPage:
    items: tuple[MatchItem, ...]  # one page, with copies, story and reported change
    number: int
    pages: int
    total: int
    demoted: frozenset[int]  # article ids on this page whose match is demoted
    feeds: tuple[str, ...]  # names of the feeds the listed matches come from (the filter's choices)


@dataclass(frozen=True)
class StoryStep:
    """What one story placement changes in the story engine's state: the story's state (JSON,
    changes.story_state) and the article's distinct terms with their background prior (each
    term's document frequency and the article count go up by one); with `index`, the article's
    query terms added to its story's candidate-index entry as of a time, in the same
    transaction (story_candidates finds the story by them)."""

    state: str
    terms: tuple[tuple[str, float], ...]
    index: tuple[tuple[str, ...], datetime] | None = None


@dataclass(frozen=True)
class StoryFrequencies:
    """The story engine's document frequencies, written whole (after a replay)."""

    version: int
    articles: int
    df: Mapping[str, int]
    prior: Mapping[str, float]


@dataclass(frozen=True)
class StoryEngineState:
    """The stored story engine: state version, articles counted, document frequencies
    (term, df, prior), and the stories grown since a time, least recently grown first, each
    with its state (None: no row)."""

    version: int
    articles: int
    terms: tuple[tuple[str, int, float], ...]
    stories: tuple[tuple[int, str | None], ...]
