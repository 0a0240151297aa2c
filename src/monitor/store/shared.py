"""What the SQLite and PostgreSQL modules share between SQL rows and records: the statements and
row mappers whose logic is the same, parameterised by the dialect's few differences (times are
ISO text in SQLite and timestamptz in PostgreSQL, lists JSON text or text[], named parameters
:name or %(name)s)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from math import ceil
from typing import Any, Protocol

from ..changes.track import Verdict, Version, degraded, verdict
from ..models import Article, Document, FeedState, FetchRecord, Judgment, MatchItem, Score, VersionChange
from .common import EPOCH, from_iso, iso
from .copies import Identity
from .lifecycle import MatchChange
from .records import (
    DigestRecord,
    FeedStatus,
    MatchQuery,
    Recheck,
    SavedArticle,
    StoredArticle,
    StoredMatch,
    StoredVersion,
    StoryMember,
)


class Row(Protocol):
    """A row read by column name: sqlite3.Row, or psycopg's dict row."""

    def __getitem__(self, key: str, /) -> Any: ...


_NAMED = re.compile(r"(?<![:\w]):(\w+)")  # a :name parameter (not a ::cast)


@dataclass(frozen=True)
class Dialect:
    """How one backend writes a named parameter, a time and a list, and reads a time and a list."""

    named: str  # the replacement for a :name parameter (\1 is its name)
    write_time: Callable[[datetime | None], Any]
    read_time: Callable[[Any], datetime | None]
    write_list: Callable[[Sequence[str]], Any]
    read_list: Callable[[Any], tuple[str, ...]]

    def sql(self, text: str) -> str:
        """A statement written with SQLite's :name parameters, in this dialect."""
        return _in_dialect(self.named, text)

    def required_time(self, value: Any) -> datetime:
        """A column the code always writes; EPOCH only if a row was edited by hand."""
        return self.read_time(value) or EPOCH


@lru_cache(maxsize=256)
def _in_dialect(named: str, text: str) -> str:
    # a few fixed statements, written per saved article: each is rewritten once (a pass is ~10 us)
    return _NAMED.sub(named, text)


SQLITE = Dialect(
    named=r":\1",
    write_time=iso,
    read_time=from_iso,
    write_list=lambda value: json.dumps(list(value)),
    read_list=lambda value: tuple(json.loads(value or "[]")),
)
# psycopg sends and returns datetimes as timestamptz and lists as text[]
POSTGRES = Dialect(
    named=r"%(\1)s",
    write_time=lambda value: value,
    read_time=lambda value: value,
    write_list=list,
    read_list=lambda value: tuple(value or ()),
)


# Reads shared by both backends (a WHERE/ORDER follows): articles with their feed's name
# (stored_article), and matches with their article and feed (match_item).
ARTICLES = "SELECT a.*, coalesce(f.name, f.url) AS feed FROM articles a JOIN feeds f ON f.id = a.feed_id"
MATCH_COLUMNS = """m.id AS match_id, m.revision, m.score, m.nearest_seed, m.facets, m.terms, m.sentence,
    m.matched_at, m.status, a.id AS article_id, a.url, a.title, a.published, a.first_seen,
    coalesce(f.name, f.url) AS feed"""
_MATCH_FROM = "FROM matches m JOIN articles a ON a.id = m.article_id JOIN feeds f ON f.id = a.feed_id"
MATCHES = f"SELECT {MATCH_COLUMNS} {_MATCH_FROM}"
# A digest's items with the revision it held (an update since is a later digest's news).
AS_SENT = MATCHES.replace("m.revision", "d.revision", 1)

# The web page's match list (store.listing): active matches and the judged ones.
LISTED_FROM = f"{_MATCH_FROM} LEFT JOIN judgments j ON j.article_id = a.id"
LISTED = "(m.status = 'active' OR j.article_id IS NOT NULL)"
SEARCH_HITS = 1000  # full-text hits considered for one search (the matches among them are listed)


def listing_params(d: Dialect, q: MatchQuery) -> dict[str, Any]:
    """The named parameters of a match page's filters and search."""
    return {
        "feed": q.feed,
        "since": d.write_time(q.since),
        "min_score": q.min_score,
        "judged": q.judged,
        "q": q.search or "",
        "hits": SEARCH_HITS,
    }


def page_window(q: MatchQuery, total: int) -> tuple[int, int, dict[str, int]]:
    """The page shown (the one asked for, within 1..pages), the page count, and the page's
    LIMIT and OFFSET parameters."""
    pages = max(1, ceil(total / q.size))
    number = min(max(1, q.page), pages)
    return number, pages, {"limit": q.size, "offset": (number - 1) * q.size}


def fetch_record(d: Dialect, url: str, record: FetchRecord) -> tuple[str, dict[str, Any]]:
    """The UPDATE writing a poll's fetch record to its feed's row, with its parameters."""
    sets = ["last_fetch_at = :now", "next_due_at = :due"]
    params: dict[str, Any] = {"url": url, "now": d.write_time(record.fetched_at), "due": d.write_time(record.next_due)}
    if record.error is None:
        sets += ["last_success_at = :now", "error_count = 0", "last_error = NULL", "last_warning = :warning"]
        params["warning"] = record.warning
    else:
        sets += ["error_count = error_count + 1", "last_error = :error", "last_error_at = :now"]
        params["error"] = record.error.message  # stored as the text `monitor status` shows
    if record.validators is not None:  # every 200 refreshes both, each independently (None clears)
        sets += ["etag = :etag", "last_modified = :lm"]
        params["etag"], params["lm"] = record.validators
    if record.status is not None:
        sets.append("status = :status")
        params["status"] = record.status
    if record.title:
        sets.append("title = :title")
        params["title"] = record.title
    return d.sql(f"UPDATE feeds SET {', '.join(sets)} WHERE url = :url"), params


def feed_state(d: Dialect, r: Row) -> FeedState:
    return FeedState(
        url=r["url"],
        name=r["name"] or r["url"],
        etag=r["etag"],
        last_modified=r["last_modified"],
        status=r["status"] or "active",
        error_count=r["error_count"] or 0,
        next_due_at=d.read_time(r["next_due_at"]),
        last_fetch_at=d.read_time(r["last_fetch_at"]),
        last_error=r["last_error"],
        entries=r["entries"] or 0,
        fetch_url=r["fetch_url"],
    )


def feed_status(d: Dialect, r: Row) -> FeedStatus:
    """A row of feeds with its count of active matches (`matches`)."""
    return FeedStatus(
        url=r["url"],
        name=r["name"] or r["url"],
        tags=d.read_list(r["tags"]),
        interval=r["interval"],
        full_text=bool(r["full_text"]),
        title=r["title"],
        status=r["status"] or "active",
        entries=r["entries"] or 0,
        matches=int(r["matches"]),
        last_fetch_at=d.read_time(r["last_fetch_at"]),
        last_success_at=d.read_time(r["last_success_at"]),
        next_due_at=d.read_time(r["next_due_at"]),
        error_count=r["error_count"] or 0,
        last_error=r["last_error"],
        last_error_at=d.read_time(r["last_error_at"]),
        last_warning=r["last_warning"],
        etag=r["etag"],
        last_modified=r["last_modified"],
        fetch_url=r["fetch_url"],
    )


def stored_article(d: Dialect, r: Row) -> StoredArticle:
    """A row of articles with its feed's name (`feed`)."""
    return StoredArticle(
        id=r["id"],
        feed=r["feed"],
        url=r["url"],
        title=r["title"] or "",
        text=r["text"] or "",
        published=d.read_time(r["published"]),
        first_seen=d.required_time(r["first_seen"]),
        language=r["language"],
    )


def recheck(d: Dialect, r: Row) -> Recheck:
    """A row of articles with its feed's URL (`feed_url`)."""
    return Recheck(
        article_id=r["id"],
        feed_url=r["feed_url"],
        entry_id=r["entry_id"],
        entry_hash=r["entry_hash"] or "",
        url=r["url"],
        title=r["title"] or "",
        summary=r["summary"] or "",
        published=d.read_time(r["published"]),
        first_seen=d.required_time(r["first_seen"]),
        etag=r["page_etag"],
        last_modified=r["page_last_modified"],
    )


def version(r: Row) -> Version:
    """A row of article_versions as the verdict reads it."""
    return Version(r["number"], r["title"] or "", r["text"] or "", r["extraction"] or "", r["content_hash"] or "")


def new_version(
    d: Dialect, article_id: int, history: list[Version], article: Article, now: datetime
) -> tuple[Verdict, str, dict[str, Any]] | None:
    """The article's text as its next version: the verdict against the version before it, and the
    INSERT with its parameters; None when the text is the latest version already."""
    last = history[-1] if history else None
    if last is not None and last.content_hash == article.content_hash:
        return None
    result = verdict(last, history, article.title, article.text, article.extraction)
    values = {
        "article_id": article_id,
        "number": (last.number if last else 0) + 1,
        "seen_at": d.write_time(now),
        "title": article.title,
        "text": article.text,
        "extraction": article.extraction,
        "content_hash": article.content_hash,
        "material": result.material,  # SQLite stores a bool as 1 or 0
        "significance": result.significance,
        "summary": result.summary,
        "reason": result.reason,
        "diff": None if result.change is None else json.dumps([list(c) for c in result.change.changes]),
    }
    sql = f"INSERT INTO article_versions ({', '.join(values)}) VALUES ({', '.join(':' + c for c in values)})"
    return result, d.sql(sql), values


def stored_version(d: Dialect, r: Row) -> StoredVersion:
    return StoredVersion(
        number=int(r["number"]),
        seen_at=d.required_time(r["seen_at"]),
        title=r["title"] or "",
        words=len((r["text"] or "").split()),
        extraction=r["extraction"] or "",
        material=bool(r["material"]),
        significance=float(r["significance"] or 0.0),
        summary=r["summary"] or "",
        reason=r["reason"] or "",
        text=r["text"] or "",
    )


def version_change(r: Row) -> VersionChange:
    """A version's reported change from its material, significance, summary and diff columns."""
    changes = tuple((str(op), str(b), str(a)) for op, b, a in json.loads(r["diff"]))
    return VersionChange(bool(r["material"]), float(r["significance"] or 0.0), r["summary"] or "", changes)


# story members read per store call: the window's texts (17.9k articles at 1,000 feeds, ~2,800
# a day) held at once would set a replaying service's peak memory
MEMBER_PAGE = 500


def paged(after: int | None, read: Callable[[int], list[StoryMember]], page: int) -> Iterator[StoryMember]:
    """Members page by page (keyset on the article id, the arrival order): `read(after)` gives
    up to `page` members with an id over `after`, in id order; None: there are none."""
    while after is not None:
        found = read(after)
        yield from found
        after = found[-1].article_id if found and len(found) == page else None


def story_member(d: Dialect, r: Row) -> StoryMember:
    return StoryMember(
        article_id=r["id"],
        story_id=r["story_id"],
        title=r["title"] or "",
        text=r["text"] or "",
        url=r["url"],
        published=d.read_time(r["published"]),
        first_seen=d.required_time(r["first_seen"]),
    )


def match_item(d: Dialect, r: Row) -> MatchItem:
    """A match joined with its article and its feed's name (`article_id`, `feed`)."""
    revision = int(r["revision"] or 1)
    return MatchItem(
        article_id=r["article_id"],
        url=r["url"] or "",
        title=r["title"] or "(untitled)",
        feed=r["feed"],
        published=d.read_time(r["published"]),
        first_seen=d.required_time(r["first_seen"]),
        score=float(r["score"]),
        sentence=r["sentence"] or "",
        nearest_seed=r["nearest_seed"] or "",
        facets=d.read_list(r["facets"]),
        terms=d.read_list(r["terms"]),
        changed=revision > 1,
        revision=revision,
    )


def stored_match(d: Dialect, r: Row) -> StoredMatch:
    return StoredMatch(
        id=r["id"],
        article_id=r["article_id"],
        score=float(r["score"]),
        nearest_seed=r["nearest_seed"] or "",
        facets=d.read_list(r["facets"]),
        terms=d.read_list(r["terms"]),
        sentence=r["sentence"] or "",
        matched_at=d.required_time(r["matched_at"]),
        updated_at=d.required_time(r["updated_at"]),
        revision=int(r["revision"] or 1),
        status="active" if r["status"] == "active" else "demoted",
    )


def digest_record(d: Dialect, r: Row) -> DigestRecord:
    return DigestRecord(
        id=r["id"],
        target=r["target"],
        created_at=d.required_time(r["created_at"]),
        status="delivered" if r["status"] == "delivered" else "pending",
        delivered_at=d.read_time(r["delivered_at"]),
        count=r["count"] or 0,
        attempts=r["attempts"] or 0,
        last_error=r["last_error"],
    )


JUDGMENTS = """SELECT a.id, a.title, a.text, a.language, j.relevant FROM judgments j
    JOIN articles a ON a.id = j.article_id ORDER BY j.judged_at, a.id"""


def judgment(r: Row) -> Judgment:
    """A row of JUDGMENTS."""
    return Judgment(
        document=Document(id=str(r["id"]), title=r["title"] or "", text=r["text"] or "", language=r["language"]),
        relevant=bool(r["relevant"]),
    )


def kept_text(article: Article, before: Row | None) -> Article:
    """A degraded read (the page failed and the feed's text stood in for an article read from its
    page before) keeps the stored text of `before`: it is never a version."""
    if before is None or not degraded(article.extraction, before["extraction"]):
        return article
    return replace(
        article,
        title=before["title"] or article.title,
        text=before["text"] or "",
        extraction=before["extraction"],
        content_hash=before["content_hash"],
    )


def reports_change(verdict: Verdict | None, notify: str) -> bool:
    """A new version re-reports the article (a new match revision) only when material, or with
    `notify="all"` for any new version."""
    return verdict is not None and verdict.change is not None and (verdict.material or notify == "all")


def saved_article(
    d: Dialect,
    article_id: int,
    before: Row | None,
    original: int | None,
    verdict: Verdict | None,
    change: MatchChange | None,
    reported: Row | None,
) -> SavedArticle:
    """What saving an entry did. `before`: its stored row, if any; `original`: the article it is a
    copy of; `reported`: the row (first_seen) of the article it is reported under, if that article's
    match is active."""
    return SavedArticle(
        article_id=article_id,
        news=change is not None and change.news,
        copy_of=original,
        version="" if verdict is None else (verdict.reason or "material"),
        material=verdict is not None and verdict.material,
        reported=(original if original is not None else article_id) if reported is not None else None,
        first_seen=d.read_time(reported["first_seen"]) if reported is not None else None,
        new_article=before is None,
    )


def article_values(d: Dialect, feed_id: int, article: Article, entry_hash: str, now: datetime) -> dict[str, Any]:
    """The named parameters of an article row's insert or update (`now`: first seen, updated)."""
    e = article.entry
    return {
        "feed_id": feed_id,
        "entry_id": e.id,
        "entry_hash": entry_hash,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "title": article.title,
        "published": d.write_time(article.published),
        "now": d.write_time(now),
        "summary": e.summary,
        "text": article.text,
        "content_hash": article.content_hash,
        "extraction": article.extraction,
        "author": article.author,
        "language": article.language,
    }


# A new entry's row with its identity across feeds (a copy is in its original's story), and a
# stored entry's new reading (its feed, identity and first sighting stay): parameters from
# new_article_values and article_values (with "id").
INSERT_ARTICLE = """INSERT INTO articles (feed_id, entry_id, entry_hash, url, canonical_url, title,
    published, first_seen, updated_at, summary, text, content_hash, extraction, author, language,
    url_key, title_key, copy_of, story_id) VALUES (:feed_id, :entry_id, :entry_hash, :url,
    :canonical_url, :title, :published, :now, :now, :summary, :text, :content_hash, :extraction,
    :author, :language, :url_key, :title_key, :copy_of, (SELECT story_id FROM articles WHERE id = :copy_of))"""
UPDATE_ARTICLE = """UPDATE articles SET entry_hash = :entry_hash, url = :url, canonical_url = :canonical_url,
    title = :title, published = :published, updated_at = :now, summary = :summary, text = :text,
    content_hash = :content_hash, extraction = :extraction WHERE id = :id"""


def new_article_values(
    d: Dialect, feed_id: int, article: Article, entry_hash: str, now: datetime, identity: Identity
) -> dict[str, Any]:
    """The named parameters of INSERT_ARTICLE."""
    return {
        **article_values(d, feed_id, article, entry_hash, now),
        "url_key": identity.url_key,
        "title_key": identity.title_key,
        "copy_of": identity.copy_of,
    }


def match_write(
    d: Dialect, article_id: int, score: Score, now: datetime, change: MatchChange
) -> tuple[str, dict[str, Any]]:
    """The INSERT or UPDATE applying a lifecycle change (store.lifecycle) to an article's match."""
    fields = {
        "article_id": article_id,
        "score": score.value,
        "nearest_seed": score.nearest_seed,
        "facets": d.write_list(score.facets),
        "terms": d.write_list(score.terms),
        "sentence": score.sentence,
        "now": d.write_time(now),
        "status": change.status,
        "bump": int(change.new_revision),
    }
    if change.insert:
        sql = """INSERT INTO matches (article_id, score, nearest_seed, facets, terms, sentence,
           matched_at, updated_at, status) VALUES (:article_id, :score, :nearest_seed, :facets,
           :terms, :sentence, :now, :now, :status)"""
    else:
        sql = """UPDATE matches SET score = :score, nearest_seed = :nearest_seed, facets = :facets,
           terms = :terms, sentence = :sentence, updated_at = :now, status = :status,
           revision = revision + :bump WHERE article_id = :article_id"""
    return d.sql(sql), fields
