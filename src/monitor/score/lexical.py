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
from itertools import chain

from monitor.score.relation import idf
from monitor.score.text import fold, quick_tokens, stem

Vector = Mapping[str, float]

# a capitalised word inside a sentence: after a word, a number or a comma and one space
# (the capital first, then the look-behind over it: the scan stops only at capitals)
_NAME = re.compile(r"[A-Z](?<=[a-z0-9,;)\]] [A-Z])[a-z]+(?:['’-][A-Za-z]+)*")


@dataclass(frozen=True)
class Reading:
    """A document as the lexical features see it."""

    terms: Vector  # unit-length weighted term vector of title and text
    names: Vector  # unit-length vector of the capitalised names alone
    title: Vector  # unit-length vector of the title alone (empty without a title)
    years: frozenset[str] = frozenset()  # the years it names (as number terms, ``#2005``)


def names_in(text: str) -> set[str]:
    out = set()
    for name in set(_NAME.findall(text)):
        f = fold(name)
        if idf(f) > 0:
            out.add(stem(f))
    return out


# token -> (stem, weight) for informative words, (number key, _NUMBER) for numbers, None for others;
# bounded like relation/reading.py's caches
_TERMS: dict[str, tuple[str, float] | None] = {}
_UNSEEN = ("", -2.0)
_NUMBER = -1.0  # the weight slot of a number: number_weight applies
_YEAR = re.compile(r"#(?:1[89]|2[01])[0-9][0-9]")  # a number read as a year: 1800-2199


def _term(t: str) -> tuple[str, float] | None:
    w = idf(t)
    if w > 0:
        st = stem(t)
        info: tuple[str, float] | None = (st, idf(st))
    elif len(t) >= 2 and t.isdigit():
        info = ("#" + t, _NUMBER)
    else:
        info = None
    if len(_TERMS) < 500_000:
        _TERMS[t] = info
    return info


def _counts(tokens: Iterable[str]) -> tuple[Counter[str], Counter[str], dict[str, float]]:
    """Stemmed informative words, numbers (as ``#1234``), and each stem's weight; each
    distinct token looked at once."""
    words: Counter[str] = Counter()
    numbers: Counter[str] = Counter()
    weight: dict[str, float] = {}
    get = _TERMS.get
    for t, c in Counter(tokens).items():
        info = get(t, _UNSEEN)
        if info is _UNSEEN:
            info = _term(t)
        if info is not None:
            key, w = info
            if w == _NUMBER:
                numbers[key] += c
            else:
                words[key] += c
                weight[key] = w
    return words, numbers, weight


def unit(weights: Mapping[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(x * x for x in weights.values()))
    return {t: x / norm for t, x in weights.items()} if norm > 0 else {}


def weigh(
    text: str, name_boost: float, number_weight: float, tokens: Iterable[str] | None = None
) -> tuple[dict[str, float], dict[str, float], frozenset[str]]:
    """(terms vector, names vector, years named) of a text (``tokens``: its folded tokens, when
    already read)."""
    words, numbers, weight = _counts(quick_tokens(text) if tokens is None else tokens)
    names = names_in(text)
    terms: dict[str, float] = {}
    name_vec: dict[str, float] = {}
    for t, c in words.items():
        w = weight[t] if c == 1 else (1.0 + math.log(c)) * weight[t]
        if t in names:
            name_vec[t] = w
            w *= name_boost
        terms[t] = w
    for t, c in numbers.items():
        terms[t] = (1.0 + math.log(c)) * number_weight
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
