"""PostgreSQL SQL for the story engine's stored state: the same tables and rules as the SQLite
module (store.story_engine); a placement's document frequencies go up in one statement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg

from . import pg_changes
from .records import StoryEngineState, StoryFrequencies, StoryStep

Conn = psycopg.Connection[dict[str, Any]]

_STATE = """INSERT INTO story_state (story_id, state) VALUES (%s, %s)
            ON CONFLICT (story_id) DO UPDATE SET state = excluded.state"""


def assign_step(conn: Conn, article_id: int, story_id: int | None, now: datetime, step: StoryStep) -> int:
    story = pg_changes.assign_story(conn, article_id, story_id, now)
    conn.execute(_STATE, [story, step.state])
    if step.terms:
        conn.execute(
            """INSERT INTO story_df (term, df, prior)
               SELECT t, 1, p FROM unnest(%s::text[], %s::float8[]) AS u (t, p)
               ON CONFLICT (term) DO UPDATE SET df = story_df.df + 1""",
            [[t for t, _ in step.terms], [p for _, p in step.terms]],
        )
    conn.execute("UPDATE story_engine SET articles = articles + 1")
    if step.index is not None:
        pg_changes.index_story_terms(conn, story, list(step.index[0]), step.index[1])
    return story


def save(conn: Conn, states: Mapping[int, str], frequencies: StoryFrequencies | None) -> None:
    with conn.cursor() as cur:
        cur.executemany(_STATE, list(states.items()))
    if frequencies is None:
        return
    conn.execute("DELETE FROM story_df")
    prior = frequencies.prior
    with conn.cursor() as cur, cur.copy("COPY story_df (term, df, prior) FROM STDIN") as copy:
        for term, n in frequencies.df.items():
            copy.write_row((term, n, prior.get(term, 0.0)))
    conn.execute(
        """INSERT INTO story_engine (id, version, articles) VALUES (1, %s, %s)
           ON CONFLICT (id) DO UPDATE SET version = excluded.version, articles = excluded.articles""",
        [frequencies.version, frequencies.articles],
    )


def load(conn: Conn, since: datetime, states: bool = True) -> StoryEngineState | None:
    head = conn.execute("SELECT version, articles FROM story_engine WHERE id = 1").fetchone()
    if head is None:
        return None
    terms = conn.execute("SELECT term, df, prior FROM story_df").fetchall()
    found = conn.execute(
        """SELECT s.id, CASE WHEN %s THEN st.state END AS state
           FROM stories s LEFT JOIN story_state st ON st.story_id = s.id
           WHERE s.last_at >= %s ORDER BY s.last_at, s.id""",
        [states, since],
    ).fetchall()
    return StoryEngineState(
        version=int(head["version"]),
        articles=int(head["articles"]),
        terms=tuple((str(r["term"]), int(r["df"]), float(r["prior"])) for r in terms),
        stories=tuple((int(r["id"]), r["state"]) for r in found),
    )


def states(conn: Conn, story_ids: Sequence[int]) -> dict[int, str]:
    found = conn.execute("SELECT story_id, state FROM story_state WHERE story_id = ANY(%s)", [list(story_ids)])
    return {int(r["story_id"]): str(r["state"]) for r in found}
