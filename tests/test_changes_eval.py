"""Evaluation metrics of the change engines, hand-computed, and the stream orders."""

from __future__ import annotations

import pytest

from monitor.changes.evaluate import (
    auc,
    bcubed,
    changed_regions,
    changed_words,
    new_story_rates,
    pairwise_f1,
    precision_at_recall,
    span_covered,
    stream_order,
)
from monitor.changes.versions import Change


def test_bcubed_hand_computed() -> None:
    gold = ["a", "a", "b", "b"]
    pred = ["x", "x", "x", "y"]
    p, r, f = bcubed(gold, pred)
    # precision: items 1-3 in a cluster of 3 with 2,2,1 same-gold → 2/3,2/3,1/3; item 4 → 1
    assert p == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1) / 4)
    # recall: a-items find both a's (1,1); b-items find 1 of 2 each
    assert r == pytest.approx((1 + 1 + 0.5 + 0.5) / 4)
    assert f == pytest.approx(2 * p * r / (p + r))
    assert bcubed(gold, gold) == (1.0, 1.0, 1.0)


def test_pairwise_and_new_story_rates() -> None:
    gold = ["a", "a", "b", "b"]
    assert pairwise_f1(gold, ["x", "x", "y", "y"]) == 1.0
    assert pairwise_f1(gold, ["x", "x", "x", "y"]) == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert new_story_rates(gold, [True, False, False, True]) == (0.5, 0.5)


def test_auc_and_precision_at_recall() -> None:
    assert auc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert auc([0.5, 0.5], [True, False]) == 0.5
    assert precision_at_recall([0.9, 0.8, 0.7, 0.1], [True, False, True, False], recall=1.0) == pytest.approx(2 / 3)


def test_changed_words_and_span_coverage() -> None:
    assert changed_words("a b c d", "a x c d e") == 2
    old = "a b c d. e f."
    ch = [Change("changed", "b c", "x c", (2, 5))]
    regions = changed_regions(ch, old)
    assert span_covered(2, 3, regions) and span_covered(5, 5, regions) and not span_covered(7, 8, regions)
    # two neighbouring changed sentences form one region: an edit across both is inside
    two = [Change("changed", "a b c d.", "", (0, 8)), Change("changed", "e f.", "", (9, 13))]
    assert changed_regions(two, old) == [(0, 13)] and span_covered(6, 11, changed_regions(two, old))


def test_stream_order_interleaves_but_keeps_each_story_in_order() -> None:
    rows = [{"id": f"{t}_{n}ecb", "story": t} for t in ("1", "2", "3") for n in (3, 1, 10, 2)]
    orders = [stream_order(rows, seed) for seed in (1, 2, 3)]
    assert len({tuple(r["id"] for r in o) for o in orders}) == 3  # seeds differ
    for o in orders:
        assert sorted(r["id"] for r in o) == sorted(r["id"] for r in rows)
        for t in ("1", "2", "3"):
            assert [r["id"] for r in o if r["story"] == t] == [f"{t}_{n}ecb" for n in (1, 2, 3, 10)]
    assert stream_order(rows, 1) == stream_order(rows, 1)


def test_stream_order_follows_publication_times() -> None:
    rows = [{"id": "b", "story": "s", "published": "2026-01-02"}, {"id": "a", "story": "t", "published": "2026-01-01"}]
    assert [r["id"] for r in stream_order(rows, 1)] == ["a", "b"]
