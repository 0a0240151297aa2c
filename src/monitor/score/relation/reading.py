"""Reading a text for the relation model: sentences, places and vocabulary (pure: no I/O)."""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from itertools import compress

from monitor.score.geo import NAMES
from monitor.score.relation.params import RelationParams
from monitor.score.text import (
    countries,
    gazetteer,
    may_have_place,
    place_tokens,
    sentence_tokens,
    sentences,
    stem,
)
from monitor.score.zipf import zipf

_PRIOR: list[RelationParams] = []  # the committed record, read on the first word looked up


def _prior() -> RelationParams:
    """The rarity prior's numbers: those of the committed weights record (the prior's caches are
    shared by every scorer in the process, and by the lexical reading)."""
    if not _PRIOR:
        from monitor.score.weights import default_weights  # weights imports this package

        _PRIOR.append(default_weights().relation)
    return _PRIOR[0]


_IDF: dict[str, float] = {}


def idf(word: str) -> float:
    """Background rarity of a (folded) word: wordfreq Zipf frequency as an IDF prior."""
    v = _IDF.get(word)
    if v is None:
        p = _prior()
        # a short or non-alphabetic word weighs nothing, whatever its frequency: not looked up
        z = zipf(word) if len(word) >= p.min_word_length and word.isalpha() else p.stop_zipf
        if z >= p.stop_zipf:
            v = 0.0
        elif z <= 0:
            v = p.zipf_ceiling - p.unknown_word_zipf  # unknown words: names, typos
        else:
            v = p.zipf_ceiling - z
        _IDF[word] = v
    return v


_CRARITY: dict[str, float] = {}


def country_rarity(code: str) -> float:
    """Background rarity of a country (IDF prior from how often its name is written)."""
    v = _CRARITY.get(code)
    if v is None:
        p = _prior()
        name = NAMES.get(code, code).lower()
        v = max(p.min_country_rarity, p.zipf_ceiling - zipf(name))
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
    g = gazetteer()
    return any(not hit.isdisjoint(g.trigger_words[t]) for t in tset & g.triggers)


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
        g = gazetteer()
        focus: frozenset[str] = frozenset()
        if relevant is not None:
            focus = frozenset(t for t, codes in g.trigger_codes.items() if codes & relevant) | attached
        return cls(vocab, keys | g.triggers | {"u", "d"}, relevant, attached, focus, keys & g.words)


_Places = tuple[list[str], list[str], list[tuple[int, int, str]]]  # raw, folded, countries


def _read_places(i: int, texts: list[str], toks: list[list[str]], read: dict[int, _Places]) -> _Places:
    """Reads sentence ``i``'s places, remembering the reading in ``read``."""
    raw, folded = place_tokens(texts[i], toks[i])
    read[i] = (raw, folded, countries(raw, folded))
    return read[i]


def _places_everywhere(
    found: dict[int, frozenset[str]],
    dotted: set[int],
    texts: list[str],
    toks: list[list[str]],
    read: dict[int, _Places],
    lex: _Lexicon,
) -> bool:
    """Whether every sentence's places must be read.  When places matter only in documents
    naming a relevant place or an attached name, the sentences that may do so are read first
    (into ``read``): if none does, the others' places are read only where a vocabulary word may
    be part of a place's name (they cannot change the score)."""
    relevant = lex.relevant
    everywhere = relevant is None
    if relevant is not None:
        for i, words in found.items():
            if i in dotted or not lex.focus.isdisjoint(words):
                if not lex.attached.isdisjoint(words):
                    everywhere = True
                if i in dotted or may_have_place(words, texts[i]):
                    if any(c in relevant for _a, _b, c in _read_places(i, texts, toks, read)[2]):
                        everywhere = True
    return everywhere


def _read_fast(text: str, title: str, lex: _Lexicon) -> _Doc:
    """Reads closely only the sentences holding a vocabulary word or a place trigger (found by
    one C-level translation of all sentences and a set intersection per sentence); the others
    keep only their length.  Places are read only where they can change the score (see
    ``_places_everywhere``):
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
    read: dict[int, _Places] = {}
    everywhere = _places_everywhere(found, dotted, texts, toks, read, lex)
    place_words = lex.place_words
    info: dict[int, _Sent] = {}
    for i in found:  # in sentence order
        s = texts[i]
        tset = found[i]
        hit = tset & keys
        if i in read:
            raw, folded, codes = read[i]
        elif i in dotted or (may_have_place(tset, s) and (everywhere or _names_part(hit, tset, place_words))):
            raw, folded, codes = _read_places(i, texts, toks, read)
        else:
            raw, folded, codes = [], [], []
        if codes and hit:
            hit -= {folded[k] for a, b, _c in codes for k in range(a, b)}
        if codes or hit:
            is_title = has_title and i == 0
            info[i] = _Sent(s, ntok[i], codes, [vocab[f] for f in sorted(hit)], raw, folded, is_title)
    return _Doc(texts, ntok, has_title, info, toks)
