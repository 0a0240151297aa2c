"""Error analysis of the story engine on a labelled story file, per topic.

For each of the eval's stream orders: which first articles of a gold story were not called new
(the story they joined, whose gold label is that of its first article, and the similarity the
engine saw), which follow-ups were called new, and per topic the B-cubed F1 of its articles.
A "topic" is the `topic` field when present (ECB+: two similar events per topic), else the story.

    python benchmarks/story_errors.py [--stories ../shared/corpus/stories/ecbplus_dev.jsonl]
                                      [--seeds 1 2 3] [--threshold 0.25]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import Any

from monitor.changes.evaluate import SEEDS, bcubed, read_jsonl, story_scores, stream_order
from monitor.changes.offline import parse_article
from monitor.changes.stories import THRESHOLD, StoryClusterer

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"


def topic_of(row: dict[str, Any]) -> str:
    return str(row.get("topic", row["story"]))


def analyse(
    rows: list[dict[str, Any]], seed: int, threshold: float
) -> tuple[dict[str, float], list[str], dict[str, float]]:
    order = stream_order(rows, seed)
    engine = StoryClusterer(threshold)
    placed = [engine.assign(parse_article(r)) for r in order]
    gold = [str(r["story"]) for r in order]
    first_gold: dict[str, str] = {}
    seen: set[str] = set()
    lines = []
    for r, a, g in zip(order, placed, gold, strict=True):
        first_gold.setdefault(a.story, g)
        title = str(r.get("title") or "")[:70]
        if g not in seen:
            seen.add(g)
            if not a.new_story:
                lines.append(
                    f"  missed new  {r['id']:<14} joined {first_gold[a.story]:<12} sim {a.similarity:.3f}  {title}"
                )
        elif a.new_story:
            lines.append(f"  false new   {r['id']:<14} own story so far            sim {a.similarity:.3f}  {title}")
    by_topic: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(order):
        by_topic[topic_of(r)].append(i)
    pred = [a.story for a in placed]
    per_topic = {t: bcubed([gold[i] for i in ix], [pred[i] for i in ix])[2] for t, ix in by_topic.items()}
    return story_scores(gold, pred, [a.new_story for a in placed]), lines, per_topic


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--stories", type=Path, default=CORPUS / "stories" / "ecbplus_dev.jsonl")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    ap.add_argument("--threshold", type=float, default=THRESHOLD)
    args = ap.parse_args()
    rows = read_jsonl(args.stories, ("id", "story"))
    topic_f1: dict[str, list[float]] = defaultdict(list)
    for seed in args.seeds:
        scores, lines, per_topic = analyse(rows, seed, args.threshold)
        print(f"order {seed}: " + "  ".join(f"{k} {v:.3f}" for k, v in scores.items()))
        print("\n".join(lines))
        for t, f in per_topic.items():
            topic_f1[t].append(f)
    print("B-cubed F1 per topic (mean over the orders; below 1: events merged or a story split)")
    for t, fs in sorted(topic_f1.items(), key=lambda tf: (sum(tf[1]), tf[0])):
        print(f"  topic {t:<6} {sum(fs) / len(fs):.3f}  ({' '.join(f'{f:.2f}' for f in fs)})")


if __name__ == "__main__":
    main()
