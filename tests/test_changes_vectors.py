"""The story engine's compact term vectors (changes.vectors) and their stored form: the same
numbers, to the last bit, as the dicts of str -> float they replace."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import FIXTURES
from monitor.changes import stories
from monitor.changes.stories import Article, StoryClusterer, dot
from monitor.changes.story_state import StateError, StoryState, state_to_json, story_from_json, story_to_json
from monitor.changes.vectors import TermVector, Vocabulary

TERMS = st.sampled_from([f"t{i}" for i in range(40)])
WEIGHTS = st.floats(min_value=1e-6, max_value=1.0, allow_nan=False)
VECTORS = st.dictionaries(TERMS, WEIGHTS, max_size=30)
# 71 real ECB+ articles, 6 stories, in file order
ARTICLES = [
    Article(str(n), r["title"], r["text"])
    for n, r in enumerate(map(json.loads, (FIXTURES / "changes" / "ecbplus_slice.jsonl").read_text().splitlines()))
]


def _pair(vocab: Vocabulary, named: dict[str, float]) -> tuple[dict[int, float], TermVector]:
    ids = vocab.vector(named)
    return ids, TermVector.of(ids)


def test_the_vocabulary_numbers_terms_in_order_of_first_sight() -> None:
    vocab = Vocabulary()
    assert vocab.ids(["quake", "toll", "quake"]) == [0, 1, 0]
    assert vocab.ids(["kelantan", "toll"]) == [2, 1]
    assert vocab.terms([2, 0]) == ["kelantan", "quake"] and len(vocab) == 3
    vec = vocab.vector({"toll": 0.5, "rescue": 0.25})
    assert vec == {1: 0.5, 3: 0.25} and list(vec) == [1, 3]
    assert vocab.named(TermVector.of(vec)) == {"toll": 0.5, "rescue": 0.25}


@given(VECTORS, VECTORS)
def test_dot_is_the_dict_dot_bit_for_bit(a: dict[str, float], b: dict[str, float]) -> None:
    vocab = Vocabulary()
    ids_a, _ = _pair(vocab, a)
    _, vec_b = _pair(vocab, b)
    # the same float, not a close one: the engine's placements must not move
    assert vec_b.dot(ids_a) == dot(a, b)
    assert math.copysign(1.0, vec_b.dot(ids_a)) == math.copysign(1.0, dot(a, b))


def test_dot_walks_the_shorter_side_in_its_own_order() -> None:
    # three terms whose sum depends on the order of addition: 1e16 + 1 + 1 != 1 + 1 + 1e16
    big = {"a": 1e16, "b": 1.0, "c": 1.0}
    short = {"c": 1.0, "b": 1.0, "a": 1.0}
    longer = {**big, "d": 0.5}
    vocab = Vocabulary()
    assert TermVector.of(vocab.vector(longer)).dot(vocab.vector(short)) == dot(short, longer)
    assert TermVector.of(vocab.vector(short)).dot(vocab.vector(longer)) == dot(longer, short)
    assert dot(short, longer) != sum([1e16, 1.0, 1.0])  # the order does matter here


@given(st.lists(VECTORS, min_size=1, max_size=6))
def test_adding_members_gives_the_dict_centroid_in_its_order(members: list[dict[str, float]]) -> None:
    vocab = Vocabulary()
    centroid: dict[str, float] = {}
    compact = TermVector()
    for m in members:
        for t, v in m.items():
            centroid[t] = centroid.get(t, 0.0) + v
        compact.add(vocab.vector(m))
    named = vocab.named(compact)
    assert list(named.items()) == list(centroid.items())
    assert compact.norm_squared() == sum(v * v for v in centroid.values())


def test_a_vector_refuses_ids_and_weights_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="2 term ids but 1 weights"):
        TermVector([1, 2], [0.5])


def _story(centroid: dict[str, float], *members: dict[str, float]) -> StoryState:
    return StoryState("s7", centroid, members, size=len(members) + 1, last=1.5e9, years=frozenset({2013}))


def test_the_stored_form_reads_back_exactly_and_smaller() -> None:
    a = {"quake": 0.1 + 0.2, "kelantan": 1 / 3, "23": 0.7071067811865476}
    b = {"kelantan": 2 / 7, "toll": 1e-300}
    centroid = {t: a.get(t, 0.0) + b.get(t, 0.0) for t in [*a, "toll"]}
    story = _story(centroid, a, b)
    raw = json.dumps(story_to_json(story))
    back = story_from_json(json.loads(raw))
    assert back == story and list(back.centroid) == list(centroid) and list(back.members[1]) == list(b)
    old = {**story_to_json(story), "centroid": centroid, "members": [a, b]}  # the first form
    del old["terms"]
    assert story_from_json(json.loads(json.dumps(old))) == story
    assert len(raw) < len(json.dumps(old))


def test_a_member_term_missing_from_the_centroid_is_kept() -> None:
    story = _story({"quake": 1.0}, {"quake": 0.5, "aftershock": 0.5})
    assert story_from_json(json.loads(json.dumps(story_to_json(story)))) == story


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"terms": ["a", "a"]}, "distinct strings"),
        ({"centroid": "AAAA"}, "not a whole number of 8-byte values"),
        ({"centroid": "!!"}, "story state 's7'"),
        ({"members": [["AAAAAA==", ""]]}, "positions do not match"),
        ({"members": [["AQAAAA==", "AAAAAAAA8D8="]]}, "positions do not match"),  # position 1 of 1 term
        ({"members": ["x"]}, r"\[positions, weights\]"),
    ],
)
def test_a_damaged_stored_form_is_refused_in_one_line(change: dict[str, object], message: str) -> None:
    data = {**story_to_json(_story({"quake": 1.0}, {"quake": 1.0})), **change}
    with pytest.raises(StateError, match=message) as err:
        story_from_json(data)
    assert "\n" not in str(err.value)


@given(VECTORS, VECTORS)
def test_dot_through_a_lookup_is_the_same(a: dict[str, float], b: dict[str, float]) -> None:
    vocab = Vocabulary()
    ids_a, _ = _pair(vocab, a)
    _, vec_b = _pair(vocab, b)
    assert vec_b.dot(ids_a, vec_b.as_dict()) == dot(a, b)


def _placements(
    monkeypatch: pytest.MonkeyPatch, terms: int, entries: int
) -> tuple[list[tuple[str, bool, float]], object]:
    monkeypatch.setattr(stories, "LOOKUP_TERMS", terms)
    monkeypatch.setattr(stories, "LOOKUP_ENTRIES", entries)
    c = StoryClusterer()
    placed = [(p.story, p.new_story, p.similarity) for p in map(c.assign, ARTICLES)]
    return placed, state_to_json(c.state())


def test_kept_centroid_lookups_place_exactly_as_without_them(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _placements(monkeypatch, terms=10**9, entries=0)  # never a lookup
    every = _placements(monkeypatch, terms=1, entries=10**9)  # every candidate keeps one
    churn = _placements(monkeypatch, terms=1, entries=500)  # made and dropped all the time
    assert every == plain and churn == plain
    placed = plain[0]
    assert len({story for story, _, _ in placed}) > 1 and sum(not new for _, new, _ in placed) > 50


def test_a_story_state_is_a_snapshot_written_as_its_dicts_would_be() -> None:
    c = StoryClusterer()
    story = c.assign(ARTICLES[0]).story
    for a in ARTICLES[1:10]:
        c.assign(a, story_hint=story)
    state = c.story_state(story)
    assert state is not None and len(state.members) == 8  # MAX_MEMBERS
    centroid, members = dict(state.centroid), [dict(m) for m in state.members]
    as_dicts = StoryState(state.id, centroid, tuple(members), state.size, state.last, state.years, state.numbers)
    assert story_to_json(state) == story_to_json(as_dicts)  # the engine's arrays, or dicts: one form
    c.assign(ARTICLES[10], story_hint=story)  # the story grows in place...
    assert dict(state.centroid) == centroid and [dict(m) for m in state.members] == members  # ...not its state
    grown = c.story_state(story)
    assert grown is not None and dict(grown.centroid) != centroid
