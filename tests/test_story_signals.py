"""Unit tests of the event-evidence factors (pure functions)."""

from __future__ import annotations

import math

from monitor.changes.story_signals import NUMBER_CAP, NUMBER_PENALTY, number_factor


def test_no_numbers_on_either_side_is_no_evidence() -> None:
    assert number_factor(frozenset(), {"14", "6.1"}) == 1.0
    assert number_factor(frozenset({"14"}), {}) == 1.0


def test_a_shared_number_is_no_conflict() -> None:
    assert number_factor(frozenset({"14", "230", "6.1"}), {"6.1": None, "9": None}) == 1.0


def test_the_factor_grows_with_the_numbers_both_sides_state_and_stops_at_the_cap() -> None:
    story = {str(n) for n in range(500, 520)}  # a story that has stated twenty numbers
    one = number_factor(frozenset({"52-3"}), story)
    four = number_factor(frozenset({"52-3", "46", "45-7-2", "36"}), story)
    assert one == NUMBER_PENALTY
    assert math.isclose(four, NUMBER_PENALTY**2)
    many = frozenset(str(n) for n in range(100, 100 + NUMBER_CAP + 5))
    capped = frozenset(str(n) for n in range(100, 100 + NUMBER_CAP))
    assert number_factor(many, story) == number_factor(capped, story) == NUMBER_PENALTY ** math.sqrt(NUMBER_CAP)
    assert 0.0 < number_factor(many, story) < four < one < 1.0


def test_the_side_stating_fewer_numbers_bounds_the_evidence() -> None:
    # nine numbers (captions, background dates) against a story that has stated one: weak evidence
    nine = frozenset(str(n) for n in range(100, 109))
    assert number_factor(nine, {"50"}) == NUMBER_PENALTY
    assert number_factor(frozenset({"7"}), nine) == NUMBER_PENALTY
    assert math.isclose(number_factor(nine, {"1", "2", "3", "4"}), NUMBER_PENALTY**2)


def test_a_penalty_of_one_turns_the_rule_off() -> None:
    assert number_factor(frozenset({"1", "2", "3"}), {"4"}, penalty=1.0) == 1.0
