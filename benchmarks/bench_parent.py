"""The polling process's own work per article, replayed: parse, save, story placement.

A cold poll of bench_pipeline.py's set-up (corpus pages on loopback hosts) runs once, recording
every fetched feed and page and every worker result. Each replay then runs `run_feed` over the
same feeds in one thread of a fresh process, on a new database, with the recorded fetches and
worker results (unpickled as a worker's would be) and a fixed clock: no network, no worker
processes, no other thread competing, so its thread CPU per article is steady enough to compare
two versions of the store and the story engine (a real poll's feed threads cost more: eight
threads share the GIL and the store's lock). Each replay also hashes every table it wrote (the
migrations' timestamps aside): replays of one recording by the same code give one hash, and a
change that must not change results gives the hash the code before it gave on the same
recording (--capture keeps it; a recording is read back by the code that made it, or by one
whose worker results unpickle the same).

Usage: python benchmarks/bench_parent.py [--hosts 100] [--copies 3] [--repeat 5] [--capture FILE]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import pickle
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bench_pipeline as bp

START = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def child_capture(feeds: Path, db: Path, out: Path) -> dict[str, Any]:
    """A cold `app.poll` recording its fetches and its workers' results."""
    from monitor import app, fetch

    bp._loopback_names()
    rec: dict[str, Any] = {"feeds": {}, "pages": {}, "done": {}}
    lock = threading.Lock()
    fetch_feed, fetch_page = fetch.Fetcher.fetch_feed, fetch.Fetcher.fetch_page

    def feed(self: fetch.Fetcher, url: str, **kw: Any) -> Any:
        result = fetch_feed(self, url, **kw)
        with lock:
            rec["feeds"][url] = result
        return result

    def page(self: fetch.Fetcher, url: str, **kw: Any) -> Any:
        result = fetch_page(self, url, **kw)
        with lock:
            rec["pages"][url] = result
        return result

    fetch.Fetcher.fetch_feed, fetch.Fetcher.fetch_page = feed, page  # type: ignore[method-assign]
    a = app.open_app(app.Paths(feeds=feeds, seeds=bp.SEEDS, db=db))
    try:
        analyse = a.analyser()
        assert analyse is not None, "settings.workers is 1: nothing to record"

        def recorded(entry: Any, fetched: Any, why_not: str | None) -> Any:
            done = analyse(entry, fetched, why_not)
            with lock:
                rec["done"][(entry.feed_url, entry.id)] = pickle.dumps(done)
            return done

        a.analyser = lambda: recorded  # type: ignore[method-assign]
        app.poll(a)
        rec["specs"] = a.settings.feeds
    finally:
        a.close()
    out.write_bytes(pickle.dumps(rec))
    return {"pages": len(rec["pages"]), "entries": len(rec["done"])}


def child_replay(capture: Path) -> dict[str, Any]:
    from monitor import pipeline, storyline
    from monitor.models import ChangeSettings
    from monitor.store import open_storage

    rec = pickle.loads(capture.read_bytes())
    clock = [START]

    def now() -> datetime:
        clock[0] += timedelta(milliseconds=1)
        return clock[0]

    class Fetcher:
        def fetch_feed(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Any:
            return rec["feeds"][url]

        def fetch_page(self, url: str) -> Any:
            return rec["pages"][url]

    def analyse(entry: Any, fetched: Any, why_not: str | None) -> Any:
        return pickle.loads(rec["done"][(entry.feed_url, entry.id)])  # as a worker's result arrives

    spent: collections.Counter[str] = collections.Counter()

    def timed(owner: Any, name: str) -> None:
        inner: Callable[..., Any] = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[name] += time.thread_time() - started

        setattr(owner, name, wrapper)

    storyline._load_text_tables()  # a poll's scorer has loaded them before the first placement
    timed(pipeline, "parse_feed")
    timed(pipeline, "_place")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "m.db"
        store = open_storage(db)
        store.sync_feeds(rec["specs"])
        timed(type(store), "save_article")
        stories, rng, fetcher, n = storyline.StoryTracker(), random.Random(0), Fetcher(), 0
        started = time.thread_time()
        for spec in rec["specs"]:
            result = pipeline.run_feed(
                spec,
                store=store,
                fetcher=fetcher,
                scorer=None,  # type: ignore[arg-type]
                now=now,
                rng=rng,
                analyse=analyse,
                changes=ChangeSettings(),
                stories=stories,
            )
            assert result.error is None, result.error
            n += result.new_entries
        total = time.thread_time() - started
        store.close()
        digest = _tables_hash(db)
    per = {k: round(1000 * v / n, 3) for k, v in spent.items()}
    return {"articles": n, "run_feed": round(1000 * total / n, 3), **per, "tables": digest}


def _tables_hash(db: Path) -> str:
    h = hashlib.sha256()
    conn = sqlite3.connect(db)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for name in names:
            if name == "_sqlite_migrations":  # when each migration ran
                continue
            for row in conn.execute(f'SELECT * FROM "{name}"'):
                h.update(f"{name}\t{row!r}\n".encode())
    finally:
        conn.close()
    return h.hexdigest()[:16]


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True, env=bp._env()
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--capture", type=Path, help="the recording to replay; made first if it does not exist")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        paths = [Path(p) for p in rest]
        print(json.dumps(child_capture(*paths) if kind == "capture" else child_replay(paths[0])))
        return
    sys.path.insert(0, str(bp.ROOT / "tests"))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        capture = args.capture or d / "capture.pickle"
        if not capture.exists():
            with bp._server() as server:
                feeds = bp.serve_pages(server, args.hosts, args.copies)
                bp._write_feeds(d / "feeds.yaml", feeds, {"host_spacing": 0}, None)
                captured = _child("capture", str(d / "feeds.yaml"), str(d / "m.db"), str(capture))
            print(f"recorded a cold poll: {captured['entries']} entries, {captured['pages']} pages")
        runs = [_child("replay", str(capture)) for _ in range(args.repeat)]
    keys = [k for k in runs[0] if k not in ("articles", "tables")]
    medians = {k: statistics.median(r[k] for r in runs) for k in keys}
    print(
        f"replayed {args.repeat}x, {runs[0]['articles']} articles, thread CPU ms/article (median): "
        + ", ".join(f"{k} {v:.3f}" for k, v in medians.items())
    )
    print(f"tables written: {sorted({r['tables'] for r in runs})} (one hash: every replay wrote the same rows)")


if __name__ == "__main__":
    main()
