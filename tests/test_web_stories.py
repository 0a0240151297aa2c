"""Story tracking on the web page (digest sections, versions and diffs, copies, the story page)
through Starlette's TestClient over a real SQLite file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from factories import NOW, article
from monitor.app import App
from monitor.models import Score
from monitor.web import create_app
from webdata import GOOD, HOSTILE, add_story, fill

ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"


@pytest.fixture
def data(tmp_path: Path) -> Iterator[App]:
    a = fill(tmp_path / "m.db")
    try:
        yield a
    finally:
        a.close()


@pytest.fixture
def client(data: App) -> TestClient:
    return TestClient(create_app(data), base_url="http://127.0.0.1")


def section(html: str, heading: str) -> str:
    """The HTML of one digest section, from its heading to the next section's end."""
    found = re.search(rf'<h2 class="section">{heading} \(\d+\)</h2>(.*?)</section>', html, re.S)
    assert found, f"no section {heading!r}"
    return found.group(1)


def assert_safe(html: str, shown: bool = True) -> None:
    """No stored text as markup; `shown`: the hostile title is on the page, escaped."""
    assert HOSTILE not in html and "<script" not in html
    assert (ESCAPED in html) == shown


def test_digest_page_has_the_emailed_digests_sections_with_stories_copies_and_diffs(
    client: TestClient, data: App
) -> None:
    story, first, second = add_story(data)
    digests = sorted(d.id for d in data.store.digests())
    sent, update = digests[-2], digests[-1]
    html = client.get(f"/digest/{sent}").text
    # both articles of the new story are one entry, the later folded in as more coverage
    entry = section(html, "New stories")
    assert f'id="match-{first}"' in entry and f'id="match-{second}"' not in entry
    assert f'href="/story/{story}"' in entry and "2 articles in this digest" in entry
    assert "More coverage: Good feed" in entry and "http://127.0.0.1:1/story-b" in entry
    assert "Also in: Bad feed" in entry  # the copy in the other feed
    assert "Updated" not in html.split("<h2>All digests</h2>")[0]
    assert_safe(html, shown=False)  # the hostile article is folded into the entry: its URL only
    html = client.get(f"/digest/{update}").text
    entry = section(html, "Updated")
    assert f'id="match-{second}"' in entry and "Material change" in entry
    assert "<del>Soldiers closed the borders of Niger on Thursday.</del>" in entry
    assert "<ins>Soldiers closed the borders of Niger and the &lt;b&gt;airport&lt;/b&gt;" in entry
    assert "More coverage (" not in html and "New stories (" not in html
    assert_safe(html)


def test_article_page_lists_every_version_with_its_verdict_and_the_material_diff(client: TestClient, data: App) -> None:
    story, first, second = add_story(data)
    html = client.get(f"/article/{second}").text
    versions = html.split('<section id="versions">')[1].split("</section>")[0]
    assert "Versions (2)" in versions and 'id="version-1"' in versions and "first version" in versions
    assert '<span class="verdict material">material</span>' in versions
    assert "<ins>and the &lt;b&gt;airport&lt;/b&gt; for 40 days </ins>" in versions
    assert "<del>Thursday</del>" in versions
    assert f'<a href="/story/{story}">Story #{story}</a>' in html
    assert "STORY TRACKING" not in html and "not tracked yet" not in html
    assert_safe(html)
    html = client.get(f"/article/{first}").text
    assert "Also in: Bad feed" in html and f'href="/story/{story}"' in html and "Versions (1)" in html


def test_article_page_shows_a_minor_version_with_its_verdict_and_no_diff(client: TestClient, data: App) -> None:
    score = Score(0.8, True, nearest_seed="s", facets=(), terms=(), sentence="")
    text = "The junta closed the borders on Thursday. Flights were cancelled."
    saved = data.store.save_article(GOOD, article("m", title="T", summary=text), "h-m", score, NOW)
    data.store.save_article(GOOD, article("m", title="T", summary=text + " "), "h-m1", score, NOW)
    data.store.save_article(GOOD, article("m", title="T", summary=text.replace("junta", "junta ,")), "h-m2", score, NOW)
    verdicts = [v.material for v in data.store.versions(saved.article_id)]
    html = client.get(f"/article/{saved.article_id}").text
    assert f"Versions ({len(verdicts)})" in html and len(verdicts) >= 2 and not any(verdicts[1:])
    assert '<span class="verdict minor">minor</span>' in html and '<div class="diff' not in html
    assert "Not in a story." in html


def test_story_page_lists_its_articles_in_time_order_with_a_coverage_chart(client: TestClient, data: App) -> None:
    story, first, second = add_story(data)
    r = client.get(f"/story/{story}")
    assert r.status_code == 200
    html = r.text
    assert html.index(f'id="story-article-{first}"') < html.index(f'id="story-article-{second}"')
    assert "2 articles" in html
    svg = re.search(r"<svg .*?</svg>", html, re.S)
    assert svg, "no inline SVG chart"
    bars = re.findall(r'<rect x="\d+" y="\d+" width="12" height="(\d+)".*?<title>([\d-]+): (\d+)</title>', svg.group(0))
    assert [(day, int(n)) for _, day, n in bars] == [("2026-11-23", 1), ("2026-11-24", 0), ("2026-11-25", 1)]
    assert [int(h) for h, _, _ in bars] == [60, 0, 60]
    assert "<script" not in html.replace(ESCAPED, "") and "http" not in svg.group(0).replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert_safe(html)
    assert "default-src 'none'" in r.headers["content-security-policy"]


def test_an_unknown_story_is_a_404_page(client: TestClient) -> None:
    r = client.get("/story/999")
    assert r.status_code == 404 and "No story #999." in r.text
