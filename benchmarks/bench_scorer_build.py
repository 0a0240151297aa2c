"""CPU of what a process pays before it scores anything: the scorer's start-up (issue #13).

Each figure is measured in a fresh Python process (the tables are per process), ``--runs`` times,
and printed as median / min / max of ``time.process_time()``:

* **learn**: a poll's start on a fresh database: ``stored_scorer`` (``App.scorer``) learns the
  scorer from the seeds and keeps its state in a new SQLite file (the place tables and word
  rarities are built inside it, as in the polling process);
* **warm**: the worker pool's fork server importing ``monitor.score.warm`` (after
  ``monitor.workers``, as its preload list does);
* **restore**: `monitor explain`'s way: the kept state restored from that database (the seeds'
  and place names' word rarities come with it).

    python benchmarks/bench_scorer_build.py [--seeds seeds] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
kind, seeds_dir, db = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
import monitor.workers  # what the fork server has imported before its preload
from monitor.app_scorer import stored_scorer
from monitor.config import load_seeds
from monitor.store import open_storage
seeds = load_seeds(seeds_dir)
store = open_storage(db)
judgments = store.judgments()
t = time.process_time()
if kind == "warm":
    import monitor.score.warm
else:  # learn on a fresh database, restore from the state the learning kept
    stored_scorer(store, seeds, judgments, lambda: datetime.now(UTC))
print(time.process_time() - t)
store.close()
"""


def _run(kind: str, seeds: Path, db: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(seeds), str(db)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args(argv)
    got: dict[str, list[float]] = {"learn": [], "warm": [], "restore": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):  # interleaved: the machine's load drifts
            db = Path(tmp) / f"m{i}.db"
            got["learn"].append(_run("learn", args.seeds, db))
            got["restore"].append(_run("restore", args.seeds, db))
            got["warm"].append(_run("warm", args.seeds, db))
    for kind, xs in got.items():
        ms = sorted(x * 1000 for x in xs)
        print(f"{kind:8} CPU ms: median {statistics.median(ms):.0f}  min {ms[0]:.0f}  max {ms[-1]:.0f}  (n={len(ms)})")
    print(json.dumps({k: [round(x * 1000, 1) for x in v] for k, v in got.items()}))


if __name__ == "__main__":
    main()
