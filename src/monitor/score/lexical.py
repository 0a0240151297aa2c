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
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import chain, repeat
from operator import mul, truediv

from monitor.score.relation import idf
from monitor.score.text import fold, quick_tokens, stem

Vector = Mapping[str, float]

# a capitalised word inside a sentence: after a word, a number or a comma and one space
# (the capital first, then the look-behind over it: the scan stops only at capitals), with its
# inner capitals (McDonald), a prefix (O'Brien) and its joined parts (Jean-Pierre, Obama's)
_NAME = re.compile(r"[A-Z](?<=[a-z0-9,;)\]] [A-Z])(?:['’][A-Z])?[a-z]+(?:[A-Z][a-z]+)*(?:['’-][A-Za-z]+)*")
_NAME_PART = re.compile(r"['’-]")


@dataclass(frozen=True)
class Reading:
    """A document as the lexical features see it."""

    terms: Vector  # unit-length weighted term vector of title and text
    names: Vector  # unit-length vector of the capitalised names alone
    title: Vector  # unit-length vector of the title alone (empty without a title)
    years: frozenset[str] = frozenset()  # the years it names (as number terms, ``#2005``)


class _NameKeys(dict[str, tuple[str, ...]]):
    """A capitalised name -> its terms (the stems of its capitalised, informative parts: O'Brien
    -> brien, Obama's -> obama, Kremlin-linked -> kremlin); filled as names are met (bounded)."""

    def __missing__(self, name: str) -> tuple[str, ...]:
        parts = (fold(p) for p in _NAME_PART.split(name) if p[:1].isupper())
        keys = tuple(stem(f) for f in parts if idf(f) > 0)
        if len(self) < 200_000:
            self[name] = keys
        return keys


_NAME_KEYS = _NameKeys()
_YEAR = re.compile(r"#(?:1[89]|2[01])[0-9][0-9]")  # a number read as a year: 1800-2199


def names_in(text: str) -> set[str]:
    return set(chain.from_iterable(map(_NAME_KEYS.__getitem__, set(_NAME.findall(text)))))


class _TermKeys(dict[str, str | None]):
    """token -> its term: the stem of an informative word, ``#`` and the digits of a number
    of two or more digits, None for any other token; filled as tokens are met (bounded like
    relation/reading.py's caches), so a document's tokens map to terms in one C-level pass."""

    def __missing__(self, t: str) -> str | None:
        key: str | None = None
        if idf(t) > 0:
            key = stem(t)
            _WEIGHT[key] = idf(key)
        elif len(t) >= 2 and t.isdigit():
            key = "#" + t
        if len(self) < 500_000:
            self[t] = key
        return key


_KEYS = _TermKeys()
_WEIGHT: dict[str, float] = {}  # stem -> its weight (background rarity)


def unit(weights: Mapping[str, float]) -> dict[str, float]:
    values = weights.values()
    norm = math.sqrt(sum(map(mul, values, values)))
    return dict(zip(weights, map(truediv, values, repeat(norm, len(weights))), strict=True)) if norm > 0 else {}


def weigh(
    text: str, name_boost: float, number_weight: float, tokens: Iterable[str] | None = None
) -> tuple[dict[str, float], dict[str, float], frozenset[str]]:
    """(terms vector, names vector, years named) of a text (``tokens``: its folded tokens, when
    already read). Terms are in the order of their first token, words before numbers."""
    counts: Counter[str | None] = Counter(map(_KEYS.__getitem__, quick_tokens(text) if tokens is None else tokens))
    counts.pop(None, None)
    weight, log = _WEIGHT, math.log
    terms: dict[str, float] = {}
    numbers: list[str] = []
    for t, c in counts.items():
        if t[0] == "#":  # type: ignore[index]  # None was popped
            numbers.append(t)  # type: ignore[arg-type]
        else:
            terms[t] = weight[t] if c == 1 else (1.0 + log(c)) * weight[t]  # type: ignore[index]
    name_vec: dict[str, float] = {}
    names = names_in(text)
    if names:
        name_vec = {t: w for t, w in terms.items() if t in names}
        for t, w in name_vec.items():
            terms[t] = w * name_boost
    for t in numbers:
        terms[t] = (1.0 + log(counts[t])) * number_weight
    years = frozenset(t for t in numbers if len(t) == 5 and _YEAR.match(t))
    return unit(terms), unit(name_vec), years


def read(
    title: str,
    text: str,
    name_boost: float,
    number_weight: float,
    sentence_tokens: list[list[str]] | None = None,
    has_title: bool = False,
) -> Reading:
    """``sentence_tokens``: the folded tokens of the title (first, when ``has_title``) and of every
    sentence, when the relation model has read them already."""
    full = f"{title}\n{text}" if title else text
    tokens = None if sentence_tokens is None else chain.from_iterable(sentence_tokens)
    terms, names, years = weigh(full, name_boost, number_weight, tokens)
    head: dict[str, float] = {}
    if title.strip():
        title_tokens = sentence_tokens[0] if sentence_tokens and has_title else None
        head = weigh(title, name_boost, number_weight, title_tokens)[0]
    return Reading(terms=terms, names=names, title=head, years=years)


def cosine(a: Vector, b: Vector) -> float:
    # the shared terms first (a C-level set intersection): few, where the vectors have hundreds
    return sum([a[t] * b[t] for t in a.keys() & b.keys()])


def centroid(vectors: Iterable[Vector]) -> dict[str, float]:
    """Unit-length mean direction of unit vectors."""
    acc: defaultdict[str, float] = defaultdict(float)
    for v in vectors:
        for t, x in v.items():
            acc[t] += x
    return unit(acc)
