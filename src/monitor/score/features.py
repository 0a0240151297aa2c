"""Typed features of a document against a seed profile (pure).

Every feature is a similarity the seeds define, with no topic named anywhere:

* lexical: cosine of the document's term vector with the seeds' mean direction and with the
  nearest single seed; of its capitalised names with the seeds' names; of its title alone;
* relation: the relation model's value (``relation/``: the two sides the seeds relate, found
  in the seeds) as a margin over that model's own seed-derived threshold;
* breadth: how much the seeds are about a relation between many parties rather than one event
  (``RelationScorer.breadth``: 0 when they show no relation or relate one pair), alone and times
  the relation margin and the lexical similarity, so the fitted combination gives the relation
  weight only where the seeds earn it and falls back to plain similarity elsewhere;
* years: whether the document's years agree with the seeds' (the share of seeds naming its
  best-shared year) or contradict them (it names years, none of the seeds': minus the share of
  seeds naming the year every year-naming seed names), 0 when either names none: the same kind
  of event with the same names in another year is another story; seeds that name no year earn
  the feature nothing, and seeds spread over years earn no contradiction;
* present year: whether the document's latest year is the seeds' present (the latest year every
  year-naming seed names: + the share of seeds naming it) or later (- that share; a news text
  reports its own time, so a later latest year is a later story), 0 when it is earlier, when it
  names no year, or when the seeds agree on no year.  Unlike ``years`` it is not fooled by the
  history both stories recall (a coach's career years).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
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
    YEARS = "years"
    PRESENT_YEAR = "present_year"


@dataclass(frozen=True)
class LexicalProfile:
    """The seeds as the lexical features see them."""

    seed_names: tuple[str, ...]
    seeds: tuple[Vector, ...]
    centroid: Vector
    names: Vector
    years: Mapping[str, float]  # year -> share of the seeds that name it
    story_year: float  # share of seeds naming a year every year-naming seed names (0: none)
    present: str = ""  # the seeds' present: the latest year every year-naming seed names ("": none)
    present_share: float = 0.0  # the share of seeds naming it

    @classmethod
    def of(cls, names: tuple[str, ...], readings: tuple[Reading, ...]) -> LexicalProfile:
        seeds = tuple(r.terms for r in readings)
        n = len(readings)
        years: Counter[str] = Counter(y for r in readings for y in r.years)
        present = _present(tuple(r.years for r in readings))
        return cls(
            seed_names=names,
            seeds=seeds,
            centroid=centroid(seeds),
            names=centroid(r.names for r in readings),
            years={y: c / n for y, c in years.items()},
            story_year=_story_year(tuple(r.years for r in readings)),
            present=present,
            present_share=sum(1 for r in readings if present in r.years) / n if present else 0.0,
        )


def _story_year(seed_years: tuple[frozenset[str], ...]) -> float:
    """The share of seeds naming the story's year: a year that every seed naming years names.
    Seeds spread over years (a relation followed for a decade) have none: for them a document
    of another year is no evidence of another story."""
    named = [ys for ys in seed_years if ys]
    common = frozenset.intersection(*named) if named else frozenset()
    if not common:
        return 0.0
    return max(sum(1 for ys in seed_years if y in ys) for y in common) / len(seed_years)


def _present(seed_years: tuple[frozenset[str], ...]) -> str:
    """The latest of the years every year-naming seed names ("" when they agree on none)."""
    named = [ys for ys in seed_years if ys]
    common = frozenset.intersection(*named) if named else frozenset()
    return max(common) if common else ""


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
    near: float | None = None,
) -> dict[Feature, float]:
    """The feature values; ``centroid_vector`` replaces the seeds' centroid once feedback moved it,
    ``near`` is the nearest seed's similarity when already known."""
    lex = cosine(reading.terms, centroid_vector if centroid_vector is not None else profile.centroid)
    if near is None:
        near = nearest(profile, reading)[1]
    return {
        Feature.LEX_CENTROID: lex,
        Feature.LEX_NEAREST: near,
        Feature.NAMES: cosine(reading.names, profile.names),
        Feature.TITLE: cosine(reading.title, profile.centroid),
        Feature.RELATION: relation_margin,
        Feature.BREADTH: breadth,
        Feature.RELATION_BROAD: relation_margin * breadth,
        Feature.LEX_BROAD: lex * breadth,
        Feature.YEARS: year_agreement(profile.years, profile.story_year, reading.years),
        Feature.PRESENT_YEAR: present_agreement(profile.present, profile.present_share, reading.years),
    }


def year_agreement(seed_years: Mapping[str, float], story_year: float, doc_years: frozenset[str]) -> float:
    """+ the share of seeds naming the document's best-shared year; when the document names
    years but none the seeds name, - ``story_year`` (the share of seeds naming the year they all
    agree on; 0 when they agree on none); 0 when either names no year."""
    if not seed_years or not doc_years:
        return 0.0
    shared = [seed_years[y] for y in doc_years if y in seed_years]
    return max(shared) if shared else -story_year


def present_agreement(present: str, share: float, doc_years: frozenset[str]) -> float:
    """+ ``share`` when the document's latest year is the seeds' ``present``, - ``share`` when
    it is later, else 0 (earlier: a text may recall the past; no year, or no present: silent).
    Years are ``#`` and four digits, so they compare as strings."""
    if not present or not doc_years:
        return 0.0
    latest = max(doc_years)
    if latest == present:
        return share
    return -share if latest > present else 0.0
