"""Online story clustering: same event joins, a similar event starts a new story, bounded lookups."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest

from monitor.changes.stories import (
    Article,
    DocFrequency,
    MemoryStoryIndex,
    StoryClusterer,
    article_numbers,
    term_counts,
)
from monitor.changes.story_state import (
    StateError,
    StoryState,
    state_from_json,
    state_to_json,
    story_from_json,
    story_to_json,
)
from monitor.changes.text import headline, is_date_line, sentence_spans, sentences

T0 = datetime(2026, 11, 20, 8, tzinfo=UTC)

QUAKE_A1 = Article(
    "a1",
    "Magnitude 6.1 earthquake kills 14 in Kelantan, Malaysia",
    "A magnitude 6.1 earthquake struck Kelantan state in northern Malaysia on Tuesday, killing at least 14 "
    "people in the town of Tanah Merah and injuring 230, the national disaster agency said.",
    published=T0,
)
QUAKE_A2 = Article(
    "a2",
    "Malaysia quake: rescuers search Tanah Merah rubble as death toll rises",
    "Rescue teams in Tanah Merah, Kelantan, dug through collapsed shophouses on Wednesday as the number of "
    "people killed by Tuesday's magnitude 6.1 tremor rose to 19, Malaysian officials said.",
    published=T0 + timedelta(hours=20),
)
QUAKE_B = Article(
    "b1",
    "Earthquake of magnitude 5.8 hits Chile's Atacama region",
    "A magnitude 5.8 earthquake shook the Atacama region of northern Chile on Thursday near Copiapo, "
    "Chile's seismological centre said. No casualties were reported in Vallenar or Caldera.",
    published=T0 + timedelta(days=2),
)
RATES = Article(
    "c1",
    "Central bank holds interest rates",
    "The central bank left its benchmark interest rate unchanged on Thursday, citing slowing inflation.",
    published=T0 + timedelta(days=2),
)


def test_same_event_in_other_words_joins_and_similar_event_is_new() -> None:
    c = StoryClusterer()
    first = c.assign(QUAKE_A1)
    follow = c.assign(QUAKE_A2)
    other_quake = c.assign(QUAKE_B)
    rates = c.assign(RATES)
    assert first.new_story and not follow.new_story and follow.story == first.story
    assert other_quake.new_story and other_quake.story != first.story
    assert rates.new_story and len({first.story, other_quake.story, rates.story}) == 3


def test_time_decay_separates_a_late_follow_up() -> None:
    late = Article(QUAKE_A2.id, QUAKE_A2.title, QUAKE_A2.text, published=T0 + timedelta(days=60))
    c = StoryClusterer()
    c.assign(QUAKE_A1)
    assert c.assign(late).new_story  # outside the window: no candidate


def test_story_hint_skips_the_search() -> None:
    c = StoryClusterer()
    first = c.assign(QUAKE_A1)
    assert c.assign(RATES, story_hint=first.story).story == first.story


def test_index_candidates_bounded_and_windowed() -> None:
    idx = MemoryStoryIndex(per_term=3, window_days=1)
    for n in range(10):
        idx.add(f"s{n}", ["quake", f"t{n}"], float(n * 3600))
    # only the 3 most recent stories stay posted under a shared term
    assert set(idx.candidates(["quake"], 10 * 3600.0, limit=5)) == {"s7", "s8", "s9"}
    assert len(idx.candidates(["quake"], 10 * 3600.0, limit=2)) == 2
    # a story's own term keeps it findable, but only inside the window
    assert idx.candidates(["t2"], 3 * 3600.0, limit=5) == ["s2"]
    assert idx.candidates(["t2"], 5 * 86400.0, limit=5) == []
    assert MemoryStoryIndex().candidates(["nothing"], None, 5) == []


def test_title_and_names_weigh_more() -> None:
    counts = term_counts("Lohan enters rehab", "The actress entered a clinic in Malibu on Friday.")
    assert counts["lohan"] > counts["clinic"]
    assert counts["malibu"] > counts["clinic"]  # a name inside a sentence


def test_dateline_title_gives_way_to_the_first_line() -> None:
    assert is_date_line("May 03, 2013") and is_date_line("Updated: May 24, 2005, 3: 23 PM ET")
    assert not is_date_line("Lindsay Lohan checks into Betty Ford Center")
    title, body = headline("Jan 05, 2011", "Saints place Bush on injured reserve\nMore text.")
    assert title == "Saints place Bush on injured reserve" and "More text." in body


def test_document_frequency_prior_ranks_rare_words_higher() -> None:
    df = DocFrequency()
    for w in ("the", "kelantan"):
        df.note_surface(w, w)
    assert df.idf("kelantan") > df.idf("the")
    df.add(["kelantan"] * 1)
    assert df.idf("kelantan") > 0


def test_sentences_and_spans_agree() -> None:
    text = 'First one. Second one!\nThird line "quoted." Fourth.'
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == sentences(text)
    assert sentences(text)[0] == "First one."


def test_abbreviations_and_initials_do_not_end_sentences() -> None:
    text = 'Mrs. Abbott met Dr. J. R. Smith in the U.S. Senate on Jan. 5. "It went well." He left.'
    first = "Mrs. Abbott met Dr. J. R. Smith in the U.S. Senate on Jan. 5."
    assert sentences(text) == [first, '"It went well."', "He left."]


PATCH_2008 = Article(
    "ie1",
    "Microsoft issues emergency patch for Internet Explorer flaw",
    "Posted: December 17, 2008\nMicrosoft released an emergency security update for Internet Explorer on "
    "Wednesday to fix a flaw that attackers used to take over Windows computers, the company said.",
)
PATCH_2013 = Article(
    "ie2",
    "Microsoft rushes out Internet Explorer fix for attacks",
    "September 18th, 2013, 05:31 GMT\nMicrosoft released a temporary fix for a flaw in Internet Explorer that "
    "attackers are using to take over Windows computers, the company said on Tuesday.",
)


def test_text_date_reads_datelines_and_rejects_impossible_dates() -> None:
    from monitor.changes.text import text_date

    assert text_date("Posted: May 24, 2005", "") == (2005, 5, 24)
    assert text_date("", "September 18th, 2013, 05: 31 GMT\nText") == (2013, 9, 18)
    assert text_date("", "Updated 3 Sept. 2012") == (2012, 9, 3)
    assert text_date("", "2013-05-03 story") == (2013, 5, 3)
    assert text_date("Feb 30, 2012", "") is None and text_date("Talks in 2013", "") is None
    # only the top of the page: a date deep in the body is not the page's own
    assert text_date("", "x " * 200 + "May 24, 2005") is None


def test_article_year_prefers_published_then_dateline_then_most_mentioned() -> None:
    from monitor.changes.stories import article_year

    assert article_year(PATCH_2008) == 2008
    assert article_year(Article("p", "t", "May 3, 2013 x", published=T0)) == 2026
    mentioned = Article("m", "Coach fired", "He was hired in 2005. The 2008 season went badly; 2008 ended it.")
    assert article_year(mentioned) == 2008
    assert article_year(Article("n", "No years", "Nothing dated here.")) is None


def test_an_article_years_later_than_a_story_is_penalised() -> None:
    with_years, without = StoryClusterer(), StoryClusterer(year_penalty=1.0)
    for c in (with_years, without):
        c.assign(PATCH_2008)
    later, plain = with_years.assign(PATCH_2013), without.assign(PATCH_2013)
    assert plain.similarity > 0 and abs(later.similarity - 0.7 * plain.similarity) < 1e-3
    # an older article is not penalised: a follow-up's background years are earlier, not later
    old_first, old_plain = StoryClusterer(), StoryClusterer(year_penalty=1.0)
    old_first.assign(PATCH_2013)
    old_plain.assign(PATCH_2013)
    assert old_first.assign(PATCH_2008).similarity == old_plain.assign(PATCH_2008).similarity


STREAM = [
    QUAKE_A1,
    RATES,
    QUAKE_A2,
    Article(
        "c2",
        "Central bank rate decision: economists expected a hold",
        "Economists had expected the central bank to keep its benchmark interest rate unchanged as inflation slows.",
        published=T0 + timedelta(days=2, hours=3),
    ),
    QUAKE_B,
    Article(
        "a3",
        "Kelantan earthquake: Tanah Merah death toll reaches 23",
        "The death toll from the magnitude 6.1 earthquake in Tanah Merah, Kelantan, reached 23 on Friday.",
        published=T0 + timedelta(days=3),
    ),
    Article(
        "b2",
        "Chile quake near Copiapo caused no damage, Atacama officials say",
        "Officials in Atacama said Thursday's magnitude 5.8 earthquake near Copiapo caused no damage in Caldera.",
        published=T0 + timedelta(days=3, hours=2),
    ),
    Article(
        "d1",
        "Storm closes ports in Brittany",
        "Ferries between Roscoff and Plymouth were cancelled as a storm closed ports across Brittany.",
        published=T0 + timedelta(days=3, hours=5),
    ),
]


def _run(c: StoryClusterer, articles: list[Article]) -> list[tuple[str, str, bool, float]]:
    return [(a.article_id, a.story, a.new_story, a.similarity) for a in map(c.assign, articles)]


def test_restored_state_continues_exactly_like_the_uninterrupted_engine() -> None:
    index = MemoryStoryIndex()
    live = StoryClusterer(index=index)
    _run(live, STREAM[:4])
    saved = json.dumps(state_to_json(live.state()))  # what a store would keep
    restored = StoryClusterer(index=copy.deepcopy(index))  # the index persists on its own
    restored.restore(state_from_json(json.loads(saved)))
    expected, got = _run(live, STREAM[4:]), _run(restored, STREAM[4:])
    assert got == expected
    assert {s for _, s, new, _ in expected if new}  # the continuation does start new stories
    assert state_to_json(restored.state()) == state_to_json(live.state())


def test_stories_restored_one_by_one_keep_their_ids_and_new_ones_do_not_collide() -> None:
    index = MemoryStoryIndex()
    live = StoryClusterer(index=index)
    placed = _run(live, STREAM[:4])
    rows = {sid: json.dumps(story_to_json(live.story_state(sid) or _missing(sid))) for _, sid, _, _ in placed}
    restored = StoryClusterer(index=copy.deepcopy(index))
    restored.df.restore(live.df.state())
    for sid in dict.fromkeys(s for _, s, _, _ in placed):  # least recently grown first, as stored
        restored.restore_story(story_from_json(json.loads(rows[sid])))
    assert _run(restored, STREAM[4:]) == _run(live, STREAM[4:])
    assert live.story_state("no-such-story") is None


def _missing(sid: str) -> StoryState:
    raise AssertionError(f"story {sid} has no state")


def test_unreadable_states_are_refused_in_one_line() -> None:
    c = StoryClusterer()
    c.assign(QUAKE_A1)
    good = state_to_json(c.state())
    for bad, message in (
        ({**good, "version": 99}, "version 99"),
        ({k: v for k, v in good.items() if k != "df"}, "missing df"),
        ({**good, "stories": [{**good["stories"][0], "members": []}]}, "1 articles but 0 members"),
        ({**good, "stories": [{**good["stories"][0], "centroid": ["x"]}]}, "term vector"),
        ([], "expected an object"),
    ):
        with pytest.raises(StateError, match=message) as err:
            state_from_json(bad)
        assert "\n" not in str(err.value)


def test_article_numbers_are_the_stated_numbers_but_not_years() -> None:
    counts = term_counts(
        "Magnitude 6.1 quake kills 14",
        "The 43-year-old mayor said 1,200 homes were damaged on May 3 at 06:00, as in 2004.",
    )
    assert article_numbers(counts) == {"6.1", "14", "43-year-old", "1,200", "3", "06:00"}
    assert article_numbers(term_counts("Central bank holds rates", "No figures in 2013.")) == frozenset()


def test_an_article_sharing_no_number_with_a_story_is_penalised() -> None:
    on, off = StoryClusterer(), StoryClusterer(number_penalty=1.0)
    for c in (on, off):
        c.assign(QUAKE_A1)  # 6.1, 14, 230
    same_on, same_off = on.assign(QUAKE_A2), off.assign(QUAKE_A2)  # repeats 6.1: no penalty
    assert same_on.similarity == same_off.similarity > 0.25
    other = Article("b9", QUAKE_B.title, QUAKE_B.text, published=QUAKE_A2.published)  # 5.8 only
    other_on, other_off = on.assign(other), off.assign(other)
    assert other_off.similarity > 0
    assert abs(other_on.similarity - 0.8 * other_off.similarity) < 1e-3
    # a text without numbers is not evidence either way
    bare = Article("a9", "Rescuers search Tanah Merah rubble in Kelantan", "Rescuers searched the rubble.")
    bare_on, bare_off = on.assign(bare), off.assign(bare)
    assert bare_on.similarity == bare_off.similarity > 0


def test_the_number_penalty_grows_with_the_numbers_both_sides_state() -> None:
    on, off = StoryClusterer(), StoryClusterer(number_penalty=1.0)
    for c in (on, off):
        c.assign(QUAKE_A1)  # 6.1, 14, 230
    # another quake in the same town stating four numbers, none of the story's three: 0.8 ** sqrt(3)
    other = Article(
        "b8",
        "Magnitude 5.2 earthquake kills 3 in Kelantan, Malaysia",
        "A magnitude 5.2 earthquake struck Kelantan state in northern Malaysia, killing 3 people in the town "
        "of Tanah Merah and injuring 41 on March 9, the national disaster agency said.",
        published=QUAKE_A2.published,
    )
    assert article_numbers(term_counts(other.title, other.text)) == {"5.2", "3", "41", "9"}
    other_on, other_off = on.assign(other), off.assign(other)
    assert other_off.similarity > 0.25
    assert abs(other_on.similarity - 0.8 ** (3**0.5) * other_off.similarity) < 1e-3
