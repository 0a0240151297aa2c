"""Pure view logic for story tracking on the web page: digest sections, versions with their
diffs, a story's articles and its coverage chart. No I/O: the server passes the records in."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from markupsafe import Markup

from .. import digest
from ..changes.offline import diff_html
from ..changes.versions import compare
from ..models import MatchItem
from ..store.records import StoredVersion, StoryMember

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # story_members(EPOCH): every story's articles
CHART_DAYS = 60  # a longer story shows its last 60 days: the chart stays small
BAR, GAP, HEIGHT = 12, 2, 60  # px


def digest_sections(items: Sequence[MatchItem]) -> list[tuple[str, list[MatchItem]]]:
    """The emailed digest's non-empty sections (digest.sections), headed as it heads them."""
    return [(digest.SECTION_HEADINGS[key], found) for key, found in digest.sections(items).items() if found]


def story_number(story: str | None) -> int | None:
    """ "story-12" (MatchItem.story) → 12."""
    if not story or not story.startswith("story-") or not story[6:].isdigit():
        return None
    return int(story[6:])


@dataclass(frozen=True)
class VersionView:
    version: StoredVersion
    diff: Markup | None  # the diff against the version before, for a material version


def version_views(versions: Sequence[StoredVersion]) -> list[VersionView]:
    """Every version (minor ones too); a material one after the first carries its rendered diff.

    diff_html escapes every text it puts between its own <ins>/<del> tags, so its output is
    safe to mark as HTML."""
    out = []
    for before, v in zip([None, *versions], versions, strict=False):
        diff = None
        if before is not None and v.material:
            change = compare(before.text, v.text, old_title=before.title, new_title=v.title)
            diff = Markup(diff_html(change))  # noqa: S704 - escaped by diff_html
        out.append(VersionView(v, diff))
    return out


def story_of(members: Sequence[StoryMember], article_id: int) -> int | None:
    return next((m.story_id for m in members if m.article_id == article_id), None)


def story_articles(members: Sequence[StoryMember], story_id: int) -> list[StoryMember]:
    """A story's articles in time order (published, else first seen)."""
    found = [m for m in members if m.story_id == story_id]
    return sorted(found, key=lambda m: (_when(m), m.article_id))


def _when(m: StoryMember) -> datetime:
    value = m.published or m.first_seen
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    height: int
    day: date
    count: int


@dataclass(frozen=True)
class Chart:
    bars: tuple[Bar, ...]
    width: int
    height: int
    peak: int


def coverage_chart(members: Sequence[StoryMember]) -> Chart:
    """Articles per day (UTC) from the story's first day to its last, one bar a day (empty days
    too, so the gaps show), scaled to the busiest day."""
    per_day = Counter(_when(m).astimezone(UTC).date() for m in members)
    if not per_day:
        return Chart((), 0, HEIGHT, 0)
    last = max(per_day)
    first = max(min(per_day), last - timedelta(days=CHART_DAYS - 1))
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    peak = max(per_day[d] for d in days)
    bars = []
    for i, day in enumerate(days):
        h = round(HEIGHT * per_day[day] / peak) if per_day[day] else 0
        bars.append(Bar(x=i * (BAR + GAP), y=HEIGHT - h, height=h, day=day, count=per_day[day]))
    return Chart(tuple(bars), len(days) * (BAR + GAP) - GAP, HEIGHT, peak)
