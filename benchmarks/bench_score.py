"""Median and p95 time of one ``Scorer.score()`` call on 3,000-word articles.

Texts are built from real article bodies (the page corpus' ground-truth ``articleBody``),
concatenated and cut to 3,000 words; seeds are read from the seeds directory.

    python benchmarks/bench_score.py [--pages ../shared/corpus/pages/scrapinghub-aeb]
                                     [--seeds seeds] [--words 3000] [--n 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from monitor.models import Document, Seed
from monitor.score import build_scorer, clean_seed_text
from monitor.score.text import gazetteer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--pages", type=Path, default=ROOT.parent / "shared" / "corpus" / "pages" / "scrapinghub-aeb")
    ap.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    ap.add_argument("--words", type=int, default=3000)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    return ap


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)

    gt = json.loads((args.pages / "ground-truth.json").read_text(encoding="utf-8"))
    bodies = [gt[k]["articleBody"] for k in sorted(gt)]
    words: list[str] = []
    for b in bodies:
        words.extend(b.split())
    texts = []
    step = max(1, (len(words) - args.words) // max(1, args.n))
    for i in range(args.n):
        start = (i * step) % max(1, len(words) - args.words)
        texts.append(" ".join(words[start : start + args.words]))

    seeds = [
        Seed(name=p.name, text=clean_seed_text(p.read_text(encoding="utf-8"))) for p in sorted(args.seeds.glob("*.txt"))
    ]
    t0 = time.perf_counter()
    gazetteer()  # the place tables are built on first use: timed apart, as they once were at import
    tables_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    scorer = build_scorer(seeds)
    build_ms = (time.perf_counter() - t0) * 1000
    for t in texts[:5]:  # warm caches
        scorer.score(Document(id="warm", title="", text=t))
    # wall time, and CPU time of this process; each text's best of --repeat passes (as timeit:
    # other load on a shared machine only ever adds time), and the median of every call
    wall_best = [float("inf")] * len(texts)
    cpu_best = [float("inf")] * len(texts)
    every: list[float] = []
    for _ in range(args.repeat):
        for i, t in enumerate(texts):
            doc = Document(id=str(i), title="", text=t)
            w0, c0 = time.perf_counter(), time.process_time()
            scorer.score(doc)
            cpu = (time.process_time() - c0) * 1000
            wall = (time.perf_counter() - w0) * 1000
            wall_best[i] = min(wall_best[i], wall)
            cpu_best[i] = min(cpu_best[i], cpu)
            every.append(wall)
    print(f"place tables (first use): {tables_ms:.0f} ms; build_scorer: {build_ms:.0f} ms ({len(seeds)} seeds)")
    for name, xs in (("wall", sorted(wall_best)), ("cpu", sorted(cpu_best))):
        print(
            f"score() on {args.words}-word texts, n={len(xs)}, {name}: "
            f"median {statistics.median(xs):.2f} ms, p95 {xs[int(0.95 * (len(xs) - 1))]:.2f} ms "
            f"(best of {args.repeat} per text)"
        )
    print(f"every call ({args.repeat} passes), wall: median {statistics.median(every):.2f} ms")
    # on a shared machine other load inflates even CPU time (caches, hyperthreads): say how much
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
