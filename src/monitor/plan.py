"""Pure decisions about one poll of a feed: what to process, which validators to keep, when to
try again, which error to record. No I/O: the pipeline gathers the inputs and hands the
resulting FeedUpdate to `Storage.apply`.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from .models import (
    Entry,
    Failure,
    FailureKind,
    FeedSpec,
    FeedState,
    FeedUpdate,
    FetchOutcome,
    FetchRecord,
    FetchResult,
    Move,
    PlannedEntry,
)

MAX_BACKOFF = 24 * 3600.0
JITTER = 0.1
_RNG = random.Random()  # seeding a new Random per call cost more than the rest of next_due
UNSCORED = "unscored"  # stored instead of an entry hash: never equal to one, so the next poll retries


def entry_hash(entry: Entry) -> str:
    """What the feed says about an entry; a change means the story was updated."""
    basis = "\x00".join((entry.title, entry.link or "", entry.summary, entry.content))
    return hashlib.sha1(" ".join(basis.split()).encode("utf-8")).hexdigest()


def decide(entries: tuple[Entry, ...], known: dict[str, str]) -> tuple[PlannedEntry, ...]:
    """Entries to process: unseen ones, and stored ones whose feed text changed."""
    out = []
    for entry in entries:
        digest = entry_hash(entry)
        if known.get(entry.id) != digest:
            out.append(PlannedEntry(entry=entry, entry_hash=digest, known=entry.id in known))
    return tuple(out)


def next_due(
    interval: float,
    now: datetime,
    *,
    failures: int = 0,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """Next attempt: the interval when healthy; capped exponential backoff with jitter after
    failures; never earlier than a server's Retry-After."""
    rng = rng or _RNG
    delay = interval if failures <= 0 else min(MAX_BACKOFF, interval * 2 ** min(failures - 1, 20))
    delay = max(delay, min(interval, 60.0)) if failures else delay
    delay *= 1 + rng.uniform(-JITTER, JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_BACKOFF))
    return now + timedelta(seconds=delay)


def plan(
    spec: FeedSpec,
    state: FeedState,
    outcome: FetchOutcome,
    known: dict[str, str],
    now: datetime,
    rng: random.Random | None = None,
) -> FeedUpdate:
    """What this poll means for the feed. Validators are part of the record, which the pipeline
    applies only after every entry is stored: a crash mid-feed re-fetches the whole feed."""
    fetched = outcome.fetched
    if fetched is None:
        failure = outcome.failure or Failure(FailureKind.INTERNAL, "fetch gave no result")
        return failed(spec, state, failure, now, rng)
    move = _move(spec, state.fetch_url, fetched)
    if outcome.failure is not None:
        return failed(spec, state, outcome.failure, now, rng, move=move)
    # a feed that answers again is active again (e.g. a 410 that was lifted)
    reactivate = "active" if state.status == "gone" else None
    due = next_due(spec.interval, now, rng=rng)
    if fetched.not_modified or outcome.parsed is None:
        record = FetchRecord(fetched_at=now, next_due=due, status=reactivate)
        return FeedUpdate(url=spec.url, record=record, move=move, not_modified=True)
    parsed = outcome.parsed
    record = FetchRecord(
        fetched_at=now,
        next_due=due,
        warning=parsed.warning,
        validators=(fetched.etag, fetched.last_modified),
        status=reactivate,
        title=parsed.title,
    )
    return FeedUpdate(url=spec.url, record=record, move=move, entries=decide(parsed.entries, known))


def failed(
    spec: FeedSpec,
    state: FeedState,
    failure: Failure,
    now: datetime,
    rng: random.Random | None = None,
    *,
    move: Move | None = None,
) -> FeedUpdate:
    """A failed poll: back off (never before Retry-After); a permanent failure stops the feed."""
    due = next_due(spec.interval, now, failures=state.error_count + 1, retry_after=failure.retry_after, rng=rng)
    status = "gone" if failure.kind is FailureKind.PERMANENT else None
    record = FetchRecord(fetched_at=now, next_due=due, error=failure, status=status)
    return FeedUpdate(url=spec.url, record=record, move=move)


def with_unscored(update: FeedUpdate, unscored: int) -> FeedUpdate:
    """Note entries the scorer failed on in the feed's warning (they are retried next poll)."""
    if not unscored or update.record is None:
        return update
    note = f"{unscored} entr{'y' if unscored == 1 else 'ies'} could not be scored (internal error, logged)"
    warning = update.record.warning
    return replace(update, record=replace(update.record, warning=f"{warning}; {note}" if warning else note))


def entries_lost(
    update: FeedUpdate,
    spec: FeedSpec,
    state: FeedState,
    failures: Sequence[Failure],
    now: datetime,
    rng: random.Random | None = None,
) -> FeedUpdate:
    """Some entries could not be processed at all (a worker process died on each, twice) and
    were not stored: the poll counts as failed, so the validators stay old and the next attempt
    (after the backoff) fetches the feed in full and processes exactly the missing entries."""
    if not failures:
        return update
    n = len(failures)
    first = failures[0]
    message = f"{n} entr{'y' if n == 1 else 'ies'} not processed, retried at the next poll: {first}"
    failure = Failure(first.kind, message)
    return failed(spec, state, failure, now, rng, move=update.move)


def interrupted(update: FeedUpdate) -> FeedUpdate:
    """Stopped mid-feed: keep the redirect but not the fetch record, so the validators stay old
    and the next pass fetches the feed again in full."""
    return replace(update, record=None, entries=())


def _move(spec: FeedSpec, current: str | None, fetched: FetchResult) -> Move | None:
    """A permanent redirect (301/308) changes where the feed is fetched from, never its identity
    (feeds.yaml stays the source of truth)."""
    moved = fetched.permanent_redirect
    if not moved:
        return None
    target = None if moved == spec.url else moved
    if target == current:
        return None
    # A 304 from the new location confirms the validators we sent; after a 200 they come with
    # the fetch record, once the document is parsed and stored.
    keep = fetched.not_modified
    return Move(
        fetch_url=target,
        etag=fetched.etag if keep else None,
        last_modified=fetched.last_modified if keep else None,
    )
