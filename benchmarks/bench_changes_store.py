"""Per-article time of saving a new article into a large store: version, copy detection (url key
index, guid/URL repair, MinHash band table) and story assignment, in one SQLite file.

The database is filled first with `--articles` synthetic articles spread over a year (bulk
inserts, the same columns the store writes; band keys only for the last 3 days, as the store
keeps them), then `--new` articles from the news corpus are saved through `Storage.save_article`
and placed in stories through `StoryTracker.place`, a third of them copies of earlier ones under
another URL. Prints mean, median, p95 per article for the save and for the story placement.

    python benchmarks/bench_changes_store.py [--articles 1000000] [--new 300] [--db /tmp/bench.db]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.changes.copies import band_keys, shingles, signature
from monitor.extract import build_article
from monitor.models import Entry, FeedSpec, Score
from monitor.store import SqliteStore
from monitor.storyline import StoryTracker

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT.parent / "shared" / "corpus" / "news" / "items.jsonl"
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
FEED = "http://127.0.0.1/bench.xml"
HIT = Score(value=0.9, match=True)


def _fill(store: SqliteStore, n: int, texts: list[str], rng: random.Random) -> None:
    """Bulk rows, oldest first; the last 3 days also get their band keys."""
    conn = store.db.conn
    conn.execute("BEGIN")
    batch = []
    for i in range(n):
        when = NOW - timedelta(seconds=(n - i) * 365 * 86400 / n)
        text = f"{rng.choice(texts)} item {i}"
        batch.append(
            (
                1,
                f"e{i}",
                "h",
                f"http://127.0.0.1/a/{i}",
                f"127.0.0.1/a/{i}",
                f"Title {i}",
                f"title {i}",
                text,
                when.isoformat(),
                when.isoformat(),
                when.isoformat(),
                "page",
            )
        )
        if len(batch) == 10_000:
            _insert(conn, batch)
            batch = []
    _insert(conn, batch)
    recent = conn.execute(
        "SELECT id, text, first_seen FROM articles WHERE first_seen >= ?", ((NOW - timedelta(days=3)).isoformat(),)
    ).fetchall()
    for aid, text, seen in recent:
        conn.executemany(
            "INSERT INTO copy_bands (band, article_id, seen_at) VALUES (?, ?, ?)",
            [(b, aid, seen) for b in band_keys(signature(shingles(text)))],
        )
    conn.execute("COMMIT")


def _insert(conn: object, batch: list[tuple[object, ...]]) -> None:
    conn.executemany(  # type: ignore[attr-defined]
        """INSERT INTO articles (feed_id, entry_id, entry_hash, url, url_key, title, title_key, text,
           published, first_seen, updated_at, extraction) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        batch,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=1_000_000)
    ap.add_argument("--new", type=int, default=300)
    ap.add_argument("--db", type=Path, default=Path("/tmp/bench_changes_store.db"))
    args = ap.parse_args()
    items = [json.loads(line) for line in NEWS.open(encoding="utf-8")]
    texts = [f"{r.get('title') or ''}. {r.get('summary') or ''}" for r in items if r.get("summary")]
    rng = random.Random(1)
    args.db.unlink(missing_ok=True)
    store = SqliteStore(args.db)
    store.sync_feeds([FeedSpec(url=FEED, name="bench")])
    started = time.perf_counter()
    _fill(store, args.articles, texts, rng)
    print(f"filled {args.articles} articles in {time.perf_counter() - started:.1f} s")
    tracker = StoryTracker()
    tracker.warm(store, NOW)
    saves, places = [], []
    for k in range(args.new):
        r = items[k % len(items)] if k % 3 else items[(k - 1) % len(items)]  # every third: a copy
        link = f"http://127.0.0.1/new/{k}"
        e = Entry(f"n{k}", FEED, r.get("title") or "", link, NOW, r.get("summary") or "", "")
        article = build_article(e, ((r.get("summary") or "") * 3, {"url": link}), None)
        t0, c0 = time.perf_counter(), time.process_time()
        saved = store.save_article(FEED, article, "h", HIT, NOW + timedelta(seconds=k))
        t1, c1 = time.perf_counter(), time.process_time()
        if saved.copy_of is None:
            tracker.place(store, saved.article_id, article, "bench", NOW + timedelta(seconds=k))
            places.append((time.perf_counter() - t1, time.process_time() - c1))
        saves.append((t1 - t0, c1 - c0))
    store.close()
    for name, xs in (("save_article (version + copies + match)", saves), ("story placement", places)):
        ms = sorted(x * 1000 for x, _ in xs)
        print(
            f"{name}: n={len(ms)} mean {statistics.mean(ms):.2f} ms, median {statistics.median(ms):.2f} ms, "
            f"p95 {ms[int(0.95 * (len(ms) - 1))]:.2f} ms; CPU mean {statistics.mean(c * 1000 for _, c in xs):.2f} ms"
            f" (wall waits for a core on a busy machine; load average {os.getloadavg()[0]:.1f})"
        )


if __name__ == "__main__":
    main()
