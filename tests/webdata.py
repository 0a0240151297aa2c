"""A real SQLite database for the web page's tests, filled through the Storage API."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from factories import NOW, article
from helpers import SEEDS
from monitor.app import App, Paths
from monitor.config import load_seeds
from monitor.models import Failure, FailureKind, FeedSpec, FeedUpdate, FetchRecord, Score, Settings
from monitor.store import SqliteStore

GOOD = "http://127.0.0.1:1/good.xml"
BAD = "http://127.0.0.1:1/bad.xml"
HOSTILE = "<script>alert('x')</script> Sahel & \"quotes\""


def seed_text() -> tuple[str, str]:
    """The first seed's name and text: an article carrying it is a certain match."""
    seed = load_seeds(SEEDS)[0]
    return seed.name, seed.text


def fill(db: Path, extra: int = 0) -> App:
    """Two feeds (one failing), matches (one with a hostile title), one recorded digest."""
    store = SqliteStore(db)
    store.sync_feeds([FeedSpec(url=GOOD, name="Good feed"), FeedSpec(url=BAD, name="Bad feed")])
    due = NOW + timedelta(minutes=30)
    store.apply(FeedUpdate(url=GOOD, record=FetchRecord(fetched_at=NOW, next_due=due)))
    failure = Failure(FailureKind.FETCH, "HTTP 500 <b>from</b> 127.0.0.1")
    store.apply(FeedUpdate(url=BAD, record=FetchRecord(fetched_at=NOW, next_due=due, error=failure)))
    name, text = seed_text()
    sentence = text.split("\n")[2].strip()
    items = [
        ("seed", "Burkina Faso wants weapons", text, 0.91, sentence),
        ("hostile", HOSTILE, "Body with <img src=x onerror=alert(1)> markup. Second sentence here.", 0.62, ""),
        ("low", "Rainfall in the Sahel", "Farmers report rainfall in the Sahel this week.", 0.41, ""),
    ]
    items += [(f"bulk{i}", f"Bulk story {i}", f"Bulk text {i} about markets.", 0.30, "") for i in range(extra)]
    for key, title, body, value, best in items:
        art = article(key, title=title, summary=body, link=f"http://127.0.0.1:1/{key}")
        facets, terms = ("Sahel: Burkina Faso",), ("weapons",)
        score = Score(value, True, nearest_seed=name, facets=facets, terms=terms, sentence=best)
        store.save_article(GOOD, art, f"h-{key}", score, NOW)
    digest_id = store.reserve_digest("cli", store.undelivered("cli"), NOW)
    store.finish_digest(digest_id, NOW)
    paths = Paths(feeds=db.parent / "feeds.yaml", seeds=SEEDS, db=db)
    return App(paths=paths, settings=Settings(feeds=()), store=store, now=lambda: NOW)
