"""The scorer's fast paths give exactly what a plain reading gives (pure functions, no I/O).

Each fast path (term keys cached per token and counted in one C-level pass, names cached per
spelling, the relation reading's shared tokens) is compared with a straightforward
implementation of the same definition: same terms, same order, same floats.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections import Counter
from itertools import chain

import pytest

from monitor.models import Document, Seed
from monitor.score import build_scorer
from monitor.score.lexical import names_in, read, unit, weigh
from monitor.score.relation import idf
from monitor.score.text import fold, quick_tokens, sentence_tokens, sentences, stem

TEXTS = [
    "The Secretary met Kim Jong Un in Pyongyang in 2019; 2019 talks, 2020 talks and 7 talks.",
    "Protesters marched. Protesters marched again! The marches, the march and the marching bands.",
    "São Paulo’s mayor said “enough” — Müller and Zoë agreed with the mayor of São Paulo.",
    "Ministers of France, Germany and Italy met Ministers of Spain at 10:30 on 12 March 2024.",
    "a b c 1 22 333 4444 the of and",  # only stop words and numbers
    "The Sixers fired Jim O'Brien and named Maurice Cheeks; McDonald's Kremlin-linked Jean-Pierre.",
    "",
]


def _reference(text: str, name_boost: float, number_weight: float) -> tuple[dict[str, float], dict[str, float]]:
    """The definition, one distinct token at a time in order of first occurrence."""
    words: Counter[str] = Counter()
    numbers: Counter[str] = Counter()
    weight: dict[str, float] = {}
    for t, c in Counter(quick_tokens(text)).items():
        if idf(t) > 0:
            st = stem(t)
            words[st] += c
            weight[st] = idf(st)
        elif len(t) >= 2 and t.isdigit():
            numbers["#" + t] += c
    names = set()
    for name in re_names(text):
        for part in re.split(r"['’-]", name):  # O'Brien -> Brien, Obama's -> Obama
            f = fold(part)
            if part[:1].isupper() and idf(f) > 0:
                names.add(stem(f))
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
    return _unit(terms), _unit(name_vec)


def re_names(text: str) -> set[str]:
    from monitor.score.lexical import _NAME

    return set(_NAME.findall(text))


def _unit(v: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(x * x for x in v.values()))
    return {t: x / norm for t, x in v.items()} if norm > 0 else {}


@pytest.mark.parametrize("text", TEXTS)
def test_weigh_is_the_reference_reading_exactly(text: str) -> None:
    terms, names, _years = weigh(text, 2.0, 3.0)
    ref_terms, ref_names = _reference(text, 2.0, 3.0)
    assert terms == ref_terms and names == ref_names
    assert list(terms) == list(ref_terms) and list(names) == list(ref_names)  # same order: same sums


def test_weigh_twice_is_the_same() -> None:
    # the second time every token and name comes from the caches
    text = TEXTS[0] + " " + TEXTS[2]
    assert weigh(text, 2.0, 3.0) == weigh(text, 2.0, 3.0)
    assert weigh(text, 2.0, 3.0)[:2] == _reference(text, 2.0, 3.0)


def test_names_and_numbers_are_weighed() -> None:
    terms, names, _years = weigh(TEXTS[0], 2.0, 3.0)
    assert "#2019" in terms and "#7" not in terms  # one-digit numbers carry nothing
    assert {"kim", "jong", "pyongyang"} <= set(names) <= set(terms)
    plain, _, _ = weigh(TEXTS[0], 1.0, 3.0)
    assert terms["pyongyang"] > plain["pyongyang"]  # a name weighs name_boost times more


def test_unit_keeps_order_and_length() -> None:
    v = unit({"b": 3.0, "a": 4.0})
    assert list(v) == ["b", "a"] and v == {"b": 0.6, "a": 0.8}
    assert unit({}) == {} and unit({"z": 0.0}) == {}


def test_reading_from_the_relation_tokens_is_the_reading_from_the_text() -> None:
    title, text = "Kim meets Putin", TEXTS[0] + "\n" + TEXTS[2]
    parts = [title] + sentences(text)
    toks = sentence_tokens(parts)
    fast = read(title, text, 2.0, 3.0, toks, True)
    slow = read(title, text, 2.0, 3.0)
    assert (fast.terms, fast.names, fast.title) == (slow.terms, slow.names, slow.title)
    assert list(chain.from_iterable(toks)) == quick_tokens(f"{title}\n{text}")


def test_names_in_is_cached_by_spelling() -> None:
    assert names_in("He met Kim in Pyongyang and Kim again.") == names_in("They saw Kim near Pyongyang.")
    assert names_in("nothing capitalised here") == set()


def test_score_values_do_not_depend_on_cache_state() -> None:
    seeds = [Seed(name=f"s{i}", text=t) for i, t in enumerate(TEXTS[:4])]
    docs = [Document(id=str(i), title="", text=t) for i, t in enumerate(TEXTS)]
    first = [build_scorer(seeds).score(d) for d in docs]
    again = [build_scorer(seeds).score(d) for d in reversed(docs)][::-1]
    assert first == again


def test_starting_the_cli_builds_no_gazetteer() -> None:
    # the place tables and wordfreq cost ~1 s of CPU: only a command that scores pays them
    code = (
        "import sys, monitor.cli\n"
        "from monitor.score import text\n"
        "print(text.gazetteer.cache_info().currsize, 'wordfreq' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "False"]


def test_the_gazetteer_is_built_on_first_use_and_found_by_its_old_names() -> None:
    from monitor.score import text

    assert text.countries(["Talks", "in", "North", "Korea"], ["talks", "in", "north", "korea"]) == [(2, 4, "KP")]
    assert text.gazetteer.cache_info().currsize == 1
    assert text.GAZ is text.gazetteer().table and "korea" in text.TRIGGERS


def test_workers_fork_with_the_tables_built() -> None:
    # workers.py's fork server imports monitor.score.warm: a worker finds the tables built before
    # it scores anything (else each worker would spend ~0.7 s CPU on its first page)
    from concurrent.futures import ProcessPoolExecutor

    from monitor.score.text import tables_built
    from monitor.score.zipf import preloaded
    from monitor.workers import _context

    with ProcessPoolExecutor(1, mp_context=_context()) as pool:
        assert pool.submit(tables_built).result(timeout=120) is True
        assert pool.submit(preloaded).result(timeout=120) is True
