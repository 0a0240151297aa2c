"""The project's lexical scorer, with what it learnt from the judgments kept in the store.

Learning from the stored judgments re-reads and re-scores every judged document (about a second
with 100 of them), which every process that scores paid before its first score: `monitor explain`,
a poll, the web's first article page. The result (score/learned.py) is saved in the store under a
key naming everything it depends on, and restored when the key still matches:

* the scoring code and its weights record (every file of the ``monitor.score`` package),
* wordfreq's English table (its rarity weights are inside the learnt vectors),
* the seeds (names and texts, in order) and the weights in use,
* the judgments (article id, title, text, language, verdict, in the order they are learnt).

A new judgment, a changed verdict, an edited seed or a changed scoring file gives another key,
so the state is learnt again and replaced; nothing has to invalidate it explicitly.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from .errors import StorageError
from .models import Judgment, Seed
from .score import Scorer, build_scorer
from .score.learned import FORMAT, Learned
from .score.weights import Weights, default_weights
from .store import Storage

log = logging.getLogger("monitor")
SCORE_PACKAGE = Path(__file__).resolve().parent / "score"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of the scoring code and data, and of wordfreq's table (its identity: size and time)."""
    h = hashlib.sha256()
    for path in sorted(p for p in SCORE_PACKAGE.rglob("*") if p.suffix in (".py", ".json")):
        h.update(path.relative_to(SCORE_PACKAGE).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    spec = importlib.util.find_spec("wordfreq")  # found, not imported: explaining stays cheap
    if spec is not None and spec.origin is not None:
        base = Path(spec.origin).parent
        for part in (base / "__init__.py", base / "data" / "large_en.msgpack.gz"):
            if part.exists():
                st = os.stat(part)
                h.update(f"{part.name}:{st.st_size}:{st.st_mtime_ns}\0".encode())
    return h.hexdigest()


def state_key(seeds: Sequence[Seed], judgments: Sequence[Judgment], weights: Weights, code: str) -> str:
    """The key of a learned state: a hash of everything the learning reads."""
    parts = [
        FORMAT,
        code,
        weights.to_json(),
        [[s.name, s.text] for s in seeds],
        [[j.document.id, j.document.title, j.document.text, j.document.language, j.relevant] for j in judgments],
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def stored_scorer(
    store: Storage,
    seeds: Sequence[Seed],
    judgments: Sequence[Judgment],
    now: Callable[[], datetime],
    *,
    restore: bool = True,
) -> Scorer:
    """The seeds' scorer after ``judgments``: restored from the state kept in ``store`` when it
    was learnt from exactly these inputs (and ``restore``), else learnt and kept for the next
    process."""
    weights = default_weights()
    key = state_key(seeds, judgments, weights, code_fingerprint())
    kept = store.scorer_state(key) if restore else None
    if kept is not None:
        try:
            return build_scorer(seeds, judgments, weights, Learned.from_json(kept))
        except ValueError as exc:  # a damaged row: learn again, and replace it below
            log.warning("the stored scorer state is unusable (%s); learning it again", exc)
    scorer = build_scorer(seeds, judgments, weights)
    try:
        store.save_scorer_state(key, scorer.learned().to_json(), now())
    except StorageError as exc:  # only a saving lost: the scorer is right, the next process learns again
        log.warning("the scorer state was not kept: %s", exc)
    return scorer
