"""Online story clustering: same event joins, a similar event starts a new story, bounded lookups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.changes.stories import (
    Article,
    DocFrequency,
    MemoryStoryIndex,
    StoryClusterer,
    term_counts,
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
    text = "First one. Second one!\nThird line \"quoted.\" Fourth."
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == sentences(text)
    assert sentences(text)[0] == "First one."


def test_abbreviations_and_initials_do_not_end_sentences() -> None:
    text = 'Mrs. Abbott met Dr. J. R. Smith in the U.S. Senate on Jan. 5. "It went well." He left.'
    first = "Mrs. Abbott met Dr. J. R. Smith in the U.S. Senate on Jan. 5."
    assert sentences(text) == [first, '"It went well."', "He left."]
