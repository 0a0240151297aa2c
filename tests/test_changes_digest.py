"""Digest sections (New stories, More coverage, Updated), their counts, the diff of an update in
every format, and stories kept across processes by the store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from factories import FEED, HIT, NOW, entry, match_item, spec
from helpers import rss
from httpserver import TestServer
from monitor.digest import render, section_counts, sections
from monitor.extract import build_article
from monitor.fetch import Fetcher
from monitor.models import AlsoIn, Digest, FetchSettings, Score, VersionChange
from monitor.notify import build_message
from monitor.pipeline import run_feed
from monitor.store import SqliteStore
from monitor.storyline import REPLAY_DAYS, StoryTracker

CHANGE = VersionChange(
    material=True,
    significance=0.81,
    summary="1 sentence changed; numbers 38 → 120",
    changes=(("changed", "At least 38 people died.", "At least 120 people died <script>x</script>."),),
)
NEW = match_item(1, title="Quake kills 38", story="story-1", also_in=(AlsoIn("https://b.example/q", "Wire B"),))
SAME_STORY = match_item(2, title="Rescuers dig through rubble", story="story-1", feed="Other", score=0.5)
MORE = match_item(
    3,
    title="Aftershocks hit Amatrice",
    story="story-7",
    story_status="more",
    story_first_reported=NOW - timedelta(days=1),
)
MORE_TOO = match_item(4, title="Amatrice: the cost", story="story-7", story_status="more", score=0.4)
UPDATED = match_item(5, title="Quake toll rises", story="story-1", changed=True, revision=2, diff=CHANGE)
DIGEST = Digest(generated_at=NOW, matches=(NEW, SAME_STORY, MORE, MORE_TOO, UPDATED))


def test_one_entry_per_story_per_section_and_counts() -> None:
    parts = sections(DIGEST.matches)
    assert [m.article_id for m in parts["new"]] == [1]
    assert parts["new"][0].story_articles == 2 and parts["new"][0].coverage == (AlsoIn(SAME_STORY.url, "Other"),)
    assert [(m.article_id, m.story_articles) for m in parts["more"]] == [(3, 2)]
    assert [m.article_id for m in parts["updated"]] == [5]
    assert section_counts(DIGEST.matches) == {"new": 1, "more": 2, "updated": 1}
    note = build_message(DIGEST)
    assert note.body.splitlines()[0] == "1 new story, 2 more articles, 1 update"


def test_markdown_has_three_sections_also_in_and_the_diff() -> None:
    out = render(DIGEST, "md")
    assert out.index("## New stories") < out.index("## More coverage") < out.index("## Updated")
    assert "- Also in: [Wire B](https://b.example/q)" in out
    assert "- Story first reported: 2026-11-22 07:00 UTC (2 new articles)" in out
    assert "What changed: 1 sentence changed; numbers 38 → 120" in out
    assert "- At least 38 people died.\n+ At least 120 people died <script>x</script>." in out


def test_html_diff_is_ins_and_del_and_escaped() -> None:
    out = render(DIGEST, "html")
    assert (
        "<del>At least 38 people died.</del> <ins>At least 120 people died &lt;script&gt;x&lt;/script&gt;.</ins>" in out
    )
    assert "<script>" not in out
    assert "<h2>More coverage</h2>" in out


def test_text_and_atom_carry_the_sections() -> None:
    text = render(DIGEST, "text")
    assert "== New stories ==" in text and "Also in: Wire B (https://b.example/q)" in text
    atom = render(DIGEST, "atom")
    assert atom.count("<entry>") == 3  # one per story and one per update
    assert "also in: Wire B" in atom and "updated: 1 sentence changed" in atom


def test_json_keeps_every_item_and_structures_the_change() -> None:
    data = json.loads(render(DIGEST, "json"))
    assert data["count"] == 5
    by_id = {m["id"]: m for m in data["matches"]}
    assert by_id[1]["also_in"] == [{"url": "https://b.example/q", "feed": "Wire B"}]
    assert [by_id[i]["story_status"] for i in (1, 2, 3, 5)] == ["new", "new", "more", "updated"]
    assert by_id[5]["revision"] == 2 and by_id[5]["story"] == "story-1"
    assert by_id[5]["changes"] == {
        "material": True,
        "significance": 0.81,
        "summary": "1 sentence changed; numbers 38 → 120",
        "changes": [
            {
                "op": "changed",
                "before": "At least 38 people died.",
                "after": "At least 120 people died <script>x</script>.",
            }
        ],
    }


# --- stories on the store ----------------------------------------------------------------------

QUAKE = (
    "A magnitude 6.1 earthquake struck the mountain town of Amatrice in central Italy early on Wednesday, "
    "flattening stone houses. The civil protection agency said 38 people died in Amatrice and nearby "
    "Accumoli. Rescue teams from Rome dug through rubble through the night."
)
QUAKE_FOLLOW = (
    "Rescuers in Amatrice pulled a girl alive from the rubble on Thursday, a day after the earthquake in "
    "central Italy killed dozens. The civil protection agency raised the toll as teams searched Accumoli "
    "and Pescara del Tronto, where whole streets of stone houses collapsed."
)
RATES = (
    "The central bank left its main interest rate unchanged at 4.5 percent on Thursday and signalled "
    "patience before cutting. The governor said inflation was still above target; the currency rose."
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "m.db")
    s.sync_feeds([spec()])
    try:
        yield s
    finally:
        s.close()


def _save(store: SqliteStore, tracker: StoryTracker, n: str, title: str, text: str, at: timedelta) -> int:
    art = build_article(entry(n, title=title, published=NOW + at, link=f"http://127.0.0.1/{n}"), (text, {}), None)
    saved = store.save_article(FEED, art, "h", HIT, NOW + at)
    return tracker.place(store, saved.article_id, art, "local", NOW + at)


def test_stories_continue_in_a_new_process_and_report_more_coverage(store: SqliteStore) -> None:
    first = _save(store, StoryTracker(), "1", "Earthquake in Amatrice kills 38", QUAKE, timedelta(0))
    store.reserve_digest("t", store.undelivered("t"), NOW)
    # a new process: the tracker is rebuilt from the store
    follow = _save(
        store, StoryTracker(), "2", "Girl pulled alive from Amatrice rubble", QUAKE_FOLLOW, timedelta(days=1)
    )
    other = _save(store, StoryTracker(), "3", "Central bank holds rates", RATES, timedelta(days=1))
    assert follow == first and other != first
    items = {m.article_id: m for m in store.undelivered("t")}
    assert items[2].story_status == "more" and items[2].story_first_reported == NOW
    assert items[3].story_status == "new"
    assert REPLAY_DAYS == 6  # 0.5 ** (6 / 3) = 0.25: nothing older can reach the threshold


class _BrokenTracker(StoryTracker):
    def place(self, *args: object, **kwargs: object) -> int:
        raise RuntimeError("a bug in the story engine")


class _Matches:
    def __init__(self) -> None:
        self.threshold = 0.5

    def score(self, doc: object) -> Score:
        return HIT


def test_a_story_engine_bug_costs_the_story_not_the_poll(store: SqliteStore, server: TestServer) -> None:
    server.add("/feed.xml", rss([{"title": "Quake", "link": server.url("/q"), "description": QUAKE}]))
    feed = spec(server.url("/feed.xml"), full_text=False)
    store.sync_feeds([feed])
    with Fetcher(FetchSettings(allow_hosts=("127.0.0.1",), host_spacing=0.0)) as fetcher:
        result = run_feed(
            feed, store=store, fetcher=fetcher, scorer=_Matches(), now=lambda: NOW, stories=_BrokenTracker()
        )
    assert result.ok and result.new_entries == 1 and result.matches == 1
    [item] = store.undelivered("t")
    assert item.story is None and item.story_status == "new"


def test_story_candidates_come_from_the_store_by_bm25_within_the_window(store: SqliteStore) -> None:
    quake = _save(store, StoryTracker(), "1", "Earthquake in Amatrice kills 38", QUAKE, timedelta(0))
    rates = _save(store, StoryTracker(), "2", "Central bank holds rates", RATES, timedelta(0))
    tracker = StoryTracker()
    tracker.warm(store, NOW)
    assert store.story_candidates(["amatric", "earthquak"], NOW - timedelta(days=1), 5) == [quake]
    assert store.story_candidates(["rate", "inflat"], NOW - timedelta(days=1), 5)[0] == rates
    assert store.story_candidates(["amatric"], NOW + timedelta(days=1), 5) == []  # silent since
    assert store.story_candidates(["\"; DROP TABLE stories; --"], NOW, 5) == []
    assert tracker.index.candidates(["amatric"], NOW.timestamp(), 3) == [tracker.engine_ids[quake]]
