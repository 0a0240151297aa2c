"""Deliver a rendered digest to one target: dated files in a directory, or one email.

`deliver` has side effects on its one target only; the exactly-once bookkeeping (pending and
delivered records) is the caller's job. Every failure is a DeliveryError with a one-line message.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from monitor import digest as digest_mod
from monitor.errors import DeliveryError, MonitorError
from monitor.models import AppriseTarget, Digest, DigestTarget, EmailTarget, FileTarget, SmtpSettings

log = logging.getLogger(__name__)

EXTENSIONS = {"md": "md", "html": "html", "text": "txt", "json": "json", "atom": "atom.xml"}
SECURITY = ("none", "starttls", "ssl")
MAX_SUFFIX = 1000

_SPACE = re.compile(r"\s+")


def _one_line(text: object) -> str:
    return _SPACE.sub(" ", str(text)).strip()


# --- files -----------------------------------------------------------------------------------


def deliver_file(rendered: Mapping[str, str], target: FileTarget, day: date) -> list[Path]:
    """Write <dir>/<day>.<ext> for each of target.formats; never overwrite an earlier digest.

    When any file of that day exists already, the whole set gets the first free suffix
    (<day>-2.md, <day>-2.html, ...). Idempotent: when a set already holds exactly this rendering
    (the same digest delivered again after a crash), its missing files are completed and nothing
    is duplicated. Each file is written to a temporary file, flushed to disk and then linked into
    place, so readers never see a partial file.
    """
    if not target.dir:
        raise DeliveryError(f"digest target {target.name}: no directory configured")
    formats = list(dict.fromkeys(target.formats))
    if not formats:
        raise DeliveryError(f"digest target {target.name}: no formats configured")
    for fmt in formats:
        if fmt not in EXTENSIONS:
            raise DeliveryError(f"digest target {target.name}: unknown format {fmt!r}")
        if fmt not in rendered:
            raise DeliveryError(f"digest target {target.name}: format {fmt} was not rendered")
    directory = Path(target.dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeliveryError(f"cannot create digest directory {directory}: {_os_error(exc)}") from exc

    stem = day.isoformat()
    for n in range(1, MAX_SUFFIX + 1):
        name = stem if n == 1 else f"{stem}-{n}"
        paths = [directory / f"{name}.{EXTENSIONS[fmt]}" for fmt in formats]
        existing = [(fmt, p) for fmt, p in zip(formats, paths, strict=True) if p.exists()]
        if existing and not all(_same(p, rendered[fmt]) for fmt, p in existing):
            continue
        # Either a free name, or this very digest delivered before (wholly or in part, e.g. a
        # crash before the caller could record it): complete it instead of writing a copy.
        written: list[Path] = []
        try:
            for fmt, path in zip(formats, paths, strict=True):
                if path.exists():
                    continue
                _write_new(path, rendered[fmt])
                written.append(path)
        except FileExistsError:
            # another writer took this name between the check and the link: use the next one
            for path in written:
                with contextlib.suppress(OSError):
                    path.unlink()
            continue
        except OSError as exc:
            for path in written:
                with contextlib.suppress(OSError):
                    path.unlink()
            raise DeliveryError(f"cannot write digest in {directory}: {_os_error(exc)}") from exc
        if "atom" in formats:
            _replace_feed(directory / LATEST_ATOM, rendered["atom"])
        _fsync_dir(directory)
        return paths
    raise DeliveryError(f"too many digests for {stem} in {directory}")


LATEST_ATOM = "feed.atom.xml"


def _replace_feed(path: Path, text: str) -> None:
    """A fixed address a feed reader can subscribe to: the latest digest's Atom, swapped in
    atomically (readers keep entries they saw, keyed by the stable entry ids)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise DeliveryError(f"cannot write {path}: {_os_error(exc)}") from exc


def _same(path: Path, text: str) -> bool:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read() == text
    except (OSError, UnicodeDecodeError):
        return False


def _write_new(path: Path, text: str) -> None:
    """Create `path` with `text` atomically; FileExistsError if it exists."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        try:
            # link: atomic and refuses to replace an existing file
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            # no hard links on this file system (some container mounts): checked rename
            if path.exists():
                raise FileExistsError(errno.EEXIST, "file exists", str(path)) from exc
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _os_error(exc: OSError) -> str:
    return _one_line(exc.strerror or exc)


# --- email -----------------------------------------------------------------------------------


def message_id(digest: Digest, target: EmailTarget) -> str:
    """Stable per digest and target: a retry of the same digest (after a crash between sending
    and recording it) carries the same Message-ID, so mail stores can recognise the duplicate."""
    key = "\n".join(
        [target.name, digest.generated_at.isoformat()] + [f"{m.article_id}:{int(m.changed)}" for m in digest.matches]
    )
    token = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    domain = (target.sender or "").rpartition("@")[2].strip(" <>")
    if not re.fullmatch(r"[A-Za-z0-9.-]+", domain):
        domain = "monitor.invalid"
    return f"<{token}.digest@{domain}>"


def build_email(digest: Digest, rendered_html: str, rendered_text: str, target: EmailTarget) -> EmailMessage:
    """One multipart/alternative message (plain text first, then HTML)."""
    if not target.to:
        raise DeliveryError(f"digest target {target.name}: no recipients (to)")
    if not target.sender:
        raise DeliveryError(f"digest target {target.name}: no sender (from)")
    try:
        msg = EmailMessage()
        msg["Subject"] = digest_mod.headline(digest)
        msg["From"] = _one_line(target.sender)
        msg["To"] = ", ".join(_one_line(a) for a in target.to)
        msg["Date"] = format_datetime(_aware(digest.generated_at))  # the injected clock's time
        msg["Message-ID"] = message_id(digest, target)
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(rendered_text)
        msg.add_alternative(rendered_html, subtype="html")
    except (ValueError, TypeError, IndexError) as exc:
        raise DeliveryError(f"digest target {target.name}: cannot build email: {_one_line(exc)}") from exc
    return msg


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def send_email(message: EmailMessage, smtp: SmtpSettings) -> None:
    """Send through SMTP; any failure → DeliveryError("SMTP host:port: ...")."""
    where = f"SMTP {smtp.host}:{smtp.port}"
    security = smtp.security.lower()
    if security not in SECURITY:
        raise DeliveryError(f"{where}: unknown security {smtp.security!r} (none, starttls, ssl)")
    try:
        client: smtplib.SMTP
        if security == "ssl":
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        with client:
            client.ehlo()
            if security == "starttls":
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if smtp.user and smtp.password:
                client.login(smtp.user, smtp.password)
            refused = client.send_message(message)
        if refused:
            # accepted for the others: raising would make a retry duplicate their copy
            log.warning("%s: some recipients refused: %s", where, _refused(refused))
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"{where}: all recipients refused: {_refused(exc.recipients)}") from exc
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"{where}: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        detail = _os_error(exc) if isinstance(exc, OSError) and exc.strerror else _one_line(exc)
        raise DeliveryError(f"{where}: {detail or type(exc).__name__}") from exc


def _text(value: bytes | str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return _one_line(value)


def _refused(recipients: Mapping[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{rcpt} ({code} {_text(msg)})" for rcpt, (code, msg) in recipients.items())


# --- one target ------------------------------------------------------------------------------


def _send_files(digest: Digest, target: FileTarget, templates_dir: Path | None) -> str:
    formats = list(dict.fromkeys(target.formats))
    rendered = {fmt: _render(digest, fmt, templates_dir) for fmt in formats}
    paths = deliver_file(rendered, target, digest.generated_at.date())
    n = len(paths)
    return f"{n} file{'s' if n != 1 else ''} in {target.dir.rstrip('/')}/"


def _send_email(digest: Digest, target: EmailTarget, templates_dir: Path | None) -> str:
    html = _render(digest, "html", templates_dir)
    text = _render(digest, "text", templates_dir)
    send_email(build_email(digest, html, text, target), target.smtp)
    return f"email to {', '.join(target.to)}"


def _send_apprise(digest: Digest, target: AppriseTarget, templates_dir: Path | None) -> str:
    from monitor.notify import deliver_apprise  # imports Apprise only when an apprise target is used

    return deliver_apprise(digest, target)


# One sender per target record (a new target type adds one line here).
SENDERS: dict[type, Callable[[Any, Digest, Path | None], str]] = {
    FileTarget: lambda target, digest, tdir: _send_files(digest, target, tdir),
    EmailTarget: lambda target, digest, tdir: _send_email(digest, target, tdir),
    AppriseTarget: lambda target, digest, tdir: _send_apprise(digest, target, tdir),
}


def deliver(digest: Digest, target: DigestTarget, *, templates_dir: Path | None = None) -> str:
    """Render what `target` needs and deliver it; returns a short description of what was done."""
    sender = SENDERS.get(type(target))
    if sender is None:
        raise DeliveryError(f"digest target {target.name}: unknown type {type(target).__name__}")
    try:
        return sender(target, digest, templates_dir)
    except DeliveryError:
        raise
    except MonitorError as exc:
        raise DeliveryError(f"digest target {target.name}: {exc}") from exc


def _render(digest: Digest, fmt: str, templates_dir: Path | None) -> str:
    try:
        return digest_mod.render(digest, fmt, templates_dir=templates_dir)
    except ValueError as exc:
        raise DeliveryError(str(exc)) from exc
