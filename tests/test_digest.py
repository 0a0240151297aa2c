"""Digest rendering: every format, output safety, Atom validity, template overrides."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import pytest

from factories import match_item
from monitor.digest import FORMATS, atom_id, md_escape, render, safe_link
from monitor.errors import ConfigError
from monitor.models import Digest, MatchItem

ATOM = "{http://www.w3.org/2005/Atom}"
GENERATED = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
SINCE = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)

GOOD = MatchItem(
    article_id=1,
    url="https://news.example.org/2026/harbour-dredging",
    title="Harbour dredging plan [approved] by council",
    feed="Example News",
    published=datetime(2026, 11, 21, 9, 30, tzinfo=UTC),
    first_seen=datetime(2026, 11, 21, 10, 0, tzinfo=UTC),
    score=0.87654,
    sentence="The council approved the dredging of the inner harbour on Monday.",
    nearest_seed="harbour.txt",
    facets=("dredging", "council vote"),
    terms=("harbour", "silt"),
)
CHANGED = MatchItem(
    article_id=2,
    url="http://other.example.net/story?id=7&lang=en",
    title="Port authority revises silt estimate",
    feed="Other Wire",
    published=None,
    first_seen=datetime(2026, 11, 20, 8, 0, tzinfo=timezone(timedelta(hours=1))),
    score=0.5,
    nearest_seed="harbour.txt",
    terms=("silt",),
    changed=True,
)
EVIL = MatchItem(
    article_id=3,
    url="javascript:alert(document.cookie)",
    title='<script>alert("x")</script> & <b>bold</b> ]](evil)',
    feed="<i>Feed</i>",
    published=datetime(2026, 11, 21, 11, 0),  # naive: taken as UTC
    first_seen=datetime(2026, 11, 21, 12, 0),
    score=0.61,
    terms=("<img src=x onerror=alert(1)>",),
    sentence='He said "<script>steal()</script>" and left.\x00\x07',
)
DATA = MatchItem(
    article_id=4,
    url="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    title="Data link",
    feed="F",
    published=None,
    first_seen=datetime(2026, 11, 21, 12, 0, tzinfo=UTC),
    score=0.7,
)


def digest(*items: MatchItem, since: datetime | None = SINCE) -> Digest:
    return Digest(generated_at=GENERATED, matches=items, since=since)


# --- human formats ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["md", "html", "text"])
def test_human_formats_list_every_field(fmt: str) -> None:
    out = render(digest(GOOD, CHANGED), fmt)
    assert "2026-11-22" in out
    assert "1 new story, 0 more articles, 1 update" in out
    for item in (GOOD, CHANGED):
        assert item.feed in out
    assert "Port authority revises silt estimate" in out
    assert "0.88" in out and "0.50" in out  # two decimals
    assert "2026-11-21 09:30 UTC" in out  # published
    assert "2026-11-21 10:00 UTC" in out  # first seen
    assert "2026-11-20 08:00 +0100" in out  # first seen keeps its zone
    assert "The council approved the dredging of the inner harbour on Monday." in out
    assert "nearest seed harbour.txt" in out  # explanation
    assert "updated" in out.lower()
    # the explanation is derived from its parts (CHANGED has a seed and a term, no facets)
    assert "nearest seed harbour.txt | terms: silt" in out
    assert out.count("dredging; council vote") == 1, "each part is shown once"


def test_markdown_links_and_escapes() -> None:
    out = render(digest(GOOD, EVIL, DATA), "md")
    assert ("[Harbour dredging plan \\[approved\\] by council](https://news.example.org/2026/harbour-dredging)") in out
    # non-http(s) URLs are shown as text, never as link destinations
    assert "](javascript:" not in out and "](data:" not in out
    assert "javascript:alert(document.cookie)" in out
    assert "\\<script\\>" in out and "<script>" not in out
    assert "\\]\\](evil)" in out
    assert "> The council approved" in out


def test_markdown_link_destination_is_encoded() -> None:
    item = match_item(9, url="https://en.example.org/wiki/Foo_(bar) x", title="T")
    assert "[T](https://en.example.org/wiki/Foo_%28bar%29%20x)" in render(digest(item), "md")


def test_md_escape() -> None:
    assert md_escape("a [b] *c* _d_ `e` <f>\n g\\") == "a \\[b\\] \\*c\\* \\_d\\_ \\`e\\` \\<f\\> g\\\\"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://a.example/x", True),
        ("HTTP://a.example/x", True),
        ("  https://a.example/x ", True),
        ("javascript:alert(1)", False),
        (" JavaScript:alert(1)", False),
        ("java\x00script:alert(1)", False),
        ("data:text/html,<b>", False),
        ("vbscript:x", False),
        ("ftp://a.example/", False),
        ("//a.example/x", False),
        ("https:///nohost", False),
        ("", False),
    ],
)
def test_safe_link(url: str, ok: bool) -> None:
    assert (safe_link(url) is not None) is ok


def test_html_escapes_and_refuses_unsafe_links() -> None:
    out = render(digest(GOOD, EVIL, DATA), "html")
    assert "<script>" not in out
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in out
    assert "&lt;b&gt;bold&lt;/b&gt;" in out and "<b>bold" not in out
    assert "&lt;i&gt;Feed&lt;/i&gt;" in out
    assert "<img" not in out
    assert 'href="javascript' not in out.lower() and 'href="data' not in out.lower()
    assert "javascript:alert(document.cookie)" in out  # shown as text
    assert 'href="https://news.example.org/2026/harbour-dredging"' in out
    assert out.count("href=") == 1
    assert "\x00" not in out and "\x07" not in out


def test_html_attribute_quotes_escaped() -> None:
    item = match_item(5, url='https://a.example/x"onmouseover="alert(1)')
    out = render(digest(item), "html")
    assert 'href="https://a.example/x&#34;onmouseover=&#34;alert(1)"' in out
    assert 'onmouseover="' not in out


def test_text_format_is_plain() -> None:
    out = render(digest(GOOD, CHANGED), "text")
    assert "[updated]" in out
    assert "https://news.example.org/2026/harbour-dredging" in out
    assert "<" not in out


@pytest.mark.parametrize("fmt", ["md", "html", "text", "atom"])
def test_empty_digest_says_no_new_coverage(fmt: str) -> None:
    out = render(digest(), fmt)
    assert "No new coverage since 2026-11-21 07:00 UTC" in out


def test_empty_digest_without_since() -> None:
    out = render(digest(since=None), "md")
    assert "No new coverage." in out


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown digest format"):
        render(digest(GOOD), "pdf")


# --- JSON ------------------------------------------------------------------------------------


def test_json_shape() -> None:
    data = json.loads(render(digest(GOOD, CHANGED, EVIL), "json"))
    assert data["generated_at"] == "2026-11-22T07:00:00+00:00"
    assert data["since"] == "2026-11-21T07:00:00+00:00"
    assert data["count"] == 3
    first, second, third = data["matches"]
    assert set(first) == {
        "id",
        "url",
        "title",
        "feed",
        "published",
        "first_seen",
        "score",
        "explanation",
        "sentence",
        "nearest_seed",
        "facets",
        "terms",
        "changed",
        "story",
        "story_status",
        "also_in",
        "revision",
        "changes",
    }
    assert (first["story_status"], first["also_in"], first["revision"], first["changes"]) == ("new", [], 1, None)
    assert second["story_status"] == "updated"
    assert first["id"] == 1
    assert first["url"] == GOOD.url
    assert first["title"] == GOOD.title
    assert first["published"] == "2026-11-21T09:30:00+00:00"
    assert first["first_seen"] == "2026-11-21T10:00:00+00:00"
    assert first["score"] == pytest.approx(0.87654)
    assert first["facets"] == ["dredging", "council vote"]
    assert first["terms"] == ["harbour", "silt"]
    assert first["changed"] is False
    assert second["published"] is None
    assert second["first_seen"] == "2026-11-20T08:00:00+01:00"
    assert second["changed"] is True
    # JSON carries data as-is (escaping is the consumer's job), naive times as UTC
    assert third["title"] == EVIL.title
    assert third["published"] == "2026-11-21T11:00:00+00:00"


def test_json_empty() -> None:
    data = json.loads(render(digest(since=None), "json"))
    assert data == {
        "generated_at": "2026-11-22T07:00:00+00:00",
        "since": None,
        "count": 0,
        "matches": [],
    }


# --- Atom ------------------------------------------------------------------------------------


def test_atom_is_well_formed_and_parses_with_feedparser() -> None:
    out = render(digest(GOOD, CHANGED, EVIL, DATA), "atom")
    root = ElementTree.fromstring(out.encode("utf-8"))  # well-formed XML
    assert root.tag == f"{ATOM}feed"
    for child in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{child}") is not None
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 4
    for entry in entries:
        for child in ("id", "title", "updated", "summary"):
            assert entry.find(f"{ATOM}{child}") is not None
        # every entry has an alternate link or content (RFC 4287 4.1.1)
        has_link = entry.find(f"{ATOM}link[@rel='alternate']") is not None
        assert has_link or entry.find(f"{ATOM}content") is not None

    parsed = feedparser.parse(out)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "monitor digest"
    assert parsed.feed.updated == "2026-11-22T07:00:00+00:00"
    assert len(parsed.entries) == 4
    good, evil, data, changed = parsed.entries  # sections: new stories first, updates last
    assert good.title == GOOD.title
    assert good.link == GOOD.url
    assert good.id == atom_id(GOOD) and good.id.startswith("urn:uuid:")
    assert good.updated == "2026-11-21T10:00:00+00:00"
    assert good.published == "2026-11-21T09:30:00+00:00"
    assert "0.88" in good.summary
    assert "nearest seed harbour.txt" in good.summary
    assert "inner harbour on Monday" in good.summary
    assert changed.title.endswith("(updated)")
    assert changed.updated == "2026-11-22T07:00:00+00:00"
    assert changed.link == CHANGED.url  # '&' in the URL survives escaping
    assert len({e.id for e in parsed.entries}) == 4


def test_atom_escapes_and_refuses_unsafe_links() -> None:
    out = render(digest(EVIL, DATA), "atom")
    assert "<script>" not in out and "<b>" not in out and "<img" not in out
    assert 'href="javascript' not in out and 'href="data' not in out
    assert "\x00" not in out and "\x07" not in out
    root = ElementTree.fromstring(out.encode("utf-8"))
    evil_entry = root.findall(f"{ATOM}entry")[0]
    title = evil_entry.find(f"{ATOM}title")
    assert title is not None and title.text == EVIL.title  # text, not markup
    assert evil_entry.find(f"{ATOM}link") is None
    parsed = feedparser.parse(out)
    assert not parsed.bozo
    assert all("href" not in link for e in parsed.entries for link in e.get("links", []))


def test_atom_ids_are_stable() -> None:
    a = render(digest(GOOD), "atom")
    b = render(Digest(generated_at=GENERATED + timedelta(days=1), matches=(GOOD,)), "atom")
    ida = feedparser.parse(a).entries[0].id
    idb = feedparser.parse(b).entries[0].id
    assert ida == idb
    assert feedparser.parse(a).feed.id == feedparser.parse(b).feed.id


def test_atom_empty_is_valid() -> None:
    out = render(digest(), "atom")
    parsed = feedparser.parse(out)
    assert not parsed.bozo
    assert parsed.entries == []
    assert parsed.feed.id.startswith("urn:uuid:")


# --- templates ---------------------------------------------------------------------------------


def test_template_override_dir(tmp_path: Path) -> None:
    (tmp_path / "digest.md.j2").write_text(
        "CUSTOM {{ count }}{% for m in items %} [{{ m.title | md }}]({{ m.link }}){% endfor %}\n",
        encoding="utf-8",
    )
    out = render(digest(GOOD), "md", templates_dir=tmp_path)
    assert out.startswith("CUSTOM 1 [Harbour dredging plan \\[approved\\] by council]")
    # formats without an override still come from the package
    assert "<!DOCTYPE html>" in render(digest(GOOD), "html", templates_dir=tmp_path)


def test_override_html_template_is_autoescaped(tmp_path: Path) -> None:
    (tmp_path / "digest.html.j2").write_text(
        "<ul>{% for m in items %}<li>{{ m.title }}</li>{% endfor %}</ul>", encoding="utf-8"
    )
    out = render(digest(EVIL), "html", templates_dir=tmp_path)
    assert "<script>" not in out and "&lt;script&gt;" in out


def test_broken_override_template_is_config_error(tmp_path: Path) -> None:
    (tmp_path / "digest.txt.j2").write_text("{% for %}", encoding="utf-8")
    with pytest.raises(ConfigError, match="digest.txt.j2"):
        render(digest(GOOD), "text", templates_dir=tmp_path)


def test_missing_template_dir_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        render(digest(GOOD), "md", templates_dir=tmp_path / "nope")


def test_all_formats_render() -> None:
    for fmt in FORMATS:
        assert render(digest(GOOD, CHANGED, EVIL, DATA), fmt).strip()
