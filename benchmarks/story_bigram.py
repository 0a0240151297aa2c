"""Experiment: does word-bigram evidence tell a topic's second event from its first?

Bigrams are pairs of consecutive content terms (the engine's stemmed non-stopword terms, in the
order met, within one sentence) of the same headline + first 400 body words the engine reads;
headline pairs count 3 times, as headline words do. Weights: log-TF x IDF over the stream's own
document frequency with a flat prior (every pair treated as rare before the stream has seen it:
idf = log((n + P + 1) / (df + 1)), P = 1,000 pseudo-documents), L2-normalised. A story's bigram
similarity is built like the unigram one: 1/2 cosine to its bigram centroid + 1/2 the best cosine
to one of its 8 latest members.

Two uses, each against the engine as committed (beta 0, no gate):
* mix: similarity' = ((1 - beta) * unigram similarity + beta * bigram similarity) x the year
  and number factors, threshold re-fitted;
* gate: unigram similarity in [threshold, HI) and bigram similarity below c: new story.

Measured two ways, as docs/changes.md ("Fifth round") does:
* teacher-forced (`--teacher`): the eval's orders placed with the gold stories; "caught" is the
  share of second-event first articles whose best candidate scores below the cut-off,
  "follow-ups new" the share of follow-ups (best candidate their own story) that score below it;
* online: the eval's B-cubed F1 / new hits / false "new" on the whole file (seeds 1-3 and 4-9)
  and on each topic half run as its own stream (A = topics[0::2], B = topics[1::2]), and the
  parameters fitted on one half's F1 and tested on the other.

    python benchmarks/story_bigram.py --teacher [--seeds 1 2 3]
    python benchmarks/story_bigram.py --online [--scaled]
    python benchmarks/story_bigram.py --teacher --no-name-pairs
"""

from __future__ import annotations

import argparse
import math
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import story_mix
from story_mix import GATE_HI, MixClusterer, Row, fmt, gold_replay, halves

from monitor.changes import stories as S
from monitor.changes.evaluate import read_jsonl
from monitor.changes.text import WORD_RE, headline, iter_sentences

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
PRIOR = 1000.0
BETAS = (0.2, 0.35, 0.5)
THRESHOLDS = (0.20, 0.225, 0.25, 0.275, 0.30)
GATES = (0.02, 0.05, 0.1)
# variant (--no-name-pairs): drop pairs of two names/numbers ("mauric cheek", "internet explor"),
# keeping those with a common word, where an event's trigger would be ("fire coach")
NO_NAME_PAIRS = False


def bigram_counts(title: str, text: str) -> dict[str, float]:
    """Pairs of consecutive content terms within a sentence (stopwords dropped first)."""
    out: defaultdict[str, float] = defaultdict(float)
    title, text = headline(title, text)
    budget = S.TEXT_WORDS
    for weight, part in ((S.TITLE_WEIGHT, title), (1.0, text)):
        for sent in iter_sentences(part):
            toks = WORD_RE.findall(sent)
            terms = [(e[0], e[2]) for e in map(S._WORD_TERMS.__getitem__, toks) if e is not None]
            for (a, name_a), (b, name_b) in zip(terms, terms[1:], strict=False):
                if not (NO_NAME_PAIRS and name_a and name_b):
                    out[f"{a} {b}"] += weight
            if weight == 1.0:
                budget -= len(toks)
                if budget <= 0:
                    return out
    return out


class BigramFrequency:
    def __init__(self) -> None:
        self.n = 0
        self.df: Counter[str] = Counter()

    def vector(self, counts: dict[str, float]) -> dict[str, float]:
        """Count the article in, then weigh it (as the engine does: its own terms count)."""
        self.n += 1
        self.df.update(counts.keys())
        vec = {
            t: (1.0 + math.log(c)) * math.log((self.n + PRIOR + 1.0) / (self.df[t] + 1.0)) for t, c in counts.items()
        }
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {t: v / norm for t, v in vec.items()}


@dataclass
class BigramStory:
    centroid: dict[str, float] = field(default_factory=dict)
    members: deque[dict[str, float]] = field(default_factory=lambda: deque(maxlen=S.MAX_MEMBERS))

    def add(self, vec: dict[str, float]) -> None:
        for t, v in vec.items():
            self.centroid[t] = self.centroid.get(t, 0.0) + v
        self.members.append(vec)

    def similarity(self, vec: dict[str, float]) -> float:
        if not vec or not self.members:
            return 0.0
        norm = math.sqrt(sum(v * v for v in self.centroid.values())) or 1.0
        return 0.5 * S.dot(vec, self.centroid) / norm + 0.5 * max(S.dot(vec, m) for m in self.members)


class BigramClusterer(MixClusterer):
    """The engine with bigram evidence (story_mix.MixClusterer): mixed into the similarity (beta)
    or as a gate (c: no shared phrasing)."""

    def __init__(self, threshold: float, beta: float = 0.0, gate: float | None = None) -> None:
        super().__init__(threshold, beta, gate)
        self.bdf = BigramFrequency()
        self.bstories: dict[str, BigramStory] = defaultdict(BigramStory)
        self._bvec: dict[str, float] = {}

    def begin(self, article: S.Article) -> None:
        self._bvec = self.bdf.vector(bigram_counts(article.title, article.text))

    def joined(self, story: str) -> None:
        self.bstories[story].add(self._bvec)

    def extra(self, story: str) -> float:
        return self.bstories[story].similarity(self._bvec)


# ---------------------------------------------------------------- online


def online(rows: Sequence[Row], seeds: Sequence[int], **kw: Any) -> dict[str, float]:
    return story_mix.online(rows, seeds, lambda: BigramClusterer(**kw))


# thresholds where the mix calls as many follow-ups new as the engine at 0.25 (teacher-forced cut-offs)
SCALED = ((0.1, 0.225), (0.1, 0.235), (0.2, 0.21), (0.2, 0.215), (0.35, 0.18), (0.35, 0.19), (0.5, 0.15), (0.5, 0.155))


def run_scaled(rows: Sequence[Row]) -> None:
    a_rows, b_rows = halves(rows)
    print("config | whole s1-3 | whole s4-9 | A s1-3 | B s1-3   (B-cubed F1 (new hits, false new))", flush=True)
    for beta, t in SCALED:
        kw = {"threshold": t, "beta": beta}
        runs = [online(rows, (1, 2, 3), **kw), online(rows, range(4, 10), **kw)]
        runs += [online(a_rows, (1, 2, 3), **kw), online(b_rows, (1, 2, 3), **kw)]
        print(kw, " | ".join(fmt(r) for r in runs), flush=True)


def run_online(rows: Sequence[Row]) -> None:
    a_rows, b_rows = halves(rows)
    configs: list[dict[str, Any]] = [{"threshold": 0.25}]
    configs += [{"threshold": t, "beta": b} for b in BETAS for t in THRESHOLDS]
    configs += [{"threshold": 0.25, "gate": c} for c in GATES]
    res: dict[int, dict[str, dict[str, float]]] = {}
    print("config | whole s1-3 | whole s4-9 | A s1-3 | B s1-3   (B-cubed F1 (new hits, false new))", flush=True)
    for i, kw in enumerate(configs):
        r = {
            "whole": online(rows, (1, 2, 3), **kw),
            "A": online(a_rows, (1, 2, 3), **kw),
            "B": online(b_rows, (1, 2, 3), **kw),
        }
        r["w49"] = online(rows, range(4, 10), **kw)
        res[i] = r
        print(f"{kw} | {fmt(r['whole'])} | {fmt(r['w49'])} | {fmt(r['A'])} | {fmt(r['B'])}", flush=True)
    for family, idx in (("mix", range(1, 16)), ("gate", range(16, 19))):
        cand = [0, *idx]
        for fit, test in (("A", "B"), ("B", "A")):
            pick = max(cand, key=lambda i: res[i][fit]["bcubed_f1"])
            print(f"{family}: fitted on {fit}: {configs[pick]} -> held out on {test} {fmt(res[pick][test])}")


# ---------------------------------------------------------------- teacher-forced


def teacher(rows: Sequence[Row], seed: int) -> list[tuple[str, list[tuple[bool, float, float, float]]]]:
    """Per article: kind ("follow", "second", "first") and per candidate (own, unigram
    similarity, year x number factor, bigram similarity), stories placed by the gold."""
    bdf = BigramFrequency()
    bgold: dict[str, BigramStory] = defaultdict(BigramStory)
    out = []
    for step in gold_replay(rows, seed):
        bvec = bdf.vector(bigram_counts(step.article.title, step.article.text))
        cands = [
            (c.own, c.story.similarity(step.ivec, S.CENTROID_SHARE), c.factor, bgold[c.sid].similarity(bvec))
            for c in step.candidates
        ]
        out.append((step.kind, cands))
        bgold[step.story].add(bvec)
    return out


def frontier(
    items: Sequence[tuple[str, list[tuple[bool, float, float, float]]]], beta: float, cut: float, gate: float | None
) -> tuple[float, float]:
    caught = seconds = fnew = follows = 0
    for kind, cands in items:
        if kind == "first" or not cands:
            continue
        own, sim, bi = max(((o, ((1 - beta) * u + beta * b) * f, b) for o, u, f, b in cands), key=lambda x: x[1])
        new = sim < cut or (gate is not None and sim < GATE_HI and bi < gate)
        if kind == "second":
            seconds += 1
            caught += new
        elif own:
            follows += 1
            fnew += new
    return caught / seconds, fnew / follows


def at_rates(items: Sequence[tuple[str, list[tuple[bool, float, float, float]]]], beta: float) -> str:
    """Caught when the cut-off is set where 2 / 2.5 / 3 % of follow-ups are called new (the
    frontier itself, free of the threshold grid), and the AUC of follow-up against second."""
    pos, neg = [], []
    for kind, cands in items:
        if kind == "first" or not cands:
            continue
        own, sim = max(((o, ((1 - beta) * u + beta * b) * f) for o, u, f, b in cands), key=lambda x: x[1])
        if kind == "second":
            neg.append(sim)
        elif own:
            pos.append(sim)
    pos.sort()
    cells = []
    for rate in (0.02, 0.025, 0.03):
        cut = pos[int(rate * len(pos))]
        cells.append(f"{sum(n < cut for n in neg) / len(neg):.3f} (cut {cut:.3f})")
    auc = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))
    return f"AUC {auc:.3f}, caught at 2 / 2.5 / 3 % follow-ups new: " + ", ".join(cells)


def run_teacher(rows: Sequence[Row], seed_sets: Sequence[Sequence[int]]) -> None:
    per = {s: teacher(rows, s) for ss in seed_sets for s in ss}
    for ss in seed_sets:
        for beta in (0.0, 0.1, *BETAS, 1.0):
            print(f"seeds {ss[0]}-{ss[-1]} beta {beta:.2f}: {at_rates([i for s in ss for i in per[s]], beta)}")
    names = " | ".join(f"seeds {ss[0]}-{ss[-1]}" for ss in seed_sets)
    print(f"teacher-forced, caught / follow-ups new: config | {names}")
    configs = [(0.0, t, None) for t in THRESHOLDS]
    configs += [(b, t, None) for b in BETAS for t in THRESHOLDS]
    configs += [(0.0, 0.25, c) for c in GATES] + [(0.0, 0.225, c) for c in GATES]
    for beta, cut, gate in configs:
        cells = []
        for ss in seed_sets:
            c, f = frontier([i for s in ss for i in per[s]], beta, cut, gate)
            cells.append(f"{c:.3f} / {f:.3f}")
        print(f"beta {beta:.2f} cut {cut:.3f} gate {gate} | {' | '.join(cells)}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--stories", type=Path, default=CORPUS / "stories" / "ecbplus_dev.jsonl")
    ap.add_argument("--teacher", action="store_true")
    ap.add_argument("--online", action="store_true")
    ap.add_argument("--scaled", action="store_true", help="online, the mix at scale-matched thresholds")
    ap.add_argument("--no-name-pairs", action="store_true", help="drop pairs of two names/numbers")
    args = ap.parse_args()
    global NO_NAME_PAIRS
    NO_NAME_PAIRS = args.no_name_pairs
    rows = read_jsonl(args.stories, ("id", "story"))
    if args.teacher:
        run_teacher(rows, [(1, 2, 3), tuple(range(4, 10))])
    if args.online:
        run_online(rows)
    if args.scaled:
        run_scaled(rows)


if __name__ == "__main__":
    main()
