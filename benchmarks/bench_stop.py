"""How long `monitor run` takes to stop on SIGTERM in the middle of a poll.

Serves, on 127.0.0.1, a feed linking to the 181 fixture pages (and, for the worst case, a feed
whose every page hangs), starts `monitor run`, waits until articles are being stored, sends
SIGTERM and times the exit. Usage: python benchmarks/bench_stop.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers import SEEDS, corpus_pages, page_title, rss  # noqa: E402
from httpserver import TestServer  # noqa: E402


def stored(db: Path) -> int:
    try:
        con = sqlite3.connect(db, timeout=5)
        return int(con.execute("SELECT count(*) FROM articles").fetchone()[0])
    except sqlite3.Error:
        return 0


def one(hang: bool) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp, TestServer() as server:
        d = Path(tmp)
        items = []
        for key, body in corpus_pages():
            path = f"/p/{key}.html"
            if hang:
                items.append({"title": page_title(body), "link": server.fault("hang", key)})
            else:
                server.add(path, body, content_type="text/html")
                items.append({"title": page_title(body), "link": server.url(path)})
        server.add("/feed.xml", rss(items))
        (d / "feeds.yaml").write_text(
            json.dumps(
                {
                    "feeds": [{"url": server.url("/feed.xml"), "name": "local", "interval": "10s"}],
                    "settings": {"fetch": {"allow_hosts": ["127.0.0.1"], "host_spacing": 0}},
                }
            )
        )
        db = d / "m.db"
        exe = str(Path(sys.executable).with_name("monitor"))
        proc = subprocess.Popen(
            [exe, "--feeds", str(d / "feeds.yaml"), "--seeds", str(SEEDS), "--db", str(db), "run", "--tick", "1"],
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        if hang:
            while time.monotonic() < deadline and not server.requests_for(items[0]["link"].split(server.base_url)[1]):
                time.sleep(0.1)
        else:
            while time.monotonic() < deadline and stored(db) < 20:
                time.sleep(0.1)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        return time.monotonic() - started, stored(db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for hang in (False, True):
        times = [one(hang) for _ in range(args.repeat)]
        label = "page fetch hanging" if hang else "extracting real pages"
        secs = [t for t, _ in times]
        print(
            f"SIGTERM mid-poll ({label}): median {statistics.median(secs):.2f} s, max {max(secs):.2f} s "
            f"over {len(secs)} runs; articles stored at stop: {[n for _, n in times]}"
        )


if __name__ == "__main__":
    main()
