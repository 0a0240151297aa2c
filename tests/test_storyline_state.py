"""The story engine's state kept in the store: a new process continues the stories from it
without replaying, places exactly as a process that never stopped, a store without state is
replayed once (the upgrade path), and an unreadable story row is rebuilt from its articles."""

from __future__ import annotations

import json
import logging
import random
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from factories import FEED, HIT, NOW, entry, spec
from helpers import FIXTURES
from monitor.changes.story_state import StoryState, story_from_json
from monitor.extract import build_article
from monitor.store import SqliteStore
from monitor.storyline import REPLAY_DAYS, StoryTracker, _encode

# 71 real ECB+ articles, 6 stories (3 topics of two similar events), in one shuffled order
ROWS: list[dict[str, Any]] = [
    json.loads(line) for line in (FIXTURES / "changes" / "ecbplus_slice.jsonl").read_text().splitlines()
]
random.Random(11).shuffle(ROWS)
SPLIT = 40  # articles placed by the first process


def _open(path: Path) -> SqliteStore:
    store = SqliteStore(path)
    store.sync_feeds([spec()])
    return store


def _place(store: SqliteStore, tracker: StoryTracker, rows: range) -> list[int | None]:
    """Save and place ROWS[i] for i in rows, an hour apart; the stories they join (None: a copy
    of an earlier article, which the pipeline does not place)."""
    out: list[int | None] = []
    for i in rows:
        row, at = ROWS[i], NOW + timedelta(hours=i)
        link = f"http://127.0.0.1/{i}"
        art = build_article(entry(str(i), title=row["title"], published=at, link=link), (row["text"], {}), None)
        saved = store.save_article(FEED, art, f"h{i}", HIT, at)
        out.append(None if saved.copy_of else tracker.place(store, saved.article_id, art, "local", at))
    return out


def _first_process(tmp_path: Path, name: str) -> tuple[Path, list[int | None]]:
    path = tmp_path / name
    store = _open(path)
    try:
        return path, _place(store, StoryTracker(), range(SPLIT))
    finally:
        store.close()


def _drop_state(path: Path) -> None:
    """What a store written before the state existed holds (m006 applied, no rows)."""
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM story_state")
        conn.execute("DELETE FROM story_df")
        conn.execute("DELETE FROM story_engine")


@pytest.fixture(scope="module")
def never_stopped(tmp_path_factory: pytest.TempPathFactory) -> list[int | None]:
    store = _open(tmp_path_factory.mktemp("once") / "once.db")
    try:
        return _place(store, StoryTracker(), range(len(ROWS)))
    finally:
        store.close()


def test_a_new_process_continues_from_the_stored_state_as_if_it_never_stopped(
    tmp_path: Path, never_stopped: list[int | None]
) -> None:
    path, first = _first_process(tmp_path, "a.db")
    assert first == never_stopped[:SPLIT]
    store = _open(path)
    try:
        saved = store.load_story_engine(NOW)
        placed = [s for s in first if s is not None]
        assert saved is not None and saved.articles == len(placed)
        assert {s for s, _ in saved.stories} == set(placed) and all(state for _, state in saved.stories)
        tracker = StoryTracker()
        later = _place(store, tracker, range(SPLIT, len(ROWS)))
        assert tracker.replayed == 0 and tracker.rebuilt == []
        assert later == never_stopped[SPLIT:]
        assert len(set(never_stopped)) >= 5  # the slice's 6 stories, not one lump
    finally:
        store.close()


def test_a_store_without_state_is_replayed_once_and_saved(tmp_path: Path, never_stopped: list[int | None]) -> None:
    path, _ = _first_process(tmp_path, "old.db")
    _drop_state(path)
    store = _open(path)
    try:
        assert store.load_story_engine(NOW) is None
        tracker = StoryTracker()
        later = _place(store, tracker, range(SPLIT, SPLIT + 10))
        placed = [s for s in never_stopped[: SPLIT + 10] if s is not None]
        assert tracker.replayed == len(placed) - sum(s is not None for s in later)
        assert later == never_stopped[SPLIT : SPLIT + 10]
        saved = store.load_story_engine(NOW)
        assert saved is not None and saved.articles == len(placed) and all(state for _, state in saved.stories)
        again = StoryTracker()
        rest = _place(store, again, range(SPLIT + 10, len(ROWS)))
        assert again.replayed == 0 and rest == never_stopped[SPLIT + 10 :]
    finally:
        store.close()


def test_an_unreadable_story_row_is_rebuilt_from_its_articles(
    tmp_path: Path, never_stopped: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    path, first = _first_process(tmp_path, "bad.db")
    broken = max({s for s in first if s is not None}, key=first.count)  # the biggest story so far
    with sqlite3.connect(path) as conn:
        conn.execute('UPDATE story_state SET state = \'{"id": "s1", "centroid": \' WHERE story_id = ?', (broken,))
    store = _open(path)
    try:
        tracker = StoryTracker()
        with caplog.at_level(logging.WARNING, logger="monitor"):
            tracker.warm(store, NOW + timedelta(hours=SPLIT))
        [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert f"story {broken}: unreadable engine state" in warning and "\n" not in warning
        assert tracker.replayed == 0 and tracker.rebuilt == [broken]
        later = _place(store, tracker, range(SPLIT, len(ROWS)))
        expected = never_stopped[SPLIT:]
        # nothing lost: every article the uninterrupted engine put in that story joins it again
        assert [s for s, e in zip(later, expected, strict=True) if e == broken] == [
            broken for e in expected if e == broken
        ]
        assert sum(a == b for a, b in zip(later, expected, strict=True)) >= len(expected) - 2
        saved = store.load_story_engine(NOW)
        assert saved is not None and json.loads(dict(saved.stories)[broken])["size"] == first.count(broken) + sum(
            s == broken for s in later
        )
    finally:
        store.close()


def test_a_replay_read_in_small_pages_places_and_saves_as_one_read(tmp_path: Path) -> None:
    """The replay reads the window page by page as it places: the same order, so the same
    stories and the same saved engine state, to the last weight."""
    saved: list[list[tuple[int, str]]] = []
    for page in (500, 7):  # the whole window in one page; pages of 7 (the last one short)
        path, first = _first_process(tmp_path, f"p{page}.db")
        _drop_state(path)
        store = _open(path)
        try:
            tracker = StoryTracker()
            tracker.replay_page = page
            assert tracker.warm(store, NOW + timedelta(hours=SPLIT)) == sum(s is not None for s in first)
            state = store.load_story_engine(NOW)
            assert state is not None
            saved.append(sorted(state.stories))
        finally:
            store.close()
    assert saved[0] == saved[1] and [s for s, _ in saved[0]] == sorted({s for s in first if s is not None})


def test_only_stories_grown_within_the_replay_window_are_loaded(tmp_path: Path) -> None:
    path, first = _first_process(tmp_path, "w.db")
    store = _open(path)
    try:
        late = NOW + timedelta(hours=SPLIT - 1) + timedelta(days=REPLAY_DAYS)
        saved = store.load_story_engine(late - timedelta(days=REPLAY_DAYS))
        assert saved is not None and 0 < len(saved.stories) < len({s for s in first if s is not None})
        tracker = StoryTracker()
        tracker.warm(store, late)
        assert set(tracker.engine_ids) == {s for s, _ in saved.stories}
    finally:
        store.close()


def test_a_stored_story_state_reads_back_to_the_same_floats() -> None:
    state = StoryState(
        "s1",
        {"a": 0.1 + 0.2, "b": 1 / 3, "c": 5e-324},
        ({"a": 2.0**-1074, "d": 1e308},),
        3,
        1.7e9,
        frozenset({2013}),
        ("14",),
    )
    assert story_from_json(json.loads(_encode(state))) == state


def test_a_state_of_another_version_is_replayed_and_rewritten(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path, first = _first_process(tmp_path, "v0.db")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE story_engine SET version = 0")
    store = _open(path)
    try:
        tracker = StoryTracker()
        with caplog.at_level(logging.WARNING, logger="monitor"):
            tracker.warm(store, NOW + timedelta(hours=SPLIT))
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warnings == ["story engine state v0, this engine reads v1: replaying"]
        assert tracker.replayed == sum(s is not None for s in first)
        saved = store.load_story_engine(NOW)
        assert saved is not None and saved.version == 1 and saved.articles == tracker.replayed
    finally:
        store.close()


def test_story_rows_in_the_first_json_form_load_without_a_replay(
    tmp_path: Path, never_stopped: list[int | None]
) -> None:
    path, _ = _first_process(tmp_path, "v1form.db")
    with sqlite3.connect(path) as conn:  # rewrite every row as the first form (term: weight objects)
        for story_id, raw in conn.execute("SELECT story_id, state FROM story_state").fetchall():
            state = story_from_json(json.loads(raw))
            old = {
                "id": state.id,
                "centroid": dict(state.centroid),
                "members": [dict(m) for m in state.members],
                "size": state.size,
                "last": state.last,
                "years": sorted(state.years),
                "numbers": list(state.numbers),
            }
            conn.execute("UPDATE story_state SET state = ? WHERE story_id = ?", (json.dumps(old), story_id))
    store = _open(path)
    try:
        tracker = StoryTracker()
        later = _place(store, tracker, range(SPLIT, len(ROWS)))
        assert tracker.replayed == 0 and tracker.rebuilt == []
        assert later == never_stopped[SPLIT:]
        grown = {s for s in later if s is not None}
        rows = dict(store.story_states(sorted(grown)))
        assert all("terms" in json.loads(rows[s]) for s in grown)  # a row is rewritten compact as it grows
    finally:
        store.close()
