"""The learned scorer state kept in the store (score/learned.py, app_scorer.py): a scorer restored
from it is the rebuilt one (same thresholds, scores, explanations, and the same state after one
more judgment), and any change to what it was learnt from makes it stale."""

from __future__ import annotations

import gzip
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from factories import FEED, HIT, MISS, NOW, article, spec
from helpers import SEEDS, write_feeds
from monitor import app as application
from monitor.app_scorer import code_fingerprint, state_key, stored_scorer
from monitor.errors import StorageError
from monitor.models import Document, Judgment, Seed
from monitor.score import build_scorer, clean_seed_text
from monitor.score.learned import Learned
from monitor.score.model import Scorer
from monitor.score.weights import default_weights
from monitor.store import SqliteStore

BODIES = Path(__file__).resolve().parent / "fixtures" / "pages" / "bodies.jsonl.gz"


def _seeds() -> list[Seed]:
    return [Seed(p.name, clean_seed_text(p.read_text(encoding="utf-8"))) for p in sorted(SEEDS.glob("*.txt"))]


def _docs() -> list[Document]:
    with gzip.open(BODIES, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return [Document(id=str(i), title="", text=str(r["articleBody"])) for i, r in enumerate(rows)]


SEED_LIST = _seeds()
DOCS = _docs()
JUDGED = [Judgment(d, i % 3 == 0) for i, d in enumerate(DOCS[:12])]


def _same(a: Scorer, b: Scorer, docs: list[Document]) -> None:
    assert (a.threshold, a.relation.threshold, a.relation.base_threshold) == (
        b.threshold,
        b.relation.threshold,
        b.relation.base_threshold,
    )
    for doc in docs:
        assert a.score(doc) == b.score(doc)  # value, match, seed, facets, terms, sentence, carried


def test_a_restored_scorer_scores_and_explains_as_the_rebuilt_one() -> None:
    rebuilt = build_scorer(SEED_LIST, JUDGED)
    kept = Learned.from_json(rebuilt.learned().to_json())
    assert kept == rebuilt.learned()  # floats read back to the same bits
    restored = build_scorer(SEED_LIST, JUDGED, learned=kept)
    plain = Scorer(SEED_LIST)  # the judgments moved a threshold: restoring it matters
    assert (rebuilt.threshold, rebuilt.relation.threshold) != (plain.threshold, plain.relation.threshold)
    _same(restored, rebuilt, DOCS)  # judged documents (the neighbours' vote skips itself) and others
    # and it goes on learning as the rebuilt one does
    rebuilt.learn(DOCS[40], True)
    restored.learn(DOCS[40], True)
    _same(restored, rebuilt, DOCS[30:60])


def test_without_judgments_the_record_keeps_the_seeds_relation_threshold() -> None:
    rebuilt = build_scorer(SEED_LIST)
    kept = Learned.from_json(rebuilt.learned().to_json())
    assert (kept.terms, kept.vectors) == ((), ())
    _same(build_scorer(SEED_LIST, learned=kept), rebuilt, DOCS[:20])


def test_a_record_that_does_not_pair_with_the_judgments_is_refused() -> None:
    kept = build_scorer(SEED_LIST, JUDGED).learned()
    with pytest.raises(ValueError, match="not the 11 judged"):
        build_scorer(SEED_LIST, JUDGED[:11], learned=kept)
    other = Learned(kept.relation_base + 0.01, kept.relation_threshold, kept.threshold, kept.terms, kept.vectors)
    with pytest.raises(ValueError, match="another relation threshold"):
        Scorer(SEED_LIST).restore([(j.document, j.relevant) for j in JUDGED], other)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"format": 999}',
        '{"format": 1, "relation_base": 0.1, "relation_threshold": 0.1, "threshold": 0.5}',
        '{"format": 1, "relation_base": 0.1, "relation_threshold": 0.1, "threshold": 0.5, '
        '"terms": [{}], "vectors": []}',
        '{"format": 1, "relation_base": "x", "relation_threshold": 0.1, "threshold": 0.5, "terms": [], "vectors": []}',
        '{"format": 1, "relation_base": 0.1, "relation_threshold": 0.1, "threshold": 0.5, '
        '"terms": [{"a": "b"}], "vectors": [{}]}',
    ],
)
def test_a_damaged_record_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        Learned.from_json(text)


def test_the_key_changes_with_every_input_of_the_learning() -> None:
    w, code = default_weights(), code_fingerprint()
    base = state_key(SEED_LIST, JUDGED, w, code)
    assert state_key(SEED_LIST, JUDGED, w, code) == base
    flipped = [Judgment(JUDGED[0].document, not JUDGED[0].relevant), *JUDGED[1:]]
    edited = [Judgment(Document(id="0", title="", text=JUDGED[0].document.text + " More."), True), *JUDGED[1:]]
    changed = [
        state_key(SEED_LIST, [*JUDGED, Judgment(DOCS[50], False)], w, code),  # a new judgment
        state_key(SEED_LIST, flipped, w, code),  # a changed verdict
        state_key(SEED_LIST, edited, w, code),  # a judged article's new text
        state_key(SEED_LIST, JUDGED[::-1], w, code),  # another order of learning
        state_key([*SEED_LIST[:-1], Seed(SEED_LIST[-1].name, SEED_LIST[-1].text + " Wagner.")], JUDGED, w, code),
        state_key(SEED_LIST[:-1], JUDGED, w, code),  # a seed removed
        state_key(SEED_LIST, JUDGED, w.__class__(**{**w.__dict__, "threshold": w.threshold + 0.01}), code),
        state_key(SEED_LIST, JUDGED, w, code + "x"),  # another scoring code or wordfreq table
    ]
    assert len({base, *changed}) == len(changed) + 1


# --- through the store and the app ------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "m.db") as s:
        s.sync_feeds([spec()])
        yield s


def _judge(store: SqliteStore, docs: list[Document]) -> list[Judgment]:
    for i, d in enumerate(docs):
        aid = store.save_article(FEED, article(f"e{d.id}", title=d.title, summary=d.text), f"h{d.id}", MISS, NOW)
        store.judge(aid.article_id, i % 3 == 0, NOW)
    return store.judgments()


def _no_learning(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Scorer, judged: object) -> None:
        raise AssertionError("learnt again instead of restoring")

    monkeypatch.setattr(Scorer, "learn_many", refuse)


def test_the_state_is_saved_once_then_restored_until_a_judgment_changes_it(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    judgments = _judge(store, DOCS[:8])
    key = state_key(SEED_LIST, judgments, default_weights(), code_fingerprint())
    assert store.scorer_state(key) is None
    first = stored_scorer(store, SEED_LIST, judgments, lambda: NOW)
    assert store.scorer_state(key) == first.learned().to_json()
    with monkeypatch.context() as m:
        _no_learning(m)
        again = stored_scorer(store, SEED_LIST, judgments, lambda: NOW)
    _same(again, first, DOCS[:30])
    # a new judgment: another key, learnt again (with it) and kept in place of the old state
    store.judge(int(judgments[1].document.id), True, NOW)
    changed = store.judgments()
    after = stored_scorer(store, SEED_LIST, changed, lambda: NOW)
    _same(after, build_scorer(SEED_LIST, changed), DOCS[:30])
    assert store.scorer_state(key) is None
    assert store.scorer_state(state_key(SEED_LIST, changed, default_weights(), code_fingerprint())) is not None
    # edited seeds: learnt again too
    seeds = SEED_LIST[:-1]
    edited = stored_scorer(store, seeds, changed, lambda: NOW)
    _same(edited, build_scorer(seeds, changed), DOCS[:30])


def test_a_damaged_state_is_learnt_again_and_replaced(store: SqliteStore, caplog: pytest.LogCaptureFixture) -> None:
    judgments = _judge(store, DOCS[:5])
    key = state_key(SEED_LIST, judgments, default_weights(), code_fingerprint())
    store.save_scorer_state(key, '{"format": 1}', NOW)
    with caplog.at_level(logging.WARNING, logger="monitor"):
        scorer = stored_scorer(store, SEED_LIST, judgments, lambda: NOW)
    assert "stored scorer state is unusable" in caplog.text
    _same(scorer, build_scorer(SEED_LIST, judgments), DOCS[:20])
    assert store.scorer_state(key) == scorer.learned().to_json()


def test_explain_from_the_kept_state_prints_what_a_rebuild_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": FEED}])
    paths = application.Paths(feeds=feeds, seeds=SEEDS, db=tmp_path / "m.db")
    a = application.open_app(paths)
    judgments = _judge(a.store, DOCS[:9])
    scored = a.store.save_article(FEED, article("x", title=DOCS[20].title, summary=DOCS[20].text), "hx", HIT, NOW)
    refs = [str(scored.article_id), judgments[0].document.id, judgments[1].document.id]
    rebuilt = {ref: application.explain(a, ref) for ref in refs}  # learnt, and the state kept
    a.close()
    for ref in refs:  # a new process: restored (learning would fail the test)
        b = application.open_app(paths)
        with monkeypatch.context() as m:
            _no_learning(m)
            assert application.explain(b, ref) == rebuilt[ref]
        b.close()


CHILD = """
import json, sys
from pathlib import Path
from monitor.models import Document, Judgment
from monitor.score import build_scorer, zipf
from monitor.score.learned import Learned
from test_scorer_state import JUDGED, SEED_LIST, DOCS
kept = Learned.from_json(Path(sys.argv[1]).read_text(encoding="utf-8"))
scorer = build_scorer(SEED_LIST, JUDGED, learned=kept)
table = zipf._table()
print(json.dumps({
    "score": scorer.score(DOCS[20]).value,
    "wordfreq": "wordfreq" in sys.modules,
    "dict": table is not None and table._index is not None,
}))
"""


def test_a_restored_scorer_imports_no_wordfreq_and_builds_no_word_dict(tmp_path: Path) -> None:
    """What makes `monitor explain` fast: in a new process, the seeds' and the place names' word
    rarities come with the kept state; only the explained article's new words are looked up."""
    rebuilt = build_scorer(SEED_LIST, JUDGED)
    (tmp_path / "state.json").write_text(rebuilt.learned().to_json(), encoding="utf-8")
    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "state.json")], capture_output=True, text=True, env=env, check=True
    )
    child = json.loads(done.stdout)
    assert child == {"score": rebuilt.score(DOCS[20]).value, "wordfreq": False, "dict": False}


def test_a_state_that_cannot_be_saved_is_a_warning_not_an_error(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    judgments = _judge(store, DOCS[:4])

    def locked(key: str, state: str, now: object) -> None:
        raise StorageError("m.db: database is locked")

    monkeypatch.setattr(store, "save_scorer_state", locked)
    with caplog.at_level(logging.WARNING, logger="monitor"):
        scorer = stored_scorer(store, SEED_LIST, judgments, lambda: NOW)
    assert "the scorer state was not kept: m.db: database is locked" in caplog.text
    _same(scorer, build_scorer(SEED_LIST, judgments), DOCS[:10])


def test_without_restore_the_scorer_is_learnt_and_the_state_still_kept(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service (restore=False) learns at start, and keeps the state for the commands."""
    judgments = _judge(store, DOCS[:8])
    key = state_key(SEED_LIST, judgments, default_weights(), code_fingerprint())
    first = stored_scorer(store, SEED_LIST, judgments, lambda: NOW)
    learnt: list[int] = []
    real = Scorer.learn_many

    def counting(self: Scorer, *args: object, **kwargs: object) -> object:
        learnt.append(1)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Scorer, "learn_many", counting)
    again = stored_scorer(store, SEED_LIST, judgments, lambda: NOW, restore=False)
    assert learnt  # learnt, not restored
    _same(again, first, DOCS[:30])
    assert store.scorer_state(key) == first.learned().to_json()
