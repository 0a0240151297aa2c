"""The offline contracts through the CLI: `monitor cluster`, `monitor diff`, `monitor eval --stories/--revisions`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli

FIXTURES = Path(__file__).parent / "fixtures" / "changes"
QUAKE = (
    "A magnitude 6.1 earthquake struck Kelantan state in northern Malaysia on Tuesday, killing at least 14 "
    "people in the town of Tanah Merah and injuring 230, the national disaster agency said. Rescue teams "
    "worked through the night in collapsed shophouses."
)


def _run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.stdout, res.stderr


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_cluster_contract(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [
        {"id": "1", "title": "Quake kills 14 in Kelantan", "text": QUAKE, "url": "https://a.example/q?utm_source=x"},
        {"id": "2", "title": "Kelantan earthquake", "text": "AFP - " + QUAKE, "url": "https://b.example/k",
         "feed": "B"},
        {"id": "3", "title": "Central bank holds rates", "text": "The central bank left rates unchanged.",
         "published": "2026-11-20T10:00:00Z"},
        {"id": "4", "title": "Quake kills 14 in Kelantan", "url": "https://amp.a.example/amp/q"},
    ]
    out = tmp_path / "out.jsonl"
    code, _, err = _run("cluster", "--input", str(_write_jsonl(tmp_path / "in.jsonl", rows)), "--output", str(out))
    assert code == 0, err
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["id"] for g in got] == ["1", "2", "3", "4"]
    assert all(set(g) == {"id", "story", "new_story", "duplicate_of"} for g in got)
    assert got[0]["new_story"] and got[0]["duplicate_of"] is None
    assert got[1]["duplicate_of"] == "1" and got[1]["story"] == got[0]["story"] and not got[1]["new_story"]
    assert got[2]["new_story"] and got[2]["story"] != got[0]["story"]
    assert got[3]["duplicate_of"] == "1"  # same URL through AMP


def test_cluster_to_stdout_and_bad_input(tmp_path: Path) -> None:
    good = _write_jsonl(tmp_path / "in.jsonl", [{"id": "x", "title": "Hello world"}])
    code, out, _ = _run("cluster", "--input", str(good), "--output", "-")
    assert code == 0 and json.loads(out)["id"] == "x"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "title": "ok"}\n{not json\n', encoding="utf-8")
    code, _, err = _run("cluster", "--input", str(bad))
    assert code == 2 and err.startswith("monitor: error:") and "bad.jsonl:2" in err and len(err.splitlines()) == 1
    code, _, err = _run("cluster", "--input", str(_write_jsonl(tmp_path / "noid.jsonl", [{"title": "x"}])))
    assert code == 2 and "id" in err
    dated = _write_jsonl(tmp_path / "dated.jsonl", [{"id": "d", "title": "x", "published": "last Tuesday"}])
    code, _, err = _run("cluster", "--input", str(dated))
    assert code == 2 and "bad published 'last Tuesday'" in err and len(err.splitlines()) == 1
    code, _, err = _run("cluster", "--input", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "missing.jsonl" in err


def test_diff_contract_json_md_html(tmp_path: Path) -> None:
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text("Officials said 14 people died. Rescue continues.\n", encoding="utf-8")
    new.write_text("Officials said 31 people died. Rescue continues. The <army> was sent.\n", encoding="utf-8")
    code, out, _ = _run("diff", str(old), str(new))
    assert code == 0
    d = json.loads(out)
    assert set(d) == {"material", "significance", "summary", "changes"}
    assert d["material"] is True and 0.5 <= d["significance"] <= 1.0
    assert {c["op"] for c in d["changes"]} == {"changed", "added"}
    assert all(set(c) == {"op", "before", "after"} for c in d["changes"])
    code, out, _ = _run("diff", str(old), str(new), "--format", "md")
    assert code == 0 and "- Officials said 14 people died." in out and "+ The <army> was sent." in out
    code, out, _ = _run("diff", str(old), str(new), "--format", "html")
    assert code == 0 and "<ins>The &lt;army&gt; was sent.</ins>" in out and "<del>14 </del>" in out


def test_diff_minor_and_missing_file(tmp_path: Path) -> None:
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text("Updated 08:14 GMT\nOfficials said 14 people died.\n", encoding="utf-8")
    new.write_text("Updated 09:30 GMT\nOfficials said 14 people died.\n", encoding="utf-8")
    code, out, _ = _run("diff", str(old), str(new))
    assert code == 0 and json.loads(out)["material"] is False
    code, _, err = _run("diff", str(old), str(tmp_path / "nope.txt"))
    assert code == 2 and "nope.txt" in err


@pytest.mark.slow
def test_eval_stories_on_fixture_slice() -> None:
    code, out, err = _run("eval", "--stories", str(FIXTURES / "ecbplus_slice.jsonl"), "--format", "json")
    assert code == 0, err
    s = json.loads(out)["stories"]
    assert s["articles"] == 71 and s["stories"] == 6 and s["orders"] == 3
    for run in (s["clusterer"], s["baseline"]):
        assert 0.0 <= run["bcubed_p"] <= 1.0 and 0.0 <= run["bcubed_f1"] <= 1.0 and 0.0 <= run["new_false"] <= 1.0
    assert s["clusterer"]["bcubed_f1"] > 0.8  # these three topics' events are told apart
    assert len(s["cross_validation"]["folds"]) == 2


def test_eval_revisions_on_fixture_slice() -> None:
    code, out, err = _run("eval", "--revisions", str(FIXTURES / "iterater_slice.jsonl"))
    assert code == 0, err
    assert out.startswith("revisions: 16 (10 material)")
    assert "significance   AUC" in out and "changed words  AUC" in out and "edit-span coverage" in out


def test_eval_needs_some_input(tmp_path: Path) -> None:
    code, _, err = _run("eval")
    assert code == 2 and "--items" in err
    bad = _write_jsonl(tmp_path / "s.jsonl", [{"id": "1", "title": "no story"}])
    code, _, err = _run("eval", "--stories", str(bad))
    assert code == 2 and "missing story" in err
