"""Frozen values passed between pipeline stages."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime

# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedSpec:
    url: str
    name: str
    tags: tuple[str, ...] = ()
    interval: float = 1800.0  # seconds
    full_text: bool = True


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    security: str = "none"  # none | starttls | ssl
    user: str | None = None  # only from MONITOR_SMTP_USER
    password: str | None = None  # only from MONITOR_SMTP_PASSWORD
    timeout: float = 30.0


@dataclass(frozen=True)
class DigestTarget:
    type: str  # "file" | "email"
    name: str  # stable identity used for exactly-once bookkeeping, e.g. "file:digests"
    dir: str | None = None
    formats: tuple[str, ...] = ("md", "html", "json", "atom")
    to: tuple[str, ...] = ()
    sender: str | None = None
    smtp: SmtpSettings | None = None


@dataclass(frozen=True)
class DigestSettings:
    time: str = "07:00"
    timezone: str = "UTC"
    empty: str = "skip"  # skip | send
    targets: tuple[DigestTarget, ...] = ()
    templates_dir: str | None = None


@dataclass(frozen=True)
class FetchSettings:
    allow_hosts: tuple[str, ...] = ()  # hosts, IPs or CIDRs the SSRF guard lets through
    timeout: float = 20.0  # per network operation
    deadline: float = 60.0  # whole request, including a slow-drip body
    max_feed_bytes: int = 10 * 1024 * 1024
    max_page_bytes: int = 5 * 1024 * 1024
    per_host: int = 2
    host_spacing: float = 1.0  # seconds between requests to one host


@dataclass(frozen=True)
class SemanticSettings:
    """The optional embedding backend fused with the lexical score (docs/semantic.md)."""

    model: str  # local model directory or a name resolved offline
    weight: float = 0.1  # in (0, 1]: value = (1 - weight) * lexical + weight * semantic
    languages: tuple[str, ...] | None = ("en",)  # languages the model reads; None: every language


@dataclass(frozen=True)
class ScoringSettings:
    semantic: SemanticSettings | None = None  # None: lexical scoring only (the default)


@dataclass(frozen=True)
class Settings:
    feeds: tuple[FeedSpec, ...]
    digest: DigestSettings = field(default_factory=DigestSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    source: str = "feeds.yaml"
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    # processes that extract and score pages (src/monitor/workers.py); 0 or 1: in this process
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)


# --- fetch -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchResult:
    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int  # 200, or 304 when not modified
    content: bytes  # decoded from any Content-Encoding, capped
    headers: dict[str, str]  # lower-case names
    etag: str | None = None
    last_modified: str | None = None
    permanent_redirect: str | None = None  # new URL when a 301/308 moved the resource

    @property
    def not_modified(self) -> bool:
        return self.status == 304


# --- parse / extract -------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One feed entry with a stable identity."""

    id: str  # guid, else canonical link, else hash of title and date
    feed_url: str
    title: str
    link: str | None
    published: datetime | None
    summary: str  # plain text
    content: str  # plain text of the feed's full content, if any


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    entries: tuple[Entry, ...]
    warning: str | None = None  # feed usable despite errors (bozo)


@dataclass(frozen=True)
class Article:
    entry: Entry
    url: str | None
    canonical_url: str | None
    title: str
    text: str
    published: datetime | None
    extraction: str  # "page" | "feed" | "feed: <why the page failed>"
    content_hash: str
    author: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Analysed:
    """An entry after extraction and scoring, in this process or in a worker process."""

    article: Article
    score: Score | None  # None: the scorer failed on this entry (logged); the next poll retries it
    error: str | None = None  # no worker could process the entry: it is not stored, the feed is retried


# --- scoring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    name: str  # file name
    text: str  # cleaned plain text


@dataclass(frozen=True)
class Document:
    """What a scorer sees: title and body text (a summary or a full article)."""

    id: str
    title: str
    text: str
    language: str | None = None


@dataclass(frozen=True)
class Score:
    value: float  # in [0, 1]
    match: bool
    nearest_seed: str = ""
    facets: tuple[str, ...] = ()  # facets of the seed profile the document covers
    terms: tuple[str, ...] = ()  # top shared terms
    sentence: str = ""  # the document's best-matching sentence

    def explanation(self) -> str:
        parts = []
        if self.nearest_seed:
            parts.append(f"nearest seed {self.nearest_seed}")
        if self.facets:
            parts.append("facets: " + "; ".join(self.facets))
        if self.terms:
            parts.append("terms: " + ", ".join(self.terms))
        return " | ".join(parts)


@dataclass(frozen=True)
class Judgment:
    """An analyst's verdict on one stored article (feedback)."""

    document: Document
    relevant: bool


# --- results and digests ---------------------------------------------------------------------


@dataclass(frozen=True)
class FeedResult:
    """Outcome of one feed's run: never an exception."""

    url: str
    name: str
    new_entries: int = 0
    matches: int = 0
    not_modified: bool = False
    error: str | None = None
    warning: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class MatchItem:
    """One match as shown in a digest."""

    article_id: int
    url: str
    title: str
    feed: str
    published: datetime | None
    first_seen: datetime
    score: float
    explanation: str
    sentence: str = ""
    nearest_seed: str = ""
    facets: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    changed: bool = False  # an already-reported article whose content changed


@dataclass(frozen=True)
class Digest:
    generated_at: datetime
    matches: tuple[MatchItem, ...]
    since: datetime | None = None
    title: str = "monitor digest"
