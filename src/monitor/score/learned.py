"""What a scorer learned from the judged documents, as a record that can be kept (pure).

Rebuilding the scorer from the seeds and the stored judgments re-reads every judged document
(its lexical term vector, the relation model's opening vector) and re-scores all of them to move
the two thresholds: about a second with 100 judgments, paid by every command that scores
(`monitor explain`, a poll, the web's article page). ``Learned`` holds exactly those results, so
a scorer can take them back (``Scorer.restore``) instead of computing them again; the cheap
parts (sums, centroid, learned term weights, vocabulary) are recomputed from them by the same
code, in the same order, so the restored scorer is the rebuilt one, to the last bit.

Which judgments, seeds, weights and code a record belongs to is the caller's business
(``monitor.app_scorer`` keys it by a hash of all of them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

FORMAT = 1  # the JSON layout below; bump it when the record changes

Vector = Mapping[str, float]


@dataclass(frozen=True)
class Learned:
    """``relation_base``: the relation model's threshold derived from the seeds (before any
    feedback); ``relation_threshold``/``threshold``: the relation model's and the combined
    score's thresholds after feedback; ``terms``/``vectors``: per judged document, in the order
    learnt, its lexical term vector and the relation model's opening vector (key order kept: sums
    over them are then added in the original order); ``rarity``: the wordfreq Zipf values that
    building the scorer and learning looked up (score/zipf.py), so that building it again reads
    no word table."""

    relation_base: float
    relation_threshold: float
    threshold: float
    terms: tuple[Vector, ...] = ()
    vectors: tuple[Vector, ...] = ()
    rarity: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        # orjson writes floats in their shortest exact form (they read back to the same bits) and
        # keeps key order; 5-10x faster than json on a record of ~1 MB
        return orjson.dumps(
            {
                "format": FORMAT,
                "relation_base": self.relation_base,
                "relation_threshold": self.relation_threshold,
                "threshold": self.threshold,
                "terms": [dict(v) for v in self.terms],
                "vectors": [dict(v) for v in self.vectors],
                "rarity": dict(self.rarity),
            }
        ).decode()

    @classmethod
    def from_json(cls, text: str) -> Learned:
        """The record written by ``to_json``; ValueError for anything else (another format, a
        damaged row), so the caller rebuilds instead."""
        try:
            data = orjson.loads(text)
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"not a learned-state record of format {FORMAT}")
            terms, vectors = data["terms"], data["vectors"]
            if not isinstance(terms, list) or not isinstance(vectors, list) or len(terms) != len(vectors):
                raise ValueError("the term vectors and the relation vectors do not pair up")
            return cls(
                relation_base=_number(data["relation_base"]),
                relation_threshold=_number(data["relation_threshold"]),
                threshold=_number(data["threshold"]),
                terms=tuple(_vector(v) for v in terms),
                vectors=tuple(_vector(v) for v in vectors),
                rarity=_vector(data.get("rarity", {})),
            )
        except (KeyError, TypeError, orjson.JSONDecodeError) as exc:
            raise ValueError(f"damaged learned-state record: {exc!r}") from None


def _number(x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise ValueError(f"not a number: {x!r}")
    return float(x)


def _vector(v: Any) -> dict[str, float]:
    # to_json writes every weight as a float (orjson keeps a '.' or an exponent): checked, not copied
    if not isinstance(v, dict) or not all(type(x) is float for x in v.values()):
        raise ValueError("a vector is not an object of numbers")
    return v
