"""What a new process pays to continue the stories: loading the stored engine state versus
replaying the recent articles (a store without the state: the upgrade path), and what the
state costs each placement.

A SQLite file is filled through the real path: the ECB+ texts, then the news items (title +
summary) in date order, spread over the last 5 days (all inside the replay window), each saved
with `Storage.save_article` and placed with `StoryTracker.place` (which writes the story's
state row and the article's document frequencies in the assignment's transaction). Then a new
`StoryTracker` starts on it (state loaded), the state rows are deleted, and another starts
(replay of every article, then the state is saved).

    python benchmarks/bench_story_start.py [--articles 8702] [--db /tmp/bench_story_start.db]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.extract import build_article
from monitor.models import Entry, FeedSpec, Score
from monitor.store import SqliteStore, stories
from monitor.store.records import StoryStep
from monitor.storyline import StoryTracker

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
FEED = "http://127.0.0.1/bench.xml"
HIT = Score(value=0.9, match=True)
READS: list[float] = []  # the candidate query of each placement


def stream(limit: int) -> list[tuple[str, str]]:
    out = [(r["title"], r["text"]) for r in map(json.loads, (CORPUS / "stories" / "ecbplus_dev.jsonl").open())]
    items = sorted(map(json.loads, (CORPUS / "news" / "items.jsonl").open()), key=lambda r: r.get("date") or "")
    out += [(r.get("title") or "", r.get("summary") or "") for r in items]
    return out[:limit]


def _ms(xs: list[float]) -> str:
    ms = sorted(x * 1000 for x in xs)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    return f"mean {statistics.mean(ms):.2f} ms, median {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms"


def _timed(fn: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            into.append(time.perf_counter() - t)

    return wrapper


def fill(store: SqliteStore, texts: list[tuple[str, str]], state: bool) -> tuple[list[float], list[float]]:
    tracker = StoryTracker()
    places: list[float] = []
    writes: list[float] = []
    if state:
        step = store.assign_story_step
    else:  # the placement as it was before the state: the assignment alone

        def step(article_id: int, story_id: int | None, now: datetime, placed: StoryStep) -> int:
            story = store.assign_story(article_id, story_id, now)
            if placed.index is not None:  # the candidate index write, in a transaction of its own as then
                with store._tx() as conn:
                    stories.index_terms(conn, story, list(placed.index[0]), placed.index[1])
            return story

    store.assign_story_step = _timed(step, writes)  # type: ignore[method-assign]
    store.story_candidates = _timed(store.story_candidates, READS)  # type: ignore[method-assign]
    span = timedelta(days=5) / len(texts)
    for k, (title, text) in enumerate(texts):
        when = NOW - timedelta(days=5) + k * span
        link = f"http://127.0.0.1/a/{k}"
        article = build_article(Entry(f"e{k}", FEED, title, link, when, text, ""), (text, {"url": link}), None)
        saved = store.save_article(FEED, article, f"h{k}", HIT, when)
        if saved.copy_of is None:
            t = time.perf_counter()
            tracker.place(store, saved.article_id, article, "bench", when)
            places.append(time.perf_counter() - t)
    return places[1:], writes[1:]  # the first placement also loads wordfreq


def start(store: SqliteStore) -> tuple[float, StoryTracker]:
    tracker = StoryTracker()
    t = time.perf_counter()
    tracker.warm(store, NOW + timedelta(hours=1))
    return time.perf_counter() - t, tracker


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--articles", type=int, default=8702)
    ap.add_argument("--db", type=Path, default=Path("/tmp/bench_story_start.db"))
    ap.add_argument("--without-state", action="store_true", help="time placements as before (no state written)")
    args = ap.parse_args()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{args.db}{suffix}").unlink(missing_ok=True)
    store = SqliteStore(args.db)
    store.sync_feeds([FeedSpec(url=FEED, name="bench")])
    t = time.perf_counter()
    places, writes = fill(store, stream(args.articles), not args.without_state)
    print(f"filled {args.articles} articles ({len(places) + 1} placed) in {time.perf_counter() - t:.1f} s")
    what = "assignment + index write, as before" if args.without_state else "assignment + state + frequencies + index"
    print(f"placement: {_ms(places)}")
    print(f"  of which the store write ({what}): {_ms(writes)}")
    print(f"  the candidate query: {_ms(READS[1:])}")
    if args.without_state:
        store.close()
        return
    saved = store.load_story_engine(NOW - timedelta(days=6))
    assert saved is not None
    size = sum(len(s or "") for _, s in saved.stories)
    print(f"state: {len(saved.stories)} story rows, {size / 1e6:.1f} MB of JSON; {len(saved.terms)} terms")
    loaded, tracker = start(store)
    print(f"start from the stored state: {loaded:.2f} s (replayed {tracker.replayed})")
    store.close()
    with sqlite3.connect(args.db) as conn:  # the store of an older version: no state
        for table in ("story_state", "story_df", "story_engine"):
            conn.execute(f"DELETE FROM {table}")
    store = SqliteStore(args.db)
    replay, tracker = start(store)
    print(f"start by replay (no state; includes saving it): {replay:.2f} s (replayed {tracker.replayed})")
    again, tracker = start(store)
    print(f"start again, from the state the replay saved: {again:.2f} s (replayed {tracker.replayed})")
    store.close()


if __name__ == "__main__":
    main()
