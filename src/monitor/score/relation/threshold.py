"""The relation model's threshold from the seeds and a background, and its construction (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice

from monitor.models import Document, Judgment, Seed
from monitor.score.background import common_words, uniforms, zipf_words
from monitor.score.geo import NAMES
from monitor.score.relation.params import RelationParams
from monitor.score.relation.profile import _build_profile, _Profile
from monitor.score.relation.reading import _read, _Sent
from monitor.score.relation.scorer import RelationScorer
from monitor.score.zipf import zipf


def _background_docs(p: RelationParams) -> list[Document]:
    """Deterministic pseudo-documents from general word and country frequencies."""
    words, draws = common_words(), uniforms()
    places = sorted(NAMES.values())
    pz = [zipf(name.lower()) for name in places]
    tot = sum(10**z for z in pz)
    docs = []
    for i in range(p.background_docs):
        out = zipf_words(words, draws, p.background_words)
        for r in islice(draws, p.background_places):
            # countries in proportion to how often they are written about
            acc = 0.0
            for place, z in zip(places, pz, strict=True):
                acc += 10**z / tot
                if acc >= r:
                    out.insert(int(len(out) * r), place)
                    break
        docs.append(Document(id=f"bg{i}", title="", text=" ".join(out) + "."))
    return docs


def _derive_threshold(seeds: Sequence[Seed], reads: list[list[_Sent]], prof: _Profile, p: RelationParams) -> float:
    """Leave-one-seed-out positives vs a background; see docs/relevance.md."""
    bg_scorer = RelationScorer(prof, 1.0, 1.0, p)
    bg = sorted(bg_scorer._evaluate(d)[0].value for d in _background_docs(p))
    bg_hi = bg[int(p.background_quantile * (len(bg) - 1))] if bg else 0.0
    pos: list[float] = []
    if len(seeds) >= 2:
        for j in range(len(seeds)):
            rest = [s for i, s in enumerate(seeds) if i != j]
            rreads = [r for i, r in enumerate(reads) if i != j]
            sc = RelationScorer(_build_profile(rest, rreads, p), 1.0, 1.0, p)
            pos.append(sc._evaluate(Document(id=seeds[j].name, title="", text=seeds[j].text))[0].value)
    if not pos:
        return max(p.threshold_floor, bg_hi + p.threshold_lone_margin)
    pos.sort()
    pos_mid = pos[len(pos) // 2]
    return max(bg_hi + p.threshold_margin, p.threshold_mix * (bg_hi + pos_mid))


def build_relation(
    seeds: Sequence[Seed],
    judgments: Sequence[Judgment] = (),
    params: RelationParams | None = None,
    threshold: float | None = None,
) -> RelationScorer:
    """The relation model of the seeds; ``params``: its numbers (default: the committed weights
    record's ``relation`` section); ``threshold``: the one derived from these seeds and numbers
    before (kept with the learned state, score/learned.py), so it is not derived again."""
    if params is None:
        from monitor.score.weights import default_weights  # weights imports this package

        params = default_weights().relation
    reads = [_read(s.text) for s in seeds]
    prof = _build_profile(seeds, reads, params)
    th = _derive_threshold(seeds, reads, prof, params) if threshold is None else threshold
    sc = RelationScorer(prof, th, th, params)
    sc.learn_many([(j.document, j.relevant) for j in judgments])
    return sc
