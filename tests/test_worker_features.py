"""Story terms and copy shingles computed in the worker processes (analysis.ArticleFeatures):
the story engine and the store given them decide exactly as from the text, and a worker returns
what the polling process would have computed."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from factories import FEED, HIT, NOW, entry, spec
from helpers import SEEDS, corpus_pages, page_title
from monitor.analysis import ProcessedEntry, article_features
from monitor.changes.copies import band_keys, shingles, signature
from monitor.changes.stories import Article as StoryArticle
from monitor.changes.stories import StoryClusterer, article_terms
from monitor.config import load_seeds
from monitor.extract import build_article
from monitor.models import Entry, FetchResult
from monitor.score import build_scorer
from monitor.store import SqliteStore
from monitor.workers import WorkerPool

BODIES = Path(__file__).resolve().parent / "fixtures" / "pages" / "bodies.jsonl.gz"
WIRE = "http://127.0.0.1/wire.xml"


def _stream() -> list[StoryArticle]:
    """Real article bodies, each also re-published a day later cut short (a follow-up that joins
    its story), in arrival order."""
    with gzip.open(BODIES, "rt", encoding="utf-8") as fh:
        bodies = [json.loads(line) for line in fh][:60]
    out = []
    for i, b in enumerate(bodies):
        text = b["articleBody"]
        title = text.split(".")[0][:80]
        out.append(StoryArticle(f"a{i}", title, text, b["url"], "f", NOW + timedelta(hours=i)))
        if i % 3 == 0:
            short = " ".join(text.split()[:150])
            out.append(StoryArticle(f"b{i}", title, short, None, "g", NOW + timedelta(hours=i, days=1)))
    return out


def test_precomputed_story_terms_place_every_article_exactly_as_its_text() -> None:
    plain, given = StoryClusterer(), StoryClusterer()
    placed_plain, placed_given = [], []
    for art in _stream():
        placed_plain.append(plain.assign(art))
        placed_given.append(given.assign(art, terms=article_terms(art.title, art.text)))
    assert placed_given == placed_plain
    assert given.state() == plain.state()  # frequencies, priors and story vectors alike
    assert sum(not a.new_story for a in placed_plain) >= 10  # stories did grow: the test can fail


def test_terms_of_another_language_are_recomputed_from_the_text() -> None:
    art = _stream()[0]
    wrong = article_terms("Unrelated", "Nothing of the article at all, only other words.", lang="de")
    plain, given = StoryClusterer(), StoryClusterer()
    plain.assign(art)
    given.assign(art, terms=wrong)
    assert given.state() == plain.state()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "m.db")
    s.sync_feeds([spec(), spec(WIRE, name="Wire")])
    try:
        yield s
    finally:
        s.close()


def test_the_store_finds_a_copy_by_precomputed_shingles(store: SqliteStore) -> None:
    text = _stream()[0].text
    first = build_article(entry("a", link="https://one.example/a"), (text, {}), None)
    saved = store.save_article(FEED, first, "h", HIT, NOW, shingles=shingles(text))
    copy = build_article(entry("b", feed_url=WIRE, link="https://two.example/b"), (text, {}), None)
    assert store.save_article(WIRE, copy, "h", HIT, NOW, shingles=shingles(copy.text)).copy_of == saved.article_id
    # the shingles given are the ones used: none given for a third copy, no near-duplicate found
    third = build_article(entry("c", feed_url=WIRE, link="https://three.example/c"), (text, {}), None)
    assert store.save_article(WIRE, third, "h", HIT, NOW, shingles=frozenset()).copy_of is None
    fourth = build_article(entry("d", feed_url=WIRE, link="https://four.example/d"), (text, {}), None)
    assert store.save_article(WIRE, fourth, "h", HIT, NOW).copy_of == saved.article_id  # computed here


def test_the_store_finds_a_copy_by_precomputed_band_keys(store: SqliteStore) -> None:
    text = _stream()[0].text
    sh = shingles(text)
    bands = band_keys(signature(sh))
    first = build_article(entry("a", link="https://one.example/a"), (text, {}), None)
    saved = store.save_article(FEED, first, "h", HIT, NOW, shingles=sh, bands=bands)
    copy = build_article(entry("b", feed_url=WIRE, link="https://two.example/b"), (text, {}), None)
    assert store.save_article(WIRE, copy, "h", HIT, NOW, shingles=sh, bands=bands).copy_of == saved.article_id
    # the band keys given are the ones used (and recorded): none given, no candidate to confirm
    third = build_article(entry("c", feed_url=WIRE, link="https://three.example/c"), (text, {}), None)
    third_saved = store.save_article(WIRE, third, "h", HIT, NOW, shingles=sh, bands=())
    assert third_saved.copy_of is None
    recorded = store.db.conn.execute("SELECT count(*) FROM copy_bands WHERE article_id = ?", (third_saved.article_id,))
    assert recorded.fetchone()[0] == 0


def _page(entry: Entry, body: bytes) -> FetchResult:
    assert entry.link
    return FetchResult(entry.link, entry.link, 200, body, {"content-type": "text/html"})


def _features(done: Any) -> tuple[Any, Any]:
    assert isinstance(done, ProcessedEntry) and done.features is not None
    return done.features.story_terms, done.features.shingles, done.features.bands


def test_a_worker_returns_the_features_the_polling_process_would_compute() -> None:
    pool = WorkerPool(build_scorer(load_seeds(SEEDS)), 2)
    try:
        for i, (key, body) in enumerate(corpus_pages()[:4]):
            e = Entry(f"e{i}", "http://127.0.0.1/f", page_title(body), f"http://127.0.0.1/{key}", None, "", "")
            done = pool.analyse(e, _page(e, body), None)
            expected = article_features(done.article)  # type: ignore[union-attr]
            assert expected is not None and done.article.extraction == "page"  # type: ignore[union-attr]
            assert _features(done) == (expected.story_terms, expected.shingles, expected.bands)
            assert expected.bands == band_keys(signature(expected.shingles))
            assert len(expected.shingles) > 50 and len(expected.story_terms.counts) > 20
        # an entry without a page is analysed in this process: the store computes them itself
        e = Entry("feed-only", "http://127.0.0.1/f", "T", None, None, "text", "")
        assert pool.analyse(e, None, "entry has no link").features is None  # type: ignore[union-attr]
    finally:
        pool.close()
