"""One entry's analysis: its page → article (extract) → score, and the features storing it needs.

Pure, and what a worker process runs (workers.py): it imports none of the pipeline's fetching,
parsing, planning or storing, so the worker pool's fork server does not import them either
(pipeline → storyline → store → sqlite_utils: ~75 ms of its start, which holds up the first pages).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from .changes.copies import band_keys, shingles, signature
from .changes.stories import ArticleTerms, article_terms
from .errors import ExtractError
from .extract import build_article, extract_page
from .models import Article, Document, Entry, Failure, FetchResult, Score

log = logging.getLogger("monitor.analysis")


class ScorerLike(Protocol):
    threshold: float

    def score(self, doc: Document) -> Score: ...


@dataclass(frozen=True)
class ArticleFeatures:
    """What storing an article derives from its text (its story terms, its copy shingles and
    their MinHash band keys), computed where it was extracted: in a worker process, so the
    polling process does not."""

    story_terms: ArticleTerms
    shingles: frozenset[int]
    # changes.copies.band_keys(signature(shingles)); None: the store computes them (0.12 ms)
    bands: tuple[str, ...] | None = None

    def __reduce__(
        self,
    ) -> tuple[Callable[..., ArticleFeatures], tuple[ArticleTerms, bytes, tuple[str, ...] | None]]:
        # a worker process sends them back: its ~700 64-bit shingles packed in one bytes object
        # cost 0.03 ms to write instead of 0.08 pickled one by one, and 0.03 instead of 0.04 to read
        packed = struct.pack(f"<{len(self.shingles)}Q", *self.shingles)
        return _unpacked_features, (self.story_terms, packed, self.bands)


def _unpacked_features(
    story_terms: ArticleTerms, packed: bytes, bands: tuple[str, ...] | None = None
) -> ArticleFeatures:
    return ArticleFeatures(story_terms, frozenset(struct.unpack(f"<{len(packed) // 8}Q", packed)), bands)


@dataclass(frozen=True)
class ProcessedEntry:
    article: Article
    score: Score
    scored: bool  # False: the scorer failed (logged); the score is a non-match placeholder
    # computed by a worker process; None: the polling process computes them when storing
    features: ArticleFeatures | None = field(default=None, compare=False)


# Extract and score one entry from its fetched page (None: no page; the third value says why not,
# None too when the feed's own text is wanted). process_entry does it in this process unless given
# one; workers.WorkerPool.analyse does it in worker processes and returns a Failure for an entry no
# worker could process (the worker died twice).
Analyser = Callable[[Entry, FetchResult | None, str | None], ProcessedEntry | Failure]


def analyse_entry(entry: Entry, page: FetchResult | None, why_not: str | None, scorer: ScorerLike) -> ProcessedEntry:
    """Extract and score one entry (the same function runs in worker processes)."""
    return score_article(page_article(entry, page, why_not), scorer)


def page_article(entry: Entry, page: FetchResult | None, why_not: str | None) -> Article:
    """The entry's article from its page; without a usable page, from the feed's own text."""
    if page is None:
        return build_article(entry, None, why_not)
    try:
        # the page's date only stands in for a feed entry without one (build_article)
        extracted = extract_page(
            page.content, page.headers.get("content-type", ""), page.final_url, with_date=entry.published is None
        )
    except ExtractError as exc:
        return build_article(entry, None, str(exc))
    except Exception as exc:  # hostile pages must not take the feed down with them
        log.exception("internal error extracting %s", entry.link)
        return build_article(entry, None, f"internal error: {type(exc).__name__}")
    return build_article(entry, extracted, None)


def article_features(article: Article) -> ArticleFeatures | None:
    """The article's features (see ArticleFeatures); None if computing them failed (logged): the
    polling process then computes them itself, and fails or not as it would have."""
    try:
        found = shingles(article.text)
        return ArticleFeatures(article_terms(article.title, article.text), found, band_keys(signature(found)))
    except Exception:
        log.exception("internal error computing the story terms and shingles of %s", article.entry.link)
        return None


def with_features(done: ProcessedEntry, features: ArticleFeatures | None) -> ProcessedEntry:
    return done if features is None else replace(done, features=features)


def score_article(article: Article, scorer: ScorerLike) -> ProcessedEntry:
    """The article with its score; a scorer bug on one odd entry gives a non-match placeholder."""
    entry = article.entry
    doc = Document(id=entry.id, title=article.title, text=article.text, language=article.language)
    try:
        return ProcessedEntry(article=article, score=scorer.score(doc), scored=True)
    except Exception:
        log.exception("internal error scoring entry %s of %s", entry.id, entry.feed_url)
        return ProcessedEntry(article=article, score=Score(value=0.0, match=False), scored=False)
