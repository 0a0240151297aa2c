"""Per-article time of copy detection + story assignment over a stream (in-memory indexes).

The stream is the ECB+ story texts followed by the news items (title + summary) in date order,
repeated `--repeat` times with fresh ids (later rounds are exact copies, so both the copy path
and the story path are timed). Prints mean, median, p95 and p99 per article and, per block of
the stream, the mean, to show that the cost does not grow with the number of stories.

    python benchmarks/bench_changes.py [--stories ../shared/corpus/stories/ecbplus_dev.jsonl]
                                       [--news ../shared/corpus/news/items.jsonl] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from monitor.changes.copies import CopyDetector
from monitor.changes.stories import Article, StoryClusterer
from monitor.changes.story_state import state_from_json, state_to_json

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"


def load(stories: Path, news: Path) -> list[Article]:
    out = []
    for line in stories.open(encoding="utf-8"):
        r = json.loads(line)
        out.append(Article(r["id"], r["title"], r["text"], url=r.get("url") or None))
    items = [json.loads(line) for line in news.open(encoding="utf-8")]
    items.sort(key=lambda r: r.get("date") or "")
    for r in items:
        when = datetime.fromisoformat(r["date"]).replace(tzinfo=UTC) if r.get("date") else None
        out.append(Article(r["id"], r.get("title") or "", r.get("summary") or "", r.get("link"), published=when))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--stories", type=Path, default=CORPUS / "stories" / "ecbplus_dev.jsonl")
    ap.add_argument("--news", type=Path, default=CORPUS / "news" / "items.jsonl")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    base = load(args.stories, args.news)
    copies, clusterer = CopyDetector(), StoryClusterer()
    times: list[float] = []
    dups = 0
    story_of: dict[str, str] = {}
    for rnd in range(args.repeat):
        for a in base:
            art = Article(f"{a.id}#{rnd}", a.title, a.text, a.url, a.feed, a.published)
            t = time.perf_counter()
            dup = copies.check(art.id, f"{art.title}\n{art.text}", None, art.published)
            got = clusterer.assign(art, story_hint=story_of.get(dup) if dup else None)
            times.append(time.perf_counter() - t)
            story_of[art.id] = got.story
            dups += dup is not None
    print(f"articles {len(times)}, copies found {dups}, stories {len(set(story_of.values()))}")
    for label, part in (("all", times), ("first pass (no repeats)", times[: len(base)])):
        ms = sorted(1000 * x for x in part)
        q = statistics.quantiles(ms, n=100)
        print(
            f"copy + story per article, {label}: mean {statistics.fmean(ms):.2f} ms, median {q[49]:.2f} ms, "
            f"p95 {q[94]:.2f} ms, p99 {q[98]:.2f} ms"
        )
    block = max(1, len(times) // 8)
    means = [1000 * statistics.fmean(times[i : i + block]) for i in range(0, len(times), block)]
    print("mean per block of", block, "articles (ms):", " ".join(f"{m:.2f}" for m in means))
    restart(
        clusterer,
        [Article(f"{a.id}#{r}", a.title, a.text, a.url, a.feed, a.published) for r in range(args.repeat) for a in base],
        story_of,
    )


def restart(clusterer: StoryClusterer, stream: list[Article], story_of: dict[str, str]) -> None:
    """What a new process pays to continue: replaying the stream with each article's known
    story as the hint (what monitor.storyline does at start), or reading the engine's state."""
    t = time.perf_counter()
    replay = StoryClusterer()
    for a in stream:
        hint = story_of[a.id]
        replay.assign(a, story_hint=hint if replay.story_state(hint) is not None else None)
    replayed = time.perf_counter() - t
    t = time.perf_counter()
    blob = json.dumps(state_to_json(clusterer.state()))
    dumped = time.perf_counter() - t
    t = time.perf_counter()
    StoryClusterer().restore(state_from_json(json.loads(blob)))
    loaded = time.perf_counter() - t
    print(
        f"restart after {len(stream)} articles: replay {replayed:.1f} s ({1000 * replayed / len(stream):.2f} ms "
        f"per article); engine state {len(blob) / 1e6:.1f} MB JSON, written in {dumped:.1f} s, "
        f"read and restored in {loaded:.1f} s"
    )


if __name__ == "__main__":
    main()
