"""Story terms: the cached, lazily split reading gives exactly the counts, first surfaces and
stems of the plain per-word definition (story state stored on disk is keyed by them)."""

from __future__ import annotations

import gzip
import json
import pickle
from collections import defaultdict
from pathlib import Path

import pytest
import wordfreq
from snowballstemmer.english_stemmer import EnglishStemmer

from monitor.analysis import ArticleFeatures
from monitor.changes.copies import band_keys, shingles, signature
from monitor.changes.stories import (
    ENTITY_WEIGHT,
    STOPWORDS,
    TEXT_WORDS,
    TITLE_WEIGHT,
    DocFrequency,
    _surface_probability,
    article_terms,
    term_counts,
)
from monitor.changes.text import (
    WORD_RE,
    fold,
    headline,
    iter_sentences,
    sentence_spans,
    sentences,
    stem,
    word_frequency,
)

BODIES = Path(__file__).resolve().parent / "fixtures" / "pages" / "bodies.jsonl.gz"


def _bodies(n: int = 40) -> list[tuple[str, str]]:
    with gzip.open(BODIES, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh][:n]
    return [(r.get("headline") or r["articleBody"][:60], r["articleBody"]) for r in rows]


EDGE = [
    ("", ""),
    ("Updated: May 24, 2005", "Dateline title.\nThe body's first line names Obama's U.S. plan. Next one here."),
    ("Ünïcödé Straße", "Москва й ё CAFÉ naïve — “quoted” don’t 1,200 6.1 06:00 43-year-old. 2013-05-03 Ok."),
    ("A", "x " * 900),
]


def _reference(title: str, text: str) -> tuple[dict[str, float], dict[str, str]]:
    """term_counts as first defined: word by word over every sentence, noting every surface."""
    out: dict[str, float] = defaultdict(float)
    first: dict[str, str] = {}
    title, text = headline(title, text)
    budget = TEXT_WORDS
    for weight, part in ((TITLE_WEIGHT, title), (1.0, text)):
        for sent in sentences(part):
            toks = WORD_RE.findall(sent)
            for n, w in enumerate(toks):
                f = fold(w)
                if f in STOPWORDS or (len(f) < 2 and not f.isdigit()):
                    continue
                t = stem(f)
                first.setdefault(t, f)
                named = w[0].isdigit() or (w[0].isupper() and (n > 0 or weight > 1.0))
                out[t] += weight * (ENTITY_WEIGHT if named else 1.0)
            if weight == 1.0:
                budget -= len(toks)
                if budget <= 0:
                    return out, first
    return out, first


@pytest.mark.parametrize("title,text", _bodies() + EDGE)
def test_terms_are_those_of_the_word_by_word_definition(title: str, text: str) -> None:
    counts, first = _reference(title, text)
    got = article_terms(title, text)
    assert list(got.counts.items()) == list(counts.items())  # same values, same order
    assert list(got.probabilities.items()) == [(t, _surface_probability(f, "en")) for t, f in first.items()]
    df = DocFrequency()
    assert list(term_counts(title, text, df).items()) == list(counts.items())
    assert df.state().prior == {t: df._prior_docs * _surface_probability(f, "en") for t, f in first.items()}


def test_lazy_sentences_are_the_sentences() -> None:
    for _title, text in _bodies(10) + EDGE:
        assert list(iter_sentences(text)) == sentences(text)
        assert [text[a:b] for a, b in sentence_spans(text)] == sentences(text)


def test_stemmer_is_the_snowball_english_one() -> None:
    """The stemmer runs in C when PyStemmer is installed (snowballstemmer picks it): its stems
    must be those of snowballstemmer's own English stemmer."""
    reference = EnglishStemmer()
    words = sorted({fold(w) for _t, text in _bodies() for w in WORD_RE.findall(text)})
    words = [w for w in words if len(w) > 3 and w.isalpha()]
    assert len(words) > 1000
    assert [stem(w) for w in words] == [reference.stemWord(w) for w in words]


def test_word_frequency_is_wordfreqs() -> None:
    """Plain words are read from wordfreq's dict directly: the same numbers as wordfreq's own."""
    words = sorted({fold(w) for title, text in _bodies() for w in WORD_RE.findall(f"{title} {text}")})
    words += ["qzxvbnm", "the", "a", "don't", "café", "COVID", "u.s", "1,200", "43-year-old", "", "x y"]
    plain = [w for w in words if w.isascii() and w.isalpha() and w.islower()]
    assert len(plain) > 1000
    for lang in ("en", "de"):
        assert [word_frequency(w, lang) for w in words] == [wordfreq.word_frequency(w, lang) for w in words]


@pytest.mark.parametrize("text", [max((t for _h, t in _bodies()), key=len), "", "one two"])
def test_features_cross_to_the_polling_process_unchanged(text: str) -> None:
    """ArticleFeatures travel back from a worker pickled, their shingles packed."""
    features = ArticleFeatures(article_terms("Title", text), shingles(text), band_keys(signature(shingles(text))))
    back = pickle.loads(pickle.dumps(features))
    assert back == features and back.shingles == shingles(text)
    assert back.bands == band_keys(signature(shingles(text))) and len(back.bands or ()) == (16 if text else 0)
    assert list(back.story_terms.counts.items()) == list(features.story_terms.counts.items())
    if len(features.shingles) > 100:  # packed: 8 bytes a shingle, not pickled one by one
        separately = sum(len(pickle.dumps(part)) for part in (features.story_terms, features.shingles, features.bands))
        assert len(pickle.dumps(features)) < separately - len(features.shingles)
