"""Country names in other languages (CLDR names, inflected by a general rule)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.score.relation import _Lexicon, _read, _read_fast
from monitor.score.geo import inflect
from monitor.score.text import countries, fold, place_tokens, quick_tokens, sentence_tokens, tokens


def _codes(sentence: str) -> list[str]:
    raw = tokens(sentence)
    return [c for _a, _b, c in countries(raw, [fold(t) for t in raw])]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Rosja wysłała wojska.", ["RU"]),
        ("Władze Rosji podpisały umowę.", ["RU"]),
        ("Delegacja Korei Północnej przybyła.", ["KP"]),
        ("Zamach stanu w Nigrze i w Birmie.", ["NE", "MM"]),
        ("Wybory w Stanach Zjednoczonych i w Wielkiej Brytanii.", ["US", "GB"]),
        ("Eksport w Chinach rośnie.", ["CN"]),
        ("Die Regierung Russlands schweigt.", ["RU"]),
        ("La Corée du Nord a tiré un missile.", ["KP"]),
    ],
)
def test_inflected_names_are_recognised(sentence: str, expected: list[str]) -> None:
    assert _codes(sentence) == expected


def test_common_word_that_looks_like_a_name_needs_a_capital() -> None:
    # Polish "mali" = "small" (plural); the country Mali must be capitalised
    assert _codes("mali chłopcy bawili się na podwórku") == []
    assert _codes("Wojska wyjechały z Mali.") == ["ML"]
    # a name written in lower case is not a name
    assert _codes("rosja") == []


def test_english_is_unchanged() -> None:
    assert _codes("Russia and North Korea signed a pact in Moscow.") == ["RU", "KP", "RU"]
    assert _codes("Indie bands from Chile.") == ["CL"]


def test_fast_reader_finds_the_same_places() -> None:
    text = "Władze Korei Północnej i Rosji podpisały umowę. Pogoda była ładna. Wojska są w Nigrze."
    d = _read_fast(text, "", _Lexicon.of({}))
    fast = [sorted(c for _a, _b, c in d.info[i].codes) if i in d.info else [] for i in range(len(d.texts))]
    slow = [sorted(c for _a, _b, c in s.codes) for s in _read(text)]
    assert fast == slow == [["KP", "RU"], [], ["NE"]]


def test_inflect_rule() -> None:
    assert {"rosji", "rosje", "rosja"} <= inflect("rosja", "pl")
    assert {"nigru", "nigrze"} <= inflect("niger", "pl")
    assert inflect("mali", "pl") == {"mali"}  # short names are not inflected
    assert inflect("russland", "de") == {"russland", "russlands"}


_ANY_TEXT = st.text(alphabet=st.characters(blacklist_characters="\n"), max_size=60) | st.sampled_from(
    ["Côte d’Ivoire — “Mali”", "Władze Rosji…", "U.S.-made", "ΑΣ'Β ς", "x\ud83dy", "İstanbul’s"]
)


@given(st.lists(_ANY_TEXT, min_size=1, max_size=8))
def test_sentences_are_tokenised_together_as_one_by_one(parts: list[str]) -> None:
    # the reader tokenises all sentences in one C-level pass; it must read each as alone
    together = sentence_tokens(parts)
    alone = [quick_tokens(p) for p in parts]
    fold_sigma = str.maketrans("ς", "σ")  # final sigma depends on context; it names nothing
    assert [[w.translate(fold_sigma) for w in t] for t in together] == [
        [w.translate(fold_sigma) for w in t] for t in alone
    ]


def test_lone_surrogate_is_read_not_an_error() -> None:
    assert quick_tokens("Mali \ud83d Russia") == ["mali", "\ud83d", "russia"]


@given(_ANY_TEXT)
def test_place_tokens_are_tokens_with_their_folded_forms(sentence: str) -> None:
    # the place reader's C-level path (and the sentence's quick tokens it reuses) must read as
    # the regex tokeniser does
    expected = (tokens(sentence), [fold(t) for t in tokens(sentence)])
    assert place_tokens(sentence) == expected
    assert place_tokens(sentence, quick_tokens(sentence)) == expected
