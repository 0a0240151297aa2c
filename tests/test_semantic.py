"""The optional semantic backend, with a pure fake embedder (no torch, no model)."""

from __future__ import annotations

import builtins
import hashlib
import math
import re
from typing import Any

import pytest

from monitor.errors import ConfigError
from monitor.models import Document, Score, Seed
from monitor.score import semantic
from monitor.score.semantic import SemanticScorer, load_embedder, semantic_available

DIM = 64


def fake_embed(texts: list[str]) -> list[list[float]]:
    """Bag-of-words hashing vectors: deterministic, and similar texts get similar vectors."""
    out = []
    for t in texts:
        v = [0.0] * DIM
        for w in re.findall(r"[a-z]+", t.lower()):
            if len(w) < 3:
                continue
            h = int(hashlib.sha1(w.encode()).hexdigest(), 16)
            v[h % DIM] += 1.0 if (h >> 8) % 2 else -1.0
        out.append(v)
    return out


class FakeLexical:
    """Lexical stand-in: share of the seeds' words in the document; threshold 0.3."""

    def __init__(self, seeds: list[Seed]) -> None:
        self.words = {w for s in seeds for w in re.findall(r"[a-z]{4,}", s.text.lower())}
        self.threshold = 0.3
        self.learned: list[tuple[str, bool]] = []

    def score(self, doc: Document) -> Score:
        ws = re.findall(r"[a-z]{4,}", (doc.title + " " + doc.text).lower())
        v = sum(w in self.words for w in ws) / len(ws) if ws else 0.0
        return Score(
            value=v,
            match=v >= self.threshold,
            nearest_seed="lexical-seed",
            facets=("who: A",),
            terms=("term",),
            sentence="best sentence",
        )

    def learn(self, doc: Document, relevant: bool) -> None:
        self.learned.append((doc.id, relevant))


SEEDS = [
    Seed(
        "a.txt",
        "Volcano eruption in Iceland forces evacuation of the fishing town as lava flows "
        "toward the harbour and geologists warn of further eruptions near the peninsula.",
    ),
    Seed(
        "b.txt",
        "Lava from the erupting volcano reached the road; seismologists recorded thousands "
        "of earthquakes and magma intrusion beneath the peninsula, residents evacuated.",
    ),
    Seed(
        "c.txt",
        "Geologists say the volcanic system on the peninsula may erupt for decades; the "
        "lava barriers built around the power plant held as magma flows continued.",
    ),
]

DOCS = [
    Document("d1", "New eruption on the peninsula", "Lava flows again near the evacuated town, geologists say."),
    Document("d2", "Football results", "The home team won the cup final after extra time and penalties."),
    Document("d3", "", ""),
    Document("d4", "Markets", "Shares fell as investors weighed interest rates and inflation data."),
    Document("d5", "Magma", "Seismologists recorded earthquakes as magma moved beneath the volcano."),
]


def make(weight: float = 0.3, **kw: Any) -> SemanticScorer:
    return SemanticScorer(FakeLexical(SEEDS), SEEDS, model="fake", weight=weight, embed=fake_embed, **kw)


def test_values_in_unit_interval_and_deterministic() -> None:
    for w in (0.0, 0.3, 0.7, 1.0):
        a, b = make(w), make(w)
        for d in DOCS:
            sa, sb = a.score(d), b.score(d)
            assert 0.0 <= sa.value <= 1.0
            assert sa == sb
            assert sa.match == (sa.value >= a.threshold)
        assert 0.0 <= a.threshold <= 1.0


def test_weight_zero_is_lexical_and_threshold_fused_consistently() -> None:
    lex = FakeLexical(SEEDS)
    s0 = SemanticScorer(lex, SEEDS, model="fake", weight=0.0, embed=fake_embed)
    assert s0.threshold == pytest.approx(lex.threshold)
    for d in DOCS:
        assert s0.score(d).value == pytest.approx(lex.score(d).value, abs=1e-6)
    s = make(0.4)
    assert s.threshold == pytest.approx(0.6 * 0.3 + 0.4 * 0.5)


def test_seeds_own_texts_match_and_off_topic_does_not() -> None:
    s = make(0.3)
    for seed in SEEDS:
        sc = s.score(Document(seed.name, "", seed.text))
        assert sc.match, (seed.name, sc.value, s.threshold)
        assert sc.nearest_seed == seed.name  # nearest seed from the embedding: itself
    assert s.score(DOCS[0]).match
    assert not s.score(DOCS[1]).match
    assert not s.score(DOCS[3]).match
    assert s.score(DOCS[0]).value > s.score(DOCS[1]).value


def test_calibration_from_seeds_and_background() -> None:
    s = make(0.3)
    assert s.pos_median > s.bg_p99
    assert s.midpoint >= s.bg_p99 + semantic.BG_MARGIN
    assert s.semantic(Document("x", "", SEEDS[0].text))[0] > 0.9
    # the background itself sits low on the calibrated scale
    bg = semantic._background_texts(5)
    assert all(s.semantic(Document("b", "", t))[0] < 0.5 for t in bg)


def test_explanation_fields_kept_from_lexical() -> None:
    sc = make().score(DOCS[0])
    assert sc.facets == ("who: A",) and sc.terms == ("term",) and sc.sentence == "best sentence"
    assert sc.nearest_seed in {s.name for s in SEEDS}


def test_unread_language_is_neutral() -> None:
    s = make(0.5, languages={"en"})
    lex = FakeLexical(SEEDS)
    d = Document("pl", "Wybuch wulkanu", "Lawa płynie w stronę miasta.", language="pl-PL")
    v = s.score(d)
    assert s.semantic(d) == (0.5, "")
    assert v.value == pytest.approx(0.5 * lex.score(d).value + 0.25, abs=1e-6)
    assert v.match == (lex.score(d).value >= lex.threshold)
    assert v.nearest_seed == "lexical-seed"


def test_learn_feeds_lexical_and_adapts_threshold() -> None:
    s = make(0.3)
    th0 = s.threshold
    s.learn(DOCS[0], True)
    s.learn(DOCS[3], False)
    assert s.lexical.learned == [("d1", True), ("d4", False)]  # type: ignore[attr-defined]
    assert th0 - 0.05 - 1e-9 <= s.threshold <= th0 + 0.15 + 1e-9
    assert s.score(DOCS[0]).match


def test_prepare_batches_and_cache() -> None:
    calls: list[int] = []

    def counting(texts: list[str]) -> list[list[float]]:
        calls.append(len(texts))
        return fake_embed(texts)

    s = SemanticScorer(FakeLexical(SEEDS), SEEDS, model="fake", embed=counting)
    calls.clear()
    s.prepare(DOCS + DOCS, batch=2)
    assert sum(calls) == 4  # distinct non-empty texts only
    calls.clear()
    first = [s.score(d).value for d in DOCS]
    assert calls == []
    assert first == [s.score(d).value for d in DOCS]


def test_bad_weight_and_no_seeds() -> None:
    with pytest.raises(ConfigError):
        make(1.5)
    with pytest.raises(ConfigError):
        SemanticScorer(FakeLexical(SEEDS), [], model="fake", embed=fake_embed)


def test_wrong_vector_count_is_config_error() -> None:
    with pytest.raises(ConfigError):
        SemanticScorer(FakeLexical(SEEDS), SEEDS, model="fake", embed=lambda texts: [])


def test_missing_sentence_transformers_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_st(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "sentence_transformers" or name.startswith("sentence_transformers."):
            raise ImportError("No module named 'sentence_transformers'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_st)
    monkeypatch.setattr(
        semantic.importlib,
        "import_module",
        lambda name, *a: no_st(name) if name.startswith("sentence_transformers") else real_import(name),
    )
    monkeypatch.setattr(semantic.importlib.util, "find_spec", lambda name, *a: None)
    assert semantic_available() is False
    with pytest.raises(ConfigError, match=r"pip install 'monitor\[semantic\]'"):
        load_embedder("all-MiniLM-L6-v2")
    with pytest.raises(ConfigError, match="sentence-transformers"):
        SemanticScorer(FakeLexical(SEEDS), SEEDS, model="all-MiniLM-L6-v2")


def test_unloadable_model_is_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    class FakeST:
        def __init__(self, where: str, **kw: Any) -> None:
            raise OSError(f"{where} is not a model directory")

    class FakeModule:
        SentenceTransformer = FakeST

    monkeypatch.setattr(
        semantic.importlib,
        "import_module",
        lambda name, *a: FakeModule() if name == "sentence_transformers" else pytest.fail(f"unexpected import {name}"),
    )
    with pytest.raises(ConfigError, match="cannot be loaded offline"):
        load_embedder(str(tmp_path))
    with pytest.raises(ConfigError, match="not a directory"):
        f = tmp_path / "file.bin"
        f.write_bytes(b"x")
        load_embedder(str(f))


def test_resolve_model_paths_and_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    assert semantic.resolve_model(str(tmp_path)) == str(tmp_path.resolve())
    with pytest.raises(ConfigError):
        semantic.resolve_model("  ")
    # an installed distribution bundling a model resolves to its directory
    pkg = tmp_path / "pkgs" / "fake_model_pkg"
    (pkg / "model").mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "from pathlib import Path\ndef get_model_path():\n    return Path(__file__).parent / 'model'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    assert semantic.resolve_model("fake-model-pkg") == str(pkg / "model")
    # anything else is left to the local Hugging Face cache
    assert semantic.resolve_model("org/some-unknown-model") == "org/some-unknown-model"


def test_semantic_available_is_bool() -> None:
    assert isinstance(semantic_available(), bool)


def test_with_real_lexical_scorer() -> None:
    from monitor.score import build_scorer

    lex = build_scorer(SEEDS)
    s = SemanticScorer(lex, SEEDS, model="fake", weight=0.3, embed=fake_embed)
    for d in DOCS:
        if not (d.title or d.text):
            continue  # the lexical scorer's own business
        v = s.score(d).value
        assert 0.0 <= v <= 1.0 and not math.isnan(v)
    assert s.threshold == pytest.approx(0.7 * lex.threshold + 0.15)
