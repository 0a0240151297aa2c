"""The match lifecycle rule, a pure function every backend applies."""

from __future__ import annotations

import pytest

from monitor.store import MatchChange, match_change, rescore_outcome


def test_no_row_until_an_article_matches() -> None:
    assert match_change(None, matches=False, content_changed=False) is None
    first = match_change(None, matches=True, content_changed=False)
    assert first == MatchChange(status="active", insert=True, new_revision=False) and first.news


@pytest.mark.parametrize(
    ("existing", "matches", "changed", "status", "news"),
    [
        ("active", True, False, "active", False),  # the same story again: nothing to report
        ("active", True, True, "active", True),  # its content changed: reported as updated
        ("active", False, True, "demoted", False),  # no longer qualifies: kept, not reported
        ("demoted", True, False, "active", True),  # qualifies again: reported again
        ("demoted", False, False, "demoted", False),
    ],
)
def test_existing_matches(existing: str, matches: bool, changed: bool, status: str, news: bool) -> None:
    change = match_change(existing, matches, changed)  # type: ignore[arg-type]
    assert change is not None and change.status == status and change.news is news and not change.insert


def test_rescore_outcomes() -> None:
    assert rescore_outcome(None, "active") == "new"
    assert rescore_outcome("demoted", "active") == "new"
    assert rescore_outcome("active", "demoted") == "demoted"
    assert rescore_outcome("active", "active") == "kept"
    assert rescore_outcome(None, None) == "none"
