"""Diagnostic: can a learned join decision over the story engine's signals find the first article
of a topic's second event (which today joins the first event's story) without calling more
follow-ups new?

Teacher-forced: each order of the eval (`stream_order`) is placed with the *gold* stories, so
every article is compared with the stories as they would be had every earlier decision been
right. For each article the candidate stories of the engine's index are scored with the
engine's own similarity (penalties included), and features of the article against the best of
them are kept: the engine's similarity and its parts, the cosine to the story's first article,
a headline cosine, the share of the article's lead names (headline and first two sentences)
found among the story's names and of the first article's lead names found in the article, a
cosine over names, the story's size, numbers shared, year conflict.

Printed: each feature alone (AUC of follow-up against second-event first article, and the share
of second-event first articles caught when 3 % of follow-ups are called new), then logistic
regressions over sets of features fitted on half the topics (the eval's halves) and tested on
the other, the cut-off set on the fitting half at 2 % / 2.5 % of its follow-ups called new.

    python benchmarks/story_join.py [--stories FILE] [--seeds 1 2 3] [--fit-seeds 1 2 ... 9]

Needs numpy (`pip install numpy`); the product does not.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from story_mix import gold_replay

from monitor.changes import stories as S
from monitor.changes.evaluate import read_jsonl
from monitor.changes.text import STOPWORDS, WORD_RE, fold, headline, sentences, stem
from monitor.changes.vectors import TermVector

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
Row = dict[str, Any]


def names(title: str, text: str, lead: int) -> tuple[list[str], Counter[str]]:
    """(lead names: capitalised words of the headline and the first `lead` sentences that the body
    also capitalises inside a sentence, in order; counts of the body's capitalised words)."""
    head, body = headline(title, text)
    sents = sentences(body)[:40]
    inner: Counter[str] = Counter()
    for s in sents:
        for w in WORD_RE.findall(s)[1:]:
            if w[0].isupper() and fold(w) not in STOPWORDS:
                inner[stem(fold(w))] += 1
    out = []
    for n, s in enumerate([head, *sents[:lead]]):
        for i, w in enumerate(WORD_RE.findall(s)):
            t = stem(fold(w))
            if w[0].isupper() and fold(w) not in STOPWORDS and ((n > 0 and i > 0) or t in inner):
                out.append(t)
    return out, inner


def cosine(a: dict[Any, float], b: dict[Any, float]) -> float:
    num = sum(v * b.get(t, 0.0) for t, v in a.items())
    den = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return num / den if den else 0.0


class _Gold:
    """What the features need of one gold story besides the engine's story (story_mix.gold_replay's)."""

    def __init__(self, first: TermVector, lead: list[str]) -> None:
        self.first = first
        self.lead = set(lead)
        self.names: Counter[str] = Counter()
        self.titles: dict[int, float] = {}


def features(rows: Sequence[Row], seed: int) -> list[Row]:
    """Per article of one order: is it a first article, of its topic's second event, and the
    features against the engine's best candidate (None when the index offers none)."""
    gold: dict[str, _Gold] = {}
    out = []
    for step in gold_replay(rows, seed):
        art, ivec, numbers = step.article, step.ivec, step.numbers
        lead, inner = names(art.title, art.text, 2)
        head = headline(art.title, art.text)[0]
        titles = {step.vocab.ids([t])[0]: step.df.idf(t) for t in {stem(fold(w)) for w in WORD_RE.findall(head)}}
        best: Row | None = None
        for c in step.candidates:
            g, st = gold[c.sid], c.story
            cen, near = st.centroid.dot(ivec) / (st.norm or 1.0), max(m.dot(ivec) for m in st.members)
            sim = (0.5 * cen + 0.5 * near) * (S.YEAR_PENALTY if c.conflict else 1.0) * c.nf  # the engine's order
            if best is not None and sim <= best["sim"]:
                continue
            best = {
                "own": c.own,
                "sim": sim,
                "cen": cen,
                "near": near,
                "first": g.first.dot(ivec),
                "title": cosine(titles, g.titles),
                "names": cosine(dict(inner), dict(g.names)),
                "lead_in_story": len(set(lead) & set(g.names)) / len(set(lead)) if lead else 1.0,
                "first_lead_in_art": len(g.lead & set(inner)) / len(g.lead) if g.lead else 1.0,
                "log_size": math.log(st.size),
                "shared": float(bool(numbers & set(st.numbers))),
                "year_conflict": float(c.conflict),
                "log_nf": math.log(c.nf),
            }
        first = step.kind != "follow"
        out.append({"topic": step.topic, "first": first, "second": step.kind == "second", "best": best})
        if first:
            gold[step.story] = _Gold(TermVector.of(ivec), lead)
        g = gold[step.story]
        g.names.update(inner)
        for t, v in titles.items():
            g.titles[t] = g.titles.get(t, 0.0) + v
    return out


FEATURES = (
    "sim",
    "cen",
    "near",
    "first",
    "title",
    "names",
    "lead_in_story",
    "first_lead_in_art",
    "log_size",
    "shared",
    "year_conflict",
    "log_nf",
)


def split(items: Sequence[Row]) -> tuple[list[Row], list[Row]]:
    """(follow-ups against their own story, second-event first articles against their best story)."""
    pos = [i["best"] for i in items if not i["first"] and i["best"] is not None and i["best"]["own"]]
    neg = [i["best"] for i in items if i["second"] and i["best"] is not None]
    return pos, neg


def single(items: Sequence[Row]) -> None:
    pos, neg = split(items)
    print(f"{len(pos)} follow-ups against their own story, {len(neg)} second-event first articles")
    for f in FEATURES:
        p, n = np.array([x[f] for x in pos]), np.array([x[f] for x in neg])
        auc = float(((p[:, None] > n[None, :]) + 0.5 * (p[:, None] == n[None, :])).mean())
        cut = np.sort(p)[int(0.03 * len(p))]
        print(f"  {f:<18} AUC {auc:.3f}  caught at 3 % follow-ups new {float((n < cut).mean()):.3f}")


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> Callable[[np.ndarray], np.ndarray]:
    """L2 logistic regression by Newton's method on standardised features."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    reg = l2 * np.diag(np.r_[np.ones(len(w) - 1), 0.0])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        w -= np.linalg.solve((z * (p * (1 - p))[:, None]).T @ z + reg, z.T @ (p - y) + reg @ w)
    return lambda x2: np.hstack([(x2 - mu) / sd, np.ones((len(x2), 1))]) @ w


def matrix(items: Sequence[Row], cols: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows: every follow-up (label 1 if its best story is its own) and second-event first article
    (label 0), against its best story; kind 1 marks a follow-up whose best story is its own."""
    xs, ys, kinds = [], [], []
    for i in items:
        b = i["best"]
        if b is None or (i["first"] and not i["second"]):
            continue
        xs.append([b[c] for c in cols])
        ys.append(float(not i["first"] and b["own"]))
        kinds.append(1 if not i["first"] and b["own"] else (0 if i["second"] else 2))
    return np.array(xs), np.array(ys), np.array(kinds)


def cross_validate(per_seed: dict[int, list[Row]], fit_seeds: Sequence[int], seeds: Sequence[int]) -> None:
    topics = sorted({i["topic"] for items in per_seed.values() for i in items})
    halves = [set(topics[0::2]), set(topics[1::2])]
    sets = [
        ("sim",),
        ("sim", "log_size"),
        ("sim", "lead_in_story"),
        ("sim", "names"),
        ("sim", "title"),
        ("sim", "first"),
        ("sim", "shared"),
        ("sim", "lead_in_story", "log_size", "names", "title", "shared"),
        FEATURES,
    ]
    for cols in sets:
        for rate in (0.02, 0.025):
            line = []
            for fit_half, test_half in (halves, halves[::-1]):
                train = [i for s in fit_seeds for i in per_seed[s] if i["topic"] in fit_half]
                test = [i for s in seeds for i in per_seed[s] if i["topic"] in test_half]
                x, y, kind = matrix(train, cols)
                score = fit(x, y)
                cut = np.sort(score(x)[kind == 1])[int(rate * (kind == 1).sum())]
                xt, _, kt = matrix(test, cols)
                new = score(xt) < cut
                line.append(f"{float(new[kt == 0].mean()):.3f} / {float(new[kt == 1].mean()):.3f}")
            print(f"  {' + '.join(cols):<75} at {rate:.3f}: held out {line[0]}   {line[1]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--stories", type=Path, default=CORPUS / "stories" / "ecbplus_dev.jsonl")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="orders tested")
    ap.add_argument("--fit-seeds", type=int, nargs="+", default=list(range(1, 10)), help="orders fitted on")
    args = ap.parse_args()
    rows = read_jsonl(args.stories, ("id", "story"))
    per_seed = {s: features(rows, s) for s in sorted({*args.seeds, *args.fit_seeds})}
    single([i for s in args.seeds for i in per_seed[s]])
    print(
        "logistic join decision, fitted on one topic half, tested on the other "
        "(second-event first articles called new / follow-ups called new):"
    )
    cross_validate(per_seed, args.fit_seeds, args.seeds)


if __name__ == "__main__":
    main()
