"""Rebuilding the scorer from many judgments: learn_many ends in the state that one learn() per
judgment reaches, at one re-scoring of the judged documents instead of one per judgment."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from monitor.models import Document, Judgment, Seed
from monitor.score import build_scorer, clean_seed_text
from monitor.score.model import Scorer

ROOT = Path(__file__).resolve().parents[1]
BODIES = Path(__file__).resolve().parent / "fixtures" / "pages" / "bodies.jsonl.gz"


def _docs() -> list[Document]:
    with gzip.open(BODIES, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return [Document(id=str(i), title="", text=str(r["articleBody"])) for i, r in enumerate(rows)]


def test_learn_many_reaches_the_state_of_learning_one_by_one() -> None:
    files = sorted((ROOT / "seeds").glob("*.txt"))
    seeds = [Seed(p.name, clean_seed_text(p.read_text(encoding="utf-8"))) for p in files]
    docs = _docs()
    judged = [(d, i % 3 == 0) for i, d in enumerate(docs[:12])]
    one_by_one = Scorer(seeds)
    for doc, relevant in judged:
        one_by_one.learn(doc, relevant)
    batch = build_scorer(seeds, [Judgment(doc, relevant) for doc, relevant in judged])
    assert (batch.threshold, batch.relation.threshold) == (one_by_one.threshold, one_by_one.relation.threshold)
    assert batch.threshold != Scorer(seeds).threshold or batch.relation.threshold != Scorer(seeds).relation.threshold
    for doc in docs[12:30]:
        assert batch.score(doc) == one_by_one.score(doc)
