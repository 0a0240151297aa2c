"""Pipeline throughput against the one-process trafilatura floor, and a 304 re-poll.

Real pages (/work/shared/corpus/pages/scrapinghub-aeb, gzipped HTML) are served by a threaded
HTTP server on 127.0.0.1 under many distinct host names (``h000.bench.test`` …): the poll runs in
a child process whose resolver maps ``*.bench.test`` to 127.0.0.1, so per-host politeness sees
distinct hosts while every packet goes to 127.0.0.1 (allow_hosts: [127.0.0.1] lets the address
guard through). Measured, in one run:

(a) the floor as issue #13 defines it: trafilatura's default extraction alone
    (``bare_extraction(..., with_metadata=True)``) over the same pages, one process: pages/s, CPU
    ms/page; and, beside it, the floor with the pipeline's own extraction settings
    (``extract_page``: trafilatura's fast mode, see extract.FAST), so the ratios against both print;
(b) ``app.poll`` (what ``monitor poll`` calls) over one feed per host, host_spacing 0:
    articles/s wall and CPU ms per article, worker processes' CPU included (RUSAGE_CHILDREN,
    after the pool is shut down and its workers reaped);
(c) a re-poll of 1,000 feeds on 250 hosts all answering 304, default politeness;
(d) the service's case (``--steady``): one process polls a warm-up set of feeds first (60 other
    articles, from the stories corpus: scorer built, worker pool started), then the same pages as
    (b) on their own; only that second poll
    is measured, its workers' CPU read from /proc. (b) minus (d) is what starting costs one
    ``monitor poll``; (d) is what each later tick of a running service costs per article.

The server keeps connections alive (HTTP/1.1), as news sites do; ``--close-connections`` makes
it close every connection after one response (HTTP/1.0), the set-up of the figures recorded
before the fetcher kept connections (docs/performance.md). The server runs in this process, on
the same cores as the poll: its CPU during the poll is printed beside the poll's.

Usage: python benchmarks/bench_pipeline.py [--hosts 100] [--copies 3] [--repeat 1] [--inprocess]
       [--close-connections]
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "pages" / "scrapinghub-aeb" / "html"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus/pages/scrapinghub-aeb/html")
SEEDS = ROOT / "seeds"
STORIES = CORPUS.parent.parent.parent / "stories" / "ecbplus_dev.jsonl"  # the warm-up's news (d)
DOMAIN = ".bench.test"  # reserved TLD: never resolvable outside this benchmark

# --- child side: runs with *.bench.test resolved to 127.0.0.1 --------------------------------------


def _loopback_names() -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, bytes):
            host = host.decode()
        if isinstance(host, str) and host.lower().rstrip(".").endswith(DOMAIN):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]


def _cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def child_poll(feeds: Path, db: Path) -> dict[str, Any]:
    from monitor import app

    _loopback_names()
    wall0, cpu0, kids0 = time.perf_counter(), _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    a = app.open_app(app.Paths(feeds=feeds, seeds=SEEDS, db=db))
    try:
        results = app.poll(a)
    finally:
        a.close()  # joins the worker processes (reaped by the fork server)
    # Reap the fork server too (a private but stable stdlib hook), so its CPU and that of the
    # workers it reaped are in RUSAGE_CHILDREN; otherwise it exits unwaited with this process.
    from multiprocessing import forkserver

    forkserver._forkserver._stop()  # type: ignore[attr-defined]
    wall = time.perf_counter() - wall0
    return {
        "wall": wall,
        "cpu_self": _cpu(resource.RUSAGE_SELF) - cpu0,
        "cpu_children": _cpu(resource.RUSAGE_CHILDREN) - kids0,
        "feeds": len(results),
        "errors": sorted({r.error for r in results if r.error})[:3],
        "failed": sum(1 for r in results if r.error),
        "not_modified": sum(1 for r in results if r.not_modified),
        "new": sum(r.new_entries for r in results),
    }


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a live process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_steady(feeds: Path, db: Path) -> dict[str, Any]:
    """Poll the warm-up feeds (host names w…), then measure a poll of the others in the same app."""
    from dataclasses import replace

    from monitor import app

    _loopback_names()
    a = app.open_app(app.Paths(feeds=feeds, seeds=SEEDS, db=db))
    try:
        every = a.settings.feeds
        a.settings = replace(a.settings, feeds=tuple(f for f in every if "//w" in f.url))
        app.poll(a)
        pids = a._pool.pids() if a._pool is not None else []
        a.settings = replace(a.settings, feeds=tuple(f for f in every if "//w" not in f.url))
        wall0, cpu0 = time.perf_counter(), _cpu(resource.RUSAGE_SELF)
        kids0 = sum(map(_proc_cpu, pids))
        results = app.poll(a)
        wall, cpu_self = time.perf_counter() - wall0, _cpu(resource.RUSAGE_SELF) - cpu0
        same = a._pool is not None and a._pool.pids() == pids
        kids = sum(map(_proc_cpu, pids)) - kids0
    finally:
        a.close()
    return {
        "wall": wall,
        "cpu_self": cpu_self,
        "cpu_children": kids,
        "same_workers": same,
        "feeds": len(results),
        "errors": sorted({r.error for r in results if r.error})[:3],
        "failed": sum(1 for r in results if r.error),
        "new": sum(r.new_entries for r in results),
    }


def child_floor(kind: str, copies: int, part: int = 0, parts: int = 1) -> dict[str, Any]:
    """One process extracting the pages: `kind` "default" is trafilatura's default extraction
    (issue #13's floor), "pipeline" is `extract_page` as the pipeline calls it. The default floor
    imports nothing of the monitor: the monitor's extraction sets up trafilatura's parser
    (extract._c_class_lookup), and the floor is trafilatura as installed."""
    errors: tuple[type[Exception], ...] = ()
    if kind == "default":
        import trafilatura

        def extract(page: bytes, ctype: str, url: str) -> object:
            return trafilatura.bare_extraction(
                page, url=url, include_comments=False, include_tables=False, with_metadata=True
            )
    else:
        from monitor.errors import ExtractError
        from monitor.extract import extract_page as extract

        errors = (ExtractError,)
    pages = [gzip.decompress(p.read_bytes()) for p in sorted(CORPUS.glob("*.html.gz"))]
    wall0, cpu0 = time.perf_counter(), _cpu(resource.RUSAGE_SELF)
    n = failed = 0
    for c in range(copies):
        for i, page in enumerate(pages):
            if (c * len(pages) + i) % parts != part:
                continue
            try:
                extract(page, "text/html", f"http://h{i:03d}{DOMAIN}/p/{i}-{c}.html")
            except errors:
                failed += 1
            n += 1
    return {"wall": time.perf_counter() - wall0, "cpu": _cpu(resource.RUSAGE_SELF) - cpu0, "pages": n, "failed": failed}


# --- parent side ----------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {**os.environ, "NO_PROXY": "*", "no_proxy": "*"}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(name, None)
    return env


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True, env=_env()
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def parallel_floor(copies: int, parts: int) -> dict[str, Any]:
    """`parts` floor processes at once, each on its share of the pages: what this machine gives
    several processes right now (shared with other load), the ceiling for any process pool."""
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", "floor", "default", str(copies), str(k), str(parts)],
            stdout=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for k in range(parts)
    ]
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    return {
        "wall": max(r["wall"] for r in results),
        "cpu": sum(r["cpu"] for r in results),
        "pages": sum(r["pages"] for r in results),
    }


def _write_feeds(path: Path, feeds: list[dict[str, object]], fetch: dict[str, object], workers: int | None) -> None:
    settings: dict[str, object] = {"fetch": {"allow_hosts": ["127.0.0.1"], **fetch}}
    if workers is not None:
        settings["workers"] = workers
    path.write_text(json.dumps({"feeds": feeds, "settings": settings}), encoding="utf-8")


KEEP_ALIVE = True  # the server keeps connections (--close-connections: one response each)


def _server() -> Any:
    """tests/httpserver.py's server, with a listen backlog fit for hundreds of clients: with
    socketserver's default of 5, connections beyond it lose their SYN and retry after 1 s, which
    once made a few feeds of every round wait a second (a benchmark artefact, not the monitor's)."""
    import httpserver

    httpserver._Server.request_queue_size = 1024
    return httpserver.TestServer(keep_alive=KEEP_ALIVE)


def serve_pages(server: Any, hosts: int, copies: int) -> list[dict[str, object]]:
    """Every corpus page `copies` times, spread over `hosts` host names; one feed per host."""
    from helpers import page_title, rss

    per_host: dict[int, list[dict[str, str]]] = {h: [] for h in range(hosts)}
    files = sorted(CORPUS.glob("*.html.gz"))
    for c in range(copies):
        for i, file in enumerate(files):
            h = (i * copies + c) % hosts
            body = gzip.decompress(file.read_bytes())
            path = f"/h{h:03d}/p/{i}-{c}.html"
            server.add(path, body, content_type="text/html; charset=utf-8")
            per_host[h].append({"title": page_title(body), "link": _url(server, h, path)})
    feeds: list[dict[str, object]] = []
    for h, items in per_host.items():
        feed = f"/h{h:03d}/feed.xml"
        server.add(feed, rss(items, title=f"host {h}"), content_type="application/rss+xml")
        feeds.append({"url": _url(server, h, feed), "name": f"host {h}"})
    return feeds


def _url(server: Any, host: int, path: str, prefix: str = "h") -> str:
    return f"http://{prefix}{host:03d}{DOMAIN}:{server.port}{path}"


def serve_warmup(server: Any, hosts: int, pages: int) -> list[dict[str, object]]:
    """Other news than the measured pages (ECB+ articles of the stories corpus, as plain HTML), so
    the warm-up poll warms the process, not the measured pages' own words."""
    from helpers import rss

    lines = STORIES.read_text(encoding="utf-8").splitlines()[:pages]
    per_host: dict[int, list[dict[str, str]]] = {h: [] for h in range(hosts)}
    for i, line in enumerate(lines):
        story = json.loads(line)
        title, paras = html.escape(story["title"]), story["text"].split("\n")
        body = "".join(f"<p>{html.escape(p)}</p>" for p in paras if p.strip())
        page = f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{body}</article></body></html>"
        path = f"/w{i % hosts:03d}/p/{i}.html"
        server.add(path, page.encode("utf-8"), content_type="text/html; charset=utf-8")
        per_host[i % hosts].append({"title": story["title"], "link": _url(server, i % hosts, path, "w")})
    feeds: list[dict[str, object]] = []
    for h, items in per_host.items():
        feed = f"/w{h:03d}/feed.xml"
        server.add(feed, rss(items, title=f"host w{h}"), content_type="application/rss+xml")
        feeds.append({"url": _url(server, h, feed, "w"), "name": f"host w{h}"})
    return feeds


def bench_steady(hosts: int, copies: int, workers: int | None) -> dict[str, Any]:
    """(d): 60 other articles on 20 warm-up hosts first, then the pages of (b), measured, in one process."""
    with tempfile.TemporaryDirectory() as tmp, _server() as server:
        d = Path(tmp)
        feeds = serve_pages(server, hosts, copies) + serve_warmup(server, 20, 60)
        _write_feeds(d / "feeds.yaml", feeds, {"host_spacing": 0}, workers)
        return _child("steady", str(d / "feeds.yaml"), str(d / "m.db"))


FLOORS = ("default", "pipeline")


def bench_throughput(hosts: int, copies: int, workers: int | None) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Both floors before and after the poll (the machine's load drifts), averaged; and the poll."""
    with tempfile.TemporaryDirectory() as tmp, _server() as server:
        d = Path(tmp)
        feeds = serve_pages(server, hosts, copies)
        _write_feeds(d / "feeds.yaml", feeds, {"host_spacing": 0}, workers)
        before = {kind: _child("floor", kind, str(copies)) for kind in FLOORS}
        server_cpu = _cpu(resource.RUSAGE_SELF)  # this process only serves meanwhile
        poll = _child("poll", str(d / "feeds.yaml"), str(d / "m.db"))
        poll["server_cpu"] = _cpu(resource.RUSAGE_SELF) - server_cpu
        after = {kind: _child("floor", kind, str(copies)) for kind in reversed(FLOORS)}
    for kind in FLOORS:
        for key in ("wall", "cpu"):
            before[kind][key] = (before[kind][key] + after[kind][key]) / 2
    return before, poll


def bench_not_modified(feeds_n: int, hosts: int) -> tuple[dict[str, Any], float]:
    from helpers import rss

    with tempfile.TemporaryDirectory() as tmp, _server() as server:
        d = Path(tmp)
        feeds: list[dict[str, object]] = []
        for f in range(feeds_n):
            h = f % hosts
            path = f"/h{h:03d}/feed{f}.xml"
            items = [{"title": f"Item {k} of feed {f}", "link": f"http://example.org/{f}/{k}"} for k in range(10)]
            server.add(path, rss(items), etag=f'"v{f}"', content_type="application/rss+xml")
            feeds.append({"url": _url(server, h, path), "name": f"feed {f}", "full_text": False})
        _write_feeds(d / "feeds.yaml", feeds, {}, None)  # default politeness
        first = _child("poll", str(d / "feeds.yaml"), str(d / "m.db"))
        assert first["failed"] == 0, first
        started, server_cpu = time.perf_counter(), _cpu(resource.RUSAGE_SELF)
        again = _child("poll", str(d / "feeds.yaml"), str(d / "m.db"))
        process_wall = time.perf_counter() - started
        again["server_cpu"] = _cpu(resource.RUSAGE_SELF) - server_cpu  # this process only serves meanwhile
    return again, process_wall


def report(floors: dict[str, dict[str, Any]], poll: dict[str, Any], label: str) -> tuple[float, float]:
    """Print the poll against both floors; returns the ratios against issue #13's (default) floor."""
    articles = poll["new"]
    rate = articles / poll["wall"]
    cpu = 1000 * (poll["cpu_self"] + poll["cpu_children"]) / max(1, articles)
    names = {
        "default": "floor (issue #13: trafilatura's default extraction, one process)",
        "pipeline": "floor with the pipeline's extraction settings (extract_page: fast mode, one process)",
    }
    ratios: dict[str, tuple[float, float]] = {}
    for kind, floor in floors.items():
        floor_rate = floor["pages"] / floor["wall"]
        floor_cpu = 1000 * floor["cpu"] / floor["pages"]
        ratios[kind] = (rate / floor_rate, cpu / floor_cpu)
        print(f"{names[kind]}: {floor['pages']} pages, {floor_rate:.1f} pages/s, {floor_cpu:.1f} ms CPU/page")
    print(
        f"poll {label}: {articles} articles in {poll['wall']:.2f} s = {rate:.1f} articles/s, "
        f"{cpu:.1f} ms CPU/article (parent {1000 * poll['cpu_self'] / max(1, articles):.1f}, "
        f"workers {1000 * poll['cpu_children'] / max(1, articles):.1f}); {poll['failed']} feeds failed "
        f"{poll['errors']}" + (f"; the server meanwhile {poll['server_cpu']:.2f} s CPU" if "server_cpu" in poll else "")
    )
    for kind, (wall, cpu_ratio) in ratios.items():
        what = "issue #13's floor (default extraction)" if kind == "default" else "the pipeline-settings floor"
        print(
            f"  ratios against {what}: wall throughput {wall:.2f}x (target >= 1.7), "
            f"CPU/article {cpu_ratio:.2f}x (target <= 1.3)"
        )
    return ratios["default"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--copies", type=int, default=3, help="times each corpus page is served (distinct URLs)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None, help="settings.workers (default: the CPU count)")
    parser.add_argument("--inprocess", action="store_true", help="also measure settings.workers: 1 (as before)")
    parser.add_argument("--steady", action="store_true", help="also (d): a later poll of a running process")
    parser.add_argument("--skip-304", action="store_true", help="skip (c), the 304 re-poll")
    parser.add_argument("--only-304", action="store_true", help="only (c), the 304 re-poll")
    parser.add_argument(
        "--close-connections", action="store_true", help="the server closes every connection (HTTP/1.0)"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global KEEP_ALIVE
    KEEP_ALIVE = not args.close_connections
    if args.child:
        kind, *rest = args.child
        if kind == "floor":
            result = child_floor(rest[0], *(int(x) for x in rest[1:]))
        elif kind == "steady":
            result = child_steady(Path(rest[0]), Path(rest[1]))
        else:
            result = child_poll(Path(rest[0]), Path(rest[1]))
        print(json.dumps(result))
        return
    sys.path.insert(0, str(ROOT / "tests"))
    server = "keeps connections alive" if KEEP_ALIVE else "closes every connection"
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.hosts} hosts, "
        f"corpus pages x{args.copies}; the server {server}"
    )
    ratios = []
    for _ in range(0 if args.only_304 else args.repeat):
        floor, poll = bench_throughput(args.hosts, args.copies, args.workers)
        ratios.append(report(floor, poll, f"(settings.workers {args.workers or 'default'})"))
        if args.inprocess:
            floor, poll = bench_throughput(args.hosts, args.copies, 1)
            report(floor, poll, "(settings.workers 1: in-process)")
        if args.steady:
            steady = bench_steady(args.hosts, args.copies, args.workers)
            print("(d) the same pages polled by a running process (warm-up poll first; as a service's later ticks):")
            label = f"(settings.workers {args.workers or 'default'}, same workers: {steady['same_workers']})"
            report(floor, steady, label)
    if not args.only_304:
        par = parallel_floor(args.copies, os.cpu_count() or 1)
        print(
            f"reference: {os.cpu_count()} floor processes at once: {par['pages'] / par['wall']:.1f} pages/s together, "
            f"{1000 * par['cpu'] / par['pages']:.1f} ms CPU/page, default extraction "
            "(the most any pool can get from this machine now)"
        )
    if args.repeat > 1:
        print(
            f"median over {args.repeat} runs, against issue #13's floor: "
            f"wall {statistics.median(r[0] for r in ratios):.2f}x, CPU {statistics.median(r[1] for r in ratios):.2f}x"
        )
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    if not args.skip_304:
        again, process_wall = bench_not_modified(1000, 250)
        print(
            f"re-poll, 1000 feeds on 250 hosts answering 304 (default politeness): app.poll {again['wall']:.2f} s "
            f"(target <= 4 s; politeness alone needs 3 s: 4 feeds a host, 1 s apart), {again['cpu_self']:.2f} s CPU "
            f"(the server {again['server_cpu']:.2f} s); whole `monitor poll` process {process_wall:.2f} s; "
            f"{again['not_modified']} not modified, {again['failed']} failed"
        )


if __name__ == "__main__":
    main()
