"""`monitor eval --tasks`: many tracking tasks in one run (small written corpus, real scorer)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from monitor.cli import cli
from monitor.evaluate_tasks import format_tasks_report, run_tasks

QUAKE = [
    (
        "q1",
        "Strong earthquake shakes Sulawesi",
        "A magnitude 7.5 earthquake struck central Sulawesi, Indonesia, "
        "collapsing buildings in Palu and triggering a tsunami warning, officials said.",
    ),
    (
        "q2",
        "Tsunami hits Palu after Sulawesi quake",
        "Waves up to three metres hit Palu on Sulawesi after the "
        "magnitude 7.5 earthquake; rescuers searched collapsed hotels and a mall.",
    ),
    (
        "q3",
        "Death toll rises in Palu earthquake",
        "Indonesia's disaster agency said the death toll from the "
        "Sulawesi earthquake and tsunami in Palu rose above 800 as aid reached the city.",
    ),
    (
        "q4",
        "Aid arrives in quake-hit Palu",
        "Military planes brought water and food to Palu, where the "
        "earthquake and tsunami on Sulawesi left thousands homeless, Indonesian officials said.",
    ),
    (
        "q5",
        "Palu survivors wait for help after Sulawesi tsunami",
        "Survivors of the Sulawesi earthquake in "
        "Palu queued for fuel and water as the death toll from the tsunami kept rising, Indonesia said.",
    ),
]
OTHER = [
    ("n1", "Central bank raises rates", "The central bank raised interest rates by half a point to curb inflation."),
    ("n2", "Club wins the cup final", "The home side won the cup final 2-1 after extra time in front of 80,000 fans."),
    ("n3", "New phone goes on sale", "The company's new phone went on sale on Friday with a larger screen."),
    ("n4", "Wahlen in Deutschland", "Die Wähler in Deutschland stimmen am Sonntag über ein neues Parlament ab."),
]


def _corpus(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "stories.jsonl").write_text(
        "".join(json.dumps({"id": i, "title": t, "text": x}) + "\n" for i, t, x in QUAKE), encoding="utf-8"
    )
    (tmp_path / "news.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "id": i,
                    "title": t,
                    "summary": x,
                    "language": "de" if i == "n4" else "en-US",
                    "date": "2023-01-0" + i[1],
                }
            )
            + "\n"
            for i, t, x in OTHER
        ),
        encoding="utf-8",
    )
    tasks = tmp_path / "tasks.jsonl"
    both = ["stories.jsonl", "news.jsonl"]
    lines = [
        {"task": "quake", "items": both, "lang": "en", "seeds": ["q1", "q2", "q3"], "grades": {"q4": 2, "q5": 2}},
        {"task": "missing-seed", "items": both, "lang": "en", "seeds": ["q1", "nope"], "grades": {}},
    ]
    tasks.write_text("".join(json.dumps(t) + "\n" for t in lines), encoding="utf-8")
    return tasks, tmp_path


def test_tasks_are_scored_and_summarised(tmp_path: Path) -> None:
    tasks, corpus = _corpus(tmp_path)
    report = run_tasks(tasks, corpus, workers=1)
    assert report["tasks"] == 2
    assert report["refused"] == [{"task": "missing-seed", "error": "seed item not found: nope"}]
    (quake,) = [r for r in report["per_task"] if r["task"] == "quake"]
    project = quake["systems"]["project"]
    # the two held-out reports of the same quake rank above the unrelated news; the German
    # item is left out by the task's language; seeds are not among the ranked items
    assert project["n"] == 5 and project["n_grade2"] == 2
    assert project["AP2"] == 1.0 and project["R2"] == 1.0
    assert report["means"]["project"]["AP2"] == project["AP2"]
    assert report["worst"]["project"] == {"task": "quake", "AP2": 1.0}
    assert set(quake["systems"]) == {"project", "keyword", "tfidf"}
    text = format_tasks_report(report, "text")
    assert "missing-seed" in text and "refused: seed item not found: nope" in text and "MEAN" in text


def test_tasks_in_worker_processes_match_one_process(tmp_path: Path) -> None:
    tasks, corpus = _corpus(tmp_path)
    one = run_tasks(tasks, corpus, workers=1)
    two = run_tasks(tasks, corpus, workers=2)
    assert one["per_task"] == two["per_task"]


def test_tasks_cli_and_errors(tmp_path: Path) -> None:
    tasks, corpus = _corpus(tmp_path)
    out = CliRunner().invoke(cli, ["eval", "--tasks", str(tasks), "--corpus", str(corpus), "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["tasks"] == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task": "x", "items": ["nothere.jsonl"], "seeds": [], "grades": {}}\n', encoding="utf-8")
    out = CliRunner().invoke(cli, ["eval", "--tasks", str(bad), "--corpus", str(corpus)])
    assert out.exit_code == 2
    assert "items file not found" in out.output and "Traceback" not in out.output
    bad.write_text("not json\n", encoding="utf-8")
    out = CliRunner().invoke(cli, ["eval", "--tasks", str(bad), "--corpus", str(corpus)])
    assert out.exit_code == 2 and "not JSON" in out.output
