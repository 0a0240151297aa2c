"""SQL for the story engine's stored state (SQLite; monitor.storyline decides what it holds).

One row per story (its engine state as JSON, replaced whenever the story grows), the document
frequencies of the stream (one row per term, counted up with each placement in the same
transaction as the story row) and one `story_engine` row (state version, articles counted).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime

from . import stories
from .common import iso
from .records import StoryEngineState, StoryFrequencies, StoryStep


def assign_step(conn: sqlite3.Connection, article_id: int, story_id: int | None, now: datetime, step: StoryStep) -> int:
    story = stories.assign(conn, article_id, story_id, now)
    conn.execute("INSERT OR REPLACE INTO story_state (story_id, state) VALUES (?, ?)", (story, step.state))
    conn.executemany(
        """INSERT INTO story_df (term, df, prior) VALUES (?, 1, ?)
           ON CONFLICT (term) DO UPDATE SET df = df + 1""",
        step.terms,
    )
    conn.execute("UPDATE story_engine SET articles = articles + 1")
    if step.index is not None:
        stories.index_terms(conn, story, list(step.index[0]), step.index[1])
    return story


def save(conn: sqlite3.Connection, states: Mapping[int, str], frequencies: StoryFrequencies | None) -> None:
    conn.executemany("INSERT OR REPLACE INTO story_state (story_id, state) VALUES (?, ?)", states.items())
    if frequencies is None:
        return
    conn.execute("DELETE FROM story_df")
    prior = frequencies.prior
    conn.executemany(
        "INSERT INTO story_df (term, df, prior) VALUES (?, ?, ?)",
        ((t, n, prior.get(t, 0.0)) for t, n in frequencies.df.items()),
    )
    conn.execute(
        "INSERT OR REPLACE INTO story_engine (id, version, articles) VALUES (1, ?, ?)",
        (frequencies.version, frequencies.articles),
    )


def load(conn: sqlite3.Connection, since: datetime, states: bool = True) -> StoryEngineState | None:
    head = conn.execute("SELECT version, articles FROM story_engine WHERE id = 1").fetchone()
    if head is None:
        return None
    terms = conn.execute("SELECT term, df, prior FROM story_df").fetchall()
    state = "st.state" if states else "NULL"
    found = conn.execute(
        f"""SELECT s.id, {state} FROM stories s LEFT JOIN story_state st ON st.story_id = s.id
            WHERE s.last_at >= ? ORDER BY s.last_at, s.id""",
        (iso(since),),
    ).fetchall()
    return StoryEngineState(
        version=int(head[0]),
        articles=int(head[1]),
        terms=tuple((str(t), int(d), float(p)) for t, d, p in terms),
        stories=tuple((int(i), s) for i, s in found),
    )


def states(conn: sqlite3.Connection, story_ids: Sequence[int]) -> dict[int, str]:
    if not story_ids:
        return {}
    marks = ",".join("?" * len(story_ids))
    found = conn.execute(f"SELECT story_id, state FROM story_state WHERE story_id IN ({marks})", list(story_ids))
    return {int(i): str(s) for i, s in found}
