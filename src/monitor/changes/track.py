"""Integration rules between the engines and the store (pure): the verdict on a new version of
an article, which texts never make a version, and the age-based re-check schedule.

The store calls `verdict` inside the transaction that saves an article; the pipeline calls
`next_check` after a matched article is saved or re-checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..models import VersionChange
from .versions import compare

PAGE = "page"


@dataclass(frozen=True)
class Version:
    """One stored version of an article's text."""

    number: int
    title: str
    text: str
    extraction: str
    content_hash: str


@dataclass(frozen=True)
class Verdict:
    """What a new version is: material (reported again) or minor (stored, never reported)."""

    material: bool
    significance: float
    summary: str
    reason: str  # why it is minor ("" when material; "first version" for the first)
    change: VersionChange | None  # None for the first version


def degraded(new_extraction: str, previous_extraction: str | None) -> bool:
    """The page could not be read this time (fetch error, 500, blank or too short a page) and
    the feed's text stood in for an article that was read from its page before: that text is
    not a version of the article, and it must not replace the page's text."""
    return previous_extraction == PAGE and new_extraction != PAGE


def verdict(
    latest: Version | None, history: Sequence[Version], title: str, text: str, extraction: str = PAGE
) -> Verdict:
    """Classify a new distinct text against the latest version (`history`: every earlier one)."""
    if latest is None:
        return Verdict(False, 0.0, "first version", "first version", None)
    if latest.extraction != PAGE and extraction == PAGE:
        # the page is read for the first time (it failed before, the feed's text stood in):
        # a fuller text of the same article, not an edit of it
        reason = "first read of the page"
        return Verdict(False, 0.0, f"minor ({reason})", reason, None)
    diff = compare(
        latest.text,
        text,
        old_title=latest.title,
        new_title=title,
        history=[v.text for v in history if v.number != latest.number],
    )
    change = VersionChange(
        material=diff.material,
        significance=diff.significance,
        summary=diff.summary,
        changes=tuple((c.op, c.before, c.after) for c in diff.changes),
    )
    return Verdict(diff.material, diff.significance, diff.summary, diff.reason, change)


def next_check(first_seen: datetime, now: datetime, schedule: Sequence[float]) -> datetime | None:
    """The first point of the schedule (seconds after first seen) later than `now`; None once
    the schedule is over (the article is then re-read only when its feed entry changes)."""
    for age in sorted(schedule):
        due = first_seen + timedelta(seconds=age)
        if due > now:
            return due
    return None
