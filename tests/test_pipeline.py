"""The pure decisions of the pipeline: what is new, what changed, when to try again."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from monitor.models import Entry
from monitor.pipeline import MAX_BACKOFF, decide, entry_hash, next_due

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def _entry(i: str, title: str = "t") -> Entry:
    return Entry(id=i, feed_url="http://a/", title=title, link=f"http://a/{i}", published=None, summary="s", content="")


def test_decide_keeps_unseen_and_changed_entries_only() -> None:
    a, b, c = _entry("a"), _entry("b"), _entry("c")
    known = {"a": entry_hash(a), "b": entry_hash(_entry("b", "old title"))}
    assert [e.id for e, _ in decide((a, b, c), known)] == ["b", "c"]
    assert decide((a,), {"a": entry_hash(a)}) == []


def test_next_due_backs_off_exponentially_with_jitter_and_cap() -> None:
    rng = random.Random(1)
    healthy = next_due(600, NOW, rng=rng) - NOW
    assert timedelta(seconds=540) <= healthy <= timedelta(seconds=660)
    delays = [(next_due(600, NOW, failures=n, rng=rng) - NOW).total_seconds() for n in range(1, 12)]
    assert delays[1] > delays[0] * 1.5 and delays[2] > delays[1] * 1.5
    assert max(delays) <= MAX_BACKOFF * 1.1
    assert (next_due(600, NOW, failures=1, retry_after=7200, rng=rng) - NOW).total_seconds() >= 7200
