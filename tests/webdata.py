"""A real SQLite database for the web page's tests, filled through the Storage API."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

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


def add_story(a: App) -> tuple[int, int, int]:
    """A story of two articles two days apart (the second with a hostile title), a copy of the
    first in the other feed ("also in"), a digest reporting them, then a material second version
    of the second article and a digest reporting the update. Returns (story, first, second)."""
    store = a.store
    score = Score(0.8, True, nearest_seed="s", facets=(), terms=(), sentence="")
    first = article("story-a", title="Coup in Niamey", summary=STORY_TEXT, link="http://127.0.0.1:1/story-a")
    a_id = store.save_article(GOOD, first, "h-story-a", score, NOW).article_id
    copy = article("story-a-copy", title="Coup in Niamey", summary=STORY_TEXT, link="http://127.0.0.1:1/story-a")
    store.save_article(BAD, copy, "h-story-a-copy", score, NOW)
    later = NOW + timedelta(days=2)
    b_fields: dict[str, Any] = {"title": HOSTILE, "link": "http://127.0.0.1:1/story-b", "published": later}
    b_id = store.save_article(GOOD, article("story-b", **b_fields, summary=B_TEXT), "h-b", score, later)
    story = store.assign_story(a_id, None, NOW)
    store.assign_story(b_id.article_id, story, later)
    store.finish_digest(store.reserve_digest("cli", store.undelivered("cli"), later), later)
    changed = article("story-b", **b_fields, summary=B_CHANGED)
    store.save_article(GOOD, changed, "h-b2", score, later + timedelta(hours=1))
    store.finish_digest(store.reserve_digest("cli", store.undelivered("cli"), later), later + timedelta(hours=2))
    return story, a_id, b_id.article_id


STORY_TEXT = "Soldiers detained the president in Niamey on Wednesday. The borders were closed."
B_TEXT = "Soldiers closed the borders of Niger on Thursday."
B_CHANGED = "Soldiers closed the borders of Niger and the <b>airport</b> for 40 days on Friday, the junta said."
