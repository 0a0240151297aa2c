"""Offline evaluation of the relevance engine against graded items (``monitor eval``).

Reads an items JSONL (``id``, ``date``, ``language``, ``title``, ``summary``) and a TSV of grades
(``id``, ``grade``: 2 on topic, 1 related, 0 off topic).  Reports, for the project scorer and two
baselines (a boolean keyword query from the seeds' most salient entities; TF-IDF cosine, max over
seeds), per language and overall:

* AP2 (grade 2 vs the rest), AP1 (grade >= 1 vs the rest),
* P1@R2: precision counting grade >= 1 at the first rank where recall of grade 2 reaches 0.85,
* at the default threshold: R2, P1 and the normalised TDT cost P_miss + 4.9 * P_FA
  (grade 2 is the target; C_miss = 1, C_FA = 0.1, P_target = 0.02).

With ``feedback=True`` the TREC adaptive-filtering protocol is followed: items in date order,
each scored and decided with what is known so far; a matched item's grade is revealed (>= 1
relevant) and fed to ``Scorer.learn``; unmatched items are never revealed.  Metrics at the
threshold are those of the decisions made; rank metrics use the scores given at decision time.

``scorer_factory`` replaces the project scorer (``build_scorer``), e.g. by the lexical scorer
fused with the semantic backend (``monitor eval --semantic-model``); a scorer with
``prepare(docs)`` gets the items in batches ahead of scoring, and a ``SemanticScorer``'s
``describe()`` (model, weight, calibration) is in the report as ``"semantic"``.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from monitor.models import Document, Score, Seed
from monitor.score import build_scorer
from monitor.score.geo import NAMES
from monitor.score.semantic import SemanticScorer
from monitor.score.text import countries, fold, tokens

RECALL_POINT = 0.85
TDT_FA_WEIGHT = 4.9  # C_FA * (1 - P_target) / (C_miss * P_target) with 0.1, 0.02
TFIDF_THRESHOLD = 0.2
SYSTEMS = ("project", "keyword", "tfidf")
PREPARE_BATCH = 1024  # items embedded at a time ahead of scoring (within the backend's cache)


class EvalScorer(Protocol):
    threshold: float

    def score(self, doc: Document) -> Score: ...

    def learn(self, doc: Document, relevant: bool) -> None: ...


# ---- data ---------------------------------------------------------------------------------


def load_items(path: Path) -> list[dict[str, Any]]:
    items = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                items.append(json.loads(line))
    return items


def load_labels(path: Path) -> dict[str, int]:
    labels: dict[str, int] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2 or (n == 0 and parts[1].strip() == "grade"):
                continue
            try:
                labels[parts[0].strip()] = int(parts[1])
            except ValueError:
                continue
    return labels


def lang_of(item: dict[str, Any]) -> str:
    lang = item.get("language") or ""
    return re.split(r"[-_]", lang.strip().lower())[0] or "unknown"


def to_document(item: dict[str, Any]) -> Document:
    return Document(
        id=str(item["id"]),
        title=item.get("title") or "",
        text=item.get("summary") or item.get("text") or "",
        language=item.get("language"),
    )


# ---- metrics ------------------------------------------------------------------------------


def average_precision(ranked_relevant: Sequence[bool]) -> float:
    total = sum(ranked_relevant)
    if total == 0:
        return 0.0
    hits = 0
    acc = 0.0
    for k, rel in enumerate(ranked_relevant, 1):
        if rel:
            hits += 1
            acc += hits / k
    return acc / total


def precision_at_recall(grades_ranked: Sequence[int], recall: float = RECALL_POINT) -> float:
    """Precision counting grade >= 1 at the first rank where recall of grade 2 >= recall."""
    total2 = sum(1 for g in grades_ranked if g >= 2)
    if total2 == 0:
        return 0.0
    need = math.ceil(recall * total2 - 1e-9)
    found = rel1 = 0
    for k, g in enumerate(grades_ranked, 1):
        rel1 += g >= 1
        found += g >= 2
        if found >= need:
            return rel1 / k
    return 0.0


def metrics(rows: Sequence[tuple[float, bool, int]]) -> dict[str, Any]:
    """rows: (score, match, grade) in processing order; ties keep processing order."""
    order = sorted(range(len(rows)), key=lambda i: -rows[i][0])
    grades = [rows[i][2] for i in order]
    n2 = sum(1 for g in grades if g >= 2)
    n1 = sum(1 for g in grades if g >= 1)
    matched = [r for r in rows if r[1]]
    m2 = sum(1 for r in matched if r[2] >= 2)
    m1 = sum(1 for r in matched if r[2] >= 1)
    non_targets = len(rows) - n2
    p_miss = 1.0 - m2 / n2 if n2 else 0.0
    p_fa = (len(matched) - m2) / non_targets if non_targets else 0.0
    return {
        "n": len(rows),
        "n_grade2": n2,
        "n_grade1plus": n1,
        "AP2": average_precision([g >= 2 for g in grades]),
        "AP1": average_precision([g >= 1 for g in grades]),
        "P1@R2": precision_at_recall(grades),
        "matches": len(matched),
        "R2": m2 / n2 if n2 else 0.0,
        "P1": m1 / len(matched) if matched else 0.0,
        "TDT": p_miss + TDT_FA_WEIGHT * p_fa,
    }


# ---- baselines ----------------------------------------------------------------------------


def _salient_entities(seed: Seed, k: int = 2) -> list[str]:
    """The seed's k most mentioned countries, as the keyword the seed itself uses most."""
    raw = tokens(seed.text)
    folded = [fold(t) for t in raw]
    by_code: Counter[str] = Counter()
    forms: dict[str, Counter[str]] = {}
    for a, b, code in countries(raw, folded):
        if code.startswith("@"):
            continue
        by_code[code] += 1
        forms.setdefault(code, Counter())[" ".join(folded[a:b])] += 1
    out = []
    for code, _n in sorted(by_code.items(), key=lambda kv: (-kv[1], kv[0]))[:k]:
        name = fold(NAMES.get(code, code))
        best = forms[code].most_common(1)[0][0]
        out.append(best if len(best) > 3 else name)
    return out


class KeywordBaseline:
    """(a1 AND b1) OR (a2 AND b2) ...: each seed's two most salient entities, literal words."""

    def __init__(self, seeds: Sequence[Seed]) -> None:
        clauses = []
        for s in seeds:
            ents = _salient_entities(s)
            if ents and tuple(ents) not in clauses:
                clauses.append(tuple(ents))
        self.clauses = clauses
        self.threshold = 1.0

    def query(self) -> str:
        return " OR ".join("(" + " AND ".join(f'"{e}"' for e in c) + ")" for c in self.clauses)

    def score(self, doc: Document) -> float:
        text = " " + " ".join(fold(t) for t in tokens(doc.title + " " + doc.text)) + " "
        full = sum(all(f" {e} " in text for e in c) for c in self.clauses)
        partial = len({e for c in self.clauses for e in c if f" {e} " in text})
        return float(full >= 1) + 0.01 * partial


_STOP = frozenset(
    "the a an and or of to in on for with at by from as is are was were be been it its this that "
    "these those he she they we you i his her their our not but has have had will would can could "
    "said says".split()
)


class TfidfBaseline:
    """Cosine of TF-IDF vectors (IDF from the evaluated collection), max over seeds."""

    def __init__(self, seeds: Sequence[Seed], collection: Sequence[Document]) -> None:
        df: Counter[str] = Counter()
        for d in collection:
            df.update(set(self._terms(d.title + " " + d.text)))
        n = max(1, len(collection))
        self.idf = {t: math.log((n + 1) / (c + 1)) + 1 for t, c in df.items()}
        self.default_idf = math.log(n + 1) + 1
        self.seed_vecs = [self._vec(s.text) for s in seeds]
        self.threshold = TFIDF_THRESHOLD

    @staticmethod
    def _terms(text: str) -> list[str]:
        return [f for f in (fold(t) for t in tokens(text)) if f not in _STOP and len(f) > 1]

    def _vec(self, text: str) -> dict[str, float]:
        tf = Counter(self._terms(text))
        v = {t: (1 + math.log(c)) * self.idf.get(t, self.default_idf) for t, c in tf.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {t: x / norm for t, x in v.items()}

    def vector(self, text: str) -> dict[str, float]:
        return self._vec(text)

    def index(self, docs: dict[str, Document]) -> None:
        """Keep each document's vector (many seed sets scored against one collection)."""
        self._index = {k: self._vec(d.title + " " + d.text) for k, d in docs.items()}

    def doc_vector(self, key: str) -> dict[str, float]:
        return self._index[key]

    @staticmethod
    def score_vector(v: dict[str, float], seed_vecs: Sequence[dict[str, float]]) -> float:
        best = 0.0
        for s in seed_vecs:
            small, big = (v, s) if len(v) < len(s) else (s, v)
            best = max(best, sum(x * big.get(t, 0.0) for t, x in small.items()))
        return best

    def score(self, doc: Document) -> float:
        return self.score_vector(self._vec(doc.title + " " + doc.text), self.seed_vecs)


# ---- the run ------------------------------------------------------------------------------


def _date_key(item: dict[str, Any]) -> str:
    return str(item.get("date") or "")


def _load_ordered(items_path: Path, lang: str | None) -> list[dict[str, Any]]:
    """The items (of one language, if given) in date order."""
    items = load_items(items_path)
    if lang:
        want = lang.strip().lower()
        items = [it for it in items if lang_of(it) == want]
    # date order (stable): the order a live monitor would have seen the items in
    return [it for _k, _i, it in sorted((_date_key(it), i, it) for i, it in enumerate(items))]


def _label_groups(items: Sequence[dict[str, Any]], labels: dict[str, int]) -> dict[str, list[int]]:
    """Indices of the labelled items: all of them, and per language."""
    groups: dict[str, list[int]] = {"all": []}
    for i, it in enumerate(items):
        if str(it["id"]) not in labels:
            continue
        groups["all"].append(i)
        groups.setdefault(lang_of(it), []).append(i)
    return groups


def _system_metrics(
    results: Sequence[tuple[float, bool]],
    groups: dict[str, list[int]],
    items: Sequence[dict[str, Any]],
    labels: dict[str, int],
) -> dict[str, Any]:
    """One system's metrics per group, "all" first."""
    per: dict[str, Any] = {}
    for g in ["all"] + sorted(k for k in groups if k != "all"):
        rows = [(results[i][0], results[i][1], labels[str(items[i]["id"])]) for i in groups[g]]
        per[g] = metrics(rows)
    return per


def _score_all(
    docs: Sequence[Document],
    scorer: EvalScorer,
    baselines: dict[str, tuple[Callable[[Document], float], float]],
    labels: dict[str, int],
    feedback: bool,
    decisions_path: Path | None,
) -> tuple[dict[str, list[tuple[float, bool]]], int, int]:
    """Every system's (score, match) per document in order, learning from the labels as a user
    would with feedback; returns the results, how many labels were revealed and how many relevant."""
    prepare = getattr(scorer, "prepare", None)
    results: dict[str, list[tuple[float, bool]]] = {name: [] for name in SYSTEMS}
    revealed = learned_rel = 0
    out = open(decisions_path, "w", encoding="utf-8") if decisions_path else None
    try:
        for i, doc in enumerate(docs):
            if callable(prepare) and i % PREPARE_BATCH == 0:
                prepare(docs[i : i + PREPARE_BATCH])
            s = scorer.score(doc)
            results["project"].append((s.value, s.match))
            if out is not None:
                out.write(json.dumps({"id": doc.id, "score": round(s.value, 6), "match": s.match}) + "\n")
            if feedback and s.match and doc.id in labels:
                rel = labels[doc.id] >= 1
                scorer.learn(doc, rel)
                revealed += 1
                learned_rel += rel
            for name, (fn, th) in baselines.items():
                v = fn(doc)
                results[name].append((v, v >= th))
    finally:
        if out is not None:
            out.close()
    return results, revealed, learned_rel


def run_eval(
    items_path: Path,
    labels_path: Path,
    seeds: Sequence[Seed],
    *,
    feedback: bool = False,
    lang: str | None = None,
    decisions_path: Path | None = None,
    scorer_factory: Callable[[Sequence[Seed]], EvalScorer] | None = None,
) -> dict[str, Any]:
    items = _load_ordered(Path(items_path), lang)
    labels = load_labels(Path(labels_path))
    docs = [to_document(it) for it in items]

    scorer: EvalScorer = scorer_factory(seeds) if scorer_factory is not None else build_scorer(seeds)
    default_threshold = scorer.threshold
    semantic_info = scorer.describe() if isinstance(scorer, SemanticScorer) else None
    keyword = KeywordBaseline(seeds)
    tfidf = TfidfBaseline(seeds, docs)
    baselines: dict[str, tuple[Callable[[Document], float], float]] = {
        "keyword": (keyword.score, keyword.threshold),
        "tfidf": (tfidf.score, tfidf.threshold),
    }

    results, revealed, learned_rel = _score_all(docs, scorer, baselines, labels, feedback, decisions_path)

    groups = _label_groups(items, labels)
    report: dict[str, Any] = {
        "mode": "feedback" if feedback else "seeds",
        "lang": lang or "all",
        "items": len(items),
        "labelled": len(groups["all"]),
        "seeds": [s.name for s in seeds],
        "threshold": default_threshold,
        "final_threshold": scorer.threshold,
        "revealed": revealed,
        "revealed_relevant": learned_rel,
        "keyword_query": keyword.query(),
        "tfidf_threshold": tfidf.threshold,
        "semantic": semantic_info,
        "systems": {},
    }
    for name in SYSTEMS:
        report["systems"][name] = _system_metrics(results[name], groups, items, labels)
    return report


def _semantic_lines(info: dict[str, Any] | None) -> list[str]:
    if not info:
        return ["project scorer: lexical"]
    langs = info.get("languages", "all")
    langs = ", ".join(langs) if isinstance(langs, list) else str(langs)
    return [
        f"project scorer: lexical fused with semantic model {info['model']}, weight {info['weight']:g}"
        f" (languages: {langs}; lexical threshold {info['lexical_threshold']:.4f},"
        f" semantic midpoint {info['midpoint']:.4f})"
    ]


def format_report(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, sort_keys=True)
    if fmt != "text":
        raise ValueError(f"unknown format {fmt!r}")
    lines = [
        f"mode: {report['mode']}   language: {report['lang']}   items: {report['items']}"
        f"   labelled: {report['labelled']}",
        f"default threshold: {report['threshold']:.4f}"
        + (
            f"   after feedback: {report['final_threshold']:.4f}   revealed: "
            f"{report['revealed']} ({report['revealed_relevant']} relevant)"
            if report["mode"] == "feedback"
            else ""
        ),
        f"keyword baseline: {report['keyword_query']}",
        *_semantic_lines(report.get("semantic")),
        "",
        f"{'system':<9} {'lang':<8} {'n':>5} {'g2':>4} {'g1+':>4} {'AP2':>6} {'AP1':>6} "
        f"{'P1@R2':>6} {'match':>6} {'R2':>6} {'P1':>6} {'TDT':>6}",
    ]
    for name, per in report["systems"].items():
        for g, m in per.items():
            lines.append(
                f"{name:<9} {g:<8} {m['n']:>5} {m['n_grade2']:>4} {m['n_grade1plus']:>4} "
                f"{m['AP2']:>6.3f} {m['AP1']:>6.3f} {m['P1@R2']:>6.3f} {m['matches']:>6} "
                f"{m['R2']:>6.3f} {m['P1']:>6.3f} {m['TDT']:>6.3f}"
            )
    return "\n".join(lines) + "\n"
