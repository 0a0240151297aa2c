"""bench_scale.py's loopback feeds and the service-memory measurement (`monitor run` over 1,000
feeds on 127.0.0.1, peak RSS read from /proc)."""

from __future__ import annotations

import gzip
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT.parent / "shared" / "corpus" / "pages" / "scrapinghub-aeb" / "html"


@cache
def corpus() -> list[tuple[str, bytes]]:
    from helpers import page_title

    out = []
    for file in sorted(PAGES.glob("*.html.gz")):
        body = gzip.decompress(file.read_bytes())
        out.append((page_title(body), body))
    return out


def server() -> Any:
    """tests/httpserver.py's server with a listen backlog for many clients (bench_pipeline.py)."""
    import httpserver

    httpserver._Server.request_queue_size = 1024
    return httpserver.TestServer()


@cache
def paragraphs() -> list[str]:
    import scale_build

    return scale_build.load_shapes().paragraphs


def serve_feed(srv: Any, prefix: str, entries: int, *, pages: bool) -> str:
    """A feed of `entries` items under /prefix/; with pages, each links to a real article page.
    Feed texts are distinct corpus paragraphs (alike texts would all be copies of one article)."""
    from helpers import rss

    items = []
    for j in range(entries):
        title, body = corpus()[j % len(corpus())]
        link = srv.url(f"/{prefix}/p{j}.html")
        if pages:
            srv.add(f"/{prefix}/p{j}.html", body, content_type="text/html; charset=utf-8")
        text = paragraphs()[(zlib.crc32(prefix.encode()) * 7 + j) % len(paragraphs())]
        items.append({"title": f"{text[:60]} ({prefix} {j})", "link": link, "description": text})
    srv.add(f"/{prefix}/feed.xml", rss(items, title=prefix))
    return str(srv.url(f"/{prefix}/feed.xml"))


def _status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) // 1024  # MB
    return out


def _children(pid: int) -> list[int]:
    """Children of every thread (the worker pool is started from a feed thread)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _polled(db: Path, urls: list[str]) -> int:
    con = sqlite3.connect(db, timeout=30)
    try:
        marks = ",".join("?" * len(urls))
        found = con.execute(f"SELECT count(*) FROM feeds WHERE url IN ({marks}) AND last_fetch_at IS NOT NULL", urls)
        return int(found.fetchone()[0])
    finally:
        con.close()


def memory(db: Path, work: Path, seeds: Path, write_feeds: Callable[..., Path], n: int = 1000) -> None:
    """`monitor run` on the database with `n` loopback feeds (3 entries each; one feed in ten with
    article pages, the others feed text only) until every feed was polled once; peak RSS."""
    srv = server()
    urls = [serve_feed(srv, f"svc{i}", 3, pages=i % 10 == 0) for i in range(n)]
    feeds = write_feeds(
        work / "service.yaml",
        [{"url": u, "name": f"svc {i}", "full_text": i % 10 == 0} for i, u in enumerate(urls)],
    )
    cmd = [sys.executable, "-m", "monitor.cli", "--feeds", str(feeds), "--seeds", str(seeds), "--db", str(db)]
    started = time.perf_counter()
    log = (work / "service.log").open("wb")  # a pipe nobody reads would fill and block the service's logging
    proc = subprocess.Popen([*cmd, "run", "--tick", "1"], stdout=subprocess.DEVNULL, stderr=log)
    peak_children: dict[int, int] = {}
    try:
        while _polled(db, urls) < n:
            if proc.poll() is not None:
                raise SystemExit(f"monitor run exited {proc.returncode}: {(work / 'service.log').read_text()[-500:]}")
            for child in _children(proc.pid):
                for grandchild in [child, *_children(child)]:
                    try:
                        peak_children[grandchild] = max(peak_children.get(grandchild, 0), _status(grandchild)["VmHWM"])
                    except (OSError, KeyError):
                        pass
            if time.perf_counter() - started > 900:
                raise SystemExit("the service did not poll every feed within 15 minutes")
            time.sleep(1.0)
        took = time.perf_counter() - started
        time.sleep(3.0)  # a few idle ticks after the pass
        main = _status(proc.pid)
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        srv.stop()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    kids = ", ".join(f"{mb} MB" for mb in peak_children.values()) or "none"
    print(f"\n[memory] monitor run, {n} feeds on 127.0.0.1 ({n // 10} with pages), all polled in {took:.0f} s: "
          f"service peak RSS (VmHWM) {main['VmHWM']} MB, now {main['VmRSS']} MB  [target <= 300 MB], CPU {cpu:.0f} s; "
          f"worker processes' peaks: {kids}; load average {load}")  # fmt: skip
