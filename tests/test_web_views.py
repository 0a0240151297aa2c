"""The web page's pure view logic and security rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from factories import NOW, match_item
from monitor.errors import ConfigError
from monitor.store.records import StoredVersion, StoryMember
from monitor.web import security, stories, views


def test_fts_query_quotes_every_word_so_no_input_is_a_syntax_error() -> None:
    assert views.fts_query('Mali "junta" OR NEAR(') == '"Mali" "junta" "OR" "NEAR"'
    assert views.fts_query("*** ()") == ""
    assert views.fts_query("Traoré") == '"Traoré"'


def test_parse_filter_keeps_good_values_and_reports_bad_ones() -> None:
    f, errors = views.parse_filter({"q": " mali ", "since": "2026-11-20", "min_score": "0.5", "judged": "no"})
    assert (f.q, f.since, f.min_score, f.judged, errors) == ("mali", datetime(2026, 11, 20, tzinfo=UTC), 0.5, "no", [])
    f, errors = views.parse_filter({"since": "x", "min_score": "-1", "judged": "maybe", "page": "two"})
    assert (f.since, f.min_score, f.judged, f.page, len(errors)) == (None, None, "", 1, 2)


def test_filter_query_string_round_trips_for_pagination() -> None:
    f, _ = views.parse_filter({"q": "a&b", "feed": "X", "page": "3"})
    assert f.query(page=4) == "q=a%26b&feed=X&page=4"
    assert f.query(page=1) == "q=a%26b&feed=X"
    assert views.parse_filter(dict(p.split("=") for p in f.query().split("&")))[0].feed == "X"


def test_highlight_marks_the_first_occurrence_of_the_best_sentence() -> None:
    text = "Intro line.\n\nThe junta took power. It said so.\nThe junta took power."
    paras = views.highlight(text, "The junta took power.")
    assert paras == [
        [("Intro line.", False)],
        [("The junta took power.", True), (" It said so.", False)],
        [("The junta took power.", False)],
    ]
    assert views.highlight("One.", "") == [[("One.", False)]]
    assert views.highlight("", "x") == []


def test_digest_sections_are_the_emailed_digests_three_with_its_headings() -> None:
    items = [
        match_item(1, story="story-7"),
        match_item(2, changed=True, story="story-7"),
        match_item(3, story="story-7"),
        match_item(4, story="story-8", story_status="more"),
    ]
    got = [(t, [(m.article_id, m.story_articles) for m in g]) for t, g in stories.digest_sections(items)]
    # article 3 folds into story 7's entry (article 1), as the emailed digest folds it
    assert got == [("New stories", [(1, 2)]), ("More coverage", [(4, 1)]), ("Updated", [(2, 1)])]
    assert stories.digest_sections([]) == []


def test_story_number_reads_the_match_items_story_key() -> None:
    assert stories.story_number("story-12") == 12
    assert [stories.story_number(x) for x in (None, "", "story-", "story-x1", "12")] == [None] * 5


def version(number: int, text: str, material: bool = False, title: str = "T") -> StoredVersion:
    return StoredVersion(number, NOW, title, len(text.split()), "feed", material, 0.5, "s", "", text=text)


def test_version_views_diff_material_versions_only_and_escape_the_text() -> None:
    rows = stories.version_views(
        [
            version(1, "The army closed the border."),
            version(2, "The army closed the border ."),  # minor: no diff shown
            version(3, "The army closed the border and the <script>x</script> airport.", material=True),
        ]
    )
    assert [r.diff is None for r in rows] == [True, True, False]
    html = str(rows[2].diff)
    assert "<ins>" in html and "&lt;script&gt;" in html and "<script>" not in html


def member(article_id: int, story_id: int, when: datetime) -> StoryMember:
    return StoryMember(article_id, story_id, f"A{article_id}", "", None, when, when)


def test_story_articles_are_in_time_order_and_the_chart_counts_each_day() -> None:
    day = timedelta(days=1)
    members = [member(1, 5, NOW + 2 * day), member(2, 5, NOW), member(3, 6, NOW), member(4, 5, NOW + 2 * day)]
    mine = stories.story_articles(members, 5)
    assert [m.article_id for m in mine] == [2, 1, 4]
    assert stories.story_of(members, 3) == 6 and stories.story_of(members, 9) is None
    chart = stories.coverage_chart(mine)
    assert [(b.day, b.count) for b in chart.bars] == [
        (NOW.date(), 1),
        ((NOW + day).date(), 0),
        ((NOW + 2 * day).date(), 2),
    ]
    assert chart.peak == 2 and [b.height for b in chart.bars] == [stories.HEIGHT // 2, 0, stories.HEIGHT]
    assert chart.width == 3 * (stories.BAR + stories.GAP) - stories.GAP
    assert stories.coverage_chart([]).bars == ()


def test_the_chart_shows_at_most_its_last_days() -> None:
    members = [member(1, 1, NOW), member(2, 1, NOW + timedelta(days=400))]
    chart = stories.coverage_chart(members)
    assert len(chart.bars) == stories.CHART_DAYS and chart.bars[-1].count == 1 and chart.peak == 1


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert security.is_loopback(host) is loopback


def test_bind_rule_and_tokens() -> None:
    security.check_bind("127.0.0.1", None)
    security.check_bind("0.0.0.0", "x" * 32)
    with pytest.raises(ConfigError, match="needs MONITOR_WEB_TOKEN"):
        security.check_bind("0.0.0.0", None)
    with pytest.raises(ConfigError, match="too short"):
        security.check_bind("127.0.0.1", "short")
    assert security.token_ok("abc", "abc")
    assert not security.token_ok("abc", "abd") and not security.token_ok("abc", None)
    secret, nonce = b"k" * 32, security.new_nonce()
    token = security.csrf_token(secret, nonce)
    assert security.csrf_ok(secret, nonce, token)
    assert not security.csrf_ok(b"other" * 8, nonce, token)  # another process's secret
    assert not security.csrf_ok(secret, security.new_nonce(), token)  # another browser's cookie
    assert not security.csrf_ok(secret, None, token) and not security.csrf_ok(secret, nonce, "")
