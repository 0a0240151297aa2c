"""The scorer: features of a document against the seeds, combined by the fitted weights (pure).

``Scorer.score`` reads a document once (lexical reading plus the relation model's reading),
computes the typed features, and returns the combined probability with its explanation: the
nearest seed, the features that carried the score, the facets and terms shared with the seeds,
and the best sentence.  ``Scorer.learn`` is the adaptive-filtering loop: judged documents move
the seeds' lexical centroid (Rocchio), teach the relation model, and move the threshold within
``Weights.threshold_span`` of the default to the best F-beta on the judged documents.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.models import Document, Judgment, Score, Seed
from monitor.score import zipf
from monitor.score.features import Feature, LexicalProfile, features, nearest
from monitor.score.feedback import adapted_threshold
from monitor.score.learned import Learned
from monitor.score.lexical import Reading, Vector, cosine, read, unit
from monitor.score.relation import RelationScorer, build_relation
from monitor.score.text import gazetteer_lookups
from monitor.score.weights import Weights, default_weights

_WORD = re.compile(r"[^\W_]")  # a letter or digit: something to read

# how a feature is named in an explanation
_LABELS = {
    Feature.LEX_CENTROID: "words",
    Feature.LEX_NEAREST: "nearest seed",
    Feature.NAMES: "names",
    Feature.TITLE: "headline",
    Feature.RELATION: "relation",
    Feature.RELATION_BROAD: "relation",
    Feature.LEX_BROAD: "words",
    Feature.YEARS: "year",
    Feature.PRESENT_YEAR: "year",
}


@dataclass(frozen=True)
class Evaluation:
    """One document against the profile: what the explanation is made of."""

    value: float
    features: dict[Feature, float]
    nearest_seed: int
    relation: Score


class Scorer:
    """Scores documents against the seeds; learns from judgments."""

    def __init__(
        self, seeds: Sequence[Seed], weights: Weights | None = None, relation_threshold: float | None = None
    ) -> None:
        """``relation_threshold``: the relation model's threshold derived from these seeds before
        (``Learned.relation_base``); None derives it."""
        self.weights = weights or default_weights()
        w = self.weights
        if relation_threshold is None:  # learnt from the seeds, not restored: ~2,000 new words
            zipf.expect_many()
        with zipf.recording() as looked_up:  # what building from the seeds asks wordfreq (kept in learned())
            readings = tuple(read("", s.text, w.name_boost, w.number_weight) for s in seeds)
            self.profile = LexicalProfile.of(tuple(s.name for s in seeds), readings)
            self.relation: RelationScorer = build_relation(seeds, params=w.relation, threshold=relation_threshold)
        self._rarity_words = looked_up | gazetteer_lookups()
        self.breadth = self.relation.breadth
        self.base_threshold = w.threshold
        self.threshold = w.threshold
        self._centroid: Vector = self.profile.centroid
        self._judged: list[tuple[Document, bool]] = []
        self._rel: defaultdict[str, float] = defaultdict(float)  # summed vectors of judged documents
        self._non: defaultdict[str, float] = defaultdict(float)
        self._judged_vectors: list[tuple[Vector, bool]] = []

    def read(self, doc: Document) -> Reading:
        return read(doc.title or "", doc.text or "", self.weights.name_boost, self.weights.number_weight)

    def evaluate(self, doc: Document, exclude: int | None = None) -> Evaluation:
        """``exclude``: the index of a judged document left out of the judged neighbours (the
        judged document itself, re-scored for the threshold: leave-one-out)."""
        rel_eval, rel_doc = self.relation.read(doc)
        w = self.weights
        title, text = doc.title or "", doc.text or ""
        reading = read(title, text, w.name_boost, w.number_weight, rel_doc.tokens, rel_doc.has_title)
        rel = self.relation.explain(rel_eval, rel_doc)
        margin = rel.value - self.relation.base_threshold
        near_seed, near = nearest(self.profile, reading)
        feats = features(self.profile, reading, margin, self.breadth, self._centroid, near)
        if self._judged_vectors:
            feats[Feature.LEX_NEAREST] = self._nearest_judged(reading, feats[Feature.LEX_NEAREST], exclude)
        return Evaluation(self.weights.value(feats), feats, near_seed, rel)

    def _nearest_judged(self, reading: Reading, to_seeds: float, exclude: int | None = None) -> float:
        """Judged documents as Rocchio's neighbours: a relevant one counts like a seed (times
        beta), the nearest irrelevant one takes its similarity (times gamma) away."""
        beta, gamma = self.weights.rocchio
        best, worst = to_seeds, 0.0
        for i, (vec, relevant) in enumerate(self._judged_vectors):
            if i == exclude:
                continue
            sim = cosine(reading.terms, vec)
            if relevant:
                best = max(best, beta * sim)
            else:
                worst = max(worst, sim)
        return best - gamma * worst

    def score(self, doc: Document) -> Score:
        if not (_WORD.search(doc.title or "") or _WORD.search(doc.text or "")):
            return Score(value=0.0, match=False)  # nothing to read: no evidence either way
        ev = self.evaluate(doc)
        value = round(ev.value, 6)
        return Score(
            value=value,
            match=value >= self.threshold,
            nearest_seed=self.profile.seed_names[ev.nearest_seed] if self.profile.seed_names else "",
            facets=ev.relation.facets,
            terms=ev.relation.terms,
            sentence=ev.relation.sentence,
            carried=self._carried(ev.features),
        )

    def _carried(self, feats: dict[Feature, float]) -> tuple[str, ...]:
        """Features that pushed the score up most, strongest first (at most three)."""
        parts: defaultdict[str, float] = defaultdict(float)
        for k, v in feats.items():
            label = _LABELS.get(k)
            if label is not None:
                parts[label] += self.weights.coef.get(k, 0.0) * v
        ranked = sorted(parts.items(), key=lambda kv: -kv[1])[:3]
        return tuple(label for label, c in ranked if c > 0)

    # -- feedback --
    def learn(self, doc: Document, relevant: bool) -> None:
        self.learn_many([(doc, relevant)])

    def learn_many(self, judged: Sequence[tuple[Document, bool]]) -> None:
        """learn() for each, with the centroid and thresholds moved once at the end: the same
        final state (sums over all judged documents), one re-scoring of the judged instead of
        one per judgment (which made rebuilding the scorer quadratic in the judgments)."""
        if not judged:
            return
        with zipf.recording() as looked_up:  # the judged documents' words: kept too (learned())
            self._take(judged, [self.read(doc).terms for doc, _relevant in judged])
            self.relation.learn_many(judged)
            self._adapt_threshold()
        self._rarity_words |= looked_up

    def learned(self) -> Learned:
        """What learning from the judged documents computed that is costly to compute again."""
        return Learned(
            relation_base=self.relation.base_threshold,
            relation_threshold=self.relation.threshold,
            threshold=self.threshold,
            terms=tuple(terms for terms, _relevant in self._judged_vectors),
            vectors=tuple(self.relation.judged_vectors),
            rarity={word: zipf.zipf(word) for word in sorted(self._rarity_words)},
        )

    def restore(self, judged: Sequence[tuple[Document, bool]], learned: Learned) -> None:
        """The state learn_many(judged) reaches, from ``learned`` (``learned()`` of a scorer of
        the same seeds, weights and code that learnt exactly ``judged``): no document is read or
        re-scored. ValueError when the record does not pair with ``judged``."""
        if not len(learned.terms) == len(learned.vectors) == len(judged):
            raise ValueError(f"the record holds {len(learned.terms)} documents, not the {len(judged)} judged")
        if learned.relation_base != self.relation.base_threshold:
            raise ValueError("the record was learnt over another relation threshold")
        self._rarity_words |= learned.rarity.keys()
        if judged:
            self._take(judged, [dict(terms) for terms in learned.terms])
            self.relation.restore(judged, [dict(vec) for vec in learned.vectors], learned.relation_threshold)
        self.threshold = learned.threshold

    def _take(self, judged: Sequence[tuple[Document, bool]], terms_of: Sequence[Vector]) -> None:
        """The judged documents with their term vectors: neighbours, sums and the centroid."""
        for (doc, relevant), terms in zip(judged, terms_of, strict=True):
            self._judged.append((doc, relevant))
            acc = self._rel if relevant else self._non
            self._judged_vectors.append((terms, relevant))
            for t, x in terms.items():
                acc[t] += x
        self._move_centroid()

    def _move_centroid(self) -> None:
        beta, gamma = self.weights.rocchio
        n_rel = sum(1 for _d, r in self._judged if r)
        n_non = len(self._judged) - n_rel
        moved = defaultdict(float, self.profile.centroid)
        for t, x in self._rel.items():
            moved[t] += beta * x / n_rel
        for t, x in self._non.items():
            moved[t] -= gamma * x / n_non
        self._centroid = unit({t: x for t, x in moved.items() if x > 0})

    def _adapt_threshold(self) -> None:
        """The threshold with the best F-beta over the judged documents, each scored without
        itself as a neighbour (score/feedback.py says why)."""
        scored = [(self.evaluate(d, exclude=i).value, r) for i, (d, r) in enumerate(self._judged)]
        w = self.weights
        self.threshold = adapted_threshold(
            scored, self.base_threshold, w.threshold_span, w.recall_weight, w.threshold_prior
        )


def build_scorer(
    seeds: Sequence[Seed],
    judgments: Sequence[Judgment] = (),
    weights: Weights | None = None,
    learned: Learned | None = None,
) -> Scorer:
    """The seeds' scorer after learning ``judgments``; with ``learned`` (what a scorer of the same
    seeds, weights and code learnt from exactly these judgments), restored from it instead."""
    judged = [(j.document, j.relevant) for j in judgments]
    if learned is None:
        sc = Scorer(seeds, weights)
        sc.learn_many(judged)
    else:
        zipf.remember(learned.rarity)
        sc = Scorer(seeds, weights, relation_threshold=learned.relation_base)
        sc.restore(judged, learned)
    return sc
