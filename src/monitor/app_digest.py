"""Digest commands' wiring: render stored matches, and deliver new ones exactly once per target."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from . import deliver as delivery
from .digest import render
from .errors import ConfigError, DeliveryError, MonitorError
from .models import Digest, DigestTarget

if TYPE_CHECKING:  # app.py re-exports these functions, so it cannot be imported here at run time
    from .app import App

log = logging.getLogger("monitor")


def render_digest(app: App, *, since: datetime | None, everything: bool, fmt: str) -> str:
    """Render stored matches without recording anything (--since / --all)."""
    items = app.store.matches_since(None if everything else since)
    digest = Digest(generated_at=app.now(), matches=tuple(items), since=since, base_url=_base_url(app))
    return render(digest, fmt, templates_dir=_templates(app))


def _base_url(app: App) -> str | None:
    """Digest entries link to their web page when settings.web.base_url is set."""
    return app.settings.web.base_url if app.settings.web else None


def _templates(app: App) -> Path | None:
    tdir = app.settings.digest.templates_dir
    if not tdir:
        return None
    path = Path(tdir)
    return path if path.is_absolute() else app.paths.feeds.parent / path


def deliver_target(app: App, target: str, send: Callable[[Digest], str], *, send_empty: bool = False) -> list[str]:
    """Exactly once per target: matches are reserved in a pending digest before sending and
    the digest is marked delivered only after `send` succeeds; pending digests go first."""
    done = []

    def deliver(digest_id: int, digest: Digest) -> None:
        try:
            done.append(send(digest))
        except MonitorError as exc:
            app.store.finish_digest(digest_id, app.now(), error=str(exc))
            raise
        app.store.finish_digest(digest_id, app.now())

    for pending in app.store.pending_digests(target):
        deliver(pending.id, Digest(generated_at=pending.created_at, matches=pending.items, base_url=_base_url(app)))
    items = app.store.undelivered(target)
    if not items and not send_empty:
        return done
    now = app.now()
    digest = Digest(generated_at=now, matches=tuple(items), base_url=_base_url(app))
    deliver(app.store.reserve_digest(target, items, now), digest)
    return done


def new_digest(app: App, fmt: str, write: Callable[[str], None], target: str = "cli") -> int:
    """The matches not yet in an earlier digest for `target`, recorded once written."""
    count = 0

    def send(digest: Digest) -> str:
        nonlocal count
        count += len(digest.matches)
        write(render(digest, fmt, templates_dir=_templates(app)))
        return "written"

    deliver_target(app, target, send, send_empty=True)
    return count


def deliver_all(app: App) -> list[tuple[str, str]]:
    """Deliver to every configured target; one failing target does not stop the others."""
    targets = app.settings.digest.targets
    if not targets:
        raise ConfigError(f"{app.paths.feeds}: settings.digest.targets is empty: nothing to deliver to")
    results: list[tuple[str, str]] = []
    for target in targets:  # a relative file-target dir is relative to the working directory

        def send(digest: Digest, target: DigestTarget = target) -> str:
            return delivery.deliver(digest, target, templates_dir=_templates(app))

        try:
            sent = deliver_target(app, target.name, send, send_empty=app.settings.digest.empty == "send")
            results.append((target.name, "; ".join(sent) if sent else "nothing new"))
        except DeliveryError as exc:
            log.error("%s: %s", target.name, exc)
            results.append((target.name, f"FAILED: {exc}"))
    return results
