"""The relation model: one feature family of the scorer (pure: no I/O).

What the seeds relate, found in the seeds themselves.  ``build_relation`` reads them into a profile of

* **facets**: groups of places the seeds relate to each other.  Every seed is read as a
  relation between two parties (its most salient country or coordinated list of countries,
  and the most salient other one); the parties of all seeds are 2-coloured into two facets
  ("who" and "with whom"), so that a seed pairing A with B and another pairing C with B put
  A and C on the same side.  Country mentions are normalised with a general gazetteer of all
  countries (names, aliases, demonyms, capitals) and world regions; rare proper names that
  sit right next to a facet's country in the seeds (an organisation, a person) join that facet
  with a lower weight.
* **theme**: the seeds' salient non-place terms, weighted by background rarity (``wordfreq``
  Zipf frequency as an IDF prior, never the topic-heavy stream) and by how many seeds share
  them.

A document is read in windows of a few sentences (the title joins every window), so a
40-word summary and a 3,000-word article are judged alike: the best window decides, and a
conjunction of facets inside one window counts, not scattered mentions.  The value is
``0.55*conj + 0.08*single + 0.07*cover + 0.30*theme`` (without facets: the theme alone), times a
title factor (a title naming only part of the relation is less surely the story), plus what
feedback has taught (Rocchio term weights and a vote of the nearest judged documents).  Partial
credit stands in for a missing facet in two cases, scaled by the seeds' relation-bearing terms:
a document's own main country that is in no facet (a new party in the seed relation), and two
members of one facet related to each other (adjacent coverage).  See docs/relevance.md.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from itertools import compress, islice, repeat
from operator import itemgetter

from wordfreq import zipf_frequency

from monitor.models import Document, Judgment, Score, Seed
from monitor.score.background import common_words, uniforms, zipf_words
from monitor.score.clean import clean_seed_text, is_chrome_title
from monitor.score.geo import NAMES
from monitor.score.text import (
    GAZ_WORDS,
    REGION_MEMBERS,
    TRIGGER_CODES,
    TRIGGER_WORDS,
    TRIGGERS,
    countries,
    may_have_place,
    place_tokens,
    sentence_tokens,
    sentences,
    stem,
)

__all__ = ["RelationScorer", "build_relation", "clean_seed_text"]

WINDOW_SENTENCES = 3
WINDOW_TOKENS = 90
ZIPF_CEIL = 7.0
STOP_ZIPF = 5.6  # words at least this common carry no topic information
W_CONJ, W_SINGLE, W_COVER, W_THEME = 0.55, 0.08, 0.07, 0.30
PAIR_GENERALISED = 0.85
GEN_MIN_STATED = 2
GEN_RARITY_POWER = 3.0
GEN_ACTOR = 0.8  # most a document's own main country can stand in for a missing facet
REL_GAIN = 1.0
LEARN_WEIGHT = 0.25
LEARN_UP = 0.25
LEARN_GAIN = 1.0
ATTACHED_WEIGHT = 0.8
TITLE_ABSENT = 0.8  # a facet relation the title does not touch (scaled by the share it misses)
KNN_WEIGHT = 0.2  # most the judged documents nearest to a document move its score
KNN_K = 3
OPENING_CHARS = 2000  # a document's opening (title, lead) for feedback vectors
SAME_FACET = 0.5  # most a relation between two members of one facet can stand in for the other


_IDF: dict[str, float] = {}


def idf(word: str) -> float:
    """Background rarity of a (folded) word: wordfreq Zipf frequency as an IDF prior."""
    v = _IDF.get(word)
    if v is None:
        z = zipf_frequency(word, "en")
        if z >= STOP_ZIPF or len(word) < 3 or not word.isalpha():
            v = 0.0
        elif z <= 0:
            v = ZIPF_CEIL - 2.0  # unknown words: names, typos; rare but not trusted fully
        else:
            v = ZIPF_CEIL - z
        _IDF[word] = v
    return v


_CRARITY: dict[str, float] = {}


def country_rarity(code: str) -> float:
    """Background rarity of a country (IDF prior from how often its name is written)."""
    v = _CRARITY.get(code)
    if v is None:
        name = NAMES.get(code, code).lower()
        v = max(0.5, ZIPF_CEIL - zipf_frequency(name, "en"))
        _CRARITY[code] = v
    return v


# ---- reading a text -----------------------------------------------------------------------


@dataclass(slots=True)
class _Sent:
    text: str
    ntok: int
    codes: list[tuple[int, int, str]]  # (start, end, country or @region)
    stems: list[str]  # content stems in order (no place names)
    raw: list[str]
    folded: list[str]
    is_title: bool = False


def _read(text: str, title: str = "") -> list[_Sent]:
    out: list[_Sent] = []
    parts: list[tuple[str, bool]] = []
    if title.strip():
        parts.append((title.strip(), True))
    parts.extend((s, False) for s in sentences(text))
    for s, is_title in parts:
        raw, folded = place_tokens(s)
        if not raw:
            continue
        codes = countries(raw, folded)
        inplace: set[int] = set()
        for a, b, _c in codes:
            inplace.update(range(a, b))
        stems = [stem(f) for i, f in enumerate(folded) if i not in inplace]
        out.append(_Sent(s, len(raw), codes, stems, raw, folded, is_title))
    return out


# dotted abbreviations that name a country (U.S., U.K., D.P.R.K.); see text.normalise
_ABBR = re.compile(r"\b(?:U\.\s?[SK]\.|D\.\s?P\.\s?R\.)")


def _forms(st: str) -> list[str]:
    """Surface forms that the light stemmer maps to ``st``."""
    out = [st, st + "s", st + "es"]
    if st.endswith("y"):
        out.append(st[:-1] + "ies")
    return [f for f in out if stem(f) == st]


@dataclass
class _Doc:
    """A document as scoring reads it: every sentence's text and length, and a close reading
    of the informative ones (those naming a place or holding a vocabulary word)."""

    texts: list[str]  # the title first, when there is one
    ntok: list[int]
    has_title: bool
    info: dict[int, _Sent]  # by sentence index, in order
    tokens: list[list[str]] = field(default_factory=list)  # every sentence's folded tokens


def _names_part(hit: AbstractSet[str], tset: frozenset[str], place_words: frozenset[str]) -> bool:
    """Whether a vocabulary word of a sentence may be part of a place name it holds."""
    if hit.isdisjoint(place_words):
        return False
    return any(not hit.isdisjoint(TRIGGER_WORDS[t]) for t in tset & TRIGGERS)


@dataclass(frozen=True)
class _Lexicon:
    """What a document is read for: the vocabulary (surface form -> stem) and the words worth a
    look (vocabulary, place triggers and the letters a dotted abbreviation leaves); when places
    matter only in documents naming certain places or names (``relevant`` codes, ``attached``
    vocabulary forms), the words that may name those (``focus``)."""

    vocab: dict[str, str]
    scan: frozenset[str]
    relevant: frozenset[str] | None = None  # None: every place always matters
    attached: frozenset[str] = frozenset()
    focus: frozenset[str] = frozenset()
    place_words: frozenset[str] = frozenset()  # vocabulary words that may be part of a place name

    @classmethod
    def of(
        cls, vocab: dict[str, str], relevant: frozenset[str] | None = None, attached: frozenset[str] = frozenset()
    ) -> _Lexicon:
        keys = frozenset(vocab)
        focus: frozenset[str] = frozenset()
        if relevant is not None:
            focus = frozenset(t for t, codes in TRIGGER_CODES.items() if codes & relevant) | attached
        return cls(vocab, keys | TRIGGERS | {"u", "d"}, relevant, attached, focus, keys & GAZ_WORDS)


def _read_fast(text: str, title: str, lex: _Lexicon) -> _Doc:
    """Reads closely only the sentences holding a vocabulary word or a place trigger (found by
    one C-level translation of all sentences and a set intersection per sentence); the others
    keep only their length.  Places are read only where they can change the score (see below):
    the scores are those of a reading of every place (tested)."""
    vocab, scan = lex.vocab, lex.scan
    keys = vocab.keys()
    texts = sentences(text)
    has_title = bool(title.strip())
    if has_title:
        texts.insert(0, title.strip().replace("\n", " "))  # sentences hold no newline
    if not texts:
        return _Doc([], [], False, {})
    toks = sentence_tokens(texts)
    ntok = list(map(len, toks))
    hits = list(map(scan.intersection, toks))
    found: dict[int, frozenset[str]] = dict(compress(enumerate(hits), hits))
    # a dotted abbreviation leaves the token "u" or "d" (both in ``scan``)
    dotted = {i for i, words in found.items() if ("u" in words or "d" in words) and _ABBR.search(texts[i])}
    read: dict[int, tuple[list[str], list[str], list[tuple[int, int, str]]]] = {}

    def read_places(i: int) -> tuple[list[str], list[str], list[tuple[int, int, str]]]:
        raw, folded = place_tokens(texts[i], toks[i])
        read[i] = (raw, folded, countries(raw, folded))
        return read[i]

    # when places matter only in documents naming a relevant place or an attached name, the
    # sentences that may do so are read first: if none does, the others' places are read only
    # where a vocabulary word may be part of a place's name (they cannot change the score)
    relevant = lex.relevant
    everywhere = relevant is None
    if relevant is not None:
        for i, words in found.items():
            if i in dotted or not lex.focus.isdisjoint(words):
                if not lex.attached.isdisjoint(words):
                    everywhere = True
                if i in dotted or may_have_place(words, texts[i]):
                    if any(c in relevant for _a, _b, c in read_places(i)[2]):
                        everywhere = True
    place_words = lex.place_words
    info: dict[int, _Sent] = {}
    for i in found:  # in sentence order
        s = texts[i]
        tset = found[i]
        hit = tset & keys
        if i in read:
            raw, folded, codes = read[i]
        elif i in dotted or (may_have_place(tset, s) and (everywhere or _names_part(hit, tset, place_words))):
            raw, folded, codes = read_places(i)
        else:
            raw, folded, codes = [], [], []
        if codes and hit:
            hit -= {folded[k] for a, b, _c in codes for k in range(a, b)}
        if codes or hit:
            is_title = has_title and i == 0
            info[i] = _Sent(s, ntok[i], codes, [vocab[f] for f in sorted(hit)], raw, folded, is_title)
    return _Doc(texts, ntok, has_title, info, toks)


# ---- the seed profile ---------------------------------------------------------------------


@dataclass
class _Facet:
    label: str
    members: dict[str, float]  # country code -> weight
    attached: dict[str, float] = field(default_factory=dict)  # stem -> weight


def _seed_parties(sents: list[_Sent]) -> tuple[dict[str, float], list[set[str]]]:
    """Salience of each country in a seed, and coordinated lists of 3+ countries."""
    sal: dict[str, float] = defaultdict(float)
    lists: list[set[str]] = []
    for k, s in enumerate(sents):
        boost = 2.0 if k == 0 else 1.0
        run: list[str] = []
        prev_end = -10
        for a, b, c in s.codes:
            if c.startswith("@"):
                continue
            sal[c] += boost
            gap = s.folded[prev_end:a] if prev_end >= 0 else None
            if gap is not None and all(g in {"and", "or", "nor"} for g in gap) and len(gap) <= 1:
                run.append(c)
            else:
                if len(set(run)) >= 3:
                    lists.append(set(run))
                run = [c]
            prev_end = b
        if len(set(run)) >= 3:
            lists.append(set(run))
    return sal, lists


def _groups(sal: dict[str, float], lists: list[set[str]]) -> list[set[str]]:
    """The seed's two parties: top country (+ its list mates) and the top other one."""
    if not sal:
        return []
    ranked = sorted(sal.items(), key=lambda kv: (-kv[1], kv[0]))
    top = ranked[0][1]

    def group_of(c: str) -> set[str]:
        g = {c}
        for lst in lists:
            if c in lst:
                g |= {x for x in lst if sal.get(x, 0.0) >= 0.25 * top}
        return g

    g1 = group_of(ranked[0][0])
    rest = [(c, v) for c, v in ranked if c not in g1]
    if not rest or rest[0][1] < 0.2 * top:
        return [g1]
    g2 = group_of(rest[0][0]) - g1
    return [g1, g2]


def _two_colour(
    edges_diff: dict[tuple[str, str], float], edges_same: dict[tuple[str, str], float]
) -> tuple[set[str], set[str]]:
    nodes = sorted({x for e in list(edges_diff) + list(edges_same) for x in e})
    if not nodes:
        return set(), set()
    best: tuple[float, int] | None = None
    n = len(nodes)
    if n <= 16:
        candidates = range(1 << (n - 1))
    else:  # greedy fallback for very many nodes
        candidates = range(1)
    best_mask = 0
    for mask in candidates:
        side = {nodes[i]: (mask >> i) & 1 for i in range(n)}
        val = 0.0
        for (a, b), w in edges_diff.items():
            val += w if side[a] != side[b] else -w
        for (a, b), w in edges_same.items():
            val += w if side[a] == side[b] else -w
        if best is None or val > best[0] + 1e-12:
            best = (val, mask)
            best_mask = mask
    if n > 16:  # local search
        side = {x: 0 for x in nodes}
        changed = True
        while changed:
            changed = False
            for x in nodes:

                def gain(v: int, x: str = x) -> float:
                    g = 0.0
                    for (a, b), w in edges_diff.items():
                        if x in (a, b):
                            o = b if a == x else a
                            g += w if v != side[o] else -w
                    for (a, b), w in edges_same.items():
                        if x in (a, b):
                            o = b if a == x else a
                            g += w if v == side[o] else -w
                    return g

                if gain(1 - side[x]) > gain(side[x]) + 1e-12:
                    side[x] = 1 - side[x]
                    changed = True
        a_side = {x for x in nodes if side[x] == 0}
    else:
        a_side = {nodes[i] for i in range(n) if not (best_mask >> i) & 1}
    return a_side, set(nodes) - a_side


@dataclass
class _Profile:
    facets: list[_Facet]
    theme: dict[str, float]
    seed_terms: list[dict[str, float]]
    seed_codes: list[set[str]]
    seed_names: list[str]
    theme_z: float
    surface: dict[str, str]  # stem -> a surface form for explanations
    pairs: set[tuple[str, str]] = field(default_factory=set)  # place pairs a seed relates
    attached_code: dict[str, str] = field(default_factory=dict)  # attached stem -> place
    relation: dict[str, float] = field(default_factory=dict)  # stem -> relation-bearing weight
    relation_z: float = 1.0
    pair_share: float = 0.0  # share of seeds that relate two parties of their own

    @property
    def structure(self) -> float:
        """How much the seeds are about a relation between two sides (0: not at all, 1: every
        seed relates the two facets): what the combination lets the relation features earn."""
        return self.pair_share if len(self.facets) == 2 else 0.0

    @property
    def breadth(self) -> float:
        """The structure times the log of the number of distinct party pairs the seeds relate:
        0 for seeds about one pair (an event between two countries, where the words already say
        it), growing for seeds that relate many parties (the topic is the relation itself)."""
        pairs = len(self.pairs) // 2  # both directions are kept
        return self.structure * math.log(pairs) if pairs > 1 else 0.0


def _build_profile(seeds: Sequence[Seed], seed_reads: list[list[_Sent]]) -> _Profile:
    n = max(1, len(seeds))
    diff: dict[tuple[str, str], float] = defaultdict(float)
    same: dict[tuple[str, str], float] = defaultdict(float)
    seed_codes: list[set[str]] = []
    pairs: set[tuple[str, str]] = set()
    pair_seeds: list[bool] = []
    for sents in seed_reads:
        sal, lists = _seed_parties(sents)
        groups = _groups(sal, lists)
        seed_codes.append(set().union(*groups) if groups else set())
        pair_seeds.append(len(groups) == 2)
        if len(groups) == 2:
            for a in groups[0]:
                for b in groups[1]:
                    diff[tuple(sorted((a, b)))] += 1.0  # type: ignore[index]
                    pairs.add((a, b))
                    pairs.add((b, a))
        for g in groups:
            for a in g:
                for b in g:
                    if a < b:
                        same[(a, b)] += 1.0
    side_a, side_b = _two_colour(dict(diff), dict(same))
    facets: list[_Facet] = []
    relational = sum(1 for p in pair_seeds if p)
    # a relation is the topic only when several seeds show one (a list of launch countries in
    # a single seed is not a relation)
    if side_a and side_b and relational >= min(2, n):
        for side in (side_a, side_b):
            label = "/".join(sorted(NAMES.get(c, c) for c in side))
            facets.append(_Facet(label, {c: 1.0 for c in sorted(side)}))

    # theme terms
    df: Counter[str] = Counter()
    tf_all: list[Counter[str]] = []
    surface: dict[str, str] = {}
    for sents in seed_reads:
        tf: Counter[str] = Counter()
        for s in sents:
            inplace: set[int] = set()
            for p0, p1, _c in s.codes:
                inplace.update(range(p0, p1))
            for i, f in enumerate(s.folded):
                if i in inplace or idf(f) <= 0:
                    continue
                st = stem(f)
                tf[st] += 1
                surface.setdefault(st, f)
        tf_all.append(tf)
        df.update(tf.keys())
    seed_terms: list[dict[str, float]] = []
    for tf in tf_all:
        seed_terms.append({t: idf(surface[t]) * (1 + math.log(c)) for t, c in tf.items()})
    theme: dict[str, float] = {}
    for t, d in df.items():
        tot = sum(tf[t] for tf in tf_all)
        if d < 2 and tot < 3:
            continue
        theme[t] = idf(surface[t]) * (d / n) ** 0.5 * (1 + math.log(tot) / 4)
    top = sorted(theme.items(), key=lambda kv: (-kv[1], kv[0]))[:400]
    theme = dict(top)
    if not facets:
        # no relational structure: places are ordinary theme features
        for codes in seed_codes:
            for c in codes:
                theme["#" + c] = theme.get("#" + c, 0.0) + 4.0 / n

    # proper names glued to a facet's place in the seeds join that facet
    attached_code: dict[str, str] = {}
    if facets:
        votes: dict[str, Counter[int]] = defaultdict(Counter)
        code_votes: dict[str, Counter[str]] = defaultdict(Counter)
        for sents in seed_reads:
            for s in sents:
                fpos: list[tuple[int, int, int]] = []
                for p0, p1, c in s.codes:
                    for k, fa in enumerate(facets):
                        if c in fa.members:
                            fpos.append((p0, p1, k))
                if not fpos:
                    continue
                near = {i for p0, p1, _ in fpos for i in range(p0, p1)}
                for i, tok in enumerate(s.raw):
                    if i == 0 or i in near or not tok[:1].isupper() or tok.isupper():
                        continue
                    f = s.folded[i]
                    if idf(f) < ZIPF_CEIL - 3.8:  # rare names only
                        continue
                    dist = [(min(abs(i - p0), abs(i - (p1 - 1))), k, p0) for p0, p1, k in fpos]
                    d, k, at = min(dist)
                    if d <= 2:
                        votes[stem(f)][k] += 1
                        code_votes[stem(f)][next(c for x, _y, c in s.codes if x == at)] += 1
        for st, v in sorted(votes.items()):
            (k, c1), *rest = v.most_common()
            if rest and rest[0][1] == c1:
                continue
            facets[k].attached[st] = ATTACHED_WEIGHT
            attached_code[st] = code_votes[st].most_common(1)[0][0]

    # relation-bearing terms: theme terms of seed sentences that hold both facets, weighted by
    # the share of seeds that use them so (what the seeds say about the relation itself)
    relation: dict[str, float] = {}
    relation_z = 1.0
    if facets:
        rdf: Counter[str] = Counter()
        for sents in seed_reads:
            seen_r: set[str] = set()
            for s in sents:
                cs = {c for _a, _b, c in s.codes}
                if all(cs & set(fa.members) for fa in facets):
                    seen_r.update(t for t in s.stems if t in theme)
            rdf.update(seen_r)
        relation = {t: theme[t] * d / n for t, d in rdf.items() if d >= 2 or n <= 2}
        masses = sorted(sum(relation.get(t, 0.0) for t in {t for s in sents for t in s.stems}) for sents in seed_reads)
        relation_z = max(1.0, masses[len(masses) // 2] / 4.0) if masses else 1.0

    # theme normaliser: what a seed's opening window holds
    leads = []
    for sents in seed_reads:
        seen: set[str] = set()
        ntok = 0
        for s in sents:
            seen.update(s.stems)
            ntok += s.ntok
            if ntok >= WINDOW_TOKENS:
                break
        leads.append(sum(theme.get(t, 0.0) for t in seen))
    leads.sort()
    z = leads[len(leads) // 2] / 2.0 if leads and leads[len(leads) // 2] > 0 else 1.0
    return _Profile(
        facets,
        theme,
        seed_terms,
        seed_codes,
        [s.name for s in seeds],
        z,
        surface,
        pairs,
        attached_code,
        relation,
        relation_z,
        sum(pair_seeds) / len(pair_seeds) if pair_seeds else 0.0,
    )


# ---- scoring ------------------------------------------------------------------------------


@dataclass
class _Eval:
    value: float
    base: float
    win: tuple[int, int]
    strengths: list[float]
    hits: list[list[str]]
    terms: list[str]


class RelationScorer:
    """Scores documents against a seed profile's relation and theme; learns from judgments."""

    def __init__(self, profile: _Profile, threshold: float, base_threshold: float) -> None:
        self._p = profile
        self.breadth = profile.breadth
        self.threshold = threshold
        self.base_threshold = base_threshold
        self._learned: dict[str, float] = {}
        self._judged: list[tuple[Document, bool]] = []
        self._rel_vecs: list[dict[str, float]] = []
        self._non_vecs: list[dict[str, float]] = []
        self._knn: list[tuple[str, dict[str, float], float]] = []
        members: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for k, fa in enumerate(profile.facets):
            for c, w in fa.members.items():
                members[c].append((k, w))
        for r, mem in REGION_MEMBERS.items():
            for k, fa in enumerate(profile.facets):
                frac = len(mem & set(fa.members)) / len(mem)
                if frac > 0:
                    members[r].append((k, min(0.8, math.sqrt(frac))))
        self._code_facets = dict(members)
        attached: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for k, fa in enumerate(profile.facets):
            for st, w in fa.attached.items():
                attached[st].append((k, w))
        self._attached = dict(attached)
        # the open facet: with two facets, the one with more member countries is a class that
        # other countries can join (the seeds show several parties on that side)
        self._open = -1
        if len(profile.facets) == 2:
            sizes = [len(fa.members) for fa in profile.facets]
            if sizes[0] != sizes[1]:
                self._open = 0 if sizes[0] > sizes[1] else 1
        self._open_rarity = 1.0
        if self._open >= 0:
            open_members = profile.facets[self._open].members
            self._open_rarity = sum(country_rarity(c) for c in open_members) / len(open_members)
        self._rebuild_vocab()

    def _rebuild_vocab(self) -> None:
        vocab: dict[str, str] = {}
        for st in list(self._p.theme) + list(self._attached) + sorted(self._learned):
            if st[:1] in "#=":
                continue
            for f in _forms(st):
                vocab.setdefault(f, st)
        # places matter only in documents that name a facet's place (or a seed's party, for
        # the nearest seed) or an attached name (see _read_fast)
        if self._p.facets:
            relevant = frozenset(self._code_facets).union(*self._p.seed_codes)
            attached = frozenset(f for f, st in vocab.items() if st in self._attached)
            self._lex = _Lexicon.of(vocab, relevant, attached)
        else:
            self._lex = _Lexicon.of(vocab)
        self._attached_only = frozenset(self._attached).difference(self._p.theme, self._learned)

    # -- internals --
    def _evidence(self, s: _Sent) -> tuple[list[float], set[str], set[str]]:
        """A sentence's facet strengths, terms (facet places as "=code") and facet places."""
        strength = [0.0] * len(self._p.facets)
        places: set[str] = set()
        for _a, _b, c in s.codes:
            fac = self._code_facets.get(c)
            if fac:
                places.add(c)
                for k, w in fac:
                    if w > strength[k]:
                        strength[k] = w
        terms = set(s.stems)
        if not terms.isdisjoint(self._attached):
            for st in terms.intersection(self._attached):
                places.add(self._p.attached_code.get(st, "?"))
                for k, w in self._attached[st]:
                    if w > strength[k]:
                        strength[k] = w
            terms -= self._attached_only
        if places:
            terms.update(["=" + c for c in places])
        if not self._p.facets:
            terms.update(["#" + c for _a, _b, c in s.codes if "#" + c in self._p.theme])
        return strength, terms, places

    def _sent_features(self, s: _Sent) -> tuple[list[float], list[list[str]], set[str]]:
        """``_evidence`` with the facet labels it names (for explanations)."""
        strength, terms, _places = self._evidence(s)
        hits: list[list[str]] = [[] for _ in self._p.facets]
        labels = [(k, NAMES.get(c, c.lstrip("@"))) for _a, _b, c in s.codes for k, _w in self._code_facets.get(c, ())]
        surface = self._p.surface
        labels += [(k, surface.get(st, st).capitalize()) for st in s.stems for k, _w in self._attached.get(st, ())]
        for k, label in labels:
            if label not in hits[k]:
                hits[k].append(label)
        return strength, hits, terms

    def _window_value(
        self, strengths: list[float], terms: set[str], prominence: float, places: set[str]
    ) -> tuple[float, float]:
        """``places``: the window's facet places and attached-name places (without the '=')."""
        theme = self._p.theme
        t_raw = sum(theme.get(t, 0.0) for t in terms)
        t = 1.0 - math.exp(-t_raw / self._p.theme_z)
        nf = len(strengths)
        if nf >= 2:
            conj = math.prod(strengths) ** (1.0 / nf)
            if conj > 0:
                # a pair of places some seed relates directly beats a generalised pair
                pairs = self._p.pairs
                direct = any((a, b) in pairs for a in places for b in places if a < b)
                conj *= (1.0 if direct else PAIR_GENERALISED) * prominence
            cover = min(1.0, len(places) / 3.0)
            single = max(strengths)
            base = W_CONJ * conj + W_SINGLE * single + W_COVER * cover + W_THEME * t
        else:
            base = t
        adj = 0.0
        if self._learned:
            lr = sum(self._learned.get(u, 0.0) for u in terms)
            adj = min(LEARN_UP, LEARN_WEIGHT * math.tanh(LEARN_GAIN * lr))
        return base, adj

    def _evaluate(self, doc: Document) -> tuple[_Eval, _Doc]:
        d = _read_fast(doc.text or "", doc.title or "", self._lex)
        info = d.info
        ntok = d.ntok
        n = len(ntok)
        nf = len(self._p.facets)
        theme = self._p.theme
        code_facets = self._code_facets
        feats: dict[int, tuple[list[float], set[str], set[str]]] = {}
        mass: dict[int, float] = {}
        n_places = n_facet = n_facet_mentions = 0
        for i, s in info.items():
            f = feats[i] = self._evidence(s)
            mass[i] = sum(map(theme.get, f[1], repeat(0.0)))
            n_facet += len(f[2])
            if s.codes:
                n_places += len(s.codes)
                n_facet_mentions += sum(1 for _a, _b, c in s.codes if c in code_facets)
        share = n_facet_mentions / n_places if n_places else (1.0 if n_facet else 0.0)
        prominence = 0.75 + 0.25 * min(1.0, 2.0 * share)
        title_idx = [0] if d.has_title else []
        b0 = len(title_idx)  # the first body sentence
        # windows as (first, last) sentence index and their informative sentences (the title's
        # too); a window starts at the first body sentence and at each sentence with evidence
        # (a term or a facet place; one starting elsewhere is dominated by the one at the next
        # such sentence) and takes up to WINDOW_SENTENCES within WINDOW_TOKENS
        windows: list[tuple[int, int]] = []
        members: list[list[int]] = []
        if n == 0:
            pass  # nothing readable: no window, value 0
        elif b0 == n:
            windows = [(0, 0)]
            members = [[0] if 0 in info else []]
        else:
            head = [0] if d.has_title and 0 in info else []
            for i in [b0] + [i for i in info if i > b0 and feats[i][1]]:
                end = i
                nt = ntok[i]
                lim = min(n, i + WINDOW_SENTENCES)
                while end + 1 < lim and nt + ntok[end + 1] <= WINDOW_TOKENS:
                    end += 1
                    nt += ntok[end]
                windows.append((i, end))
                members.append(head + [k for k in range(i, end + 1) if k in info])
        # the document's own main country, when it is in no facet, may stand in for a missing
        # facet: a page about X's ties with a facet country is the seed relation with a new
        # party.  Credit is partial and needs the seeds' relation-bearing terms.
        actor = self._main_outsider(list(info.values())) if self._open >= 0 and n_facet_mentions else None
        if actor is not None:
            # the relation must be the document's subject: stated (actor and the closed facet
            # in one sentence) at least twice
            closed = 1 - self._open
            stated = sum(
                1 for i, s in info.items() if feats[i][0][closed] >= 0.8 and any(c == actor for _a, _b, c in s.codes)
            )
            if stated < GEN_MIN_STATED:
                actor = None
        actor_w = 0.0
        if actor is not None:
            # like a term, a new party is evidence in proportion to its background rarity,
            # relative to the open facet's own members (a much-covered country is weak evidence)
            actor_w = min(1.0, country_rarity(actor) / self._open_rarity) ** GEN_RARITY_POWER
        prom_gen = prominence
        if actor is not None:
            n_actor = sum(1 for s in info.values() for _a, _b, c in s.codes if c == actor)
            share_g = (n_facet_mentions + n_actor) / n_places if n_places else 1.0
            prom_gen = 0.75 + 0.25 * min(1.0, 2.0 * share_g)
        learned = self._learned
        w_theme = W_THEME if nf >= 2 else 1.0
        no_terms: set[str] = set()

        def place_less(w: list[int]) -> tuple[float, float]:
            # no facet place in the window: only the theme (and what feedback taught) counts
            terms = no_terms.union(*(feats[i][1] for i in w))
            base = w_theme * (1.0 - math.exp(-sum(theme.get(t, 0.0) for t in terms) / self._p.theme_z))
            adj = 0.0
            if learned:
                adj = min(LEARN_UP, LEARN_WEIGHT * math.tanh(LEARN_GAIN * sum(learned.get(u, 0.0) for u in terms)))
            return base, adj

        def with_places(w: list[int]) -> tuple[float, float, list[float]]:
            strengths = [0.0] * nf
            terms: set[str] = set()
            places: set[str] = set()
            rel_terms: set[str] | None = None
            for i in w:
                st, tm, pl = feats[i]
                for k in range(nf):
                    if st[k] > strengths[k]:
                        strengths[k] = st[k]
                terms |= tm
                places |= pl
                if actor is not None and any(c == actor for _a, _b, c in info[i].codes) and st[1 - self._open] >= 0.8:
                    # the actor and the other facet named in one sentence: a stated relation
                    rel_terms = (rel_terms or set()) | tm
            prom = prominence
            k_open = self._open
            if rel_terms is not None and strengths[k_open] < GEN_ACTOR:
                for i in title_idx:
                    if i in feats:
                        rel_terms |= feats[i][1]
                rel = sum(self._p.relation.get(t, 0.0) for t in rel_terms)
                g = GEN_ACTOR * (1.0 - math.exp(-rel / self._p.relation_z)) * actor_w
                if g > strengths[k_open]:
                    strengths[k_open] = g
                    prom = prom_gen
            if nf == 2 and len(places) >= 2:
                # two members of one facet related in the seeds' terms (the partners dealing
                # with each other, the bloc acting together): adjacent coverage, partial credit
                for k in range(nf):
                    same = {c for c in places if c[:1] != "@" and k in self._facets_of(c)}
                    if len(same) >= 2 and strengths[1 - k] < SAME_FACET:
                        rel = sum(self._p.relation.get(t, 0.0) for t in terms)
                        alt = SAME_FACET * (1.0 - math.exp(-rel / self._p.relation_z))
                        strengths[1 - k] = max(strengths[1 - k], alt)
            base, adj = self._window_value(strengths, terms, prom, places)
            return base, adj, strengths

        # windows naming a facet place first: the best of them bounds which place-less windows
        # need a look (their value is at most the theme of the sum of their sentences' masses);
        # those are looked at by that bound, best first, until the bound cannot beat the best
        placed = {i for i, f in feats.items() if f[2]}
        has_place = [not placed.isdisjoint(m) for m in members]
        found: dict[int, tuple[float, float, list[float]]] = {}
        for j, m in enumerate(members):
            if has_place[j]:
                found[j] = with_places(m)
        top = max((min(1.0, max(0.0, b + a)) for b, a, _s in found.values()), default=-1.0)
        room = LEARN_UP if learned else 0.0
        # a place-less window's value is at most its bound, increasing in the sum of its
        # sentences' theme masses: look at them by that sum, largest first
        msum = {j: sum(map(mass.__getitem__, m)) for j, m in enumerate(members) if not has_place[j]}
        best_seen = top
        for j, x in sorted(msum.items(), key=itemgetter(1), reverse=True):
            bound = w_theme * (1.0 - math.exp(-x / self._p.theme_z)) + room
            if bound <= top or bound < best_seen - 1e-9:
                break
            b, a = place_less(members[j])
            found[j] = (b, a, [0.0] * nf)
            best_seen = max(best_seen, min(1.0, max(0.0, b + a)))
        best: _Eval | None = None
        for j in sorted(found):
            base, adj, strengths = found[j]
            val = min(1.0, max(0.0, base + adj))
            if best is None or val > best.value + 1e-12:
                terms = no_terms.union(*(feats[i][1] for i in members[j]))
                best = _Eval(val, base, windows[j], strengths, [], sorted(terms))
        if best is not None and self._knn:
            # the judged documents most like this one vote (a document never votes on itself,
            # so re-scoring the judged ones for the threshold stays honest)
            v = self._doc_vector(doc)
            sims = sorted(
                ((sum(x * vec.get(k, 0.0) for k, x in v.items()), y) for i, vec, y in self._knn if i != doc.id),
                reverse=True,
            )[:KNN_K]
            tot = sum(s for s, _y in sims if s > 0)
            if tot > 0:
                vote = sum(s * y for s, y in sims if s > 0) / tot
                best.value = min(1.0, max(0.0, best.value + KNN_WEIGHT * vote * sims[0][0]))
        if best is None:
            best = _Eval(0.0, 0.0, (0, 0), [0.0] * nf, [], [])
        elif nf >= 2 and title_idx and not is_chrome_title(doc.title or ""):
            # a title names its item's subject: a facet relation the title does not touch is a
            # side story (a briefing, a round-up, one paragraph of a long page), one it names
            # only one side of is less surely the story; a title that is page chrome (a date,
            # a counter) says nothing
            named = sum(1 for k in range(nf) if 0 in feats and feats[0][0][k] > 0)
            f = TITLE_ABSENT ** (1.0 - named / nf)
            best.value *= f
            best.base *= f
        return best, d

    def _facets_of(self, code: str) -> set[int]:
        return {k for k, _w in self._code_facets.get(code, ())}

    def _main_outsider(self, sents: list[_Sent]) -> str | None:
        """The document's most salient country when it belongs to no facet (title counts
        double), provided a facet country is also named; else None."""
        sal: Counter[str] = Counter()
        facet_seen = False
        for s in sents:
            for _a, _b, c in s.codes:
                if c.startswith("@"):
                    continue
                if c in self._code_facets:
                    facet_seen = True
                sal[c] += 2 if s.is_title else 1
        if not facet_seen or not sal:
            return None
        (top, v), *rest = sorted(sal.items(), key=lambda kv: (-kv[1], kv[0]))
        if top in self._code_facets or v < 2 or (rest and rest[0][1] == v):
            return None
        return top

    # -- public --
    def score(self, doc: Document) -> Score:
        return self.explain(*self._evaluate(doc))

    def read(self, doc: Document) -> tuple[_Eval, _Doc]:
        """The value and the reading of a document (its sentences' tokens serve the lexical
        features too, so a document is tokenised once)."""
        return self._evaluate(doc)

    def explain(self, ev: _Eval, d: _Doc) -> Score:
        value = round(ev.value, 6)
        if not d.texts:
            return Score(value=0.0, match=False)
        lo, hi = ev.win  # the winning window (the title counts with every window)
        idx = ([0] if d.has_title and lo > 0 else []) + list(range(lo, hi + 1))
        nf = len(self._p.facets)
        hits: list[list[str]] = [[] for _ in range(nf)]
        best_sent, best_sv = "", -1.0
        for i in idx:
            s = d.info.get(i)
            sv = 0.0
            if s is not None:
                st, h, tm = self._sent_features(s)
                for k in range(nf):
                    for x in h[k]:
                        if x not in hits[k]:
                            hits[k].append(x)
                sv = sum(st) + 0.1 * sum(self._p.theme.get(t, 0.0) for t in tm)
            if not (d.has_title and i == 0) and sv > best_sv:
                best_sent, best_sv = d.texts[i], sv
        if not best_sent:
            best_sent = d.texts[idx[0]] if idx else ""
        facets = tuple(f"{fa.label}: {', '.join(hits[k])}" for k, fa in enumerate(self._p.facets) if hits[k])

        def weight(t: str) -> tuple[float, str]:
            return (-(self._p.theme.get(t, 0.0) + self._learned.get(t, 0.0)), t)

        ranked = sorted((t for t in ev.terms if t[:1] != "="), key=weight)
        terms = tuple(self._p.surface.get(t, t.lstrip("#")) for t in ranked[:8])
        # nearest seed: shared weighted terms and places
        doc_codes = {c for s in d.info.values() for _a, _b, c in s.codes}
        doc_terms = set(ev.terms)
        sims = []
        for j, seed_vec in enumerate(self._p.seed_terms):
            v = sum(seed_vec.get(t, 0.0) for t in doc_terms)
            v += 5.0 * len(doc_codes & self._p.seed_codes[j])
            sims.append((v, -j))
        nearest = self._p.seed_names[-max(sims)[1]] if sims and max(sims)[0] > 0 else ""
        return Score(
            value=value,
            match=value >= self.threshold,
            nearest_seed=nearest,
            facets=facets,
            terms=terms,
            sentence=best_sent[:400],
        )

    def _doc_vector(self, doc: Document) -> dict[str, float]:
        sents = _read((doc.text or "")[:OPENING_CHARS], doc.title or "")
        tf: Counter[str] = Counter()
        for s in sents[:12]:  # the opening: title and lead carry the story
            for st in s.stems:
                tf[st] += 1
        vec = {}
        for st, c in tf.items():
            w = idf(self._p.surface.get(st, st))
            if w > 0:
                vec[st] = w * (1 + math.log(c))
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {k: v / norm for k, v in vec.items()}

    def learn(self, doc: Document, relevant: bool) -> None:
        """Rocchio-style term feedback plus threshold adaptation on judged documents."""
        self._judged.append((doc, relevant))
        dv = self._doc_vector(doc)
        (self._rel_vecs if relevant else self._non_vecs).append(dv)
        self._knn.append((doc.id, dv, 1.0 if relevant else -1.0))
        learned: dict[str, float] = defaultdict(float)
        for vecs, sign in ((self._rel_vecs, 1.0), (self._non_vecs, -1.0)):
            if not vecs:
                continue
            for vec in vecs:
                for k, v in vec.items():
                    learned[k] += sign * v / len(vecs)
        self._learned = {k: v for k, v in learned.items() if abs(v) > 1e-9}
        self._rebuild_vocab()
        self._adapt_threshold()

    def _adapt_threshold(self) -> None:
        scored = sorted(((self._evaluate(d)[0].value, r) for d, r in self._judged), key=lambda x: x[0])
        if not scored:
            return
        base = self.base_threshold
        cands = {base}
        for v, _r in scored:
            cands.add(v)
            cands.add(v + 1e-6)
        best = None
        for th in sorted(cands):
            if not base - 0.05 <= th <= base + 0.15:
                continue
            u = sum((REL_GAIN if r else -1.0) for v, r in scored if v >= th)
            key = (u, -abs(th - base))
            if best is None or key > best[0]:
                best = (key, th)
        if best is not None:
            self.threshold = best[1]


# ---- threshold from the seeds and a background --------------------------------------------


def _background_docs(n: int = 200) -> list[Document]:
    """Deterministic pseudo-documents from general word and country frequencies."""
    words, draws = common_words(), uniforms()
    places = sorted(NAMES.values())
    pz = [zipf_frequency(p.lower(), "en") for p in places]
    tot = sum(10**z for z in pz)
    docs = []
    for i in range(n):
        out = zipf_words(words, draws, 60)
        for r in islice(draws, 2):
            # countries in proportion to how often they are written about
            acc = 0.0
            for p, z in zip(places, pz, strict=True):
                acc += 10**z / tot
                if acc >= r:
                    out.insert(int(len(out) * r), p)
                    break
        docs.append(Document(id=f"bg{i}", title="", text=" ".join(out) + "."))
    return docs


def _derive_threshold(seeds: Sequence[Seed], reads: list[list[_Sent]], prof: _Profile) -> float:
    """Leave-one-seed-out positives vs a background; see docs/relevance.md."""
    bg_scorer = RelationScorer(prof, 1.0, 1.0)
    bg = sorted(bg_scorer._evaluate(d)[0].value for d in _background_docs())
    bg_hi = bg[int(0.99 * (len(bg) - 1))] if bg else 0.0
    pos: list[float] = []
    if len(seeds) >= 2:
        for j in range(len(seeds)):
            rest = [s for i, s in enumerate(seeds) if i != j]
            rreads = [r for i, r in enumerate(reads) if i != j]
            sc = RelationScorer(_build_profile(rest, rreads), 1.0, 1.0)
            pos.append(sc._evaluate(Document(id=seeds[j].name, title="", text=seeds[j].text))[0].value)
    if not pos:
        return max(0.3, bg_hi + 0.1)
    pos.sort()
    pos_mid = pos[len(pos) // 2]
    return max(bg_hi + 0.05, 0.5 * (bg_hi + pos_mid))


def build_relation(seeds: Sequence[Seed], judgments: Sequence[Judgment] = ()) -> RelationScorer:
    reads = [_read(s.text) for s in seeds]
    prof = _build_profile(seeds, reads)
    th = _derive_threshold(seeds, reads, prof)
    sc = RelationScorer(prof, th, th)
    for j in judgments:
        sc.learn(j.document, j.relevant)
    return sc
