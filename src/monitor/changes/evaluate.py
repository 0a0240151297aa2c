"""Offline evaluation of story clustering and revision significance against gold labels (pure
functions plus a file reader; the CLI prints what these return)."""

from __future__ import annotations

import difflib
import json
import math
import random
import re
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import MonitorError
from .stories import Article, StoryClusterer, dot, weigh
from .stories import DocFrequency as _DocFrequency
from .text import STOPWORDS, WORD_RE, fold
from .versions import Change, compare

SEEDS = (1, 2, 3)
BASELINE_GRID = tuple(round(0.05 * i, 2) for i in range(2, 11))


def read_jsonl(path: Path, required: Sequence[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise MonitorError(f"{path}:{n}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise MonitorError(f"{path}:{n}: expected a JSON object")
            missing = [k for k in required if k not in row]
            if missing:
                raise MonitorError(f"{path}:{n}: missing {', '.join(missing)}")
            rows.append(row)
    if not rows:
        raise MonitorError(f"{path}: no lines")
    return rows


# ---------------------------------------------------------------- stream orders


def _sequence_key(row: dict[str, Any]) -> tuple[str, int, str]:
    """Within a story: by publication time when given, else by the number in the id."""
    nums = re.findall(r"\d+", str(row["id"]))
    return (str(row.get("published") or ""), int(nums[-1]) if nums else 0, str(row["id"]))


def stream_order(rows: Sequence[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """A uniformly random interleaving of the gold stories, each kept in its own order.

    Rows with publication times are simply sorted by time (the real arrival order).
    """
    if all(r.get("published") for r in rows):
        return sorted(rows, key=lambda r: (str(r["published"]), str(r["id"])))
    by_story: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_story[str(r["story"])].append(r)
    queues = [sorted(v, key=_sequence_key) for _, v in sorted(by_story.items())]
    slots = [i for i, q in enumerate(queues) for _ in q]
    random.Random(seed).shuffle(slots)
    pos = [0] * len(queues)
    out = []
    for i in slots:
        out.append(queues[i][pos[i]])
        pos[i] += 1
    return out


# ---------------------------------------------------------------- clustering metrics


def bcubed(gold: Sequence[str], pred: Sequence[str]) -> tuple[float, float, float]:
    g_members: dict[str, set[int]] = defaultdict(set)
    p_members: dict[str, set[int]] = defaultdict(set)
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        g_members[g].add(i)
        p_members[p].add(i)
    prec = rec = 0.0
    for g, p in zip(gold, pred, strict=True):
        both = len(g_members[g] & p_members[p])
        prec += both / len(p_members[p])
        rec += both / len(g_members[g])
    n = len(gold)
    prec, rec = prec / n, rec / n
    return prec, rec, _f1(prec, rec)


def pairwise_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    joint = Counter(zip(gold, pred, strict=True))
    tp = sum(c * (c - 1) / 2 for c in joint.values())
    gp = sum(c * (c - 1) / 2 for c in Counter(gold).values())
    pp = sum(c * (c - 1) / 2 for c in Counter(pred).values())
    return _f1(tp / pp if pp else 0.0, tp / gp if gp else 0.0)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def new_story_rates(gold: Sequence[str], new: Sequence[bool]) -> tuple[float, float]:
    """(share of gold stories whose first article was called new, share of follow-ups called new)."""
    seen: set[str] = set()
    hits = firsts = alarms = follow = 0
    for g, n in zip(gold, new, strict=True):
        if g not in seen:
            seen.add(g)
            firsts += 1
            hits += n
        else:
            follow += 1
            alarms += n
    return hits / firsts, (alarms / follow if follow else 0.0)


def story_scores(gold: Sequence[str], pred: Sequence[str], new: Sequence[bool]) -> dict[str, float]:
    p, r, f = bcubed(gold, pred)
    hits, alarms = new_story_rates(gold, new)
    return {
        "bcubed_p": p,
        "bcubed_r": r,
        "bcubed_f1": f,
        "pairwise_f1": pairwise_f1(gold, pred),
        "new_hits": hits,
        "new_false": alarms,
    }


# ---------------------------------------------------------------- clusterers


def _article(row: dict[str, Any]) -> Article:
    from .offline import parse_article

    return parse_article(row)


def run_clusterer(rows: Sequence[dict[str, Any]], threshold: float | None = None) -> tuple[list[str], list[bool]]:
    c = StoryClusterer() if threshold is None else StoryClusterer(threshold)
    out = [c.assign(_article(r)) for r in rows]
    return [a.story for a in out], [a.new_story for a in out]


def run_baseline(rows: Sequence[dict[str, Any]], threshold: float) -> tuple[list[str], list[bool]]:
    """Single-pass TF-IDF clustering: cosine to each story centroid, stream document frequency."""
    df = _DocFrequency(prior_docs=0.0)
    cents: list[dict[str, float]] = []
    stories, news = [], []
    for r in rows:
        words = map(fold, WORD_RE.findall(f"{r.get('title') or ''}\n{r.get('text') or ''}"))
        counts: dict[str, float] = dict(Counter(w for w in words if w not in STOPWORDS))
        df.add(counts.keys())
        vec = weigh(counts, df)
        sims = [dot(vec, c) / (math.sqrt(sum(v * v for v in c.values())) or 1.0) for c in cents]
        best = max(range(len(sims)), key=sims.__getitem__) if sims else -1
        if best < 0 or sims[best] < threshold:
            cents.append(dict(vec))
            best = len(cents) - 1
            news.append(True)
        else:
            for t, v in vec.items():
                cents[best][t] = cents[best].get(t, 0.0) + v
            news.append(False)
        stories.append(str(best))
    return stories, news


def average_over_orders(
    rows: Sequence[dict[str, Any]], run: Callable[[Sequence[dict[str, Any]]], tuple[list[str], list[bool]]]
) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for seed in SEEDS:
        order = stream_order(rows, seed)
        pred, new = run(order)
        for k, v in story_scores([str(r["story"]) for r in order], pred, new).items():
            totals[k] += v / len(SEEDS)
    return dict(totals)


def eval_stories(rows: Sequence[dict[str, Any]], grid: Iterable[float] = BASELINE_GRID) -> dict[str, Any]:
    ours = average_over_orders(rows, run_clusterer)
    base_runs = {t: average_over_orders(rows, partial(run_baseline, threshold=t)) for t in grid}
    best_t = max(base_runs, key=lambda t: base_runs[t]["bcubed_f1"])
    return {
        "articles": len(rows),
        "stories": len({r["story"] for r in rows}),
        "orders": len(SEEDS),
        "clusterer": ours,
        "baseline": {"threshold": best_t, **base_runs[best_t]},
    }


# ---------------------------------------------------------------- revisions


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = sorted(s for s, y in zip(scores, labels, strict=True) if not y)
    if not pos or not neg:
        return float("nan")
    total = 0.0
    for p in pos:
        lo, hi = bisect_left(neg, p), bisect_right(neg, p)
        total += lo + 0.5 * (hi - lo)
    return total / (len(pos) * len(neg))


def precision_recall(pred: Sequence[bool], labels: Sequence[bool]) -> tuple[float, float]:
    tp = sum(p and y for p, y in zip(pred, labels, strict=True))
    return (tp / sum(pred) if any(pred) else 0.0), (tp / sum(labels) if any(labels) else 0.0)


def precision_at_recall(scores: Sequence[float], labels: Sequence[bool], recall: float = 0.85) -> float:
    """Best precision of `score >= t` over thresholds t whose recall reaches `recall`."""
    best = 0.0
    for t in sorted(set(scores)):
        p, r = precision_recall([s >= t for s in scores], labels)
        if r >= recall:
            best = max(best, p)
    return best


def changed_words(before: str, after: str) -> int:
    """Baseline: the number of words inserted, deleted or replaced (word-level difflib)."""
    a, b = WORD_RE.findall(before), WORD_RE.findall(after)
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in sm.get_opcodes() if op != "equal")


def changed_regions(changes: Sequence[Change], old: str) -> list[tuple[int, int]]:
    """Spans of the old text inside reported changes, neighbouring changes (only whitespace
    between them) joined: an edit that merges two sentences lies across both."""
    regions: list[list[int]] = []
    for a, b in sorted(c.span for c in changes):
        if regions and not old[regions[-1][1] : a].strip():
            regions[-1][1] = max(regions[-1][1], b)
        else:
            regions.append([a, b])
    return [(a, b) for a, b in regions]


def span_covered(start: int, end: int, regions: Sequence[tuple[int, int]]) -> bool:
    """A labelled edit [start, end) of the old text lies inside a changed region (1 char slack)."""
    return any(a - 1 <= start and end <= b + 1 for a, b in regions)


def eval_revisions(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    labels = [bool(r["material"]) for r in rows]
    diffs = [compare(str(r["before"]), str(r["after"])) for r in rows]
    sig = [d.significance for d in diffs]
    base = [float(changed_words(str(r["before"]), str(r["after"]))) for r in rows]
    spans = [
        (int(e["start"]), int(e["end"]), changed_regions(d.changes, str(r["before"])))
        for r, d in zip(rows, diffs, strict=True)
        for e in r["edits"]
    ]
    covered = sum(span_covered(s, e, regions) for s, e, regions in spans)
    p, r = precision_recall([d.material for d in diffs], labels)
    return {
        "revisions": len(rows),
        "material": sum(labels),
        "significance": {
            "auc": auc(sig, labels),
            "material_precision": p,
            "material_recall": r,
            "precision_at_recall_0.85": precision_at_recall(sig, labels),
            "edit_span_coverage": covered / len(spans) if spans else float("nan"),
            "edit_spans": len(spans),
        },
        "baseline_changed_words": {
            "auc": auc(base, labels),
            "precision_at_recall_0.85": precision_at_recall(base, labels),
        },
        "minor_reasons": dict(Counter(d.reason for d in diffs if d.reason)),
    }


# ---------------------------------------------------------------- cross-validation and report

CV_GRID = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4)


def cross_validate_threshold(rows: Sequence[dict[str, Any]], grid: Iterable[float] = CV_GRID) -> dict[str, Any]:
    """Fit the story threshold on half the topics, test it on the other half (both ways)."""
    topics = sorted({str(r.get("topic", r["story"])) for r in rows})
    halves = [set(topics[0::2]), set(topics[1::2])]
    grid = tuple(grid)
    folds = []
    for fit, test in (halves, halves[::-1]):
        fit_rows = [r for r in rows if str(r.get("topic", r["story"])) in fit]
        test_rows = [r for r in rows if str(r.get("topic", r["story"])) in test]
        scores = {t: average_over_orders(fit_rows, partial(run_clusterer, threshold=t))["bcubed_f1"] for t in grid}
        best = max(scores, key=lambda t: scores[t])
        held = average_over_orders(test_rows, partial(run_clusterer, threshold=best))
        folds.append({"threshold": best, "fit_f1": scores[best], **{f"test_{k}": v for k, v in held.items()}})
    return {"folds": folds, "test_bcubed_f1": sum(f["test_bcubed_f1"] for f in folds) / len(folds)}


MATERIAL_GRID = (0.3, 0.4, 0.5, 0.6, 0.7)


def cross_validate_material(rows: Sequence[dict[str, Any]], grid: Iterable[float] = MATERIAL_GRID) -> dict[str, Any]:
    """Fit the material cut-off on half the articles (revisions of one article stay together:
    ids "article-revision"), test it on the other half, both ways."""
    articles = sorted({str(r["id"]).split("-")[0] for r in rows})
    halves = [set(articles[0::2]), set(articles[1::2])]
    sig = {str(r["id"]): compare(str(r["before"]), str(r["after"])).significance for r in rows}
    grid = tuple(grid)
    folds = []
    for fit, test in (halves, halves[::-1]):
        part = [[r for r in rows if str(r["id"]).split("-")[0] in h] for h in (fit, test)]
        scored = [([sig[str(r["id"])] for r in p], [bool(r["material"]) for r in p]) for p in part]

        def fit_score(t: float, scored: list[tuple[list[float], list[bool]]] = scored) -> tuple[bool, float]:
            p, r = precision_recall([x >= t for x in scored[0][0]], scored[0][1])
            return r >= 0.85, p

        best = max(grid, key=fit_score)
        p, r = precision_recall([x >= best for x in scored[1][0]], scored[1][1])
        folds.append({"threshold": best, "test_precision": p, "test_recall": r, "test_auc": auc(*scored[1])})
    return {"folds": folds}


def run_changes_eval(stories: Path | None, revisions: Path | None, fmt: str = "text") -> str:
    report: dict[str, Any] = {}
    if stories is not None:
        rows = read_jsonl(stories, ("id", "story"))
        report["stories"] = eval_stories(rows)
        report["stories"]["cross_validation"] = cross_validate_threshold(rows)
    if revisions is not None:
        rev_rows = read_jsonl(revisions, ("id", "before", "after", "material", "edits"))
        report["revisions"] = eval_revisions(rev_rows)
        report["revisions"]["cross_validation"] = cross_validate_material(rev_rows)
    if fmt == "json":
        return json.dumps(report, indent=2) + "\n"
    return format_changes_report(report)


def _fmt(d: dict[str, Any], keys: Sequence[str]) -> str:
    return "  ".join(f"{k} {d[k]:.3f}" for k in keys if k in d)


def format_changes_report(report: dict[str, Any]) -> str:
    lines: list[str] = []
    keys = ("bcubed_p", "bcubed_r", "bcubed_f1", "pairwise_f1", "new_hits", "new_false")
    if "stories" in report:
        s = report["stories"]
        lines.append(f"stories: {s['articles']} articles, {s['stories']} gold stories, mean of {s['orders']} orders")
        lines.append(f"  clusterer                 {_fmt(s['clusterer'], keys)}")
        b = s["baseline"]
        lines.append(f"  baseline tf-idf (t={b['threshold']:.2f})  {_fmt(b, keys)}")
        for n, f in enumerate(s["cross_validation"]["folds"], 1):
            lines.append(
                f"  cv fold {n}: threshold {f['threshold']:.2f} fitted on half the topics, "
                f"held-out B-cubed F1 {f['test_bcubed_f1']:.3f}, new hits {f['test_new_hits']:.3f}, "
                f"false new {f['test_new_false']:.3f}"
            )
    if "revisions" in report:
        r = report["revisions"]
        sig, base = r["significance"], r["baseline_changed_words"]
        lines.append(f"revisions: {r['revisions']} ({r['material']} material)")
        lines.append(
            f"  significance   AUC {sig['auc']:.3f}  material P {sig['material_precision']:.3f} "
            f"R {sig['material_recall']:.3f}  P@R>=0.85 {sig['precision_at_recall_0.85']:.3f}  "
            f"edit-span coverage {sig['edit_span_coverage']:.3f} ({sig['edit_spans']} spans)"
        )
        lines.append(
            f"  changed words  AUC {base['auc']:.3f}  P@R>=0.85 {base['precision_at_recall_0.85']:.3f}"
        )
        for n, f in enumerate(r["cross_validation"]["folds"], 1):
            lines.append(
                f"  cv fold {n}: material cut-off {f['threshold']:.2f} fitted on half the articles, held-out "
                f"P {f['test_precision']:.3f} R {f['test_recall']:.3f} AUC {f['test_auc']:.3f}"
            )
    return "\n".join(lines) + "\n"
