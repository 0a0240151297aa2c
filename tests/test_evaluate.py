"""Evaluation metrics and the eval run on tiny synthetic files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.evaluate import (
    average_precision,
    format_report,
    metrics,
    precision_at_recall,
    run_eval,
)
from monitor.models import Seed


def test_average_precision_hand_computed() -> None:
    # relevant at ranks 1, 3: (1/1 + 2/3) / 2
    assert average_precision([True, False, True, False]) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([False, False]) == 0.0
    assert average_precision([True]) == 1.0


def test_precision_at_recall_hand_computed() -> None:
    # grades in rank order; 4 grade-2 items, 0.85 recall needs ceil(3.4) = 4 of them
    grades = [2, 1, 2, 0, 2, 0, 0, 2, 1]
    # the 4th grade-2 is at rank 8; grade >= 1 among the first 8: 2,1,2,2,2 = 5
    assert precision_at_recall(grades) == pytest.approx(5 / 8)
    assert precision_at_recall([0, 1]) == 0.0


def test_metrics_threshold_and_tdt() -> None:
    rows = [  # (score, match, grade)
        (0.9, True, 2),
        (0.8, True, 0),
        (0.7, True, 1),
        (0.4, False, 2),
        (0.1, False, 0),
    ]
    m = metrics(rows)
    assert m["R2"] == pytest.approx(0.5)
    assert m["P1"] == pytest.approx(2 / 3)
    # P_miss = 1/2; non-targets = 3, false alarms (matched, grade < 2) = 2
    assert m["TDT"] == pytest.approx(0.5 + 4.9 * 2 / 3)
    assert m["AP2"] == pytest.approx((1 + 2 / 4) / 2)
    assert m["AP1"] == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)


SEEDS = [
    Seed(
        name="a.txt",
        text="Russia and Mali signed a military cooperation deal. Russian "
        "instructors will train Mali's army and deliver weapons to Mali.",
    ),
    Seed(
        name="b.txt",
        text="North Korea and Burkina Faso discussed arms sales. North Korea "
        "may supply weapons to Burkina Faso's military government.",
    ),
]


def _write(tmp_path: Path) -> tuple[Path, Path]:
    items = [
        {
            "id": "1",
            "date": "2023-01-02",
            "language": "en-US",
            "title": "Russia sends weapons to Mali",
            "summary": "Russian arms reach Mali's army.",
        },
        {
            "id": "2",
            "date": "2023-01-01",
            "language": "en-GB",
            "title": "Garden show opens",
            "summary": "Flowers and roses in the city park.",
        },
        {"id": "3", "date": "2023-01-03", "language": "pl-PL", "title": "Pogoda", "summary": "Jutro deszcz."},
        {
            "id": "4",
            "date": "2023-01-04",
            "language": "en",
            "title": "North Korea arms for Burkina Faso",
            "summary": "A weapons deal was signed.",
        },
        {"id": "5", "date": "2023-01-05", "language": "en", "title": "Unlabelled story", "summary": "Nothing here."},
    ]
    ip = tmp_path / "items.jsonl"
    ip.write_text("\n".join(json.dumps(i) for i in items) + "\n", encoding="utf-8")
    lp = tmp_path / "labels.tsv"
    lp.write_text("id\tgrade\n1\t2\n2\t0\n3\t0\n4\t2\n", encoding="utf-8")
    return ip, lp


def test_run_eval_report_and_decisions(tmp_path: Path) -> None:
    ip, lp = _write(tmp_path)
    out = tmp_path / "dec.jsonl"
    rep = run_eval(ip, lp, SEEDS, decisions_path=out)
    assert rep["labelled"] == 4
    proj = rep["systems"]["project"]
    assert set(proj) == {"all", "en", "pl"}
    assert proj["all"]["n"] == 4 and proj["en"]["n"] == 3 and proj["pl"]["n"] == 1
    assert proj["all"]["R2"] == 1.0 and proj["all"]["AP2"] == 1.0
    assert set(rep["systems"]) == {"project", "keyword", "tfidf"}
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["id"] for x in lines] == ["2", "1", "3", "4", "5"]  # date order, all items
    assert all(set(x) == {"id", "score", "match"} for x in lines)
    text = format_report(rep, "text")
    assert "project" in text and "AP2" in text
    assert json.loads(format_report(rep, "json"))["labelled"] == 4


def test_run_eval_language_filter_and_feedback(tmp_path: Path) -> None:
    ip, lp = _write(tmp_path)
    rep = run_eval(ip, lp, SEEDS, lang="en", feedback=True)
    assert rep["labelled"] == 3
    assert set(rep["systems"]["project"]) == {"all", "en"}
    # only matched, labelled items are revealed
    assert rep["revealed"] == rep["revealed_relevant"] == 2
    with pytest.raises(ValueError):
        format_report(rep, "xml")
