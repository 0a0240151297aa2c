"""Frozen values passed between pipeline stages."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

# --- configuration -------------------------------------------------------------------------

# Defaults are defined here once; config.py reads them from these records.
DEFAULT_INTERVAL = 1800.0  # seconds between polls of a feed
DIGEST_FORMATS = ("md", "html", "text", "json", "atom")  # every format a digest renders in
DEFAULT_FORMATS = ("md", "html", "json", "atom")  # what a file target writes unless told
DEFAULT_SEMANTIC_WEIGHT = 0.1
SMTP_PORTS = {"none": 25, "starttls": 25, "ssl": 465}  # default port per security mode
MAX_WORKERS = 64  # settings.workers: more processes than this only cost memory
CHANGE_NOTIFY = ("material", "all")  # which new versions of a reported article are reported again
DEFAULT_RECHECK = (3600.0, 21600.0, 86400.0, 259200.0, 604800.0)  # 1h, 6h, 1d, 3d, 7d after first seen


def default_workers() -> int:
    """settings.workers when absent: one extraction process per CPU (docs/performance.md)."""
    return min(MAX_WORKERS, os.cpu_count() or 1)


@dataclass(frozen=True)
class FeedSpec:
    url: str
    name: str
    tags: tuple[str, ...] = ()
    interval: float = DEFAULT_INTERVAL
    full_text: bool = True


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = SMTP_PORTS["none"]
    security: str = "none"  # none | starttls | ssl
    user: str | None = None  # only from MONITOR_SMTP_USER
    password: str | None = None  # only from MONITOR_SMTP_PASSWORD
    timeout: float = 30.0


@dataclass(frozen=True)
class FileTarget:
    """Dated digest files in a directory."""

    type: ClassVar[str] = "file"
    dir: str = "digests"
    formats: tuple[str, ...] = DEFAULT_FORMATS

    @property
    def name(self) -> str:
        """Stable identity used for exactly-once bookkeeping."""
        return f"file:{self.dir}"


@dataclass(frozen=True)
class EmailTarget:
    """One multipart email per digest."""

    type: ClassVar[str] = "email"
    to: tuple[str, ...]
    sender: str
    smtp: SmtpSettings = field(default_factory=SmtpSettings)

    @property
    def name(self) -> str:
        return "email:" + ",".join(sorted(self.to))


@dataclass(frozen=True)
class AppriseTarget:
    """One Apprise service URL (settings.digest.targets[].urls): each URL is its own target,
    so a failing service is retried alone and the others never get a second copy."""

    type: ClassVar[str] = "apprise"
    url: str = field(repr=False)  # holds tokens: only the Apprise library sees it
    name: str  # stable identity for exactly-once bookkeeping, without the URL's secrets (notify.target_name)


# A new kind of target is a record above, a member here, a reader in config.TARGET_READERS and a
# sender in deliver.SENDERS.
DigestTarget = FileTarget | EmailTarget | AppriseTarget


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
    weight: float = DEFAULT_SEMANTIC_WEIGHT  # in (0, 1]: value = (1 - weight) * lexical + weight * semantic
    languages: tuple[str, ...] | None = ("en",)  # languages the model reads; None: every language


@dataclass(frozen=True)
class ScoringSettings:
    semantic: SemanticSettings | None = None  # None: lexical scoring only (the default)


@dataclass(frozen=True)
class WebSettings:
    """settings.web: `monitor run` also serves the web page; base_url links digests to it."""

    host: str = "127.0.0.1"  # elsewhere than loopback needs MONITOR_WEB_TOKEN
    port: int = 8080
    base_url: str | None = None  # e.g. http://127.0.0.1:8080: digest entries link to <base_url>/article/<id>


@dataclass(frozen=True)
class ChangeSettings:
    """Versions of reported articles (docs/changes.md): what is reported again, when to re-fetch."""

    notify: str = "material"  # material | all
    recheck: tuple[float, ...] = DEFAULT_RECHECK  # seconds after first seen, ascending


@dataclass(frozen=True)
class Settings:
    feeds: tuple[FeedSpec, ...]
    digest: DigestSettings = field(default_factory=DigestSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    source: str = "feeds.yaml"
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    web: WebSettings | None = None  # None: no web page unless `monitor serve`
    # processes that extract and score pages (src/monitor/workers.py); 0 or 1: in this process
    workers: int = field(default_factory=default_workers)
    changes: ChangeSettings = field(default_factory=ChangeSettings)
    retention: float | None = None  # seconds the text of never-reported articles is kept; None: forever


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
    carried: tuple[str, ...] = ()  # the features that carried the score, strongest first

    def explanation(self) -> str:
        return explanation_text(self.nearest_seed, self.facets, self.terms, self.carried)


def explanation_text(
    nearest_seed: str, facets: tuple[str, ...], terms: tuple[str, ...], carried: tuple[str, ...] = ()
) -> str:
    """The one-line "why" of a score, always derived from its parts (never stored beside them)."""
    parts = []
    if nearest_seed:
        parts.append(f"nearest seed {nearest_seed}")
    if carried:
        parts.append("carried by " + ", ".join(carried))
    if facets:
        parts.append("facets: " + "; ".join(facets))
    if terms:
        parts.append("terms: " + ", ".join(terms))
    return " | ".join(parts)


@dataclass(frozen=True)
class Judgment:
    """An analyst's verdict on one stored article (feedback)."""

    document: Document
    relevant: bool


# --- one feed's poll: state, failure values, the planned update ------------------------------


class FailureKind(StrEnum):
    FETCH = "fetch"  # the server or the network failed; retried with backoff
    PERMANENT = "permanent"  # retrying will not help (410 Gone, a refused address): the feed stops
    PARSE = "parse"  # the document is not a usable feed
    STORAGE = "storage"  # the database could not be read or written
    INTERNAL = "internal"  # a bug, logged with its traceback
    WORKER = "worker"  # a worker process died on an entry, twice: not stored, retried with the feed


@dataclass(frozen=True)
class Failure:
    """A typed error value: what kind of failure, and the one-line message shown to people."""

    kind: FailureKind
    message: str
    retry_after: float | None = None  # a server's Retry-After, in seconds

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class FeedState:
    """What the storage knows about a feed before a poll."""

    url: str
    name: str
    etag: str | None = None
    last_modified: str | None = None
    status: str = "active"  # active | gone | manual
    error_count: int = 0
    next_due_at: datetime | None = None
    last_fetch_at: datetime | None = None
    last_error: str | None = None
    entries: int = 0
    fetch_url: str | None = None  # set by a permanent redirect; None: fetch `url`


@dataclass(frozen=True)
class FetchOutcome:
    """What fetching (and parsing) a feed gave: a document, a 304, or a failure."""

    fetched: FetchResult | None = None  # None: the fetch failed
    parsed: ParsedFeed | None = None  # None: not modified, or the fetch or parse failed
    failure: Failure | None = None


@dataclass(frozen=True)
class PlannedEntry:
    entry: Entry
    entry_hash: str  # what the feed says about the entry; stored to notice the next change
    known: bool  # stored before (its feed text changed) rather than new


@dataclass(frozen=True)
class Move:
    """A permanent redirect: fetch from `fetch_url` (None: the configured url) with these validators."""

    fetch_url: str | None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchRecord:
    """The feed row after this poll: when, when next, how it went."""

    fetched_at: datetime
    next_due: datetime
    error: Failure | None = None  # None: success (clears the error count)
    warning: str | None = None
    validators: tuple[str | None, str | None] | None = None  # (etag, last-modified); None: keep
    status: str | None = None  # "gone", "active" (answering again) or None (unchanged)
    title: str | None = None


@dataclass(frozen=True)
class FeedUpdate:
    """Everything one poll decides about a feed; `Storage.apply` writes it in one transaction."""

    url: str  # the configured url (the feed's identity)
    record: FetchRecord | None = None  # None: leave the fetch state alone (an interrupted poll)
    move: Move | None = None
    entries: tuple[PlannedEntry, ...] = ()  # to fetch, extract, score and store
    not_modified: bool = False


# --- results and digests ---------------------------------------------------------------------


@dataclass(frozen=True)
class FeedResult:
    """Outcome of one feed's run: never an exception."""

    url: str
    name: str
    new_entries: int = 0
    matches: int = 0
    not_modified: bool = False
    error: Failure | None = None  # rendered as text (its message) only by the CLI and the logs
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
    sentence: str = ""
    nearest_seed: str = ""
    facets: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    changed: bool = False  # an already-reported article whose content changed
    revision: int = 1  # the match's revision: 2 and up are reported updates
    also_in: tuple[AlsoIn, ...] = ()  # copies of the article in other feeds (never their own entry)
    diff: VersionChange | None = None  # what changed, for an update
    story: str | None = None  # the story the article belongs to
    story_status: str = "new"  # new | more | updated
    story_first_reported: datetime | None = None  # for "more": when the story was first reported
    story_articles: int = 1  # articles of the story in this digest (this one included)
    coverage: tuple[AlsoIn, ...] = ()  # the story's other articles in this digest (folded into this entry)

    @property
    def explanation(self) -> str:
        return explanation_text(self.nearest_seed, self.facets, self.terms)


@dataclass(frozen=True)
class AlsoIn:
    url: str
    feed: str


@dataclass(frozen=True)
class VersionChange:
    """A version's diff as the digest shows it (changes.versions.VersionDiff, flattened)."""

    material: bool
    significance: float
    summary: str
    changes: tuple[tuple[str, str, str], ...]  # (op, before, after); op: added | removed | changed


@dataclass(frozen=True)
class Digest:
    generated_at: datetime
    matches: tuple[MatchItem, ...]
    since: datetime | None = None
    title: str = "monitor digest"
    base_url: str | None = None  # settings.web.base_url: each entry links to its web page
