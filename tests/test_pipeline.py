"""One feed's poll without a network: the pure plan with record factories, and run_feed with a
fake fetcher and scorer over an in-memory SQLite store."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from factories import FEED, NOW, entry, feed_state, fetched, outcome, spec
from helpers import rss
from monitor.errors import FetchError, StorageError
from monitor.models import Document, Failure, FailureKind, FetchOutcome, FetchResult, Move, Score
from monitor.pipeline import run_feed
from monitor.plan import MAX_BACKOFF, decide, entry_hash, interrupted, next_due, plan, with_unscored
from monitor.store import SqliteStore
from monitor.storyline import StoryTracker

RNG = random.Random(1)


# --- plan: pure ------------------------------------------------------------------------------


def test_decide_keeps_unseen_and_changed_entries_only() -> None:
    a, b, c = entry("a"), entry("b"), entry("c")
    known = {"a": entry_hash(a), "b": entry_hash(entry("b", title="old title"))}
    assert [(p.entry.id, p.known) for p in decide((a, b, c), known)] == [("b", True), ("c", False)]
    assert decide((a,), {"a": entry_hash(a)}) == ()


def test_next_due_backs_off_exponentially_with_jitter_and_cap() -> None:
    rng = random.Random(1)
    healthy = next_due(600, NOW, rng=rng) - NOW
    assert timedelta(seconds=540) <= healthy <= timedelta(seconds=660)
    delays = [(next_due(600, NOW, failures=n, rng=rng) - NOW).total_seconds() for n in range(1, 12)]
    assert delays[1] > delays[0] * 1.5 and delays[2] > delays[1] * 1.5
    assert max(delays) <= MAX_BACKOFF * 1.1
    assert (next_due(600, NOW, failures=1, retry_after=7200, rng=rng) - NOW).total_seconds() >= 7200


def test_a_document_plans_its_new_and_changed_entries_with_the_new_validators() -> None:
    a, b = entry("a"), entry("b")
    update = plan(spec(interval=600), feed_state(), outcome(a, b, etag='"v2"'), {"a": entry_hash(a)}, NOW, RNG)
    assert [p.entry.id for p in update.entries] == ["b"]
    record = update.record
    assert record is not None and record.error is None and record.validators == ('"v2"', None)
    assert record.title == "Local feed" and record.fetched_at == NOW and record.status is None
    assert timedelta(seconds=540) <= record.next_due - NOW <= timedelta(seconds=660)
    assert update.move is None and not update.not_modified


def test_a_gone_feed_that_answers_is_active_again() -> None:
    update = plan(spec(), feed_state(status="gone"), outcome(), {}, NOW, RNG)
    assert update.record is not None and update.record.status == "active"


def test_not_modified_keeps_the_validators_and_processes_nothing() -> None:
    update = plan(spec(), feed_state(etag='"v1"'), FetchOutcome(fetched=fetched(304)), {}, NOW, RNG)
    assert update.not_modified and update.entries == ()
    assert update.record is not None and update.record.validators is None and update.record.error is None


def test_a_failed_fetch_backs_off_from_the_error_count_and_honours_retry_after() -> None:
    failure = Failure(FailureKind.FETCH, "HTTP 503 from 127.0.0.1", retry_after=5000)
    update = plan(spec(interval=60), feed_state(error_count=3), FetchOutcome(failure=failure), {}, NOW, RNG)
    record = update.record
    assert record is not None and record.error == failure and record.status is None
    assert record.next_due - NOW >= timedelta(seconds=5000)
    once = plan(spec(interval=60), feed_state(), FetchOutcome(failure=replace(failure, retry_after=None)), {}, NOW, RNG)
    assert once.record is not None and once.record.next_due - NOW < timedelta(seconds=100)
    assert str(failure) == "HTTP 503 from 127.0.0.1"  # rendered as its message, at the edges only


def test_a_permanent_failure_marks_the_feed_gone() -> None:
    gone = FetchOutcome(failure=Failure(FailureKind.PERMANENT, "HTTP 410 Gone"))
    update = plan(spec(), feed_state(), gone, {}, NOW, RNG)
    assert update.record is not None and update.record.status == "gone"


def test_a_permanent_redirect_moves_the_fetch_url_and_a_parse_failure_is_still_recorded() -> None:
    moved = fetched(permanent_redirect="http://127.0.0.1/new.xml", etag='"n"')
    broken = FetchOutcome(fetched=moved, failure=Failure(FailureKind.PARSE, "not a feed"))
    update = plan(spec(), feed_state(), broken, {}, NOW, RNG)
    assert update.move == Move("http://127.0.0.1/new.xml")  # a 200's validators wait for a stored document
    assert update.record is not None and update.record.error is not None
    assert update.record.error.kind is FailureKind.PARSE
    not_modified = FetchOutcome(fetched=replace(moved, status=304))
    assert plan(spec(), feed_state(), not_modified, {}, NOW, RNG).move == Move("http://127.0.0.1/new.xml", etag='"n"')
    back = FetchOutcome(fetched=fetched(permanent_redirect=FEED), parsed=outcome().parsed)
    assert plan(spec(), feed_state(fetch_url="http://127.0.0.1/x"), back, {}, NOW, RNG).move == Move(None)
    same = FetchOutcome(fetched=moved, parsed=outcome().parsed)
    assert plan(spec(), feed_state(fetch_url="http://127.0.0.1/new.xml"), same, {}, NOW, RNG).move is None


def test_unscored_entries_are_noted_and_an_interruption_keeps_only_the_move() -> None:
    update = plan(spec(), feed_state(), outcome(entry("a"), warning="bozo"), {}, NOW, RNG)
    noted = with_unscored(update, 2)
    assert noted.record is not None
    assert noted.record.warning == "bozo; 2 entries could not be scored (internal error, logged)"
    assert with_unscored(update, 0) == update
    moved = replace(update, move=Move("http://127.0.0.1/new.xml"))
    assert interrupted(moved) == replace(moved, record=None, entries=())


# --- run_feed: a fake fetcher and scorer, an in-memory store ---------------------------------


class FakeFetcher:
    def __init__(self, document: bytes, *, fail: Exception | None = None) -> None:
        self.document, self.fail, self.requests = document, fail, 0

    def fetch_feed(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        self.requests += 1
        if self.fail is not None:
            raise self.fail
        if etag == '"v1"':
            return fetched(304, etag=etag)
        return fetched(content=self.document, headers={"content-type": "application/rss+xml"}, etag='"v1"')

    def fetch_page(self, url: str) -> FetchResult:
        raise AssertionError("full_text is off: no page is fetched")


class FakeScorer:
    threshold = 0.5

    def score(self, doc: Document) -> Score:
        hit = "junta" in doc.title
        return Score(value=0.9 if hit else 0.1, match=hit, terms=("junta",) if hit else ())


ITEMS = [{"title": f"The junta {i}" if i % 2 else f"Football {i}", "link": f"http://127.0.0.1/{i}"} for i in range(4)]


@pytest.fixture
def store() -> Iterator[SqliteStore]:
    with SqliteStore(Path(":memory:")) as s:
        s.sync_feeds([spec(full_text=False)])
        yield s


def test_a_poll_stores_entries_then_records_the_validators(store: SqliteStore) -> None:
    fetcher = FakeFetcher(rss(ITEMS))
    first = run_feed(spec(full_text=False), store=store, fetcher=fetcher, scorer=FakeScorer(), now=lambda: NOW)
    assert (first.error, first.new_entries, first.matches) == (None, 4, 2)
    assert store.feed_state(FEED).etag == '"v1"' and store.counts().articles == 4
    again = run_feed(spec(full_text=False), store=store, fetcher=fetcher, scorer=FakeScorer(), now=lambda: NOW)
    assert again.not_modified and again.new_entries == 0


def test_an_interrupted_poll_keeps_what_it_stored_but_not_the_validators(store: SqliteStore) -> None:
    calls = iter([False, True])
    result = run_feed(
        spec(full_text=False),
        store=store,
        fetcher=FakeFetcher(rss(ITEMS)),
        scorer=FakeScorer(),
        now=lambda: NOW,
        should_stop=lambda: next(calls, True),
    )
    assert result.warning == "interrupted" and result.new_entries == 1
    assert store.counts().articles == 1 and store.feed_state(FEED).etag is None
    assert store.feed_state(FEED).last_fetch_at is None  # still due: the next pass fetches it in full


@pytest.mark.parametrize(
    ("fail", "kind"),
    [
        (FetchError("HTTP 503 from 127.0.0.1", retry_after=3600), FailureKind.FETCH),
        (FetchError("HTTP 410 Gone", permanent=True), FailureKind.PERMANENT),
        (RuntimeError("a bug"), FailureKind.INTERNAL),
    ],
)
def test_failures_are_typed_values_recorded_with_the_feed(
    store: SqliteStore, fail: Exception, kind: FailureKind
) -> None:
    result = run_feed(spec(), store=store, fetcher=FakeFetcher(b"", fail=fail), scorer=FakeScorer(), now=lambda: NOW)
    assert result.error is not None and result.error.kind is kind
    state = store.feed_state(FEED)
    assert state.error_count == 1 and state.last_error == result.error.message
    assert state.status == ("gone" if kind is FailureKind.PERMANENT else "active")


def test_a_document_that_is_not_a_feed_is_a_parse_failure(store: SqliteStore) -> None:
    fetcher = FakeFetcher(b"<html>no</html>")
    result = run_feed(spec(), store=store, fetcher=fetcher, scorer=FakeScorer(), now=lambda: NOW)
    assert result.error is not None and result.error.kind is FailureKind.PARSE
    assert store.feed_state(FEED).error_count == 1


class FailingStore:
    """The in-memory store, with one method made to fail the way a full disk or a bug would."""

    def __init__(self, store: SqliteStore, method: str, error: Exception) -> None:
        self.store, self.method, self.error = store, method, error

    def __getattr__(self, name: str) -> Any:
        if name == self.method:
            raise self.error
        return getattr(self.store, name)


def test_a_storage_failure_mid_feed_is_recorded_as_a_storage_failure(store: SqliteStore) -> None:
    broken = FailingStore(store, "save_article", StorageError("m.db: database or disk is full"))
    result = run_feed(
        spec(full_text=False),
        store=broken,
        fetcher=FakeFetcher(rss(ITEMS)),
        scorer=FakeScorer(),
        now=lambda: NOW,  # type: ignore[arg-type]
    )
    assert result.error is not None and result.error.kind is FailureKind.STORAGE
    state = store.feed_state(FEED)
    assert state.last_error == "m.db: database or disk is full" and state.etag is None  # validators not kept


def test_a_storage_failure_while_saving_keeps_none_of_the_entries_in_hand(store: SqliteStore) -> None:
    """A feed's processed entries are saved together (pipeline.SAVE_BATCH): the third save
    failing rolls back the first two, and as the validators were not stored either, the next
    poll processes them all again."""

    class FullDisk:
        def __init__(self) -> None:
            self.saves = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def save_article(self, *args: Any, **kwargs: Any) -> Any:
            self.saves += 1
            if self.saves == 3:
                raise StorageError("m.db: database or disk is full")
            return store.save_article(*args, **kwargs)

    result = run_feed(
        spec(full_text=False), store=FullDisk(), fetcher=FakeFetcher(rss(ITEMS)), scorer=FakeScorer(), now=lambda: NOW
    )  # type: ignore[arg-type]
    assert result.error is not None and result.error.kind is FailureKind.STORAGE
    assert store.counts().articles == 0 and store.feed_state(FEED).etag is None
    fetcher = FakeFetcher(rss(ITEMS))
    again = run_feed(spec(full_text=False), store=store, fetcher=fetcher, scorer=FakeScorer(), now=lambda: NOW)
    assert (again.error, again.new_entries, store.counts().articles) == (None, 4, 4)


def test_a_copy_saved_with_its_original_joins_the_story_the_original_is_placed_in(store: SqliteStore) -> None:
    text = "Officials in Ouagadougou said on Monday that 300 people attended the opening of the new bridge."
    items = [{"title": "The junta opens a bridge", "link": f"http://127.0.0.1/{i}", "description": text} for i in "ab"]
    result = run_feed(
        spec(full_text=False),
        store=store,
        fetcher=FakeFetcher(rss(items)),
        scorer=FakeScorer(),
        now=lambda: NOW,
        stories=StoryTracker(),
    )
    assert (result.error, result.new_entries) == (None, 2)
    (a, a_of, a_story), (b, b_of, b_story) = store.db.conn.execute(
        "SELECT id, copy_of, story_id FROM articles ORDER BY id"
    ).fetchall()
    assert (a_of, b_of) == (None, a) and a_story is not None and b_story == a_story


def test_a_bug_mid_feed_is_an_internal_failure_and_an_unrecordable_one_says_so(store: SqliteStore) -> None:
    bug = FailingStore(store, "save_article", RuntimeError("a bug"))
    result = run_feed(
        spec(full_text=False), store=bug, fetcher=FakeFetcher(rss(ITEMS)), scorer=FakeScorer(), now=lambda: NOW
    )  # type: ignore[arg-type]
    assert result.error is not None and result.error.kind is FailureKind.INTERNAL
    assert result.error.message == "internal error: RuntimeError: a bug"
    assert store.feed_state(FEED).error_count == 1
    unrecordable = FailingStore(store, "apply", StorageError("m.db: disk I/O error"))
    failed_fetch = FakeFetcher(b"", fail=FetchError("HTTP 500 from 127.0.0.1"))
    result = run_feed(spec(), store=unrecordable, fetcher=failed_fetch, scorer=FakeScorer(), now=lambda: NOW)  # type: ignore[arg-type]
    assert result.error is not None
    assert result.error.message == "HTTP 500 from 127.0.0.1 (and could not record it: m.db: disk I/O error)"


def test_a_page_that_breaks_the_extractor_falls_back_to_the_feed_text(store: SqliteStore) -> None:
    class HostilePages(FakeFetcher):
        def fetch_page(self, url: str) -> FetchResult:
            raise RecursionError("deeply nested page")

    result = run_feed(spec(), store=store, fetcher=HostilePages(rss(ITEMS[:1])), scorer=FakeScorer(), now=lambda: NOW)
    assert result.error is None and result.new_entries == 1
    [stored] = store.articles()
    assert stored.title == "Football 0"  # the feed's own title and text stand in
