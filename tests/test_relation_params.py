"""The relation model's numbers: one documented record in the weights file, used everywhere."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re

import pytest

from monitor.models import Document, Seed
from monitor.score import build_scorer
from monitor.score.features import Feature
from monitor.score.relation import RelationParams, build_relation
from monitor.score.relation import params as params_module
from monitor.score.weights import WEIGHTS_FILE, Weights, default_weights

SEEDS = [
    Seed(name="a", text="Dockworkers strike at the container port over automation and wages."),
    Seed(name="b", text="The dockworkers union extends its strike; container ships queue outside the port."),
    Seed(name="c", text="Port automation talks fail as the dockworkers strike enters a second week."),
]
DOC = Document(
    id="d",
    title="Container port strike",
    text="Dockworkers walked out again over automation. Ships waited at the port while the union met.",
)


def _committed() -> dict[str, object]:
    return dict(json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))["relation"])


def test_the_record_is_the_committed_section() -> None:
    rel = default_weights().relation
    assert rel.to_json() == _committed()
    assert [f.name for f in dataclasses.fields(RelationParams)] == list(_committed())  # same order


def test_every_field_says_what_kind_of_number_it_is() -> None:
    source = inspect.getsource(params_module.RelationParams)
    for f in dataclasses.fields(RelationParams):
        line = re.search(rf"^\s+{f.name}: (int|float)  # (\w[\w-]*): \S", source, re.M)
        assert line is not None, f.name
        assert line.group(2) in {"convention", "hand-set", "derivation"}, f.name


def test_a_refit_keeps_the_relation_section() -> None:
    # tools/fit_weights.py builds a new Weights from the fitted combination alone
    refit = Weights(coef={Feature.LEX_NEAREST: 1.0}, intercept=-1.0, threshold=0.5)
    assert refit.to_json()["relation"] == _committed()
    assert Weights.from_json(refit.to_json()).relation == default_weights().relation


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("w_conj"), "missing"),
        (lambda d: d.update(w_bogus=1.0), "unknown"),
        (lambda d: d.update(window_sentences=2.5), "not an integer"),
    ],
)
def test_a_bad_section_is_refused_with_a_clear_message(change: object, message: str) -> None:
    data = _committed()
    change(data)  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        RelationParams.from_json(data)


def test_the_scorer_uses_its_own_record() -> None:
    w = default_weights()
    base = build_scorer(SEEDS).relation.score(DOC)
    assert build_relation(SEEDS, params=w.relation).score(DOC) == base
    short = dataclasses.replace(w.relation, explain_terms=1, explain_sentence_chars=12)
    s = build_scorer(SEEDS, weights=dataclasses.replace(w, relation=short)).relation.score(DOC)
    assert len(base.terms) > 1 and len(s.terms) == 1
    assert len(s.sentence) == 12 < len(base.sentence)


def test_the_numbers_shape_the_value() -> None:
    w = default_weights().relation
    base = build_relation(SEEDS, params=w)
    looser = build_relation(SEEDS, params=dataclasses.replace(w, theme_z_divisor=4 * w.theme_z_divisor))
    assert looser.score(DOC).value > base.score(DOC).value  # a smaller normaliser: more of the theme counts
    assert looser.threshold != base.threshold  # the threshold is derived with the same numbers
