"""Feed bytes + response headers → entries with stable identities. Pure: no I/O."""

from __future__ import annotations

import calendar
import email.utils
import hashlib
import html
import json
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
# An ENTITY declaration (general or parameter) in the document prolog. feedparser keeps
# "safe" internal entities and its loose parser expands them without any limit, so one
# 200 KB entity referenced 5,000 times inflates to 1 GB (quadratic blow-up); external
# entities are never wanted in a feed either. Such documents are refused before parsing.
_ENTITY_DECL = re.compile(r"<!ENTITY", re.I)
_FIRST_ELEMENT = re.compile(r"<[A-Za-z_]")
_WIDE_CODECS = ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be")
_JSONFEED = "https://jsonfeed.org/version/"
_NOT_TEXT = frozenset({"image", "audio", "video", "font", "model"})
_DECLARED = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=", re.I)
_CHARSET_PARAM = re.compile(r";\s*charset\s*=", re.I)
# Sniffed guesses we do not trust: for Latin text, feedparser's windows-1252 fallback is at
# least as good as a guess between near-identical single-byte code pages.
_LATIN_GUESSES = frozenset(
    {
        "ascii",
        "utf_8",
        "latin_1",
        "cp1250",
        "cp1252",
        "cp1257",
        "mac_roman",
        "mac_latin2",
        "cp437",
        "cp850",
        *(f"iso8859_{n}" for n in (2, 3, 4, 9, 10, 13, 14, 15, 16)),
    }
)


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


def _add_entry(
    entries: list[Entry],
    seen: set[str],
    raw: Mapping[str, Any],
    feed_url: str,
    title: str,
    link: str | None,
    published: datetime | None,
    summary: str,
    body: str,
) -> None:
    """Append the entry unless its identity was already seen in this document (the first wins)."""
    entry_id = _identity(raw, link, title, published, summary or body)
    if entry_id in seen:
        return
    seen.add(entry_id)
    entries.append(
        Entry(
            id=entry_id,
            feed_url=feed_url,
            title=title,
            link=link,
            published=published,
            summary=summary,
            content=body if body != summary else "",
        )
    )


def _declares_entities(content: bytes) -> bool:
    """True when an ENTITY declaration appears before the root element (any UTF width)."""
    texts = [content.decode("latin-1")]
    if b"\x00" in content[:1024]:  # UTF-16/32 (with or without a BOM)
        texts += [content.decode(codec, errors="replace") for codec in _WIDE_CODECS]
    for text in texts:
        decl = _ENTITY_DECL.search(text)
        if decl is None:
            continue
        root = _FIRST_ELEMENT.search(text)
        if root is None or decl.start() < root.start():
            return True
    return False


def _sniffed_headers(content: bytes, headers: Mapping[str, str]) -> dict[str, str]:
    """The response headers, plus a sniffed charset when nothing says how the bytes are encoded.

    Only when there is no HTTP charset, no BOM, no XML encoding declaration and the bytes are
    not UTF-8 (feedparser would then fall back to windows-1252 and turn e.g. KOI8-R or Big5
    into mojibake). An HTTP charset always wins: it is how a server corrects a lying document.
    """
    out = {k.lower(): v for k, v in headers.items()}
    ctype = out.get("content-type", "")
    if _CHARSET_PARAM.search(ctype) or content.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return out
    if b"\x00" in content[:512] or _DECLARED.match(content[:1024]):
        return out
    try:
        content.decode("utf-8")
        return out
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # optional: trafilatura brings it in
        return out
    try:
        best = from_bytes(content[: 256 * 1024]).best()
    except Exception:  # a detector failure must not fail the feed
        return out
    if best is None or best.encoding in _LATIN_GUESSES:
        return out
    out["content-type"] = f"{ctype.split(';')[0].strip() or 'application/xml'}; charset={best.encoding}"
    return out


_SURROGATE = re.compile("[\ud800-\udfff]")
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


def _text(value: str) -> str:
    """A string as JSON can carry it, without lone surrogates (half an emoji: "\\ud83d"),
    which no UTF-8 consumer (hashing, SQLite) accepts; each becomes U+FFFD."""
    return value if value.isascii() else _SURROGATE.sub("\ufffd", value)


def _char_ref(m: re.Match[bytes]) -> bytes:
    code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
    return b"&#xFFFD;" if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF else m.group(0)


def _looks_like_json(content: bytes) -> bool:
    return content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def _json_feed(content: bytes, feed_url: str) -> ParsedFeed:
    """JSON Feed 1.0 / 1.1 (https://jsonfeed.org/version/1.1)."""
    try:
        doc = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ParseError(f"not a feed: invalid JSON: {' '.join(str(exc).split())}") from None
    if not isinstance(doc, dict) or not str(doc.get("version") or "").startswith(_JSONFEED):
        raise ParseError("not a feed: JSON document without a JSON Feed version")
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError("malformed JSON Feed: 'items' is not a list")
    declared = doc.get("feed_url")
    base: str = _text(declared) if isinstance(declared, str) else feed_url
    entries: list[Entry] = []
    seen: set[str] = set()
    skipped = 0
    for item in items:
        if not isinstance(item, dict):
            skipped += 1
            continue

        def text(key: str, item: dict[str, Any] = item) -> str:
            value = item.get(key)
            return _text(value) if isinstance(value, str) else ""

        title = strip_html(text("title"))
        link = text("url").strip() or text("external_url").strip() or None
        if link:
            link = urljoin(base, link)
        published = _json_date(text("date_published") or text("date_modified"))
        summary = strip_html(text("summary"))
        body = strip_html(text("content_html")) or text("content_text").strip()
        if not summary and body:
            summary, body = body, ""
        if not (title or link or summary or body):
            skipped += 1
            continue
        raw_id = item.get("id")
        raw = {"id": _text(str(raw_id)) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None}
        _add_entry(entries, seen, raw, feed_url, title, link, published, summary, body)
    warning = f"JSON Feed: skipped {skipped} unusable item(s)" if skipped else None
    feed_title = doc.get("title")
    return ParsedFeed(
        title=strip_html(_text(feed_title)) if isinstance(feed_title, str) else "",
        entries=tuple(entries),
        warning=warning,
    )


def _json_date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:  # RFC 3339 is required, but RFC 822 dates occur in the wild
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def parse_feed(content: bytes, headers: Mapping[str, str], feed_url: str) -> ParsedFeed:
    """Parse a feed; raise ParseError when the document is not a usable feed at all."""
    if not content.strip():
        raise ParseError("empty document")
    if _looks_like_json(content):
        return _json_feed(content, feed_url)
    if _declares_entities(content):
        raise ParseError(
            "refused: the document declares XML entities (<!ENTITY> in a DOCTYPE); "
            "entity expansion and external entities are not allowed in feeds"
        )
    if b"&#" in content:
        # a character reference to half a surrogate pair (or past U+10FFFF) crashes feedparser
        content = _CHAR_REF.sub(_char_ref, content)
    try:
        parsed = feedparser.parse(content, response_headers=_sniffed_headers(content, headers), sanitize_html=False)
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
    warnings = []
    if malformed:
        warnings.append(f"feed is malformed but usable: {type(bozo).__name__}: {bozo}")
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if ctype.split("/", 1)[0].strip().lower() in _NOT_TEXT:
        warnings.append(f"served as {ctype.split(';')[0].strip()}, parsed as a feed anyway")
    warning = " ".join(" ".join(warnings).split()) or None
    base = parsed.get("href") or feed_url
    entries: list[Entry] = []
    seen: set[str] = set()
    for raw in raw_entries:
        title = strip_html(raw.get("title") or "")
        link = raw.get("link") or None
        if link:
            link = urljoin(base, link.strip())
        # dict.get: feedparser's own get() maps a missing updated_parsed to published_parsed,
        # with a DeprecationWarning each time
        published = _datetime(raw.get("published_parsed") or dict.get(raw, "updated_parsed"))
        summary = strip_html(raw.get("summary") or "")
        content_parts = [c.get("value") or "" for c in raw.get("content") or []]
        content_text = strip_html("\n".join(content_parts))
        if not (title or link or summary or content_text):
            continue
        _add_entry(entries, seen, raw, feed_url, title, link, published, summary, content_text)
    feed_title = strip_html((parsed.get("feed") or {}).get("title") or "")
    return ParsedFeed(title=feed_title, entries=tuple(entries), warning=warning)
