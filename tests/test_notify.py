"""Apprise digest notifications: the message (pure), the configuration, and real deliveries to a
JSON endpoint on 127.0.0.1 (Apprise's json:// service), exactly once, retried after failures."""

from __future__ import annotations

import http.server
import json
import socket
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers import SEEDS, rss, run, seed_and_other, write_feeds
from httpserver import TestServer
from monitor.config import load_settings
from monitor.deliver import deliver
from monitor.digest import Count, summary
from monitor.errors import ConfigError, DeliveryError
from monitor.models import AppriseTarget, Digest, MatchItem
from monitor.notify import build_message, target_name

NOW = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)


def item(
    i: int, score: float, title: str = "", changed: bool = False, url: str = "", story_status: str = "new"
) -> MatchItem:
    return MatchItem(
        article_id=i,
        url=url or f"https://news.example.org/{i}",
        title=title or f"Story {i}",
        feed="Example",
        published=None,
        first_seen=NOW,
        score=score,
        changed=changed,
        story_status=story_status,
    )


# --- the message -------------------------------------------------------------------------------


def test_message_counts_top_titles_and_links() -> None:
    digest = Digest(
        generated_at=NOW,
        matches=(
            item(1, 0.5),
            item(2, 0.9, changed=True),
            item(3, 0.7),
            item(4, 0.6, story_status="more"),
            item(5, 0.4),
        ),
    )
    note = build_message(digest)
    assert note.title == "monitor digest 2026-11-29: 3 new stories, 1 more article, 1 update"
    assert note.body.splitlines() == [
        "3 new stories, 1 more article, 1 update",
        "- Story 2 (updated)",
        "  https://news.example.org/2",
        "- Story 3",
        "  https://news.example.org/3",
        "- Story 4",
        "  https://news.example.org/4",
        "and 2 more in the digest",
    ]


def test_message_links_the_web_page_when_configured() -> None:
    plain = build_message(Digest(generated_at=NOW, matches=(item(1, 0.5),)))
    assert "/digest" not in plain.body
    linked = build_message(Digest(generated_at=NOW, matches=(item(1, 0.5),), base_url="http://127.0.0.1:8080/"))
    assert linked.body.splitlines()[-1] == "Read and judge: http://127.0.0.1:8080/digest"


def test_singular_and_empty() -> None:
    assert build_message(Digest(generated_at=NOW, matches=(item(1, 0.5),))).body.splitlines()[0] == "1 new story"
    empty = build_message(Digest(generated_at=NOW, matches=()))
    assert empty.title.endswith(": nothing new") and empty.body == "nothing new"


def test_hostile_titles_and_links_are_tamed() -> None:
    title = "Line one\nInjected: line\x00two\u2028" + "x" * 400
    note = build_message(Digest(generated_at=NOW, matches=(item(1, 0.5, title=title, url="javascript:alert(1)"),)))
    lines = note.body.splitlines()
    assert lines[1].startswith("- Line one Injected: line two x") and lines[1].endswith("…")
    assert len(lines[1]) <= 2 + 160
    assert len(lines) == 2  # no link line for a non-http URL


def test_counts_take_story_sections_later() -> None:
    parts = (
        Count(3, "new story", "new stories"),
        Count(5, "more article", "more articles"),
        Count(1, "update", "updates"),
    )
    assert summary(parts) == "3 new stories, 5 more articles, 1 update"
    assert summary((Count(0, "new story", "new stories"), Count(2, "update", "updates"))) == "2 updates"


# --- configuration -----------------------------------------------------------------------------


def load_targets(tmp_path: Path, targets: list[Any]) -> tuple[Any, ...]:
    path = write_feeds(tmp_path / "feeds.yaml", [], {"digest": {"targets": targets}})
    return load_settings(path).digest.targets


def test_one_target_per_url_with_secret_free_names(tmp_path: Path) -> None:
    urls = ["json://127.0.0.1:9/hook", "tgram://123456:SECRETTOKEN/98765"]
    targets = load_targets(tmp_path, [{"type": "file", "dir": "d"}, {"type": "apprise", "urls": urls}])
    apprise = [t for t in targets if isinstance(t, AppriseTarget)]
    assert [t.url for t in apprise] == urls
    assert [t.name for t in apprise] == [target_name(u) for u in urls]
    assert apprise[1].name.startswith("apprise:tgram:") and "SECRET" not in apprise[1].name
    assert "SECRET" not in repr(apprise[1])
    assert target_name(urls[0]) == target_name(urls[0]) != target_name(urls[0] + "2")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"type": "apprise"}, "targets[0].urls: missing"),
        ({"type": "apprise", "urls": []}, "must be a non-empty list"),
        ({"type": "apprise", "urls": [1]}, "must be a non-empty list"),
        ({"type": "apprise", "urls": [""]}, "must be a non-empty list"),
        ({"type": "apprise", "urls": {"a": 1}}, "must be a non-empty list"),
        ({"type": "apprise", "urls": ["json://127.0.0.1/x"], "url": "x"}, "unknown key 'url'"),
        ({"type": "apprise", "urls": ["nosuchservice://x/y"]}, "urls[0]: not an Apprise URL"),
        ({"type": "apprise", "urls": ["json://127.0.0.1/x", "json://127.0.0.1/x"]}, "deliver to the same place"),
        ({"type": "pigeon"}, "must be 'file', 'email' or 'apprise'"),
    ],
)
def test_strict_validation(tmp_path: Path, target: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_targets(tmp_path, [target])
    assert message in str(info.value) and "\n" not in str(info.value)


# --- a JSON endpoint on 127.0.0.1 ------------------------------------------------------------


class Hook:
    """Records the JSON bodies POSTed to it; answers `status` (500 to fail a delivery)."""

    def __init__(self, port: int = 0) -> None:
        hook = self
        self.bodies: list[dict[str, Any]] = []
        self.attempts = 0
        self.status = 200

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.attempts += 1
                if hook.status == 200:
                    hook.bodies.append(json.loads(data))
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"json://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    try:
        yield h
    finally:
        h.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def apprise_target(url: str) -> AppriseTarget:
    return AppriseTarget(url=url, name=target_name(url))


def test_delivers_the_message_as_json(hook: Hook) -> None:
    digest = Digest(generated_at=NOW, matches=(item(1, 0.8, title="Harbour <dredging> & silt"), item(2, 0.3)))
    outcome = deliver(digest, apprise_target(hook.url))
    assert outcome == f"notified json://127.0.0.1:{hook.port}/hook"
    assert len(hook.bodies) == 1
    body = hook.bodies[0]
    assert body["title"] == "monitor digest 2026-11-29: 2 new stories"
    assert body["message"] == (
        "2 new stories\n- Harbour <dredging> & silt\n  https://news.example.org/1\n- Story 2\n  https://news.example.org/2"
    )
    assert body["type"] == "info"


def test_server_error_is_a_delivery_error(hook: Hook) -> None:
    hook.status = 500
    with pytest.raises(DeliveryError) as info:
        deliver(Digest(generated_at=NOW, matches=(item(1, 0.8),)), apprise_target(hook.url))
    message = str(info.value)
    assert message.startswith(f"Apprise json://127.0.0.1:{hook.port}/hook: ") and "500" in message
    assert "\n" not in message and hook.attempts == 1


def test_connection_refused_is_a_delivery_error() -> None:
    url = f"json://127.0.0.1:{free_port()}/hook"
    with pytest.raises(DeliveryError, match="127.0.0.1"):
        deliver(Digest(generated_at=NOW, matches=(item(1, 0.8),)), apprise_target(url))


# --- exactly once, through the command line ---------------------------------------------------


def setup_monitor(tmp_path: Path, server: TestServer, url: str) -> list[str]:
    items = seed_and_other(server, sorted(SEEDS.glob("*.txt"))[0], other=2)
    server.add("/feed.xml", rss(items))
    write_feeds(
        tmp_path / "feeds.yaml",
        [{"url": server.url("/feed.xml"), "name": "local"}],
        {
            "fetch": {"allow_hosts": ["127.0.0.1"], "host_spacing": 0, "timeout": 5, "deadline": 15},
            "digest": {
                "targets": [
                    {"type": "file", "dir": str(tmp_path / "digests"), "formats": ["md"]},
                    {"type": "apprise", "urls": [url]},
                ]
            },
        },
    )
    args = ["--feeds", tmp_path / "feeds.yaml", "--seeds", SEEDS, "--db", tmp_path / "m.db"]
    assert run(*args, "poll").exit_code == 0
    return [i["link"] for i in items]


def deliver_cli(tmp_path: Path) -> Any:
    return run("--feeds", tmp_path / "feeds.yaml", "--seeds", SEEDS, "--db", tmp_path / "m.db", "digest", "--deliver")


def apprise_digests(tmp_path: Path) -> list[tuple[str, int]]:
    con = sqlite3.connect(tmp_path / "m.db")
    try:
        return con.execute("SELECT status, count FROM digests WHERE target LIKE 'apprise:%' ORDER BY id").fetchall()
    finally:
        con.close()


def test_failing_endpoint_stays_pending_and_a_retry_sends_once(tmp_path: Path, server: TestServer, hook: Hook) -> None:
    links = setup_monitor(tmp_path, server, hook.url)
    hook.status = 500
    failed = deliver_cli(tmp_path)
    assert failed.exit_code == 1
    assert f"{target_name(hook.url)}: FAILED: Apprise json://127.0.0.1:{hook.port}/hook: " in failed.output
    assert hook.attempts == 1 and hook.bodies == []
    assert apprise_digests(tmp_path) == [("pending", 1)]

    hook.status = 200
    retried = deliver_cli(tmp_path)
    assert retried.exit_code == 0, retried.output
    assert len(hook.bodies) == 1
    assert hook.bodies[0]["message"].startswith("1 new story\n- ") and links[0] in hook.bodies[0]["message"]
    assert apprise_digests(tmp_path) == [("delivered", 1)]

    again = deliver_cli(tmp_path)
    assert again.exit_code == 0 and f"{target_name(hook.url)}: nothing new" in again.output
    assert len(hook.bodies) == 1 and hook.attempts == 2
    # the file target succeeded the first time and was not written again
    assert len(list((tmp_path / "digests").glob("*.md"))) == 1


def test_refused_connection_then_the_service_comes_up(tmp_path: Path, server: TestServer) -> None:
    port = free_port()
    url = f"json://127.0.0.1:{port}/hook"
    setup_monitor(tmp_path, server, url)
    assert deliver_cli(tmp_path).exit_code == 1
    assert apprise_digests(tmp_path) == [("pending", 1)]
    late = Hook(port)
    try:
        assert deliver_cli(tmp_path).exit_code == 0
        assert deliver_cli(tmp_path).exit_code == 0
        assert len(late.bodies) == 1 and late.attempts == 1
    finally:
        late.stop()
    assert apprise_digests(tmp_path) == [("delivered", 1)]


def test_each_url_is_retried_alone(tmp_path: Path, server: TestServer, hook: Hook) -> None:
    down = f"json://127.0.0.1:{free_port()}/hook"
    items = setup_monitor(tmp_path, server, hook.url)
    path = tmp_path / "feeds.yaml"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["settings"]["digest"]["targets"][1]["urls"] = [hook.url, down]
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert deliver_cli(tmp_path).exit_code == 1  # one service is down
    assert deliver_cli(tmp_path).exit_code == 1  # still down: only it is retried
    assert len(hook.bodies) == 1 and items[0] in hook.bodies[0]["message"]
    assert sorted(apprise_digests(tmp_path)) == [("delivered", 1), ("pending", 1)]



def test_readme_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    (block,) = [b.split("\n", 1)[1] for b in readme.split("```")[1::2] if b.startswith("yaml") and "apprise" in b]
    path = tmp_path / "feeds.yaml"
    path.write_text(block, encoding="utf-8")
    targets = load_settings(path).digest.targets
    assert [t.type for t in targets] == ["file", "email", "apprise", "apprise"]
