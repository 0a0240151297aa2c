"""Throughput of `monitor worker` processes on PostgreSQL with 1, 2 and 4 workers.

A throwaway PostgreSQL server (tests/pg.py), `--hosts` loopback hosts (tests/hostserver.py: one
address each, 127.0.0.x, so each is its own politeness key) serving `--feeds` feeds of
`--entries` entries whose pages are real pages from ../shared/corpus/pages/scrapinghub-aeb
(gzip-decoded), host_spacing 0, per_host 2 shared by all workers (store/pg_hosts.py). For each
worker count: a fresh database, every feed queued as a job (jobs.defer_due), N `monitor worker`
processes started, wall time until every feed job has succeeded. Prints one line per count,
with the load average (the machine may be shared).

    python benchmarks/bench_workers.py [--feeds 60] [--hosts 30] [--entries 5] [--workers 1 2 4]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers import SEEDS, page_title, rss  # noqa: E402
from hostserver import HostsServer  # noqa: E402
from monitor import app as application  # noqa: E402
from monitor import jobs  # noqa: E402
from monitor.store.pg_hosts import PgPoliteness  # noqa: E402
from monitor.store.postgres import PostgresStore  # noqa: E402
from pg import PgServer, find_bindir, running_server  # noqa: E402

PAGES = ROOT.parent / "shared" / "corpus" / "pages" / "scrapinghub-aeb" / "html"


def serve(hosts: HostsServer, feeds: int, entries: int) -> list[dict[str, object]]:
    pages = [gzip.decompress(p.read_bytes()) for p in sorted(PAGES.glob("*.html.gz"))]
    out: list[dict[str, object]] = []
    n = 0
    for f in range(feeds):
        address = hosts.addresses[f % len(hosts.addresses)]
        items = []
        for e in range(entries):
            body = pages[n % len(pages)]
            n += 1
            link = hosts.add(address, f"/p/{f}-{e}.html", body, "text/html; charset=utf-8")
            items.append({"title": page_title(body), "link": link})
        out.append({"url": hosts.add(address, f"/feed{f}.xml", rss(items)), "name": f"feed{f}"})
    return out


def turn_cost(pg: PgServer, turns: int = 1000, hosts: int = 100) -> float:
    """Milliseconds one request's shared turn costs (claim a slot and the next start, then free
    it): one thread, spacing 0, no contention."""
    url = pg.create_database()
    with PostgresStore(url):
        pass  # the migrations
    gate = PgPoliteness(url, per_host=2, spacing=0.0, deadline=60)
    try:
        for h in range(hosts):  # first turns create the hosts' rows: not what is measured
            with gate.hold(f"host{h}.example"):
                pass
        start = time.perf_counter()
        for i in range(turns):
            with gate.hold(f"host{i % hosts}.example"):
                pass
        return (time.perf_counter() - start) * 1000 / turns
    finally:
        gate.close()


def one_run(pg: PgServer, feeds_yaml: Path, workers: int, concurrency: int, feeds: int) -> tuple[float, int]:
    """(wall seconds until every feed job ended, articles stored)."""
    url = pg.create_database()
    a = application.open_app(application.Paths(feeds=feeds_yaml, seeds=SEEDS, db=url))
    queue = jobs.build_queue(url).open()
    jobs.ensure_schema(a.store, queue)
    assert jobs.defer_due(a, queue, backlog_per_host=feeds) == feeds
    queue.close()
    a.close()
    env = {**os.environ, "MONITOR_DB": url, "NO_PROXY": "*"}
    exe = str(Path(sys.executable).parent / "monitor")
    cmd = [exe, "--feeds", str(feeds_yaml), "--seeds", str(SEEDS), "--log-level", "error", "worker"]
    start = time.perf_counter()
    procs = [
        subprocess.Popen([*cmd, "--concurrency", str(concurrency)], env=env, stdout=subprocess.DEVNULL)
        for _ in range(workers)
    ]
    try:
        with psycopg.connect(url) as conn:
            while True:
                row = conn.execute(
                    "SELECT count(*) FROM procrastinate_jobs"
                    " WHERE task_name = %s AND status IN ('succeeded', 'failed')",
                    [jobs.POLL_TASK],
                ).fetchone()
                conn.commit()
                if row and row[0] >= feeds:
                    break
                time.sleep(0.1)
            wall = time.perf_counter() - start
            stored = conn.execute("SELECT count(*) FROM articles").fetchone()
        return wall, int(stored[0]) if stored else 0
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=60)
    parser.add_argument("--hosts", type=int, default=30)
    parser.add_argument("--entries", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    bindir = find_bindir()
    if bindir is None:
        sys.exit("no PostgreSQL binaries (initdb, pg_ctl): install Debian's postgresql")
    hosts = HostsServer(args.hosts)
    try:
        with running_server(bindir) as pg, tempfile.TemporaryDirectory() as tmp:
            feeds_yaml = Path(tmp) / "feeds.yaml"
            settings = {
                "fetch": {
                    "allow_hosts": ["127.0.0.0/24"],
                    "host_spacing": 0,
                    "per_host": 2,
                    "timeout": 10,
                    "deadline": 60,
                }
            }
            feeds_yaml.write_text(json.dumps({"feeds": serve(hosts, args.feeds, args.entries), "settings": settings}))
            articles = args.feeds * args.entries
            print(
                f"{args.feeds} feeds x {args.entries} entries on {args.hosts} loopback hosts, "
                f"concurrency {args.concurrency} per worker, {os.cpu_count()} CPUs"
            )
            print(f"shared host turn: {turn_cost(pg):.2f} ms per request (claim + release, one thread)", flush=True)
            for n in args.workers:
                wall, stored = one_run(pg, feeds_yaml, n, args.concurrency, args.feeds)
                load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
                print(
                    f"workers={n}: {wall:6.2f} s wall, {articles / wall:6.1f} articles/s "
                    f"(incl. worker start-up), {stored}/{articles} stored, load average {load}",
                    flush=True,
                )
    finally:
        hosts.stop()


if __name__ == "__main__":
    main()
