"""Typed features of a document against a seed profile (pure).

Every feature is a similarity the seeds define, with no topic named anywhere:

* lexical: cosine of the document's term vector with the seeds' mean direction and with the
  nearest single seed; of its capitalised names with the seeds' names; of its title alone;
* relation: the relation model's value (``relation/``: the two sides the seeds relate, found
  in the seeds) as a margin over that model's own seed-derived threshold;
* breadth: how much the seeds are about a relation between many parties rather than one event
  (``RelationScorer.breadth``: 0 when they show no relation or relate one pair), alone and times
  the relation margin and the lexical similarity, so the fitted combination gives the relation
  weight only where the seeds earn it and falls back to plain similarity elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from monitor.score.lexical import Reading, Vector, centroid, cosine


class Feature(Enum):
    LEX_CENTROID = "lex_centroid"
    LEX_NEAREST = "lex_nearest"
    NAMES = "names"
    TITLE = "title"
    RELATION = "relation"
    BREADTH = "breadth"
    RELATION_BROAD = "relation_broad"
    LEX_BROAD = "lex_broad"


@dataclass(frozen=True)
class LexicalProfile:
    """The seeds as the lexical features see them."""

    seed_names: tuple[str, ...]
    seeds: tuple[Vector, ...]
    centroid: Vector
    names: Vector

    @classmethod
    def of(cls, names: tuple[str, ...], readings: tuple[Reading, ...]) -> LexicalProfile:
        return cls(
            seed_names=names,
            seeds=tuple(r.terms for r in readings),
            centroid=centroid(r.terms for r in readings),
            names=centroid(r.names for r in readings),
        )


def nearest(profile: LexicalProfile, reading: Reading) -> tuple[int, float]:
    """Index of the seed most similar to the document, and that similarity."""
    best, best_j = 0.0, 0
    for j, seed in enumerate(profile.seeds):
        v = cosine(reading.terms, seed)
        if v > best:
            best, best_j = v, j
    return best_j, best


def features(
    profile: LexicalProfile,
    reading: Reading,
    relation_margin: float,
    breadth: float,
    centroid_vector: Vector | None = None,
) -> dict[Feature, float]:
    """The feature values; ``centroid_vector`` replaces the seeds' centroid once feedback moved it."""
    lex = cosine(reading.terms, centroid_vector if centroid_vector is not None else profile.centroid)
    return {
        Feature.LEX_CENTROID: lex,
        Feature.LEX_NEAREST: nearest(profile, reading)[1],
        Feature.NAMES: cosine(reading.names, profile.names),
        Feature.TITLE: cosine(reading.title, profile.centroid),
        Feature.RELATION: relation_margin,
        Feature.BREADTH: breadth,
        Feature.RELATION_BROAD: relation_margin * breadth,
        Feature.LEX_BROAD: lex * breadth,
    }
