"""Fit the scorer's combination weights (src/monitor/score/weights.json) on many tracking tasks.

    python tools/fit_weights.py --corpus ../shared/corpus [--out src/monitor/score/weights.json]

Data (all dev data; kept-back sets judge the result):
* every task of ``--tasks`` (default: the corpus's ECB+ dev tasks): its 4 seeds against the rest
  of the listed item files (English);
* the shipped topic: ``--seeds`` against the graded English items of ``--labels``;
* long off-topic articles for every task: the corpus pages' human-annotated bodies (so the
  threshold is not fitted on short distractors alone).

A row is one document against one task's seeds, with the features of ``score/features.py``;
the target is grade 2.  Logistic regression (Newton's method, a small L2 penalty, weights kept
non-negative), each task
weighted equally with its natural class ratio (``--balanced``: its classes balanced), the shipped
topic counting as ``--shipped-weight`` tasks.  Cross-validation by topic (tasks of
one ECB+ topic, or the shipped topic, are held out together) gives the figures recorded in the
weights file; the threshold is the one that maximises, over the training tasks, the mean F-beta
(``--recall-weight`` beta, 1.5) of grade-2 recall and grade>=1 precision; the final weights are fitted on everything.

Needs numpy (``pip install numpy``); the product itself does not.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from monitor.config import load_seeds  # noqa: E402
from monitor.evaluate import lang_of, load_items, load_labels, metrics, to_document  # noqa: E402
from monitor.evaluate_tasks import load_tasks, seed_of  # noqa: E402
from monitor.models import Document  # noqa: E402
from monitor.score.features import Feature  # noqa: E402
from monitor.score.model import Scorer  # noqa: E402
from monitor.score.weights import WEIGHTS_FILE, Weights  # noqa: E402

FEATURES = list(Feature)
L2 = 1e-3
SHIPPED = "shipped"


@dataclass(frozen=True)
class Fit:
    shipped_weight: float = 5.0  # the shipped topic counts as this many tasks
    balanced: bool = False  # balance each task's classes (else its natural class ratio)
    # the threshold maximises the F-beta of R2 and P1 with this beta: a missed story costs
    # more than a false alert (the TDT cost weighs a miss ~5 false-alarm rates)
    recall_weight: float = 1.5


_STATE: dict[str, Any] = {}


def _rows(name: str, seeds: list[Any], docs: list[tuple[Document, int]], weights: Weights) -> dict[str, Any]:
    sc = Scorer(seeds, weights)
    X = np.array([[sc.evaluate(d).features[f] for f in FEATURES] for d, _g in docs], dtype=float)
    return {"task": name, "X": X, "grades": np.array([g for _d, g in docs]), "ids": [d.id for d, _g in docs]}


def _task_rows(task: dict[str, Any]) -> dict[str, Any]:
    items, order, pages = _STATE["items"], _STATE["order"], _STATE["pages"]
    seeds = [seed_of(items[s]) for s in task["seeds"]]
    grades = {str(k): int(v) for k, v in task["grades"].items()}
    lang = task.get("lang") or "en"
    docs = [
        (to_document(items[i]), grades.get(i, 0))
        for i in order
        if items[i]["_file"] in task["items"]
        and i not in task["seeds"]
        and (not items[i].get("language") or lang_of(items[i]) == lang)
    ]
    return _rows(task["task"], seeds, docs + [(p, 0) for p in pages], _STATE["weights"])


def load_pages(folder: Path) -> list[Document]:
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    out = []
    for key, rec in sorted(truth.items()):
        html = gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes()).decode("utf-8", "replace")
        m = re.search(r"<title[^>]*>(.*?)</title>", html, re.S | re.I)
        title = re.sub(r"\s+", " ", m.group(1)).strip() if m else ""
        out.append(Document(id=f"page-{key[:12]}", title=title, text=rec["articleBody"]))
    return out


def collect(args: argparse.Namespace, weights: Weights) -> list[dict[str, Any]]:
    corpus = args.corpus
    tasks = load_tasks(args.tasks)
    items: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for rel in sorted({f for t in tasks for f in t["items"]}):
        for it in load_items(corpus / rel):
            if str(it["id"]) not in items:
                items[str(it["id"])] = {**it, "_file": rel}
                order.append(str(it["id"]))
    pages = load_pages(args.pages)
    _STATE.update(items=items, order=order, pages=pages, weights=weights)
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
        rows = list(pool.map(_task_rows, tasks, chunksize=1))
    labels = load_labels(args.labels)
    news = {str(it["id"]): it for it in load_items(args.items)}
    shipped = [(to_document(news[i]), g) for i, g in labels.items() if i in news and lang_of(news[i]) == "en"]
    rows.append(_rows(SHIPPED, list(load_seeds(args.seeds)), shipped + [(p, 0) for p in pages], weights))
    _STATE.clear()
    return rows


def topic_of(task: str) -> str:
    m = re.search(r"(\d+)", task)
    return m.group(1) if m and task != SHIPPED else task


def fit(rows: list[dict[str, Any]], how: Fit) -> tuple[np.ndarray, float]:
    """Logistic regression with non-negative feature weights: every feature is a similarity or
    a margin, and more of it must never lower a score (an active set: the most negative weight
    is fixed at zero and the rest refitted, until none is negative)."""
    xs, ys, ws = [], [], []
    for r in rows:
        y = (r["grades"] >= 2).astype(float)
        npos, nneg = max(1.0, y.sum()), max(1.0, len(y) - y.sum())
        if how.balanced:
            w = np.where(y > 0, 0.5 / npos, 0.5 / nneg)
        else:
            w = np.full(len(y), 1.0 / len(y))
        w = w * (how.shipped_weight if r["task"] == SHIPPED else 1.0)
        xs.append(r["X"])
        ys.append(y)
        ws.append(w * 100.0)
    X = np.vstack(xs)
    y, w = np.concatenate(ys), np.concatenate(ws)
    active = list(range(X.shape[1]))
    while True:
        coef_a, intercept = _newton(X[:, active], y, w)
        if coef_a.min() >= 0 or len(active) == 1:
            break
        del active[int(np.argmin(coef_a))]
    coef = np.zeros(X.shape[1])
    coef[active] = coef_a
    return coef, intercept


def _newton(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
    X = np.column_stack([X, np.ones(len(X))])
    beta = np.zeros(X.shape[1])
    for _ in range(40):
        p = 1.0 / (1.0 + np.exp(-np.clip(X @ beta, -60, 60)))
        penalty = L2 * np.r_[beta[:-1], 0.0]
        grad = X.T @ (w * (p - y)) + penalty
        hess = (X * (w * p * (1 - p))[:, None]).T @ X + L2 * np.eye(len(beta))
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta[:-1], float(beta[-1])


def probabilities(r: dict[str, Any], coef: np.ndarray, intercept: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(r["X"] @ coef + intercept, -60, 60)))


def task_metrics(r: dict[str, Any], p: np.ndarray, threshold: float) -> dict[str, Any]:
    return metrics([(float(v), bool(v >= threshold), int(g)) for v, g in zip(p, r["grades"], strict=True)])


def best_threshold(rows: list[dict[str, Any]], coef: np.ndarray, intercept: float, how: Fit) -> float:
    """The probability cut with the best mean over tasks of the F-beta of R2 and P1."""
    grid = 1.0 / (1.0 + np.exp(-np.arange(-6.0, 8.0, 0.05)))
    gain = np.zeros(len(grid))
    for r in rows:
        p = probabilities(r, coef, intercept)
        g = r["grades"]
        above = p[None, :] >= grid[:, None]  # thresholds x documents
        matched = above.sum(axis=1)
        r2 = (above & (g >= 2)).sum(axis=1) / max(1, int((g >= 2).sum()))
        weight = how.shipped_weight if r["task"] == SHIPPED else 1.0
        p1 = np.where(matched > 0, (above & (g >= 1)).sum(axis=1) / np.maximum(matched, 1), 0.0)
        b2 = how.recall_weight**2
        gain += weight * np.where(r2 + p1 > 0, (1 + b2) * r2 * p1 / np.maximum(b2 * p1 + r2, 1e-12), 0.0)
    return round(float(grid[int(np.argmax(gain))]), 4)


def cross_validate(rows: list[dict[str, Any]], how: Fit) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for topic in sorted({topic_of(r["task"]) for r in rows}):
        train = [r for r in rows if topic_of(r["task"]) != topic]
        coef, intercept = fit(train, how)
        th = best_threshold(train, coef, intercept, how)
        for r in rows:
            if topic_of(r["task"]) == topic:
                out[r["task"]] = task_metrics(r, probabilities(r, coef, intercept), th)
    return out


def summary(per_task: dict[str, dict[str, Any]]) -> dict[str, Any]:
    tasks = [m for t, m in per_task.items() if t != SHIPPED]
    out: dict[str, Any] = {
        k: round(float(np.mean([m[k] for m in tasks])), 4) for k in ("AP2", "AP1", "P1@R2", "R2", "P1")
    }
    out["worst_AP2"] = round(min(m["AP2"] for m in tasks), 4)
    if SHIPPED in per_task:
        out[SHIPPED] = {k: round(per_task[SHIPPED][k], 4) for k in ("AP2", "AP1", "R2", "P1")}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    ap.add_argument("--tasks", type=Path, default=None)
    ap.add_argument("--items", type=Path, default=None)
    ap.add_argument("--labels", type=Path, default=None)
    ap.add_argument("--pages", type=Path, default=None)
    ap.add_argument("--seeds", type=Path, default=Path("seeds"))
    ap.add_argument(
        "--shipped-weight", type=float, default=Fit.shipped_weight, help="the shipped topic counts as this many tasks"
    )
    ap.add_argument("--balanced", action="store_true", help="balance each task's classes (default: natural ratio)")
    ap.add_argument(
        "--recall-weight", type=float, default=Fit.recall_weight, help="beta of the threshold's F-beta criterion"
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=WEIGHTS_FILE)
    ap.add_argument("--rows", type=Path, default=None, help="cache of the feature rows (npz-like pickle)")
    args = ap.parse_args()
    args.tasks = args.tasks or args.corpus / "tasks/ecbplus_dev_tasks.jsonl"
    args.items = args.items or args.corpus / "news/items.jsonl"
    args.labels = args.labels or args.corpus / "news/dev_labels.tsv"
    args.pages = args.pages or args.corpus / "pages/scrapinghub-aeb"
    current = Weights.from_json(json.loads(WEIGHTS_FILE.read_text(encoding="utf-8")))
    if args.rows and args.rows.exists():
        import pickle

        rows = pickle.loads(args.rows.read_bytes())
    else:
        rows = collect(args, current)
        if args.rows:
            import pickle

            args.rows.write_bytes(pickle.dumps(rows))
    how = Fit(shipped_weight=args.shipped_weight, balanced=args.balanced, recall_weight=args.recall_weight)
    cv = cross_validate(rows, how)
    coef, intercept = fit(rows, how)
    th = best_threshold(rows, coef, intercept, how)
    weights = Weights(
        coef={f: round(float(c), 6) for f, c in zip(FEATURES, coef, strict=True)},
        intercept=round(intercept, 6),
        threshold=th,
        name_boost=current.name_boost,
        number_weight=current.number_weight,
        rocchio=current.rocchio,
        threshold_span=current.threshold_span,
        threshold_prior=current.threshold_prior,
        fitted={
            "by": "tools/fit_weights.py",
            "tasks": str(args.tasks.name),
            "n_tasks": len(rows),
            "shipped_weight": how.shipped_weight,
            "balanced": how.balanced,
            "recall_weight": how.recall_weight,
            "l2": L2,
            "cross_validated_by_topic": summary(cv),
            "in_sample": summary({r["task"]: task_metrics(r, probabilities(r, coef, intercept), th) for r in rows}),
        },
    )
    args.out.write_text(json.dumps(weights.to_json(), indent=2) + "\n", encoding="utf-8")
    print(json.dumps(weights.to_json(), indent=2))


if __name__ == "__main__":
    main()
