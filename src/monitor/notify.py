"""Short digest notifications through Apprise (chat, push and webhook services by URL).

The message is built by pure functions (digest.headline and counts, top titles); only `send` talks to
Apprise. The exactly-once bookkeeping is the caller's (app.deliver_target), as for the file
and email targets: a failure raises DeliveryError and the digest stays pending.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .digest import counts, headline, summary
from .errors import ConfigError, DeliveryError
from .models import AppriseTarget, Digest, MatchItem

TOP_TITLES = 3
MAX_TITLE_CHARS = 160
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass(frozen=True)
class Notification:
    title: str
    body: str


# --- the message (pure) ------------------------------------------------------------------------


def build_message(digest: Digest, *, top: int = TOP_TITLES) -> Notification:
    """Title: digest name, date and counts. Body: the counts, then the best `top` matches'
    titles and links, and how many more the full digest holds."""
    line = summary(counts(digest))
    title = headline(digest)
    best = sorted(digest.matches, key=lambda m: -m.score)[:top]
    body = [line]
    for m in best:
        body.append(f"- {_clean(m.title, MAX_TITLE_CHARS) or '(untitled)'}" + (" (updated)" if m.changed else ""))
        link = _link(m)
        if link:
            body.append(f"  {link}")
    more = len(digest.matches) - len(best)
    if more > 0:
        body.append(f"and {more} more in the digest")
    if digest.base_url:  # settings.web.base_url: the digest page, to read and judge
        body.append(f"Read and judge: {digest.base_url.rstrip('/')}/digest")
    return Notification(title=title, body="\n".join(body))


def _clean(text: str, limit: int = 0) -> str:
    """Feed text is hostile: one line, no control characters, bounded length."""
    text = " ".join(_CONTROL.sub(" ", text).split())
    if limit and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _link(m: MatchItem) -> str:
    url = m.url.strip()
    return url if re.match(r"^https?://\S+$", url) else ""


# --- configuration -----------------------------------------------------------------------------


def apprise_targets(where: str, urls: object) -> tuple[AppriseTarget, ...]:
    """The `urls` of `{type: apprise, urls: [URL, ...]}` → one target per URL (checked by Apprise
    itself). The section's keys are checked by config, like every other target's."""
    if urls is None:
        raise ConfigError(f"{where}.urls: missing (a list of Apprise URLs, e.g. [ntfy://ntfy.sh/my-topic])")
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u.strip() for u in urls):
        raise ConfigError(f"{where}.urls: must be a non-empty list of Apprise URLs (strings)")
    targets = []
    for i, url in enumerate(u.strip() for u in urls):
        if _service(url) is None:
            # Apprise's own reason can quote the URL's token: say which part is wrong, not why
            scheme = url.partition("://")[0] if "://" in url else "?"
            raise ConfigError(
                f"{where}.urls[{i}]: not an Apprise URL Apprise can use "
                f"(an unknown service {scheme!r}, or a token or part missing or malformed)"
            )
        targets.append(AppriseTarget(url=url, name=target_name(url)))
    return tuple(targets)


def target_name(url: str) -> str:
    """Stable and secret-free: the scheme and a hash of the whole URL (Apprise URLs carry
    tokens and passwords, and target names are printed and stored)."""
    scheme = url.partition("://")[0].lower() if "://" in url else "url"
    return f"apprise:{scheme}:{hashlib.sha256(url.encode('utf-8')).hexdigest()[:12]}"


def _service(url: str) -> object | None:
    import apprise

    return apprise.Apprise.instantiate(url)


def describe(url: str) -> str:
    """The URL as Apprise prints it with its secrets masked, without the query."""
    service = _service(url)
    if service is None:
        return url.partition("://")[0] + "://…"
    masked = str(service.url(privacy=True))  # type: ignore[attr-defined]
    parts = urlsplit(masked)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


# --- sending -----------------------------------------------------------------------------------


def send(note: Notification, url: str, *, where: str) -> None:
    """One notification to one Apprise URL; any failure → DeliveryError(where: reason)."""
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(url):
        raise DeliveryError(f"{where}: not an Apprise URL Apprise can use")
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:  # type: ignore[no-untyped-call]
        try:
            ok = notifier.notify(body=note.body, title=note.title, body_format=apprise.NotifyFormat.TEXT)
        except Exception as exc:  # a plugin's own bug must not stop the other targets
            raise DeliveryError(f"{where}: {type(exc).__name__}: {_clean(str(exc), 300)}") from exc
        log = captured.getvalue()
    if not ok:
        reasons = [line for line in (_clean(x) for x in log.splitlines()) if line]
        raise DeliveryError(f"{where}: {reasons[-1] if reasons else 'the service did not accept the notification'}")


def deliver_apprise(digest: Digest, target: AppriseTarget) -> str:
    where = describe(target.url)
    send(build_message(digest), target.url, where=f"Apprise {where}")
    return f"notified {where}"
