"""CPU per save_article on PostgreSQL (client process and its server backend), for source trees
alternately (before/after a change), each run in its own process on a fresh database of one
real server (tests/pg.py: Debian's PostgreSQL on 127.0.0.1).

Each run saves `--warm` news-corpus entries, then `--new` more timed, alternating two feeds; every
third is the text of the one before (a near-duplicate in the other feed), every ninth also under
its URL (a copy by URL key); the shingles and band keys are given, as the workers give them. CPU
is the client's process_time and the server backend's utime+stime (/proc, clock ticks). "stored"
is a hash of the articles' identities, stories and band rows: the same for equal behaviour.

    git archive OLD src | tar -x -C /tmp/old
    python benchmarks/bench_pg_save.py --src /tmp/old/src src [--rounds 5] [--warm 300] [--new 300]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT.parent / "shared" / "corpus" / "news" / "items.jsonl"
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
FEEDS = ("http://127.0.0.1/a.xml", "http://127.0.0.1/b.xml")


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child(url: str, warm: int, new: int) -> None:
    import monitor  # from the tree on PYTHONPATH
    from monitor.changes.copies import band_keys, shingles, signature
    from monitor.extract import build_article
    from monitor.models import Entry, FeedSpec, Score
    from monitor.store.postgres import PostgresStore

    items = [json.loads(line) for line in NEWS.open(encoding="utf-8")]
    items = [r for r in items if r.get("summary")]
    store = PostgresStore(url)
    store.sync_feeds([FeedSpec(url=f, name=f) for f in FEEDS])
    pid = store.conn.info.backend_pid
    hit = Score(value=0.9, match=True)

    def save(k: int) -> object:
        # every third: the text of the one before in the other feed (a near-duplicate), every
        # ninth: under its URL too (a copy by URL key)
        r = items[k - 1] if k % 3 == 0 and k else items[k % len(items)]
        link = f"http://127.0.0.1/{k - 1 if k % 9 == 0 else k}"
        feed = FEEDS[k % 2]
        e = Entry(f"n{k}", feed, r.get("title") or "", link, NOW, r["summary"], "")
        article = build_article(e, (r["summary"] * 3, {"url": link}), None)
        sh = shingles(article.text)
        return store.save_article(
            feed, article, "h", hit, NOW + timedelta(seconds=k), shingles=sh, bands=band_keys(signature(sh))
        )

    for k in range(warm):
        save(k)
    copies = 0
    c0, s0 = time.process_time(), _backend_cpu(pid)
    for k in range(warm, warm + new):
        copies += save(k).copy_of is not None  # type: ignore[attr-defined]
    c1, s1 = time.process_time(), _backend_cpu(pid)
    # what was stored, to compare between the trees: identities, band rows (no story is placed here)
    rows = store.conn.execute("SELECT id, url_key, title_key, copy_of, story_id FROM articles ORDER BY id").fetchall()
    bands = store.conn.execute("SELECT band, article_id, seen_at FROM copy_bands ORDER BY 1, 2").fetchall()
    stored = hashlib.sha256(repr((rows, bands)).encode()).hexdigest()[:12]
    store.close()
    print(
        json.dumps(
            {
                "module": monitor.__file__,
                "client": (c1 - c0) / new * 1000,
                "server": (s1 - s0) / new * 1000,
                "copies": copies,
                "stored": stored,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", nargs="+", required=True, help="source trees (their src/ folders)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warm", type=int, default=300)
    ap.add_argument("--new", type=int, default=300)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.warm, args.new)
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from pg import find_bindir, running_server

    bindir = find_bindir()
    if bindir is None:
        sys.exit("no PostgreSQL binaries (initdb, pg_ctl): install Debian's postgresql")
    out: dict[str, list[dict[str, float]]] = {s: [] for s in args.src}
    with running_server(bindir) as pg:
        for _ in range(args.rounds):
            for src in args.src:
                env = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
                cmd = [
                    sys.executable,
                    __file__,
                    "--src",
                    *args.src,
                    "--child",
                    pg.create_database(),
                    "--warm",
                    str(args.warm),
                    "--new",
                    str(args.new),
                ]
                done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
                out[src].append(json.loads(done.stdout.strip().splitlines()[-1]))
    for src, runs in out.items():
        print(
            f"{src}: module {runs[0]['module']}, copies {runs[0]['copies']}/{args.new},"
            f" stored {sorted({r['stored'] for r in runs})}"
        )
        for key in ("client", "server"):
            xs = [r[key] for r in runs]
            print(f"  {key} CPU per save: median {statistics.median(xs):.3f} ms  runs {[round(x, 3) for x in xs]}")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
