"""Response time of the web page's main pages over a real SQLite file with N matches.

Fills a temporary database through the Storage API (N matching articles, a tenth of them
judged, one recorded digest), then times each page through Starlette's TestClient (in-process:
no network; the figure is the app's own work: storage reads, filtering, rendering).

    python benchmarks/bench_web.py [--matches 5000] [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from starlette.testclient import TestClient

from monitor.app import App, Paths
from monitor.extract import build_article
from monitor.models import Entry, FeedSpec, Score, Settings
from monitor.store import SqliteStore
from monitor.web import create_app

ROOT = Path(__file__).resolve().parent.parent
FEED = "http://127.0.0.1:1/feed.xml"
NOW = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
WORDS = "junta sahel mali niger burkina weapons coup drought market election border trade".split()


def fill(db: Path, n: int) -> App:
    store = SqliteStore(db)
    store.sync_feeds([FeedSpec(url=FEED, name="Bench feed")])
    for i in range(n):
        text = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(60)) + f" item{i}."
        entry = Entry(f"e{i}", FEED, f"Story {i} {WORDS[i % len(WORDS)]}", f"http://127.0.0.1:1/{i}", NOW, text, "")
        score = Score(0.3 + (i % 70) / 100, True, nearest_seed="seed.txt", terms=("junta",), sentence=text[:80])
        aid = store.save_article(FEED, build_article(entry, None, None), f"h{i}", score, NOW).article_id
        if i % 10 == 0:
            store.judge(aid, i % 20 == 0, NOW)
    store.finish_digest(store.reserve_digest("cli", store.undelivered("cli")[:50], NOW), NOW)
    paths = Paths(feeds=db.parent / "feeds.yaml", seeds=ROOT / "seeds", db=db)
    return App(paths=paths, settings=Settings(feeds=()), store=store, now=lambda: NOW)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matches", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = fill(Path(tmp) / "bench.db", args.matches)
        client = TestClient(create_app(app), base_url="http://127.0.0.1")
        pages = [
            "/digest",
            "/matches",
            "/matches?page=50",
            "/matches?q=junta+coup",
            "/matches?judged=yes",
            "/matches?min_score=0.9",
            "/article/1",
            "/feeds",
        ]
        print(f"{args.matches} matches, {args.runs} runs per page (ms: median, p95)")
        for path in pages:
            client.get(path)  # warm: the scorer is built on the first article page
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                assert client.get(path).status_code == 200
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            print(f"{path:28} {statistics.median(times):8.1f} {p95:8.1f}")
        app.close()


if __name__ == "__main__":
    main()
