"""The three ways users run the monitor: service, digest delivery, backfill. Real processes,
a real HTTP server and a real SMTP server (aiosmtpd), all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from helpers import SEEDS, corpus_pages, page_title, rss, run, seed_and_other, seed_page, write_feeds
from httpserver import TestServer

MONITOR = str(Path(sys.executable).with_name("monitor"))
SEED_FILES = sorted(SEEDS.glob("*.txt"))


def wait_until(predicate: Any, timeout: float = 60.0) -> bool:
    """Poll for a condition; the bound is generous: this is a liveness check, not a timing test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_smtp(inbox: Inbox) -> tuple[Controller, int]:
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


def count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(db, timeout=30)
    try:
        return int(con.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


class Inbox:
    """aiosmtpd handler: collects messages; can refuse the first attempts or stall in DATA."""

    def __init__(self, refuse: int = 0, stall: threading.Event | None = None) -> None:
        self.messages: list[Any] = []
        self.refuse = refuse
        self.stall = stall
        self.in_data = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.in_data.set()
        if self.stall is not None:
            while not self.stall.is_set():
                await asyncio.sleep(0.05)
            return "451 stalled test server"
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller, port = start_smtp(inbox)
    try:
        yield inbox, port
    finally:
        controller.stop()


def _setup(tmp_path: Path, server: TestServer, smtp_port: int | None = None, interval: str = "10s") -> list[str]:
    items = seed_and_other(server, SEED_FILES[0], other=3)
    server.add("/feed.xml", rss(items), etag='"1"')
    targets: list[dict[str, Any]] = [
        {"type": "file", "dir": str(tmp_path / "digests"), "formats": ["md", "json", "atom"]}
    ]
    if smtp_port:
        targets.append(
            {
                "type": "email",
                "to": ["analyst@example.org"],
                "from": "monitor@example.org",
                "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none"},
            }
        )
    write_feeds(
        tmp_path / "feeds.yaml",
        [{"url": server.url("/feed.xml"), "name": "local", "interval": interval}],
        {
            "fetch": {"allow_hosts": ["127.0.0.1"], "host_spacing": 0, "timeout": 5, "deadline": 15},
            "digest": {"time": "07:00", "timezone": "UTC", "targets": targets},
        },
    )
    return [i["link"] for i in items]


def _args(tmp_path: Path, seeds: Path = SEEDS) -> list[str]:
    return ["--feeds", str(tmp_path / "feeds.yaml"), "--seeds", str(seeds), "--db", str(tmp_path / "m.db")]


@pytest.mark.slow
def test_service_polls_due_feeds_stops_on_sigterm_and_is_single_instance(tmp_path: Path, server: TestServer) -> None:
    _setup(tmp_path, server)
    db = tmp_path / "m.db"
    proc = subprocess.Popen([MONITOR, *_args(tmp_path), "run", "--tick", "1"], stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: count(db, "SELECT count(*) FROM articles") == 2)
        # the 10 s interval brings the feed round again, answered 304 thanks to the stored ETag
        assert wait_until(lambda: len(server.requests_for("/feed.xml")) >= 2)
        assert server.requests_for("/feed.xml")[-1].headers.get("if-none-match") == '"1"'

        second = subprocess.run([MONITOR, *_args(tmp_path), "run"], capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert "already used by a running `monitor run`" in second.stderr

        status = run(*_args(tmp_path), "status")
        assert "service heartbeat: 20" in status.output and "[ok] local: entries 2" in status.output
    finally:
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        stopped_after = time.monotonic() - started
        err = proc.stderr.read() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    assert code == 0, err
    assert "service stopped" in err
    assert stopped_after < 30  # the product's bound is 10 s (docs/operations.md); generous here
    assert count(db, "SELECT count(*) FROM articles") == 2


def test_deliver_sends_one_email_and_files_then_nothing_new(
    tmp_path: Path, server: TestServer, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    links = _setup(tmp_path, server, port)
    assert run(*_args(tmp_path), "poll").exit_code == 0

    first = run(*_args(tmp_path), "digest", "--deliver")
    assert first.exit_code == 0, first.output
    assert len(inbox.messages) == 1
    msg = inbox.messages[0]
    assert msg.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in msg.walk() if not p.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    assert links[0] in parts["text/html"] and links[1] not in parts["text/html"]
    files = sorted(p.name for p in (tmp_path / "digests").iterdir())
    assert len(files) == 4 and "feed.atom.xml" in files and any(f.endswith(".md") for f in files)

    second = run(*_args(tmp_path), "digest", "--deliver")
    assert second.exit_code == 0
    assert len(inbox.messages) == 1
    assert sorted(p.name for p in (tmp_path / "digests").iterdir()) == files


def test_smtp_refusal_loses_nothing_and_retries_first(tmp_path: Path, server: TestServer) -> None:
    inbox = Inbox(refuse=1)
    controller, port = start_smtp(inbox)
    try:
        links = _setup(tmp_path, server, port)
        run(*_args(tmp_path), "poll")
        failed = run(*_args(tmp_path), "digest", "--deliver")
        assert failed.exit_code == 1 and "FAILED" in failed.output
        assert inbox.messages == []
        retried = run(*_args(tmp_path), "digest", "--deliver")
        assert retried.exit_code == 0, retried.output
        assert len(inbox.messages) == 1
        assert links[0] in inbox.messages[0].as_string()
        assert run(*_args(tmp_path), "digest", "--deliver").exit_code == 0
        assert len(inbox.messages) == 1
        # the file target succeeded the first time and was not sent again
        assert len([p for p in (tmp_path / "digests").iterdir() if p.suffix == ".md"]) == 1
    finally:
        controller.stop()


@pytest.mark.slow
def test_sigkill_mid_delivery_then_restart_sends_once(tmp_path: Path, server: TestServer) -> None:
    stall = threading.Event()
    inbox = Inbox(stall=stall)
    controller, port = start_smtp(inbox)
    try:
        links = _setup(tmp_path, server, port)
        run(*_args(tmp_path), "poll")
        proc = subprocess.Popen(
            [MONITOR, *_args(tmp_path), "digest", "--deliver"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        assert inbox.in_data.wait(60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        inbox.stall = None
        stall.set()
        again = run(*_args(tmp_path), "digest", "--deliver")
        assert again.exit_code == 0, again.output
        assert len(inbox.messages) == 1 and links[0] in inbox.messages[0].as_string()
        run(*_args(tmp_path), "digest", "--deliver")
        assert len(inbox.messages) == 1
        con = sqlite3.connect(tmp_path / "m.db")
        assert con.execute("SELECT count(*) FROM digest_items WHERE target LIKE 'email:%'").fetchone()[0] == 1
    finally:
        controller.stop()


def test_backfill_rescore_finds_articles_made_relevant_by_a_new_seed(tmp_path: Path, server: TestServer) -> None:
    held = SEED_FILES[4]
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for f in SEED_FILES:
        if f != held:
            shutil.copy(f, seeds / f.name)
    title, body = seed_page(held)
    server.add("/a/held.html", body, content_type="text/html")
    server.add("/feed.xml", rss([{"title": title, "link": server.url("/a/held.html")}]))
    write_feeds(tmp_path / "feeds.yaml", [{"url": server.url("/feed.xml"), "name": "local"}])
    args = _args(tmp_path, seeds)
    run(*args, "poll")
    before = count(tmp_path / "m.db", "SELECT count(*) FROM matches WHERE status = 'active'")

    shutil.copy(held, seeds / held.name)
    result = run(*args, "backfill", "--rescore")
    assert result.exit_code == 0, result.output
    assert "articles 1" in result.output
    after = count(tmp_path / "m.db", "SELECT count(*) FROM matches WHERE status = 'active'")
    assert after == 1 and before in (0, 1)
    # run again: resumable, nothing left to redo under the same profile
    assert "articles 0" in run(*args, "backfill", "--rescore").output


def test_backfill_urls_is_resumable(tmp_path: Path, server: TestServer) -> None:
    links = _setup(tmp_path, server)
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join([*links, server.url("/missing.html")]) + "\n")
    first = run(*_args(tmp_path), "backfill", "--urls", urls)
    assert first.exit_code == 0, first.output
    assert "stored 2" in first.output and "failed 1" in first.output and "matches 1" in first.output
    again = run(*_args(tmp_path), "backfill", "--urls", urls)
    assert "stored 0" in again.output and "skipped 2" in again.output
    assert count(tmp_path / "m.db", "SELECT count(*) FROM articles") == 2


@pytest.mark.slow
def test_json_logs_are_one_object_per_line(tmp_path: Path, server: TestServer) -> None:
    _setup(tmp_path, server)
    proc = subprocess.run(
        [MONITOR, *_args(tmp_path), "--log-format", "json", "--log-level", "info", "poll"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert proc.returncode == 0
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.strip()]
    assert lines and all({"time", "level", "message"} <= set(x) for x in lines)
    assert any("local" in x["message"] for x in lines)


@pytest.mark.slow
def test_sigkill_of_the_service_mid_poll_then_restart_loses_nothing(tmp_path: Path, server: TestServer) -> None:
    pages = corpus_pages()[:60]
    items = []
    for key, body in pages:
        server.add(f"/p/{key}.html", body, content_type="text/html")
        items.append({"title": page_title(body), "link": server.url(f"/p/{key}.html")})
    server.add("/feed.xml", rss(items), etag='"k"')
    write_feeds(tmp_path / "feeds.yaml", [{"url": server.url("/feed.xml"), "name": "local", "interval": "10s"}])
    db = tmp_path / "m.db"
    first = subprocess.Popen([MONITOR, *_args(tmp_path), "run", "--tick", "1"], stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: count(db, "SELECT count(*) FROM articles") >= 5)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    assert count(db, "SELECT count(*) FROM articles") < len(pages)  # really killed mid-poll

    second = subprocess.Popen([MONITOR, *_args(tmp_path), "run", "--tick", "1"], stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: count(db, "SELECT count(*) FROM articles") == len(pages), timeout=120)
    finally:
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=60)  # reads and closes the pipe
        assert second.returncode == 0, err
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(DISTINCT entry_id) FROM articles").fetchone()[0] == len(pages)
    assert (
        con.execute("SELECT count(*) FROM matches").fetchone()[0]
        == con.execute("SELECT count(DISTINCT article_id) FROM matches").fetchone()[0]
    )
