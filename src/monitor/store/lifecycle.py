"""The match lifecycle, as a pure rule every storage backend applies.

A match row exists once an article has matched. Re-scoring keeps the row: it is `active` while
the article matches and `demoted` when it no longer does. A new revision (the digest reports the
article again, marked "updated") is made when an active match's content changed, or when a
demoted match qualifies again.
"""

from __future__ import annotations

from dataclasses import dataclass

from .records import MatchStatus, RescoreOutcome


@dataclass(frozen=True)
class MatchChange:
    status: MatchStatus
    insert: bool  # no row yet: create it at revision 1
    new_revision: bool  # an existing row gets revision + 1

    @property
    def news(self) -> bool:
        """The digest has something to report: a new match or a new revision."""
        return self.insert or self.new_revision


def match_change(existing: MatchStatus | None, matches: bool, content_changed: bool) -> MatchChange | None:
    """What a new score does to an article's match (None: no row, and none is needed)."""
    if existing is None:
        return MatchChange(status="active", insert=True, new_revision=False) if matches else None
    if not matches:
        return MatchChange(status="demoted", insert=False, new_revision=False)
    qualifies_again = existing != "active"
    return MatchChange(status="active", insert=False, new_revision=content_changed or qualifies_again)


def rescore_outcome(before: MatchStatus | None, after: MatchStatus | None) -> RescoreOutcome:
    """How `monitor backfill --rescore` counts a re-scored article."""
    was, now = before == "active", after == "active"
    if now and not was:
        return "new"
    if was and not now:
        return "demoted"
    return "kept" if now else "none"
