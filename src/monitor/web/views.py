"""Pure view logic for the web page: query parameters → filters, filtering, pages, highlighting.

No I/O: the server reads records from the storage and passes them in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar
from urllib.parse import urlencode

from ..models import MatchItem
from ..store.records import FeedStatus, StoredArticle, StoredMatch

PAGE_SIZE = 20
T = TypeVar("T")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class MatchFilter:
    q: str = ""
    feed: str = ""
    since: datetime | None = None
    min_score: float | None = None
    judged: str = ""  # "" any | "yes" | "no"
    page: int = 1

    def query(self, **changes: object) -> str:
        """This filter as a query string (for pagination links), with some values changed."""
        values: dict[str, object] = {
            "q": self.q,
            "feed": self.feed,
            "since": self.since.date().isoformat() if self.since else "",
            "min_score": "" if self.min_score is None else f"{self.min_score:g}",
            "judged": self.judged,
            "page": self.page,
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v != "" and not (k == "page" and v == 1)})


def parse_filter(params: Mapping[str, str]) -> tuple[MatchFilter, list[str]]:
    """Query parameters → a filter; unusable values are dropped and reported, never a 500."""
    errors: list[str] = []
    since = None
    if params.get("since"):
        try:
            since = datetime.fromisoformat(params["since"])
            since = since if since.tzinfo else since.replace(tzinfo=UTC)
        except ValueError:
            errors.append(f"date {params['since']!r} is not YYYY-MM-DD; ignored")
    min_score = None
    if params.get("min_score"):
        try:
            min_score = float(params["min_score"])
            if not 0 <= min_score <= 1:
                raise ValueError
        except ValueError:
            errors.append(f"score {params['min_score']!r} is not a number from 0 to 1; ignored")
            min_score = None
    judged = params.get("judged", "")
    if judged not in ("", "yes", "no"):
        judged = ""
    try:
        page = max(1, int(params.get("page", "1")))
    except ValueError:
        page = 1
    q = params.get("q", "").strip()[:200]
    return MatchFilter(q, params.get("feed", ""), since, min_score, judged, page), errors


def fts_query(text: str) -> str:
    """User text → an FTS5 query that cannot be a syntax error: every word a quoted term (AND)."""
    return " ".join(f'"{w}"' for w in _WORD.findall(text))


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    number: int
    pages: int
    total: int


def highlight(text: str, sentence: str) -> list[list[tuple[str, bool]]]:
    """Paragraphs of `text` as (segment, is_best_sentence) pieces; the template escapes each."""
    sentence = sentence.strip()
    paragraphs = [p for p in re.split(r"\n\s*\n|\n", text) if p.strip()]
    out = []
    for para in paragraphs:
        pieces: list[tuple[str, bool]] = []
        at = para.find(sentence) if sentence else -1
        if at >= 0:
            pieces = [(para[:at], False), (sentence, True), (para[at + len(sentence) :], False)]
            pieces = [p for p in pieces if p[0]]
            sentence = ""  # highlight its first occurrence only
        else:
            pieces = [(para, False)]
        out.append(pieces)
    return out


def as_item(article: StoredArticle, match: StoredMatch) -> MatchItem:
    """A stored (e.g. demoted) match as the list entry the templates show."""
    return MatchItem(
        article_id=article.id,
        url=article.url or "",
        title=article.title or "(untitled)",
        feed=article.feed,
        published=article.published,
        first_seen=article.first_seen,
        score=match.score,
        sentence=match.sentence,
        nearest_seed=match.nearest_seed,
        facets=match.facets,
        terms=match.terms,
        changed=match.revision > 1,
    )


def health(feed: FeedStatus) -> str:
    """One word for the feed list: ok, failing, gone, manual, or new (never fetched)."""
    if feed.status in ("gone", "manual"):
        return feed.status
    if feed.error_count:
        return "failing"
    return "ok" if feed.last_fetch_at else "new"


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
