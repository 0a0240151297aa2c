"""Feed bytes + response headers → entries with stable identities. Pure: no I/O."""

from __future__ import annotations

import calendar
import hashlib
import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser

from .errors import ParseError
from .models import Entry, ParsedFeed

_TAG = re.compile(r"<[^>]+>")
_BLOCK = re.compile(r"</?(p|div|br|li|h[1-6]|tr|blockquote|section|article)\b[^>]*>", re.I)
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.I | re.S)
_SPACES = re.compile(r"[ \t\r\f\v]+")
_TRACKING = re.compile(r"^(utm_|fbclid$|gclid$|mc_cid$|mc_eid$|ocid$|cmpid$)", re.I)
# Bozo reasons that still leave a complete, trustworthy parse.
_BENIGN = ("CharacterEncodingOverride", "NonXMLContentType")


def strip_html(fragment: str) -> str:
    """HTML fragment → plain text with paragraph breaks kept."""
    if "<" not in fragment and "&" not in fragment:
        return fragment.strip()
    text = _SCRIPT.sub(" ", fragment)
    text = _BLOCK.sub("\n", text)
    text = html.unescape(_TAG.sub("", text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop fragment, default port and tracking parameters."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    host = (parts.hostname or "").lower()
    if parts.port and not (
        (parts.scheme == "http" and parts.port == 80) or (parts.scheme == "https" and parts.port == 443)
    ):
        host = f"{host}:{parts.port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)])
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", query, ""))


def _datetime(struct: Any) -> datetime | None:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), tz=UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def _identity(raw: Mapping[str, Any], link: str | None, title: str, published: datetime | None, body: str) -> str:
    guid = raw.get("id")
    if isinstance(guid, str) and guid.strip():
        return guid.strip()
    if link:
        return canonical_url(link)
    basis = f"{title}\x00{published.isoformat() if published else ''}"
    if not title and not published:
        basis += "\x00" + body
    return "sha1:" + hashlib.sha1(basis.encode("utf-8")).hexdigest()


def parse_feed(content: bytes, headers: Mapping[str, str], feed_url: str) -> ParsedFeed:
    """Parse a feed; raise ParseError when the document is not a usable feed at all."""
    if not content.strip():
        raise ParseError("empty document")
    try:
        parsed = feedparser.parse(content, response_headers=dict(headers), sanitize_html=False)
    except Exception as exc:  # feedparser is defensive, but hostile bytes have crashed it before
        raise ParseError(f"unparseable feed: {type(exc).__name__}: {exc}") from None
    version = parsed.get("version") or ""
    raw_entries = parsed.get("entries") or []
    bozo = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not version and not raw_entries:
        head = content.lstrip()[:512].lower()
        if b"<html" in head or b"<!doctype html" in head:
            raise ParseError("got an HTML page, not a feed (is the URL a feed?)")
        reason = f": {bozo}" if bozo else ""
        raise ParseError(f"not a feed{reason}")
    malformed = bozo is not None and type(bozo).__name__ not in _BENIGN
    if malformed and not raw_entries:
        raise ParseError(f"malformed feed: {type(bozo).__name__}: {bozo}")
    warning = None
    if malformed:
        warning = f"feed is malformed but usable: {type(bozo).__name__}: {bozo}"
    base = parsed.get("href") or feed_url
    entries: list[Entry] = []
    seen: set[str] = set()
    for raw in raw_entries:
        title = strip_html(raw.get("title") or "")
        link = raw.get("link") or None
        if link:
            link = urljoin(base, link.strip())
        published = _datetime(raw.get("published_parsed") or raw.get("updated_parsed"))
        summary = strip_html(raw.get("summary") or "")
        content_parts = [c.get("value") or "" for c in raw.get("content") or []]
        content_text = strip_html("\n".join(content_parts))
        if not (title or link or summary or content_text):
            continue
        entry_id = _identity(raw, link, title, published, summary or content_text)
        if entry_id in seen:  # duplicate ids inside one document: the first wins
            continue
        seen.add(entry_id)
        entries.append(
            Entry(
                id=entry_id,
                feed_url=feed_url,
                title=title,
                link=link,
                published=published,
                summary=summary,
                content=content_text if content_text != summary else "",
            )
        )
    feed_title = strip_html((parsed.get("feed") or {}).get("title") or "")
    return ParsedFeed(title=feed_title, entries=tuple(entries), warning=warning)
