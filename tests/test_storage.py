"""The Storage protocol's contract, run once per backend.

Written only against `monitor.store.Storage`: every backend (SQLite, PostgreSQL) is a
parameter of the `storage` fixture and runs every test here unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from factories import FEED, HIT, MISS, NOW, article, spec
from monitor.changes.copies import band_keys, shingles, signature
from monitor.errors import StorageError
from monitor.models import Failure, FailureKind, FeedUpdate, FetchRecord, Move, Score
from monitor.store import SqliteStore, Storage
from monitor.store.postgres import PostgresStore
from monitor.store.records import MatchQuery, Pruned, StoryFrequencies, StoryStep

BRIDGE = (
    "The mayor of Springfield opened the new bridge over the river on Monday. "
    "About 300 people attended the ceremony, officials said."
)
# a material edit of BRIDGE: a new fact
ARREST = BRIDGE + " Police arrested two protesters who blocked the entrance for an hour."

# Each backend from the test's request: PostgreSQL gets a fresh database on the session's real
# server (tests/pg.py; skipped, with the reason, only where no PostgreSQL binaries exist).
BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], Storage]] = {
    "sqlite": lambda request, tmp: SqliteStore(tmp / "m.db"),
    "postgres": lambda request, tmp: PostgresStore(request.getfixturevalue("pg_url")),
}


@pytest.fixture(params=sorted(BACKENDS))
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    store = BACKENDS[request.param](request, tmp_path)
    store.sync_feeds([spec()])
    try:
        yield store
    finally:
        store.close()


# --- articles and the match lifecycle --------------------------------------------------------


def test_a_new_match_is_news_once_and_a_miss_stores_no_match(storage: Storage) -> None:
    assert storage.save_article(FEED, article("1"), "h1", HIT, NOW).news is True
    assert storage.save_article(FEED, article("2"), "h2", MISS, NOW).news is False
    assert storage.save_article(FEED, article("1"), "h1", HIT, NOW).news is False  # same content
    counts = storage.counts()
    assert (counts.articles, counts.matches, counts.feeds) == (2, 1, 1)
    assert storage.known_entries(FEED) == {"1": "h1", "2": "h2"}
    assert storage.feed_statuses()[0].entries == 2


def test_a_material_version_of_a_match_is_a_new_revision(storage: Storage) -> None:
    storage.save_article(FEED, article("1", summary=BRIDGE), "h1", HIT, NOW)
    assert storage.undelivered("t")[0].changed is False
    saved = storage.save_article(FEED, article("1", summary=ARREST), "h1b", HIT, NOW)
    assert (saved.news, saved.material) == (True, True)
    [item] = storage.undelivered("t")
    assert item.changed is True and item.diff is not None
    assert item.diff.changes == (("added", "", "Police arrested two protesters who blocked the entrance for an hour."),)
    assert storage.known_entries(FEED) == {"1": "h1b"}
    assert [(v.number, v.material) for v in storage.versions(saved.article_id)] == [(1, False), (2, True)]


def test_a_minor_version_is_stored_but_not_news_unless_notify_all(storage: Storage) -> None:
    aid = storage.save_article(FEED, article("1", summary=BRIDGE + " 12 comments"), "h1", HIT, NOW).article_id
    storage.reserve_digest("t", storage.undelivered("t"), NOW)
    saved = storage.save_article(FEED, article("1", summary=BRIDGE + " 15 comments"), "h2", HIT, NOW)
    assert (saved.news, saved.material, saved.version) == (False, False, "date line or counters only")
    assert storage.undelivered("t") == []
    assert len(storage.versions(aid)) == 2
    again = storage.save_article(FEED, article("1", summary=BRIDGE + " 16 comments"), "h3", HIT, NOW, notify="all")
    assert again.news is True
    [item] = storage.undelivered("t")
    assert item.diff is not None and item.diff.material is False


OTHER = "http://127.0.0.1/other.xml"


def test_the_same_url_in_another_feed_is_a_copy_listed_under_its_original(storage: Storage) -> None:
    storage.ensure_feed(OTHER, "other", "active")
    first = storage.save_article(FEED, article("1", summary=BRIDGE), "h1", HIT, NOW)
    copy = storage.save_article(OTHER, article("9", summary=BRIDGE), "h9", HIT, NOW)
    assert (copy.copy_of, copy.news, copy.reported) == (first.article_id, False, first.article_id)
    [item] = storage.undelivered("t")
    assert item.article_id == first.article_id
    assert [(a.feed, a.url) for a in item.also_in] == [("other", "http://127.0.0.1/9")]


def test_a_near_duplicate_is_found_by_the_band_keys_given(storage: Storage) -> None:
    """A worker process computes the text's shingles and band keys: the store uses those."""
    third_feed = "http://127.0.0.1/third.xml"
    storage.ensure_feed(OTHER, "other", "active")
    storage.ensure_feed(third_feed, "third", "active")
    sh = shingles(ARREST)
    bands = band_keys(signature(sh))
    first = storage.save_article(FEED, article("1", summary=ARREST, link="http://one.test/1"), "h1", HIT, NOW)
    copy = article("9", summary=ARREST, link="http://two.test/9")
    assert storage.save_article(OTHER, copy, "h9", HIT, NOW, shingles=sh, bands=bands).copy_of == first.article_id
    alone = article("8", summary=ARREST, link="http://three.test/8")  # no band keys: no candidate
    assert storage.save_article(third_feed, alone, "h8", HIT, NOW, shingles=sh, bands=()).copy_of is None


def test_a_new_articles_identity_is_decided_as_it_is_stored(storage: Storage) -> None:
    """Each rule gives the same original on every backend: a copy points at the root (never at a
    copy), joins its original's story, and its band keys serve later copies within the window."""
    third_feed = "http://127.0.0.1/third.xml"
    storage.ensure_feed(OTHER, "other", "active")
    storage.ensure_feed(third_feed, "third", "active")
    first = storage.save_article(FEED, article("1", summary=ARREST, link="http://one.test/1"), "h1", HIT, NOW)
    story = storage.assign_story(first.article_id, None, NOW)
    # identity repair: the same feed, another guid and URL, the same title and text within a day
    moved = article("1b", title="Title 1", summary=ARREST, link="http://one.test/moved")
    repaired = storage.save_article(FEED, moved, "h1b", HIT, NOW + timedelta(hours=2))
    # by URL key: the repaired copy's URL in another feed; its original is the root
    by_key = storage.save_article(OTHER, article("2", summary=BRIDGE, link="http://one.test/moved"), "h2", HIT, NOW)
    # near-duplicate text under its own URL: found by band keys (computed by the store)
    near = storage.save_article(third_feed, article("3", summary=ARREST, link="http://three.test/3"), "h3", HIT, NOW)
    assert (repaired.copy_of, by_key.copy_of, near.copy_of) == (first.article_id,) * 3
    assert all(s.new_article and s.reported == first.article_id for s in (repaired, by_key, near))
    assert {storage.story_of(s.article_id) for s in (first, repaired, by_key, near)} == {story}
    # a different title in the same feed is no repair; outside the copy window no band key is left
    later = NOW + timedelta(days=4)
    other_title = article("4", title="Another title", summary=ARREST, link="http://one.test/4")
    four = storage.save_article(FEED, other_title, "h4", HIT, later)
    assert four.copy_of is None
    # the new article's own band keys were recorded: a copy of it, later still, finds it
    five = storage.save_article(OTHER, article("5", summary=ARREST, link="http://five.test/5"), "h5", HIT, later)
    assert five.copy_of == four.article_id


def test_stories_group_articles_and_find_candidates_by_their_terms(storage: Storage) -> None:
    a = storage.save_article(FEED, article("1", summary=BRIDGE), "h1", HIT, NOW).article_id
    flood = "Flood waters closed three schools in Shelbyville on Tuesday, the council said in a statement."
    b = storage.save_article(FEED, article("2", summary=flood), "h2", HIT, NOW).article_id
    story = storage.assign_story(a, None, NOW)
    indexed = StoryStep("null", (), (("springfield", "bridge"), NOW))  # b's terms join the story's entry
    assert storage.assign_story_step(b, story, NOW, indexed) == story
    assert [(m.article_id, m.story_id) for m in storage.story_members(NOW - timedelta(days=1))] == [
        (a, story),
        (b, story),
    ]
    assert storage.story_candidates(["bridge", "flood"], NOW - timedelta(days=1), 5) == [story]
    assert storage.story_candidates(["flood"], NOW - timedelta(days=1), 5) == []
    assert storage.story_candidates(["bridge"], NOW + timedelta(days=1), 5) == []  # not grown since
    storage.reserve_digest("t", [i for i in storage.undelivered("t") if i.article_id == a], NOW)
    [later] = storage.undelivered("t")
    assert (later.article_id, later.story, later.story_status) == (b, f"story-{story}", "more")
    assert later.story_first_reported == NOW


def test_the_story_engine_state_is_written_with_each_placement_and_loaded_by_window(storage: Storage) -> None:
    a = storage.save_article(FEED, article("1", summary=BRIDGE), "h1", HIT, NOW).article_id
    arrests = "Police in Springfield arrested two protesters who blocked the new bridge for an hour."
    b = storage.save_article(FEED, article("2", summary=arrests), "h2", HIT, NOW).article_id
    c = storage.save_article(FEED, article("3", summary="Flood waters rose."), "h3", HIT, NOW).article_id
    assert storage.load_story_engine(NOW - timedelta(days=1)) is None  # nothing saved yet: replay
    storage.save_story_engine({}, StoryFrequencies(1, 0, {}, {}))
    first = StoryStep('{"size": 1}', (("bridg", 0.5), ("mayor", 0.25)))
    story = storage.assign_story_step(a, None, NOW, first)
    assert (
        storage.assign_story_step(b, story, NOW, StoryStep('{"size": 2}', (("bridg", 0.5), ("arrest", 1.5)))) == story
    )
    other = storage.assign_story_step(c, None, NOW + timedelta(days=2), StoryStep('{"size": 1}', (("flood", 2.0),)))
    assert [(m.article_id, m.story_id) for m in storage.story_members(NOW - timedelta(days=1))] == [
        (a, story),
        (b, story),
        (c, other),
    ]
    saved = storage.load_story_engine(NOW - timedelta(days=1))
    assert saved is not None and (saved.version, saved.articles) == (1, 3)
    assert sorted(saved.terms) == [("arrest", 1, 1.5), ("bridg", 2, 0.5), ("flood", 1, 2.0), ("mayor", 1, 0.25)]
    assert saved.stories == ((story, '{"size": 2}'), (other, '{"size": 1}'))  # least recently grown first
    recent = storage.load_story_engine(NOW + timedelta(days=1))
    assert recent is not None and recent.stories == ((other, '{"size": 1}'),)


def test_a_placement_indexes_its_story_by_the_article_terms_in_the_same_step(storage: Storage) -> None:
    a = storage.save_article(FEED, article("1", summary=BRIDGE), "h1", HIT, NOW).article_id
    b = storage.save_article(FEED, article("2", summary="Flood waters rose."), "h2", HIT, NOW).article_id
    storage.save_story_engine({}, StoryFrequencies(1, 0, {}, {}))
    later = NOW + timedelta(days=2)
    step = StoryStep('{"size": 1}', (("bridg", 0.5),), (("springfield", "bridge"), later))
    story = storage.assign_story_step(a, None, NOW, step)
    assert storage.story_candidates(["bridge"], NOW + timedelta(days=1), 5) == [story]  # grown as of `later`
    other = storage.assign_story_step(b, None, NOW, StoryStep('{"size": 1}', (("flood", 2.0),)))
    assert storage.story_candidates(["flood"], NOW - timedelta(days=1), 5) == []  # no index given: none
    assert other != story


STORY_TEXTS = [
    BRIDGE,
    "Flood waters closed three schools in Shelbyville on Tuesday, the council said in a statement.",
    "The central bank raised its main interest rate by a quarter point to 4.5 percent on Thursday.",
    "A fire destroyed a warehouse near the port of Antwerp overnight; nobody was hurt, firefighters said.",
    "The football club appointed a new coach after losing six matches in a row this season.",
    "Scientists reported a new species of frog found in the cloud forests of northern Peru.",
]


def test_story_members_are_paged_in_arrival_order_within_the_window(storage: Storage) -> None:
    def saved(n: int, when: datetime, feed: str = FEED) -> int:
        return storage.save_article(feed, article(str(n), summary=STORY_TEXTS[n]), f"h{n}", HIT, when).article_id

    storage.ensure_feed(OTHER, "other", "active")
    since = NOW - timedelta(days=1)
    old = saved(0, NOW - timedelta(days=3))  # before the window
    a, b = saved(1, NOW), saved(2, NOW)
    late = saved(3, NOW - timedelta(days=2))  # a later id seen before the window: not a member
    copy = storage.save_article(OTHER, article("9", summary=STORY_TEXTS[1]), "h9", HIT, NOW)
    c, d = saved(4, NOW), saved(5, NOW)
    assert copy.copy_of == a  # in a's story too, but copies are not members
    story = storage.assign_story(a, None, NOW)
    for member in (old, late, b, c):
        storage.assign_story(member, story, NOW)
    other = storage.assign_story(d, None, NOW)
    expected = [(a, story), (b, story), (c, story), (d, other)]
    for page in (1, 2, 3, 4, 5, 500):  # a full last page, a short one, one bigger than the window
        assert [(m.article_id, m.story_id) for m in storage.story_members(since, page)] == expected, page
    assert list(storage.story_members(NOW + timedelta(days=1), 2)) == []  # nothing seen since


def test_story_states_are_read_in_chunks_by_id(storage: Storage) -> None:
    a = storage.save_article(FEED, article("1", summary=BRIDGE), "h1", HIT, NOW).article_id
    b = storage.save_article(FEED, article("2", summary="Flood waters rose."), "h2", HIT, NOW).article_id
    storage.save_story_engine({}, StoryFrequencies(1, 0, {}, {}))
    first = storage.assign_story_step(a, None, NOW, StoryStep('{"size": 1}', (("bridg", 0.5),)))
    second = storage.assign_story(b, None, NOW + timedelta(hours=1))  # a story without a state row
    ids = storage.load_story_engine(NOW - timedelta(days=1), states=False)
    assert ids is not None and ids.stories == ((first, None), (second, None)) and ids.articles == 1
    assert storage.story_states([first, second]) == {first: '{"size": 1}'}
    assert storage.story_states([second]) == {} and storage.story_states([]) == {}


def test_saving_the_whole_story_engine_replaces_the_frequencies(storage: Storage) -> None:
    a = storage.save_article(FEED, article("1", summary=BRIDGE), "h1", HIT, NOW).article_id
    story = storage.assign_story(a, None, NOW)  # placed before the state existed: no row
    assert storage.load_story_engine(NOW) is None
    storage.save_story_engine({}, StoryFrequencies(1, 7, {"old": 3}, {"old": 0.5}))
    saved = storage.load_story_engine(NOW)
    assert saved is not None and saved.stories == ((story, None),) and saved.terms == (("old", 3, 0.5),)
    storage.save_story_engine({story: '{"size": 1}'}, StoryFrequencies(2, 1, {"bridg": 1}, {"bridg": 0.75}))
    saved = storage.load_story_engine(NOW)
    assert saved is not None and (saved.version, saved.articles, saved.terms) == (2, 1, (("bridg", 1, 0.75),))
    storage.save_story_engine({story: '{"size": 2}'}, None)  # story rows only
    saved = storage.load_story_engine(NOW)
    assert saved is not None and saved.stories == ((story, '{"size": 2}'),) and saved.articles == 1


def test_a_recheck_is_due_at_its_time_with_the_pages_validators(storage: Storage) -> None:
    page = replace(article("1", summary=BRIDGE), extraction="page")
    aid = storage.save_article(FEED, page, "h1", HIT, NOW).article_id
    assert storage.due_rechecks(NOW) == []
    storage.set_recheck(aid, NOW + timedelta(hours=1), etag='"v1"')
    assert storage.due_rechecks(NOW) == []
    [due] = storage.due_rechecks(NOW + timedelta(hours=2))
    assert (due.article_id, due.feed_url, due.etag, due.last_modified) == (aid, FEED, '"v1"', None)
    storage.set_recheck(aid, None)
    assert storage.due_rechecks(NOW + timedelta(days=30)) == []


def test_rescore_demotes_keeps_and_promotes(storage: Storage) -> None:
    aid = storage.save_article(FEED, article("1"), "h1", MISS, NOW).article_id
    assert storage.match_for(aid) is None
    assert storage.rescore_article(aid, MISS, NOW) == "none"
    assert storage.rescore_article(aid, HIT, NOW) == "new"
    assert storage.rescore_article(aid, HIT, NOW) == "kept"
    assert storage.rescore_article(aid, MISS, NOW) == "demoted"
    assert storage.top_matches() == [] and storage.counts().matches == 0
    match = storage.match_for(aid)
    assert match is not None and match.status == "demoted"
    assert storage.rescore_article(aid, HIT, NOW) == "new"
    again = storage.match_for(aid)
    assert again is not None and again.status == "active" and again.revision == 2  # reported again


def test_the_explanation_is_derived_from_the_stored_parts(storage: Storage) -> None:
    aid = storage.save_article(FEED, article("1"), "h1", HIT, NOW).article_id
    match = storage.match_for(aid)
    assert match is not None
    assert (match.nearest_seed, match.facets, match.terms) == (HIT.nearest_seed, HIT.facets, HIT.terms)
    assert match.explanation == HIT.explanation() == "nearest seed s.txt | facets: Sahel: Mali | terms: junta"
    [item] = storage.top_matches()
    assert item.explanation == HIT.explanation() and item.sentence == HIT.sentence


def test_matches_are_listed_best_first_and_since_a_time(storage: Storage) -> None:
    storage.save_article(FEED, article("1"), "h1", Score(value=0.6, match=True), NOW)
    storage.save_article(FEED, article("2"), "h2", Score(value=0.8, match=True), NOW + timedelta(hours=2))
    assert [m.score for m in storage.top_matches()] == [0.8, 0.6]
    assert len(storage.top_matches(limit=1)) == 1
    assert [m.score for m in storage.matches_since(NOW + timedelta(hours=1))] == [0.8]
    assert len(storage.matches_since(None)) == 2


def test_articles_find_and_search(storage: Storage) -> None:
    aid = storage.save_article(FEED, article("1", summary="ammunition shipment to the junta"), "h", MISS, NOW)
    storage.save_article(FEED, article("2", summary="football results"), "h", MISS, NOW)
    assert [a.id for a in storage.search("ammunition")] == [aid.article_id]
    found = storage.find_article("http://127.0.0.1/1")
    assert found is not None and found.id == aid.article_id and found.feed == "local"
    assert found.document().text == "ammunition shipment to the junta"
    assert storage.find_article(str(aid.article_id)) == found and storage.find_article("999") is None
    assert [a.id for a in storage.articles(after_id=aid.article_id)] == [aid.article_id + 1]
    assert storage.articles(since=NOW + timedelta(days=1)) == []


def test_digest_items_are_the_matches_a_digest_holds(storage: Storage) -> None:
    first = storage.save_article(FEED, article("1"), "h1", HIT, NOW).article_id
    storage.save_article(FEED, article("2"), "h2", MISS, NOW)
    digest_id = storage.reserve_digest("t", storage.undelivered("t"), NOW)
    assert [m.article_id for m in storage.digest_items(digest_id)] == [first]
    assert storage.digest_items(digest_id + 1) == ()


def test_digest_items_are_as_sent_with_the_revision_story_and_change(storage: Storage) -> None:
    """The web page's digest view: an update since is the later digest's, not the earlier's."""
    first = storage.save_article(FEED, article("1", summary=BRIDGE), "h1", HIT, NOW).article_id
    story = storage.assign_story(first, None, NOW)
    sent = storage.reserve_digest("t", storage.undelivered("t"), NOW)
    storage.save_article(FEED, article("1", summary=ARREST), "h2", HIT, NOW + timedelta(hours=1))
    update = storage.reserve_digest("t", storage.undelivered("t"), NOW + timedelta(hours=1))
    [before] = storage.digest_items(sent)
    assert (before.revision, before.changed, before.diff, before.story) == (1, False, None, f"story-{story}")
    assert before.story_status == "new" and [v.text for v in storage.versions(first)] == [BRIDGE, ARREST]
    [after] = storage.digest_items(update)
    assert (after.revision, after.changed) == (2, True) and after.diff is not None and after.diff.material


def test_unknown_feed_is_a_storage_error(storage: Storage) -> None:
    with pytest.raises(StorageError, match="unknown feed"):
        storage.save_article("http://127.0.0.1/nope", article("1"), "h", HIT, NOW)
    with pytest.raises(StorageError, match="unknown feed"):
        storage.feed_state("http://127.0.0.1/nope")


# --- digests: exactly once per target --------------------------------------------------------


def test_digest_reservation_is_exactly_once_per_target(storage: Storage) -> None:
    storage.save_article(FEED, article("1"), "h1", HIT, NOW)
    items = storage.undelivered("email:a@b.c")
    assert len(items) == 1
    digest_id = storage.reserve_digest("email:a@b.c", items, NOW)
    assert storage.undelivered("email:a@b.c") == []  # reserved: a second run cannot take it
    assert len(storage.undelivered("file:digests")) == 1  # other targets are independent
    [pending] = storage.pending_digests("email:a@b.c")
    assert (pending.id, pending.created_at, [m.article_id for m in pending.items]) == (
        digest_id,
        NOW,
        [items[0].article_id],
    )
    storage.finish_digest(digest_id, NOW, error="SMTP refused")
    assert len(storage.pending_digests("email:a@b.c")) == 1
    storage.finish_digest(digest_id, NOW + timedelta(minutes=1))
    assert storage.pending_digests("email:a@b.c") == []
    [record] = storage.digests()
    assert (record.status, record.attempts, record.last_error, record.count) == ("delivered", 2, None, 1)
    assert record.delivered_at == NOW + timedelta(minutes=1)


def test_a_new_revision_is_delivered_again(storage: Storage) -> None:
    storage.save_article(FEED, article("1", summary=BRIDGE), "h1", HIT, NOW)
    storage.reserve_digest("t", storage.undelivered("t"), NOW)
    storage.save_article(FEED, article("1", summary=ARREST), "h2", HIT, NOW)
    [again] = storage.undelivered("t")
    assert again.changed is True


# --- feeds and applying a poll's update ------------------------------------------------------


def test_apply_success_failure_and_validators(storage: Storage) -> None:
    due = NOW + timedelta(minutes=30)
    ok = FetchRecord(fetched_at=NOW, next_due=due, validators=('"e1"', "lm1"), title="Local", warning="bozo")
    storage.apply(FeedUpdate(url=FEED, record=ok))
    state = storage.feed_state(FEED)
    assert (state.etag, state.last_modified, state.error_count, state.next_due_at) == ('"e1"', "lm1", 0, due)
    [status] = storage.feed_statuses()
    assert (status.title, status.last_warning, status.last_success_at) == ("Local", "bozo", NOW)
    failure = Failure(FailureKind.FETCH, "HTTP 503 from 127.0.0.1")
    for _ in range(2):
        storage.apply(FeedUpdate(url=FEED, record=FetchRecord(fetched_at=NOW, next_due=due, error=failure)))
    state = storage.feed_state(FEED)
    assert (state.error_count, state.last_error, state.etag) == (2, "HTTP 503 from 127.0.0.1", '"e1"')
    gone = Failure(FailureKind.PERMANENT, "HTTP 410 Gone")
    storage.apply(FeedUpdate(url=FEED, record=FetchRecord(fetched_at=NOW, next_due=due, error=gone, status="gone")))
    assert storage.feed_state(FEED).status == "gone"
    assert storage.due_feeds(NOW + timedelta(days=30)) == []  # a gone feed is never due


def test_apply_a_move_replaces_the_validators(storage: Storage) -> None:
    storage.apply(FeedUpdate(url=FEED, record=FetchRecord(NOW, NOW, validators=('"old"', None))))
    storage.apply(FeedUpdate(url=FEED, move=Move("http://127.0.0.1/new.xml", etag='"new"')))
    state = storage.feed_state(FEED)
    assert (state.fetch_url, state.etag, state.next_due_at) == ("http://127.0.0.1/new.xml", '"new"', NOW)
    storage.apply(FeedUpdate(url=FEED, move=Move(None)))
    assert storage.feed_state(FEED).fetch_url is None and storage.feed_state(FEED).etag is None


def test_sync_keeps_fetch_state_and_due_feeds(storage: Storage) -> None:
    later = NOW + timedelta(hours=1)
    storage.apply(FeedUpdate(url=FEED, record=FetchRecord(NOW, later, validators=('"e"', None))))
    storage.sync_feeds([spec(name="renamed"), spec("http://127.0.0.1/other.xml")])
    assert storage.feed_state(FEED).name == "renamed" and storage.feed_state(FEED).etag == '"e"'
    assert storage.due_feeds(NOW) == ["http://127.0.0.1/other.xml"]  # never fetched: due now
    assert storage.due_feeds(later) == ["http://127.0.0.1/other.xml", FEED]
    storage.ensure_feed("backfill:urls", "backfill", "manual")
    assert "backfill:urls" not in storage.due_feeds(later)
    assert storage.feed_state("backfill:urls").status == "manual"


# --- judgments and bookkeeping -----------------------------------------------------------------


def test_the_latest_judgment_wins(storage: Storage) -> None:
    aid = storage.save_article(FEED, article("1"), "h", MISS, NOW).article_id
    storage.judge(aid, True, NOW)
    storage.judge(aid, False, NOW + timedelta(minutes=1))
    [judgment] = storage.judgments()
    assert judgment.relevant is False and judgment.document.id == str(aid)


def test_the_scorer_state_is_kept_under_its_key_one_at_a_time(storage: Storage) -> None:
    assert storage.scorer_state("k1") is None
    storage.save_scorer_state("k1", '{"format": 1}', NOW)
    assert storage.scorer_state("k1") == '{"format": 1}'
    assert storage.scorer_state("k2") is None  # saved under another key: stale, not read
    big = '{"terms": "' + "é" * 1_000_000 + '"}'  # a state of ~100 judgments is about 1 MB
    storage.save_scorer_state("k2", big, NOW + timedelta(minutes=1))
    assert storage.scorer_state("k2") == big
    assert storage.scorer_state("k1") is None  # the new state replaced the old one


def test_values(storage: Storage) -> None:
    assert storage.get_value("heartbeat") is None
    storage.set_value("heartbeat", "a")
    storage.set_value("heartbeat", "b")
    assert storage.get_value("heartbeat") == "b"


# --- retention (settings.retention) ------------------------------------------------------------


def test_retention_drops_old_unreported_text_and_keeps_its_identity(storage: Storage) -> None:
    storage.ensure_feed(OTHER, "other", "active")
    old = NOW - timedelta(days=40)
    miss = storage.save_article(FEED, article("1", summary="ammunition shipment to the junta"), "h1", MISS, old)
    hit = storage.save_article(FEED, article("2", summary=BRIDGE), "h2", HIT, old).article_id
    copy = storage.save_article(OTHER, article("2", summary=BRIDGE + " Reuters"), "h9", MISS, old).article_id
    judged = storage.save_article(FEED, article("3", summary="ammunition drought"), "h3", MISS, old).article_id
    storage.judge(judged, False, old)
    recent = storage.save_article(FEED, article("4", summary="ammunition depot fire"), "h4", MISS, NOW).article_id

    assert storage.prune(NOW - timedelta(days=30), limit=100) == Pruned(scanned=4, dropped=1)
    gone = storage.find_article(str(miss.article_id))
    assert gone is not None and (gone.text, gone.title, gone.url) == ("", "Title 1", "http://127.0.0.1/1")
    assert [(v.number, v.text) for v in storage.versions(miss.article_id)] == [(1, "")]
    assert storage.known_entries(FEED)["1"] == "h1"  # the feed's entry is never new again
    assert sorted(a.id for a in storage.search("ammunition")) == [judged, recent]
    for kept in (hit, copy, judged, recent):  # reported, a copy of a reported one, judged, recent
        found = storage.find_article(str(kept))
        assert found is not None and found.text and storage.versions(kept)[0].text
    [judgment] = storage.judgments()
    assert judgment.document.text == "ammunition drought"
    # its URL key stays: the same article in another feed is a copy, not new
    again = storage.save_article(OTHER, article("1", summary="ammunition shipment"), "h8", MISS, NOW)
    assert (again.copy_of, again.new_article) == (miss.article_id, True)
    assert storage.prune(NOW - timedelta(days=30), limit=100) == Pruned(scanned=0, dropped=0)
    assert storage.counts().articles == 6


def test_retention_works_in_batches_from_where_the_last_one_stopped(storage: Storage) -> None:
    old = NOW - timedelta(days=40)
    for n in range(3):
        storage.save_article(FEED, article(str(n), summary=f"old text {n}"), f"h{n}", MISS, old + timedelta(hours=n))
    cut = NOW - timedelta(days=30)
    assert [storage.prune(cut, limit=2) for _ in range(3)] == [Pruned(2, 2), Pruned(1, 1), Pruned(0, 0)]
    later = storage.save_article(FEED, article("9", summary="newer"), "h9", MISS, NOW - timedelta(days=35))
    assert storage.prune(cut, limit=2) == Pruned(1, 1)  # a newer article passes the cut-off later
    assert [a.text for a in storage.articles()] == ["", "", "", ""] and later.new_article


# --- the web page's lists (filters and paging in the store) ------------------------------------


def test_a_match_page_filters_counts_and_pages_in_the_store(storage: Storage) -> None:
    storage.ensure_feed(OTHER, "other", "active")
    ids = []
    for n in range(5):
        score = replace(HIT, value=0.5 + n / 10)
        body = f"ammunition report {n}" if n % 2 else f"harvest report {n}"
        feed = FEED if n < 4 else OTHER
        ids.append(storage.save_article(feed, article(str(n), summary=body), "h", score, NOW).article_id)
    storage.judge(ids[0], False, NOW)
    storage.rescore_article(ids[0], MISS, NOW)  # demoted, but judged: still listed

    def listed(**query: object) -> list[int]:
        return [m.article_id for m in storage.match_page(MatchQuery(**query)).items]  # type: ignore[arg-type]

    assert listed() == [ids[4], ids[3], ids[2], ids[1], ids[0]]
    first = storage.match_page(MatchQuery(size=2, page=9))  # past the end: the last page
    assert (first.number, first.pages, first.total, [m.article_id for m in first.items]) == (3, 3, 5, [ids[0]])
    assert first.demoted == frozenset({ids[0]}) and first.feeds == ("local", "other")
    assert listed(feed="other") == [ids[4]]
    assert listed(min_score=0.75) == [ids[4], ids[3]]
    assert listed(judged="yes") == [ids[0]] and ids[0] not in listed(judged="no")
    assert listed(search="ammunition") == [ids[3], ids[1]] and listed(search="") == []
    assert listed(since=NOW + timedelta(days=1)) == []
    item = storage.match_item(ids[3])
    assert item is not None and item.article_id == ids[3] and storage.match_item(999) is None


def test_one_storys_articles_and_an_articles_story(storage: Storage) -> None:
    a = storage.save_article(FEED, article("1", summary=BRIDGE), "h1", HIT, NOW).article_id
    flood = "Flood waters closed three schools in Shelbyville on Tuesday, the council said."
    b = storage.save_article(FEED, article("2", summary=flood), "h2", MISS, NOW).article_id
    story = storage.assign_story(a, None, NOW)
    storage.assign_story(b, story, NOW)
    other = storage.assign_story(storage.save_article(FEED, article("3"), "h3", MISS, NOW).article_id, None, NOW)
    assert [m.article_id for m in storage.story_articles(story)] == [a, b]
    assert (storage.story_of(b), storage.story_of(999)) == (story, None) and other != story
