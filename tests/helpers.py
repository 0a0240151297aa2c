"""Builders shared by end-to-end tests: RSS documents, seed pages, feeds.yaml files."""

from __future__ import annotations

import gzip
import html
import json
import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpcore
from click.testing import CliRunner, Result

from monitor.cli import cli

if TYPE_CHECKING:
    from httpserver import TestServer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PAGES = FIXTURES / "pages" / "aeb"
SEEDS = ROOT / "seeds"


def rss(items: list[dict[str, str]], title: str = "Test feed") -> bytes:
    """A real RSS 2.0 document; each item: title, link, and optional guid, description, date."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{html.escape(title)}</title><link>http://127.0.0.1/</link><description>t</description>",
    ]
    base = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    for i, it in enumerate(items):
        date = it.get("date") or format_datetime(base + timedelta(minutes=i))
        out.append(
            "<item>"
            f"<title>{html.escape(it['title'])}</title>"
            f"<link>{html.escape(it['link'])}</link>"
            f'<guid isPermaLink="false">{html.escape(it.get("guid", it["link"]))}</guid>'
            f"<description>{html.escape(it.get('description', ''))}</description>"
            f"<pubDate>{date}</pubDate>"
            "</item>"
        )
    out.append("</channel></rss>")
    return "\n".join(out).encode("utf-8")


def page_title(raw: bytes) -> str:
    m = re.search(rb"<title[^>]*>(.*?)</title>", raw, re.S | re.I)
    title = html.unescape(m.group(1).decode("utf-8", "replace")).strip() if m else ""
    return " ".join(title.split()) or "Untitled"


def corpus_pages() -> list[tuple[str, bytes]]:
    """(key, html) for every fixture page."""
    return [(f.name.split(".")[0], gzip.decompress(f.read_bytes())) for f in sorted(PAGES.glob("*.html.gz"))]


def seed_page(seed_file: Path) -> tuple[str, bytes]:
    """An article page carrying a seed's text: first line as headline, paragraphs as <p>."""
    lines = [line.strip() for line in seed_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    title, body = lines[0], lines[1:]
    paras = "\n".join(f"<p>{html.escape(p)}</p>" for p in body)
    doc = (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        f"<article><h1>{html.escape(title)}</h1>{paras}</article>"
        f"<footer>Copyright 2026 Example News</footer></body></html>"
    )
    return title, doc.encode("utf-8")


def seed_and_other(server: TestServer, seed_file: Path, other: int = 0) -> list[dict[str, str]]:
    """Serve a seed's own page (it matches) and corpus page ``other`` (it does not); their
    feed items."""
    title, body = seed_page(seed_file)
    server.add("/a/seed.html", body, content_type="text/html")
    _key, page = corpus_pages()[other]
    server.add("/a/other.html", page, content_type="text/html")
    return [
        {"title": title, "link": server.url("/a/seed.html")},
        {"title": page_title(page), "link": server.url("/a/other.html")},
    ]


def write_feeds(path: Path, feeds: list[dict[str, object]], settings: dict[str, object] | None = None) -> Path:
    doc: dict[str, object] = {"feeds": feeds}
    doc["settings"] = settings or {
        "fetch": {"allow_hosts": ["127.0.0.1"], "host_spacing": 0, "timeout": 5, "deadline": 15}
    }
    path.write_text(json.dumps(doc), encoding="utf-8")  # JSON is YAML
    return path


def run(*args: str | Path, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class LoopbackNetwork(httpcore.SyncBackend):
    """The network below the fetcher's connection pool (``Fetcher._pool.backend.inner``), as the
    system would connect, except that every name and address connects to 127.0.0.1 (on `port`
    when given, else on the port asked for) and the `refused` addresses refuse: no packet leaves
    127.0.0.1. `tried` lists the hosts asked for, in order."""

    def __init__(self, port: int | None = None, refused: Iterable[str] = ()) -> None:
        self.port = port
        self.refused = frozenset(refused)
        self.tried: list[str] = []

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        self.tried.append(host)
        if host in self.refused:
            raise httpcore.ConnectError("[Errno 111] Connection refused")
        return super().connect_tcp("127.0.0.1", self.port or port, timeout, local_address, socket_options)
