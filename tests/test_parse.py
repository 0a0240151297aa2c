from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.errors import ParseError
from monitor.parse import canonical_url, parse_feed, strip_html

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
EXPECTED = json.loads((FEEDS / "expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_feeds_parse_to_expected_entries(name: str) -> None:
    expected = EXPECTED[name]
    content = (FEEDS / name).read_bytes()
    if "error" in expected:
        with pytest.raises(ParseError) as info:
            parse_feed(content, {}, "http://127.0.0.1/feed")
        assert str(info.value) in expected["error"]
        return
    feed = parse_feed(content, {}, "http://127.0.0.1/feed")
    assert feed.title == expected["title"]
    assert len(feed.entries) == expected["entries"]
    assert bool(feed.warning) == expected["warning"]
    first = feed.entries[0]
    assert first.id == expected["first"]["id"]
    assert first.title == expected["first"]["title"]
    assert first.link == expected["first"]["link"]
    assert (first.published.isoformat() if first.published else None) == expected["first"]["published"]
    assert first.summary.startswith(expected["first"]["summary_start"])
    assert len({e.id for e in feed.entries}) == len(feed.entries)


def test_http_charset_wins_over_a_missing_declaration() -> None:
    body = "<?xml version='1.0'?><rss version='2.0'><channel><title>Caf\u00e9</title><item><title>D\u00e9j\u00e0 vu</title><link>http://a/1</link></item></channel></rss>".encode(
        "iso-8859-1"
    )
    feed = parse_feed(body, {"content-type": "application/rss+xml; charset=iso-8859-1"}, "http://a/")
    assert feed.entries[0].title == "D\u00e9j\u00e0 vu"


def test_identity_falls_back_to_link_then_title_and_date() -> None:
    body = b"""<rss version='2.0'><channel><title>t</title>
      <item><title>A</title><link>http://Example.com/a?utm_source=x&amp;id=1#frag</link></item>
      <item><title>B</title><pubDate>Fri, 20 Nov 2026 08:00:00 GMT</pubDate></item>
      <item><title>B</title><pubDate>Fri, 20 Nov 2026 08:00:00 GMT</pubDate></item>
    </channel></rss>"""
    entries = parse_feed(body, {}, "http://a/").entries
    assert entries[0].id == "http://example.com/a?id=1"
    assert entries[1].id.startswith("sha1:")
    assert len(entries) == 2  # the duplicate B is dropped
    again = parse_feed(body, {}, "http://a/").entries
    assert [e.id for e in again] == [e.id for e in entries]


def test_html_page_is_not_a_feed() -> None:
    with pytest.raises(ParseError, match="HTML page"):
        parse_feed(b"<!DOCTYPE html><html><body>hi</body></html>", {"content-type": "text/html"}, "http://a/")
    with pytest.raises(ParseError, match="empty"):
        parse_feed(b"  ", {}, "http://a/")


def test_strip_html_and_canonical_url() -> None:
    assert strip_html("<p>One &amp; two</p><script>x()</script><p>three</p>") == "One & two\nthree"
    assert canonical_url("HTTPS://News.Example.org:443/x?b=2&utm_medium=rss#top") == "https://news.example.org/x?b=2"


def test_half_an_emoji_in_a_json_feed_loses_nothing() -> None:
    # JSON may escape a lone surrogate ("\ud83d", half an emoji); no UTF-8 consumer takes it
    doc = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "t \\ud83d", "items": ['
        b'{"id": "1\\ude00", "url": "http://127.0.0.1/a", "title": "Mali \\ud83d Russia", "content_text": "x \\udc00"},'
        b'{"id": "2", "url": "http://127.0.0.1/b", "title": "ok"}]}'
    )
    parsed = parse_feed(doc, {"content-type": "application/feed+json"}, "http://127.0.0.1/f.json")
    assert [e.title for e in parsed.entries] == ["Mali \ufffd Russia", "ok"]
    for e in parsed.entries:
        for value in (e.id, e.title, e.summary, e.link or "", parsed.title):
            value.encode("utf-8")  # raises on a lone surrogate


def test_character_reference_to_half_a_surrogate_pair_is_replaced() -> None:
    rss = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><guid>1</guid><link>http://127.0.0.1/a</link><title>Mali &#55357; Russia &#xDE00;</title></item>"
        b"<item><guid>2</guid><link>http://127.0.0.1/b</link><title>Caf&#233; &#x1F600;</title></item>"
        b"</channel></rss>"
    )
    parsed = parse_feed(rss, {"content-type": "application/rss+xml"}, "http://127.0.0.1/f.xml")
    assert [e.title for e in parsed.entries] == ["Mali \ufffd Russia \ufffd", "Café \U0001f600"]
