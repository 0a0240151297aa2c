"""The adapted threshold (score/feedback.py): the F-beta the default threshold is fitted by,
over the judged documents, nearest the default on ties."""

from __future__ import annotations

import pytest

from monitor.score.feedback import adapted_threshold, f_beta


def test_f_beta_weighs_recall_by_beta() -> None:
    # precision 1/2, recall 1: F1 = 2/3, F-beta leans to the recall as beta grows
    assert f_beta(1, 1, 1, 1.0) == pytest.approx(2 / 3)
    assert f_beta(1, 1, 1, 2.0) == pytest.approx(5 * 0.5 / (4 * 0.5 + 1))
    assert f_beta(0, 3, 2, 1.5) == 0.0


def test_threshold_rises_above_irrelevant_documents_that_cost_no_recall() -> None:
    scored = [(0.10, False), (0.12, False), (0.40, True), (0.50, True)]
    th = adapted_threshold(scored, base=0.05, span=0.5, beta=1.5)
    assert 0.12 < th <= 0.40


def test_recall_leaning_criterion_keeps_a_relevant_document_a_utility_would_drop() -> None:
    # one relevant document among irrelevant ones at the bottom: +1/-1 utility would cut it
    # off (gain 2 for losing 1 relevant); F-beta with beta 1.5 keeps it (recall weighs more)
    scored = [(0.10, False), (0.11, True), (0.12, False), (0.13, False)] + [(0.5 + i / 100, True) for i in range(4)]
    utility_cut = max((sum(1 if r else -1 for v, r in scored if v >= t), t) for t, _r in scored)[1]
    assert utility_cut > 0.11
    assert 0.10 < adapted_threshold(scored, base=0.05, span=0.5, beta=1.5) <= 0.11
    assert adapted_threshold(scored, base=0.05, span=0.5, beta=0.5) > 0.13


def test_threshold_stays_within_the_span_and_at_the_default_without_relevant_judgments() -> None:
    scored = [(0.9, False), (0.95, True)]
    assert adapted_threshold(scored, base=0.05, span=0.1, beta=1.5) == 0.05
    assert adapted_threshold([(0.3, False), (0.6, False)], base=0.05, span=0.5, beta=1.5) == 0.05
    assert adapted_threshold([], base=0.05, span=0.5, beta=1.5) == 0.05


def test_few_judgments_move_the_threshold_little_many_move_it_to_the_best_cut() -> None:
    few = [(0.10, False), (0.40, True)]
    many = few * 50  # the same evidence, 100 judgments
    best = adapted_threshold(many, base=0.05, span=0.5, beta=1.5)
    assert 0.10 < best <= 0.40
    shrunk_few = adapted_threshold(few, base=0.05, span=0.5, beta=1.5, prior=100)
    shrunk_many = adapted_threshold(many, base=0.05, span=0.5, beta=1.5, prior=100)
    assert shrunk_few == pytest.approx(0.05 + (best - 0.05) * 2 / 102)
    assert shrunk_many == pytest.approx(0.05 + (best - 0.05) / 2)
