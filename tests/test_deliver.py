"""Delivery: dated files (no overwrite, atomic), email through a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import errno
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from monitor.deliver import build_email, deliver, deliver_file, send_email
from monitor.digest import render
from monitor.errors import DeliveryError
from monitor.models import Digest, EmailTarget, FileTarget, MatchItem, SmtpSettings

DAY = date(2026, 11, 22)
ITEMS = (
    MatchItem(
        article_id=1,
        url="https://news.example.org/harbour",
        title="Harbour dredging approved",
        feed="Example News",
        published=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
        first_seen=datetime(2026, 11, 21, 10, 0, tzinfo=UTC),
        score=0.91,
        nearest_seed="harbour.txt",
        sentence="The council approved the dredging.",
    ),
    MatchItem(
        article_id=2,
        url="https://news.example.org/silt",
        title="Silt estimate revised <again>",
        feed="Other Wire",
        published=None,
        first_seen=datetime(2026, 11, 21, 11, 0, tzinfo=UTC),
        score=0.64,
        terms=("silt",),
        changed=True,
    ),
)
DIGEST = Digest(generated_at=datetime(2026, 11, 22, 7, 0, tzinfo=UTC), matches=ITEMS)
RENDERED = {"md": "# md\n", "html": "<p>html</p>\n", "json": "{}\n", "atom": "<feed/>\n"}


def file_target(directory: Path, formats: tuple[str, ...] = ("md", "html", "json", "atom")) -> FileTarget:
    return FileTarget(dir=str(directory), formats=formats)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# --- files -----------------------------------------------------------------------------------


def test_deliver_file_writes_dated_files(tmp_path: Path) -> None:
    out = tmp_path / "digests" / "nested"
    paths = deliver_file(RENDERED, file_target(out), DAY)
    assert [p.name for p in paths] == [
        "2026-11-22.md",
        "2026-11-22.html",
        "2026-11-22.json",
        "2026-11-22.atom.xml",
    ]
    assert (out / "2026-11-22.md").read_text(encoding="utf-8") == "# md\n"
    assert (out / "2026-11-22.atom.xml").read_text(encoding="utf-8") == "<feed/>\n"
    assert leftovers(out) == []


def test_text_format_extension(tmp_path: Path) -> None:
    paths = deliver_file({"text": "plain\n"}, file_target(tmp_path, ("text",)), DAY)
    assert [p.name for p in paths] == ["2026-11-22.txt"]


def test_deliver_file_never_overwrites(tmp_path: Path) -> None:
    first = deliver_file(RENDERED, file_target(tmp_path), DAY)
    second = deliver_file({**RENDERED, "md": "# second\n"}, file_target(tmp_path), DAY)
    third = deliver_file({**RENDERED, "md": "# third\n"}, file_target(tmp_path), DAY)
    assert first[0].name == "2026-11-22.md"
    assert [p.name for p in second] == [
        "2026-11-22-2.md",
        "2026-11-22-2.html",
        "2026-11-22-2.json",
        "2026-11-22-2.atom.xml",
    ]
    assert third[0].name == "2026-11-22-3.md"
    assert (tmp_path / "2026-11-22.md").read_text(encoding="utf-8") == "# md\n"
    assert (tmp_path / "2026-11-22-2.md").read_text(encoding="utf-8") == "# second\n"
    assert (tmp_path / "2026-11-22-3.md").read_text(encoding="utf-8") == "# third\n"


def test_one_existing_format_moves_the_whole_set(tmp_path: Path) -> None:
    (tmp_path / "2026-11-22.json").write_text("earlier", encoding="utf-8")
    paths = deliver_file(RENDERED, file_target(tmp_path), DAY)
    assert {p.name for p in paths} == {
        "2026-11-22-2.md",
        "2026-11-22-2.html",
        "2026-11-22-2.json",
        "2026-11-22-2.atom.xml",
    }
    assert (tmp_path / "2026-11-22.json").read_text(encoding="utf-8") == "earlier"
    assert not (tmp_path / "2026-11-22.md").exists()


def test_race_for_a_name_takes_the_next_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer creates the file between the existence check and the link."""
    real_link = os.link
    raced: list[Any] = []

    def link(src: Any, dst: Any) -> None:
        if not raced and str(dst).endswith("2026-11-22.html"):
            raced.append(dst)
            Path(dst).write_text("other writer", encoding="utf-8")
        real_link(src, dst)

    monkeypatch.setattr(os, "link", link)
    paths = deliver_file(RENDERED, file_target(tmp_path), DAY)
    assert [p.name for p in paths][0] == "2026-11-22-2.md"
    assert (tmp_path / "2026-11-22.html").read_text(encoding="utf-8") == "other writer"
    assert not (tmp_path / "2026-11-22.md").exists()  # the half-written set was withdrawn
    assert leftovers(tmp_path) == []


def test_write_failure_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the second file fails while being written
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(DeliveryError) as info:
        deliver_file(RENDERED, file_target(tmp_path), DAY)
    assert "No space left on device" in str(info.value)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []  # no partial file, no temp file, no half set


def test_without_hard_links_falls_back_to_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_link(src: Any, dst: Any) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)
    deliver_file(RENDERED, file_target(tmp_path), DAY)
    second = deliver_file({**RENDERED, "md": "# again\n"}, file_target(tmp_path), DAY)
    assert second[0].name == "2026-11-22-2.md"
    assert (tmp_path / "2026-11-22.md").read_text(encoding="utf-8") == "# md\n"
    assert leftovers(tmp_path) == []


def test_unusable_directory_is_delivery_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(DeliveryError, match="cannot create digest directory"):
        deliver_file(RENDERED, file_target(blocker / "digests"), DAY)


def test_missing_rendering_or_bad_format_is_delivery_error(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError, match="not rendered"):
        deliver_file({"md": "x"}, file_target(tmp_path, ("md", "html")), DAY)
    with pytest.raises(DeliveryError, match="unknown format"):
        deliver_file({"pdf": "x"}, file_target(tmp_path, ("pdf",)), DAY)
    with pytest.raises(DeliveryError, match="no directory"):
        deliver_file(RENDERED, FileTarget(dir=""), DAY)
    assert list(tmp_path.iterdir()) == []


def test_deliver_file_target_renders_all_formats(tmp_path: Path) -> None:
    out = tmp_path / "digests"
    description = deliver(DIGEST, file_target(out, ("md", "html", "json", "atom", "text")))
    assert description == f"5 files in {out}/"
    assert "Harbour dredging approved" in (out / "2026-11-22.md").read_text(encoding="utf-8")
    assert "Silt estimate revised &lt;again&gt;" in (out / "2026-11-22.html").read_text(encoding="utf-8")
    data = json.loads((out / "2026-11-22.json").read_text(encoding="utf-8"))
    assert data["count"] == 2
    assert "<feed" in (out / "2026-11-22.atom.xml").read_text(encoding="utf-8")
    assert "[updated]" in (out / "2026-11-22.txt").read_text(encoding="utf-8")
    # another digest of the same day never replaces the first
    later = Digest(generated_at=datetime(2026, 11, 22, 19, 0, tzinfo=UTC), matches=ITEMS[:1])
    assert deliver(later, file_target(out, ("md",))) == f"1 file in {out}/"
    assert (out / "2026-11-22-2.md").exists()
    assert "Harbour dredging approved" in (out / "2026-11-22.md").read_text(encoding="utf-8")


def test_same_digest_delivered_again_is_not_duplicated(tmp_path: Path) -> None:
    """A retry after a crash between writing and recording re-renders the same digest."""
    first = deliver_file(RENDERED, file_target(tmp_path), DAY)
    again = deliver_file(RENDERED, file_target(tmp_path), DAY)
    assert again == first
    assert len(list(tmp_path.iterdir())) == 5  # four dated files + the stable feed.atom.xml


def test_partly_written_digest_is_completed(tmp_path: Path) -> None:
    """A crash in the middle of a set: the retry completes it, under the same name."""
    (tmp_path / "2026-11-22.md").write_text(RENDERED["md"], encoding="utf-8")
    paths = deliver_file(RENDERED, file_target(tmp_path), DAY)
    assert [p.name for p in paths][0] == "2026-11-22.md"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "2026-11-22.atom.xml",
        "2026-11-22.html",
        "2026-11-22.json",
        "2026-11-22.md",
        "feed.atom.xml",
    ]
    assert (tmp_path / "2026-11-22.html").read_text(encoding="utf-8") == RENDERED["html"]


def test_deliver_uses_template_overrides(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "digest.md.j2").write_text("custom {{ count }}\n", encoding="utf-8")
    deliver(DIGEST, file_target(tmp_path / "d", ("md",)), templates_dir=templates)
    assert (tmp_path / "d" / "2026-11-22.md").read_text(encoding="utf-8") == "custom 2\n"


@dataclass(frozen=True)
class Pigeon:
    """A target type no sender knows."""

    name: str = "pigeon"


def test_deliver_errors_are_delivery_errors(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError, match="unknown type"):
        deliver(DIGEST, Pigeon())  # type: ignore[arg-type]
    with pytest.raises(DeliveryError, match="unknown digest format"):
        deliver(DIGEST, file_target(tmp_path, ("pdf",)))
    with pytest.raises(DeliveryError, match="no recipients"):
        deliver(DIGEST, EmailTarget(to=(), sender="m@example.org"))
    with pytest.raises(DeliveryError, match="does not exist"):
        deliver(DIGEST, file_target(tmp_path, ("md",)), templates_dir=tmp_path / "missing")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "digest.md.j2").write_text("{% if %}", encoding="utf-8")
    with pytest.raises(DeliveryError, match="digest.md.j2"):
        deliver(DIGEST, file_target(tmp_path / "out", ("md",)), templates_dir=broken)


# --- email: message --------------------------------------------------------------------------


def email_target(port: int, **smtp: Any) -> EmailTarget:
    return EmailTarget(
        to=("analyst@example.org", "editor@example.org"),
        sender="monitor@example.org",
        smtp=SmtpSettings(host="127.0.0.1", port=port, timeout=5.0, **smtp),
    )


def test_build_email() -> None:
    html = render(DIGEST, "html")
    text = render(DIGEST, "text")
    msg = build_email(DIGEST, html, text, email_target(25))
    assert msg["Subject"] == "monitor digest 2026-11-22: 1 new story, 1 update"
    assert msg["From"] == "monitor@example.org"
    assert msg["To"] == "analyst@example.org, editor@example.org"
    assert msg["Date"] and msg["Message-ID"].endswith("@example.org>")
    assert msg.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in msg.iter_parts()]
    assert parts == ["text/plain", "text/html"]


def test_message_id_is_stable_per_digest_and_target() -> None:
    target = email_target(25)
    first = build_email(DIGEST, "<p/>", "x", target)["Message-ID"]
    again = build_email(DIGEST, "<p/>", "x", target)["Message-ID"]
    other = Digest(generated_at=DIGEST.generated_at, matches=ITEMS[:1])
    assert first == again  # a retried digest can be recognised as a duplicate
    assert build_email(other, "<p/>", "x", target)["Message-ID"] != first
    odd = EmailTarget(to=("a@example.org",), sender="Monitor <m@x y>")
    assert build_email(DIGEST, "<p/>", "x", odd)["Message-ID"].endswith("@monitor.invalid>")


def test_subject_counts() -> None:
    one = Digest(generated_at=DIGEST.generated_at, matches=ITEMS[:1])
    none = Digest(generated_at=DIGEST.generated_at, matches=())
    text = render(one, "text")
    # the subject counts what the digest's sections hold, as the notification title does
    assert build_email(one, "<p/>", text, email_target(25))["Subject"].endswith(": 1 new story")
    assert build_email(none, "<p/>", "x", email_target(25))["Subject"].endswith(": nothing new")


def test_build_email_needs_sender() -> None:
    target = EmailTarget(to=("a@example.org",), sender="")
    with pytest.raises(DeliveryError, match="no sender"):
        build_email(DIGEST, "<p/>", "x", target)


# --- email: real SMTP server on 127.0.0.1 ----------------------------------------------------


@dataclass
class Collector:
    """aiosmtpd handler: collects messages, optionally refusing the first `refuse` attempts."""

    refuse: int = 0
    attempts: int = 0
    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 try again"
        self.messages.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Smtp:
    handler: Collector
    port: int


def start(handler: Collector, **kwargs: Any) -> tuple[Controller, int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller, port


@pytest.fixture
def smtp_server() -> Iterator[Smtp]:
    handler = Collector()
    controller, port = start(handler)
    try:
        yield Smtp(handler, port)
    finally:
        controller.stop()


@pytest.fixture
def flaky_smtp_server() -> Iterator[Smtp]:
    handler = Collector(refuse=1)
    controller, port = start(handler)
    try:
        yield Smtp(handler, port)
    finally:
        controller.stop()


def received(envelope: Any) -> EmailMessage:
    msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_email_arrives_multipart_with_the_matches(smtp_server: Smtp) -> None:
    description = deliver(DIGEST, email_target(smtp_server.port))
    assert description == "email to analyst@example.org, editor@example.org"
    assert len(smtp_server.handler.messages) == 1
    envelope = smtp_server.handler.messages[0]
    assert envelope.mail_from == "monitor@example.org"
    assert sorted(envelope.rcpt_tos) == ["analyst@example.org", "editor@example.org"]
    msg = received(envelope)
    assert msg["Subject"] == "monitor digest 2026-11-22: 1 new story, 1 update"
    assert msg.get_content_type() == "multipart/alternative"
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    assert text_part is not None and html_part is not None
    text = text_part.get_content()
    html = html_part.get_content()
    for item in ITEMS[:1]:
        assert item.title in text and item.title in html
        assert item.url in text and f'href="{item.url}"' in html
    assert "Silt estimate revised <again>" in text
    assert "Silt estimate revised &lt;again&gt;" in html
    assert "The council approved the dredging." in html


def test_refused_first_attempt_then_succeeds(flaky_smtp_server: Smtp) -> None:
    target = email_target(flaky_smtp_server.port)
    message = build_email(DIGEST, render(DIGEST, "html"), render(DIGEST, "text"), target)
    assert target.smtp is not None
    with pytest.raises(DeliveryError) as info:
        send_email(message, target.smtp)
    text = str(info.value)
    assert text.startswith(f"SMTP 127.0.0.1:{flaky_smtp_server.port}: 451")
    assert "try again" in text and "\n" not in text
    assert flaky_smtp_server.handler.messages == []
    send_email(message, target.smtp)  # the retry goes through
    assert flaky_smtp_server.handler.attempts == 2
    assert len(flaky_smtp_server.handler.messages) == 1


def test_connection_refused_is_delivery_error() -> None:
    port = free_port()  # bound and released: nothing listens there now
    with pytest.raises(DeliveryError) as info:
        deliver(DIGEST, email_target(port))
    text = str(info.value)
    assert text.startswith(f"SMTP 127.0.0.1:{port}: ")
    assert "refused" in text.lower() and "\n" not in text


def test_silent_server_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts at the TCP level, never says hello
        port = listener.getsockname()[1]
        smtp = SmtpSettings(host="127.0.0.1", port=port, timeout=0.5)
        message = build_email(DIGEST, "<p/>", "x", email_target(port))
        with pytest.raises(DeliveryError, match=f"SMTP 127.0.0.1:{port}: .*timed out"):
            send_email(message, smtp)


def test_unknown_security_is_delivery_error() -> None:
    message = build_email(DIGEST, "<p/>", "x", email_target(25))
    with pytest.raises(DeliveryError, match="unknown security"):
        send_email(message, SmtpSettings(host="127.0.0.1", port=25, security="tls13"))


def test_login_when_credentials_are_set() -> None:
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)

    handler = Collector()
    controller, port = start(handler, authenticator=authenticator, auth_require_tls=False)
    try:
        message = build_email(DIGEST, "<p/>", "x", email_target(port))
        good = SmtpSettings(host="127.0.0.1", port=port, user="mon", password="s3cret", timeout=5)
        send_email(message, good)
        assert logins == [(b"mon", b"s3cret")]
        assert len(handler.messages) == 1
        bad = SmtpSettings(host="127.0.0.1", port=port, user="mon", password="wrong", timeout=5)
        with pytest.raises(DeliveryError, match=f"SMTP 127.0.0.1:{port}: 535"):
            send_email(message, bad)
        assert len(handler.messages) == 1
    finally:
        controller.stop()


def test_stable_atom_feed_follows_the_latest_digest(tmp_path: Path) -> None:
    deliver_file(RENDERED, file_target(tmp_path), DAY)
    assert (tmp_path / "feed.atom.xml").read_text(encoding="utf-8") == RENDERED["atom"]
    newer = {**RENDERED, "atom": "<feed><!-- newer --></feed>\n", "md": "newer"}
    assert newer["atom"] != RENDERED["atom"]
    deliver_file(newer, file_target(tmp_path), DAY)
    assert (tmp_path / "feed.atom.xml").read_text(encoding="utf-8") == newer["atom"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
