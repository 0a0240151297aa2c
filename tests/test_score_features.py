"""Unit tests of the seed-derived lexical features (score/features.py, score/lexical.py)."""

from __future__ import annotations

import pytest

from monitor.score.features import LexicalProfile, present_agreement, year_agreement
from monitor.score.lexical import names_in, read


def _profile(*texts: str) -> LexicalProfile:
    readings = tuple(read("", t, 2.0, 3.0) for t in texts)
    return LexicalProfile.of(tuple(f"s{i}" for i in range(len(texts))), readings)


def test_years_are_four_digit_numbers_read_as_years() -> None:
    r = read("Coach fired in 2008", "The 2007-08 season; 9-14 record; 3000 fans; 1985 arms.", 2.0, 3.0)
    assert r.years == frozenset({"#2008", "#2007", "#1985"})


def test_year_agreement_shared_contradicted_or_silent() -> None:
    seeds = {"#2005": 1.0, "#1985": 0.25}
    assert year_agreement(seeds, 1.0, frozenset({"#2005", "#2010"})) == 1.0
    assert year_agreement(seeds, 1.0, frozenset({"#1985"})) == 0.25
    assert year_agreement(seeds, 1.0, frozenset({"#2008"})) == -1.0  # the seeds' year is 2005
    assert year_agreement(seeds, 0.0, frozenset({"#2008"})) == 0.0  # seeds agree on no year
    assert year_agreement(seeds, 1.0, frozenset()) == 0.0
    assert year_agreement({}, 0.0, frozenset({"#2008"})) == 0.0  # seeds that name no year


def test_profile_years_are_shares_of_seeds() -> None:
    p = _profile("Sixers fire O'Brien, May 2005.", "Cheeks named coach in 2005.", "Cheeks returns.", "Cheeks.")
    assert p.years == {"#2005": 0.5}
    assert p.story_year == 0.5


def test_seeds_spread_over_years_have_no_story_year() -> None:
    p = _profile("Ties revived in 2017 and 2023.", "Arms bought in 1985, 2017.", "Talks in 2011 and 2012.")
    assert p.story_year == 0.0
    assert _profile("Talks in 2011.", "More talks in 2011, after 2009.", "No year here.").story_year == pytest.approx(
        2 / 3
    )


def test_seeds_present_is_the_latest_year_they_all_name() -> None:
    p = _profile(
        "Cheeks, an assistant since 2001, named coach in May 2005.",
        "Hired in 2005 after O'Brien's one season; Cheeks played from 1978 to 1989 and coached since 2001.",
        "Cheeks named coach.",
    )
    assert p.present == "#2005"  # 2001 is shared too, but it is the past the story recalls
    assert p.present_share == pytest.approx(2 / 3)
    spread = _profile("Ties revived in 2017.", "Arms bought in 1985.", "Talks in 2023.")
    assert spread.present == "" and spread.present_share == 0.0


def test_present_agreement_same_later_earlier_or_silent() -> None:
    assert present_agreement("#2005", 0.5, frozenset({"#1983", "#2005"})) == 0.5
    assert present_agreement("#2005", 0.5, frozenset({"#2005", "#2008"})) == -0.5  # a later story
    assert present_agreement("#2005", 0.5, frozenset({"#2003"})) == 0.0  # recalls the past only
    assert present_agreement("#2005", 0.5, frozenset()) == 0.0
    assert present_agreement("", 0.0, frozenset({"#2008"})) == 0.0  # seeds agree on no year


def test_names_with_a_prefix_inner_capitals_or_joined_parts_are_read() -> None:
    text = "He said Jim O'Brien met Ronald McDonald, Obama's aide and a Kremlin-linked man at the Jean-Pierre hall."
    assert names_in(text) == {"jim", "brien", "ronald", "mcdonald", "obama", "kremlin", "jean", "pierre"}
    # a capital that opens a sentence is no evidence of a name
    assert names_in("Fired. Coach O'Brien left.") == {"brien"}
