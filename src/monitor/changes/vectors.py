"""Compact sparse term vectors for the story engine (pure).

The engine keeps, for every story of its window, a centroid and its latest members' vectors:
millions of (term, weight) entries at 2,740 articles a day. As dicts of str -> float each entry
costs ~140 bytes (a dict slot, a boxed float, often its own copy of the term string); here a
vector is two parallel arrays, term ids (`array('i')`, 4 bytes) and weights (`array('d')`, 8
bytes), with the terms numbered by one `Vocabulary` per engine.

Weights stay float64 and entries stay in insertion order, and `TermVector.dot` sums the same
products in the same order as `changes.stories.dot` over the equivalent dicts, so every
similarity is the same to the last bit (an engine on these vectors places exactly as one on
dicts did).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Mapping
from itertools import repeat
from operator import mul
from typing import cast


class Vocabulary:
    """Terms numbered in order of first sight (ids are process-local: stored states keep terms)."""

    __slots__ = ("_ids", "_terms")

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._terms: list[str] = []

    def __len__(self) -> int:
        return len(self._terms)

    def ids(self, terms: Iterable[str]) -> list[int]:
        """Each term's id, numbering the terms not seen before."""
        terms = list(terms)
        found = list(map(self._ids.get, terms))  # in C: most terms are known already
        if None not in found:
            return cast(list[int], found)
        return [self._number(t) if i is None else i for t, i in zip(terms, found, strict=True)]

    def _number(self, term: str) -> int:
        i = self._ids.get(term)
        if i is None:
            i = self._ids[term] = len(self._terms)
            self._terms.append(term)
        return i

    def terms(self, ids: Iterable[int]) -> list[str]:
        return list(map(self._terms.__getitem__, ids))

    def vector(self, weights: Mapping[str, float]) -> dict[int, float]:
        """A str-keyed vector keyed by term ids (same order, same weights)."""
        return dict(zip(self.ids(weights), weights.values(), strict=True))

    def named(self, vec: TermVector) -> NamedVector:
        """A vector read as term -> weight (insertion order kept)."""
        return NamedVector(vec, self)


class TermVector:
    """A sparse vector: term ids and float64 weights in two parallel arrays, insertion-ordered."""

    __slots__ = ("ids", "weights")

    def __init__(self, ids: Iterable[int] = (), weights: Iterable[float] = ()) -> None:
        self.ids = array("i", ids)
        self.weights = array("d", weights)
        if len(self.ids) != len(self.weights):
            raise ValueError(f"{len(self.ids)} term ids but {len(self.weights)} weights")

    @classmethod
    def of(cls, vec: Mapping[int, float]) -> TermVector:
        return cls(vec.keys(), vec.values())

    def __len__(self) -> int:
        return len(self.ids)

    def copy(self) -> TermVector:
        out = TermVector()
        out.ids, out.weights = self.ids[:], self.weights[:]  # slices of arrays: memory copies
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TermVector) and self.ids == other.ids and self.weights == other.weights

    def __repr__(self) -> str:
        return f"TermVector({dict(self.items())!r})"

    def items(self) -> Iterator[tuple[int, float]]:
        return zip(self.ids, self.weights, strict=True)

    def as_dict(self) -> dict[int, float]:
        return dict(zip(self.ids, self.weights, strict=True))

    def dot(self, vec: Mapping[int, float], lookup: Mapping[int, float] | None = None) -> float:
        """`changes.stories.dot(vec, self)` bit for bit: the shorter side is walked in its own
        order (`vec`'s on a tie), each product added left to right by `sum`. Walking `vec` needs
        this vector as a mapping: `lookup` if given (it must hold the same weights), else one is
        built, which costs this vector's length (the caller keeps lookups of long vectors)."""
        if len(vec) > len(self.ids):
            return float(sum(map(mul, self.weights, map(vec.get, self.ids, repeat(0.0)))))
        own = lookup if lookup is not None else dict(zip(self.ids, self.weights, strict=True))
        return float(sum(map(mul, vec.values(), map(own.get, vec, repeat(0.0)))))

    def norm_squared(self) -> float:
        return float(sum(map(mul, self.weights, self.weights)))

    def add(self, vec: Mapping[int, float]) -> None:
        """Add `vec` in place (a story's centroid taking a member): the same sums, and new terms
        appended in `vec`'s order, as `d[t] = d.get(t, 0.0) + v` on a dict."""
        ids, weights = self.ids, self.weights
        at = dict(zip(ids, range(len(ids)), strict=True))
        for t, v in vec.items():
            i = at.get(t)
            if i is None:
                ids.append(t)
                weights.append(0.0 + v)
            else:
                weights[i] += v


class NamedVector(Mapping[str, float]):
    """A TermVector read as term -> weight (a StoryState's view of a story's vector): the
    terms are looked up once, the dict is made only if asked for, and the stored form is
    written straight from the arrays (changes.story_state)."""

    __slots__ = ("_dict", "_terms", "vector")

    def __init__(self, vector: TermVector, vocab: Vocabulary) -> None:
        self.vector = vector.copy()  # a snapshot: the story's own vectors grow in place
        self._terms = vocab.terms(vector.ids)
        self._dict: dict[str, float] | None = None

    def terms(self) -> list[str]:
        return self._terms

    def _mapping(self) -> dict[str, float]:
        if self._dict is None:
            self._dict = dict(zip(self._terms, self.vector.weights, strict=True))
        return self._dict

    def __getitem__(self, term: str) -> float:
        return self._mapping()[term]

    def __iter__(self) -> Iterator[str]:
        return iter(self._terms)

    def __len__(self) -> int:
        return len(self._terms)

    def __repr__(self) -> str:
        return f"NamedVector({self._mapping()!r})"
