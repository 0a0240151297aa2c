"""Lexical reading: a text as a weighted term vector, and cosines between such vectors (pure).

A term is a lightly stemmed, folded word whose background rarity (``wordfreq`` Zipf frequency,
never the monitored stream) gives its weight; words too common to carry a topic weigh nothing.
Words written with a capital inside a sentence (names of people, places, organisations) weigh
``name_boost`` times more, and numbers of two or more digits (years, tolls, scores) weigh
``number_weight``: what tells one event from another of the same kind is mostly who, where and
how many.  Both factors are in the weights record (``weights.json``), chosen by the fit script.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from monitor.score.relation import idf
from monitor.score.text import fold, quick_tokens, stem

Vector = Mapping[str, float]

# a capitalised word inside a sentence: after a word, a number or a comma and one space
_NAME = re.compile(r"(?<=[a-z0-9,;)\]] )[A-Z][a-z]+(?:['’-][A-Za-z]+)*")


@dataclass(frozen=True)
class Reading:
    """A document as the lexical features see it."""

    terms: Vector  # unit-length weighted term vector of title and text
    names: Vector  # unit-length vector of the capitalised names alone
    title: Vector  # unit-length vector of the title alone (empty without a title)


def names_in(text: str) -> set[str]:
    out = set()
    for m in _NAME.finditer(text):
        f = fold(m.group(0))
        if idf(f) > 0:
            out.add(stem(f))
    return out


def _counts(text: str) -> tuple[Counter[str], Counter[str]]:
    """Stemmed informative words, and numbers (as ``#1234``)."""
    words: Counter[str] = Counter()
    numbers: Counter[str] = Counter()
    for t in quick_tokens(text):
        if idf(t) > 0:
            words[stem(t)] += 1
        elif t.isdigit() and len(t) >= 2:
            numbers["#" + t] += 1
    return words, numbers


def unit(weights: Mapping[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(x * x for x in weights.values()))
    return {t: x / norm for t, x in weights.items()} if norm > 0 else {}


def weigh(text: str, name_boost: float, number_weight: float) -> tuple[dict[str, float], dict[str, float]]:
    """(terms vector, names vector) of a text."""
    words, numbers = _counts(text)
    names = names_in(text)
    terms: dict[str, float] = {}
    name_vec: dict[str, float] = {}
    for t, c in words.items():
        w = (1.0 + math.log(c)) * idf(t)
        if t in names:
            name_vec[t] = w
            w *= name_boost
        terms[t] = w
    for t, c in numbers.items():
        terms[t] = (1.0 + math.log(c)) * number_weight
    return unit(terms), unit(name_vec)


def read(title: str, text: str, name_boost: float, number_weight: float) -> Reading:
    terms, names = weigh(f"{title}\n{text}" if title else text, name_boost, number_weight)
    head = weigh(title, name_boost, number_weight)[0] if title.strip() else {}
    return Reading(terms=terms, names=names, title=head)


def cosine(a: Vector, b: Vector) -> float:
    if len(a) > len(b):
        a, b = b, a
    get = b.get
    return sum(x * get(t, 0.0) for t, x in a.items())


def centroid(vectors: Iterable[Vector]) -> dict[str, float]:
    """Unit-length mean direction of unit vectors."""
    acc: Counter[str] = Counter()
    for v in vectors:
        for t, x in v.items():
            acc[t] += x
    return unit(acc)
