"""End to end on a loopback server: three outlets carrying one article, a follow-up the next day,
edits found by the age-based re-checks, and the digests that result (real seeds, real pages,
real SQLite; the clock is injected so that hours and days pass)."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers import SEEDS, rss, write_feeds
from httpserver import TestServer
from monitor import app as application

SEED = SEEDS / "000_420468645984affb.txt"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ADDED = (
    "On Friday the defence ministry confirmed that a first shipment of North Korean artillery shells had "
    "already reached Ouagadougou by air, and that two more flights were planned before the end of the month."
)
FOLLOW_UP = (
    "North Korea's foreign ministry welcomed on Friday the remarks of Burkina Faso's military leader Ibrahim "
    "Traoré, a day after he said on national television that his country wants more weapons from Pyongyang. "
    "A ministry spokesman told the state news agency KCNA that the DPRK stands ready to deepen cooperation "
    "with Burkina Faso in defence and agriculture. Analysts in Seoul said any arms transfer to Ouagadougou "
    "would breach United Nations sanctions that ban North Korean weapons exports, and diplomats in New York "
    "said the sanctions committee would ask Burkina Faso for an explanation. Traoré has turned to Russia "
    "for security help since he seized power in a coup, and expelled French troops last year. North Korea "
    "is looking for new partners in Africa, the analysts said, after years of isolation."
)


def counter(time: str, comments: int) -> str:
    return f"<p>Updated {time} GMT. {comments} comments</p>"


def paragraphs() -> tuple[str, list[str]]:
    lines = [line.strip() for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines[0], lines[1:]


def template(kind: int, title: str, paras: list[str], extra: str = "") -> bytes:
    """Three outlets' page templates around the same article text."""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paras) + extra  # extra: inside the article
    t = html.escape(title)
    if kind == 0:
        page = f"<header><a href='/'>Outlet A</a></header><article><h1>{t}</h1>{body}</article>"
    elif kind == 1:
        page = (
            f"<div class='wrap'><nav><a href='/world'>World</a> <a href='/africa'>Africa</a></nav>"
            f"<main><div class='story-body'><h1 class='headline'>{t}</h1><p class='byline'>By Wire staff</p>"
            f"{body}</div></main><aside><h3>Most read</h3><ul><li><a href='/x'>Other news</a></li></ul></aside></div>"
        )
    else:
        page = f"<section id='content'><h2>{t}</h2><div class='text'>{body}</div></section><footer>© Outlet C</footer>"
    return f"<!doctype html><html><head><title>{t}</title></head><body>{page}</body></html>".encode()


class World:
    """The loopback server's three outlets and an injected clock."""

    def __init__(self, server: TestServer, tmp_path: Path) -> None:
        self.server = server
        self.title, self.paras = paragraphs()
        self.now = T0
        feeds = [{"url": server.url(f"/{o}/feed.xml"), "name": f"Outlet {o.upper()}"} for o in ("a", "b", "c")]
        settings = {"fetch": {"allow_hosts": ["127.0.0.1"], "host_spacing": 0, "timeout": 5, "deadline": 15}}
        self.paths = application.Paths(
            feeds=write_feeds(tmp_path / "feeds.yaml", feeds, settings), seeds=SEEDS, db=tmp_path / "m.db"
        )
        self.app = application.open_app(self.paths, now=lambda: self.now)
        self.page("a", self.paras, extra=counter("08:05", 3))
        server.add("/b/2026/11/20/story", template(1, self.title, self.paras), content_type="text/html")
        server.add(
            "/c/news?id=991", template(2, "Traoré: we want North Korean arms", self.paras), content_type="text/html"
        )
        self.feed("a", [{"title": self.title, "link": server.url("/a/story.html"), "guid": "a-1"}])
        self.feed("b", [{"title": self.title, "link": server.url("/b/2026/11/20/story"), "guid": "b-1"}])
        self.feed("c", [{"title": "Traoré: we want North Korean arms", "link": server.url("/c/news?id=991")}])

    def page(self, outlet: str, paras: list[str], extra: str = "", status: int = 200) -> None:
        body = template(0, self.title, paras, extra) if status == 200 else b"Internal Server Error"
        self.server.add(f"/{outlet}/story.html", body, content_type="text/html", status=status, etag=f'"{hash(body)}"')

    def feed(self, outlet: str, items: list[dict[str, str]]) -> None:
        self.server.add(f"/{outlet}/feed.xml", rss(items), content_type="application/rss+xml")

    def poll_and_digest(self, after: timedelta) -> dict[str, Any]:
        self.now = T0 + after
        application.poll(self.app, threads=1)  # feeds in order: Outlet A is the first to carry it
        out: list[str] = []
        application.new_digest(self.app, "json", out.append)
        return json.loads(out[0])


@pytest.mark.slow
def test_copies_stories_and_revisions_end_to_end(server: TestServer, tmp_path: Path) -> None:
    w = World(server, tmp_path)
    try:
        _scenario(w)
    finally:
        w.app.close()


def _scenario(w: World) -> None:
    # one article in three feeds, three templates, one changed headline: one entry, also in 2
    first = w.poll_and_digest(timedelta(0))
    assert first["count"] == 1, [m["title"] for m in first["matches"]]
    [entry] = first["matches"]
    assert entry["story_status"] == "new" and entry["feed"] == "Outlet A"
    assert sorted(a["feed"] for a in entry["also_in"]) == ["Outlet B", "Outlet C"]

    # a timestamp/counter change found by the first re-check (1 h): nothing
    w.page("a", w.paras, extra=counter("09:12", 14))
    assert w.poll_and_digest(timedelta(minutes=30))["count"] == 0  # not due yet
    assert len(w.server.requests_for("/a/story.html")) == 1
    assert w.poll_and_digest(timedelta(hours=1))["count"] == 0
    assert len(w.server.requests_for("/a/story.html")) == 2

    # a material edit (6 h): "Updated" with its diff, once
    edited = [*w.paras, ADDED]
    w.page("a", edited, extra=counter("10:40", 29))
    update = w.poll_and_digest(timedelta(hours=6))
    assert update["count"] == 1
    [changed] = update["matches"]
    assert changed["story_status"] == "updated" and changed["revision"] == 2
    assert changed["changes"]["material"] is True
    assert any(c["op"] == "added" and "artillery shells" in c["after"] for c in changed["changes"]["changes"])

    # a flip back to the version before (1 d), a 500 (3 d) and a blank page (7 d): nothing
    w.page("a", w.paras, extra=counter("09:12", 14))
    assert w.poll_and_digest(timedelta(days=1))["count"] == 0
    w.page("a", edited, status=500)
    assert w.poll_and_digest(timedelta(days=3))["count"] == 0

    # a guid change in feed B, and another outlet's article on the same event the next day
    w.feed(
        "b",
        [
            {"title": w.title, "link": w.server.url("/b/2026/11/20/story"), "guid": "b-1-renumbered"},
            {"title": "North Korea welcomes Traoré's call for weapons", "link": w.server.url("/b/follow-up")},
        ],
    )
    half = w.paras[: len(w.paras) // 3]
    w.server.add("/b/follow-up", template(1, "North Korea welcomes call", [FOLLOW_UP, *half]), content_type="text/html")
    more = w.poll_and_digest(timedelta(days=3, hours=1))
    assert [m["title"] for m in more["matches"]] == ["North Korea welcomes Traoré's call for weapons"]
    [follow] = more["matches"]
    assert follow["story_status"] == "more" and follow["story"] == entry["story"]

    w.server.add("/a/story.html", b"<html><body><p>Loading</p></body></html>", content_type="text/html")
    assert w.poll_and_digest(timedelta(days=7))["count"] == 0
    history = application.history(w.app, str(entry["id"]))
    # first, counters, the edit, the flip back; the 500 and the blank page are no versions
    assert [v["material"] for v in history["versions"]] == [False, False, True, False]
