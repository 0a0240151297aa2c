"""Many topic-tracking tasks in one run (``monitor eval --tasks``).

A task file has one JSON object per line::

    {"task": "ecb-1-ecb", "items": ["stories/ecbplus_dev.jsonl", "news/items.jsonl"],
     "lang": "en", "seeds": ["1_10ecb", ...], "grades": {"1_14ecb": 2, "1_10ecbplus": 1, ...}}

``items`` are JSONL files relative to the corpus folder; every item of those files that is not a
seed and not graded is grade 0 (a distractor).  A seed is its item's title, a blank line and its
text (or summary).  With ``lang``, items whose ``language`` names another language are left out
(items without a language are kept).  Per task and as means over tasks: the metrics of
``evaluate.metrics`` for the project scorer and the two baselines of ``monitor eval --items``.

Documents are read once for all tasks; tasks run in worker processes (fork) when there are
several CPUs, so the 60 ECB+ tasks take minutes, not an hour.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError
from monitor.evaluate import (
    SYSTEMS,
    EvalScorer,
    KeywordBaseline,
    TfidfBaseline,
    lang_of,
    load_items,
    metrics,
    to_document,
)
from monitor.models import Document, Seed
from monitor.score import build_scorer

ScorerFactory = Callable[[Sequence[Seed]], EvalScorer]
MEAN_KEYS = ("AP2", "AP1", "P1@R2", "R2", "P1", "TDT")


def load_tasks(path: Path) -> list[dict[str, Any]]:
    tasks = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                task = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{n}: not JSON: {exc.msg}") from None
            for key in ("task", "items", "seeds", "grades"):
                if key not in task:
                    raise ConfigError(f"{path}:{n}: task without {key!r}")
            tasks.append(task)
    if not tasks:
        raise ConfigError(f"{path}: no tasks")
    return tasks


def seed_of(item: dict[str, Any]) -> Seed:
    body = item.get("text") or item.get("summary") or ""
    title = (item.get("title") or "").strip()
    return Seed(name=str(item["id"]), text=f"{title}\n\n{body}".strip())


# Set in the parent before forking: the workers read them instead of pickling 8,000 documents
# per task.
_STATE: dict[str, Any] = {}


def _wanted(item: dict[str, Any], lang: str | None) -> bool:
    return not lang or not item.get("language") or lang_of(item) == lang


def _run_task(task: dict[str, Any]) -> dict[str, Any]:
    items: dict[str, dict[str, Any]] = _STATE["items"]
    docs: dict[str, Document] = _STATE["docs"]
    order: list[str] = _STATE["order"]
    tfidf: TfidfBaseline = _STATE["tfidf"]
    factory: ScorerFactory = _STATE["factory"]
    feedback: bool = _STATE["feedback"]
    files = set(task["items"])
    lang = (task.get("lang") or "").lower() or None
    seed_ids = [str(s) for s in task["seeds"]]
    missing = [s for s in seed_ids if s not in items]
    if missing:
        return {"task": task["task"], "error": f"seed item not found: {missing[0]}"}
    seeds = [seed_of(items[s]) for s in seed_ids]
    grades = {str(k): int(v) for k, v in task["grades"].items()}
    chosen = [i for i in order if items[i]["_file"] in files and i not in seed_ids and _wanted(items[i], lang)]
    try:
        scorer = factory(seeds)
    except Exception as exc:  # noqa: BLE001 - a task the scorer refuses is reported, not fatal
        return {"task": task["task"], "error": f"{type(exc).__name__}: {exc}"}
    keyword = KeywordBaseline(seeds)
    tf_seeds = [tfidf.vector(s.text) for s in seeds]
    rows: dict[str, list[tuple[float, bool, int]]] = {name: [] for name in SYSTEMS}
    threshold = scorer.threshold
    for i in chosen:
        doc, g = docs[i], grades.get(i, 0)
        s = scorer.score(doc)
        rows["project"].append((s.value, s.match, g))
        if feedback and s.match:
            scorer.learn(doc, g >= 1)
        kv = keyword.score(doc)
        rows["keyword"].append((kv, kv >= keyword.threshold, g))
        tv = tfidf.score_vector(tfidf.doc_vector(i), tf_seeds)
        rows["tfidf"].append((tv, tv >= tfidf.threshold, g))
    return {
        "task": task["task"],
        "threshold": threshold,
        "final_threshold": scorer.threshold,
        "systems": {name: metrics(r) for name, r in rows.items()},
    }


def run_tasks(
    tasks_path: Path,
    corpus: Path,
    *,
    feedback: bool = False,
    scorer_factory: ScorerFactory | None = None,
    workers: int | None = None,
    only: Sequence[str] = (),
) -> dict[str, Any]:
    tasks = load_tasks(tasks_path)
    if only:
        tasks = [t for t in tasks if t["task"] in set(only)]
    items: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for rel in sorted({f for t in tasks for f in t["items"]}):
        path = corpus / rel
        if not path.is_file():
            raise ConfigError(f"{path}: items file not found (tasks name it relative to --corpus)")
        for item in load_items(path):
            key = str(item["id"])
            if key not in items:
                items[key] = {**item, "_file": rel}
                order.append(key)
    # date order (stable), as a live monitor would see them; undated items keep file order first
    order = [k for _d, _n, k in sorted((str(items[k].get("date") or ""), n, k) for n, k in enumerate(order))]
    docs = {k: to_document(items[k]) for k in order}
    tfidf = TfidfBaseline([], [docs[k] for k in order])
    tfidf.index({k: docs[k] for k in order})
    _STATE.update(
        items=items,
        docs=docs,
        order=order,
        tfidf=tfidf,
        factory=scorer_factory or build_scorer,
        feedback=feedback,
    )
    n = workers or min(len(tasks), os.cpu_count() or 1)
    try:
        if n > 1:
            import multiprocessing

            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(n, mp_context=ctx) as pool:
                results = list(pool.map(_run_task, tasks, chunksize=1))
        else:
            results = [_run_task(t) for t in tasks]
    finally:
        _STATE.clear()
    return summarise(results, feedback=feedback, source=str(tasks_path))


def summarise(results: list[dict[str, Any]], *, feedback: bool, source: str) -> dict[str, Any]:
    ok = [r for r in results if "error" not in r]
    means: dict[str, dict[str, float]] = {}
    worst: dict[str, dict[str, Any]] = {}
    for name in SYSTEMS:
        means[name] = {
            k: (sum(r["systems"][name][k] for r in ok) / len(ok) if ok else 0.0) for k in MEAN_KEYS
        }
        if ok:
            w = min(ok, key=lambda r: r["systems"][name]["AP2"])
            worst[name] = {"task": w["task"], "AP2": w["systems"][name]["AP2"]}
    return {
        "mode": "feedback" if feedback else "seeds",
        "source": source,
        "tasks": len(results),
        "refused": [{"task": r["task"], "error": r["error"]} for r in results if "error" in r],
        "means": means,
        "worst": worst,
        "per_task": results,
    }


def format_tasks_report(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, sort_keys=True)
    head = f"{'task':<22} {'system':<8} {'AP2':>6} {'AP1':>6} {'P1@R2':>6} {'R2':>6} {'P1':>6} {'TDT':>6}"
    lines = [f"mode: {report['mode']}   tasks: {report['tasks']}   ({report['source']})", "", head]

    def row(label: str, name: str, m: dict[str, float]) -> str:
        return (
            f"{label:<22} {name:<8} {m['AP2']:>6.3f} {m['AP1']:>6.3f} {m['P1@R2']:>6.3f} "
            f"{m['R2']:>6.3f} {m['P1']:>6.3f} {m['TDT']:>6.3f}"
        )

    for r in report["per_task"]:
        if "error" in r:
            lines.append(f"{r['task']:<22} refused: {r['error']}")
            continue
        lines.append(row(r["task"], "project", r["systems"]["project"]))
    lines.append("")
    for name in SYSTEMS:
        lines.append(row("MEAN", name, report["means"][name]))
    for name, w in report["worst"].items():
        lines.append(f"worst AP2 ({name}): {w['task']} {w['AP2']:.3f}")
    if report["refused"]:
        lines.append(f"refused: {len(report['refused'])} task(s)")
    return "\n".join(lines) + "\n"
