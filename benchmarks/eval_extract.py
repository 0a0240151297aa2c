"""Extraction quality and cost of trafilatura's modes on pages with a ground truth.

For each mode, every page of DIR/html/*.html.gz is extracted with
``trafilatura.bare_extraction(..., with_metadata=True)`` (as ``monitor.extract.extract_page`` calls
it, plus the mode's options) and compared with ``articleBody`` of DIR/ground-truth.json, the way
the article-extraction-benchmark's evaluate.py scores it: the texts' ``\\w+`` tokens (case kept)
are cut into 4-token shingles; per page, true positives, false positives and false negatives are
counted over the shingle multisets and normalised by their sum (so a long page weighs no more than
a short one); precision is the mean over pages with anything predicted, recall the mean over pages
with anything true, F1 their harmonic mean. Also printed: the bag-of-tokens F1 (lower-cased
tokens, mean over pages) and the CPU time per page (``time.process_time``, the modes taking turns
page by page; the machine's load is printed with it). ``--metadata`` compares the metadata fields
the monitor stores (title, url, date, author, language) of each mode with the default mode's.

Usage: python benchmarks/eval_extract.py --pages /work/shared/corpus/pages/scrapinghub-aeb
       [--modes default,fast,...] [--repeat 1] [--metadata]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

MODES: dict[str, dict[str, bool]] = {
    "default": {},
    "fast": {"fast": True},
    "favor_precision": {"favor_precision": True},
    "favor_recall": {"favor_recall": True},
    "fast+favor_recall": {"fast": True, "favor_recall": True},
}
META = ("title", "url", "date", "author", "language")
_TOKEN = re.compile(r"\w+")
SHINGLE = 4


def shingle_counts(text: str, n: int = SHINGLE) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


def tp_fp_fn(true: str, pred: str) -> tuple[float, float, float]:
    """Shingle matches of one page, normalised by their sum."""
    t, p = shingle_counts(true), shingle_counts(pred)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def shingle_scores(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """Precision, recall, F1 over (true, predicted) texts, as the benchmark's evaluate.py."""
    counts = [tp_fp_fn(true, pred) for true, pred in pairs]
    precision = statistics.mean(_precision(*c) for c in counts if c[0] + c[1] > 0)
    recall = statistics.mean(_recall(*c) for c in counts if c[0] + c[2] > 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def token_f1(true: str, pred: str) -> float:
    t = Counter(w.lower() for w in _TOKEN.findall(true or ""))
    p = Counter(w.lower() for w in _TOKEN.findall(pred or ""))
    both = sum((t & p).values())
    if not both:
        return 0.0
    precision, recall = both / sum(p.values()), both / sum(t.values())
    return 2 * precision * recall / (precision + recall)


def load(folder: Path) -> list[tuple[str, bytes, str, str]]:
    """(key, html, url, true article body) for every page with a ground truth."""
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for path in sorted((folder / "html").glob("*.html.gz")):
        key = path.name.split(".")[0]
        if key in truth:
            pages.append((key, gzip.decompress(path.read_bytes()), truth[key]["url"], truth[key]["articleBody"]))
    return pages


def extractor(options: dict[str, bool]) -> Callable[[bytes, str], dict[str, Any]]:
    import trafilatura

    def run(html: bytes, url: str) -> dict[str, Any]:
        doc = trafilatura.bare_extraction(
            html, url=url, include_comments=False, include_tables=False, with_metadata=True, **options
        )
        if doc is None:
            return {}
        return dict(doc.as_dict() if hasattr(doc, "as_dict") else doc)

    return run


def run_modes(
    pages: list[tuple[str, bytes, str, str]], modes: list[str], passes: int
) -> tuple[dict[str, float], dict[str, dict[str, dict[str, Any]]]]:
    """CPU seconds per pass of each mode, and each page's result per mode. Modes are interleaved
    page by page (in turn first on a page), so a change in the machine's load between modes, or
    the caches a page leaves warm, cannot favour one of them."""
    extract = {mode: extractor(MODES[mode]) for mode in modes}
    cpu = dict.fromkeys(modes, 0.0)
    out: dict[str, dict[str, dict[str, Any]]] = {mode: {} for mode in modes}
    for _ in range(passes):
        for i, (key, html, url, _) in enumerate(pages):
            # the first mode on a page runs with colder caches: each mode goes first as often
            for mode in modes[i % len(modes) :] + modes[: i % len(modes)]:
                cpu0 = time.process_time()
                out[mode][key] = extract[mode](html, url)
                cpu[mode] += time.process_time() - cpu0
    return {mode: c / passes for mode, c in cpu.items()}, out


def metadata_differences(base: dict[str, dict[str, Any]], other: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    diffs: dict[str, list[str]] = {field: [] for field in META}
    for key, doc in base.items():
        for field in META:
            if doc.get(field) != other[key].get(field):
                diffs[field].append(f"{key[:10]}: {doc.get(field)!r} -> {other[key].get(field)!r}")
    return diffs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=Path, required=True, help="folder with ground-truth.json and html/*.html.gz")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--repeat", type=int, default=1, help="timed passes (the mean is printed)")
    parser.add_argument("--metadata", action="store_true", help="compare each mode's metadata with the default's")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not (args.pages / "ground-truth.json").is_file():
        sys.exit(
            f"eval_extract: unknown mode {unknown}"
            if unknown
            else f"eval_extract: no ground-truth.json in {args.pages}"
        )
    pages = load(args.pages)
    run_modes(pages[:3], modes, 1)  # trafilatura's first-use tables: paid before any timed pass
    print(f"{len(pages)} pages, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'mode':<18} {'CPU ms/page':>11} {'precision':>9} {'recall':>7} {'F1':>6} {'token F1':>8} {'empty':>5}")
    times, results = run_modes(pages, modes, max(1, args.repeat))
    for mode in modes:
        pairs = [(true, results[mode][key].get("text") or "") for key, _, _, true in pages]
        scores = shingle_scores(pairs)
        tokens = statistics.mean(token_f1(true, pred) for true, pred in pairs)
        empty = sum(1 for _, pred in pairs if not pred)
        found = ", ".join(f"{f} {sum(1 for d in results[mode].values() if d.get(f))}" for f in META)
        print(
            f"{mode:<18} {1000 * times[mode] / len(pages):>11.1f} {scores['precision']:>9.4f} "
            f"{scores['recall']:>7.4f} {scores['f1']:>6.4f} {tokens:>8.4f} {empty:>5}  metadata found: {found}"
        )
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    if args.metadata and "default" in results:
        for mode in modes[1:] if modes[0] == "default" else modes:
            if mode == "default":
                continue
            diffs = metadata_differences(results["default"], results[mode])
            counts = ", ".join(f"{field} {len(d)}" for field, d in diffs.items())
            print(f"metadata of {mode} vs default, pages differing: {counts}")
            for field, lines in diffs.items():
                for line in lines[:5]:
                    print(f"  {field} {line}")


if __name__ == "__main__":
    main()
