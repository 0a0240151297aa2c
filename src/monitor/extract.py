"""Page HTML → article text and metadata (trafilatura), with the feed's text as fallback. Pure."""

from __future__ import annotations

import hashlib
import re
import threading
from datetime import UTC, datetime
from types import ModuleType

from .errors import ExtractError
from .models import Article, Entry

MIN_WORDS = 40  # below this a page "extraction" is navigation chrome, not an article
_HTML_HINT = re.compile(rb"<(html|head|body|p|div|article)\b", re.I)
# trafilatura parses with one module-level lxml HTMLParser (trafilatura.utils.HTML_PARSER); lxml
# parsers must not be used by two threads at once (polling feeds in threads crashed the process
# with "double free or corruption"), so extraction runs one page at a time.  It is CPU-bound
# under the GIL anyway: fetching still overlaps.
_TRAFILATURA = threading.Lock()
# trafilatura's fast mode skips its fallback extractors (readability, justext): on the 181 pages
# with a ground truth of the article-extraction benchmark it costs a third less CPU per page and
# scores as well or better (shingle F1 0.959 against 0.957), with the same metadata on every page
# (benchmarks/eval_extract.py; docs/performance.md). Extraction is most of a poll's CPU.
FAST = True


def _trafilatura() -> ModuleType:
    # imported on first use: commands that never extract (digest, matches, status, explain) start
    # ~0.1 s sooner; the worker processes preload it (workers.py)
    import trafilatura

    return trafilatura


def content_hash(title: str, text: str) -> str:
    normal = " ".join(f"{title}\n{text}".split()).lower()
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def html_to_text(html: bytes | str) -> str:
    """Main text of an HTML document (for .html seeds)."""
    with _TRAFILATURA:
        text = _trafilatura().extract(html, include_comments=False, include_tables=False, favor_recall=True)
    return text or ""


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def extract_page(content: bytes, content_type: str, url: str) -> tuple[str, dict[str, str | None]]:
    """Return (text, metadata) or raise ExtractError saying why the page is unusable."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype and ctype not in ("text/html", "application/xhtml+xml", "text/plain") and not ctype.endswith("+xml"):
        raise ExtractError(f"not an HTML page ({ctype})")
    if not _HTML_HINT.search(content[:4096]) and ctype != "text/html":
        raise ExtractError("not an HTML page")
    try:
        with _TRAFILATURA:
            doc = _trafilatura().bare_extraction(
                content, url=url, include_comments=False, include_tables=False, with_metadata=True, fast=FAST
            )
    except Exception as exc:  # trafilatura can raise on hostile markup
        raise ExtractError(f"extraction failed: {type(exc).__name__}") from None
    if doc is None:
        raise ExtractError("no article text found")
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text = (data.get("text") or "").strip()
    if len(text.split()) < MIN_WORDS:
        raise ExtractError(f"page text too short ({len(text.split())} words)")
    meta = {k: data.get(k) for k in ("title", "url", "date", "author", "language")}
    return text, meta


def build_article(entry: Entry, page: tuple[str, dict[str, str | None]] | None, why_not: str | None) -> Article:
    """Combine an entry with its extracted page; without a page, the feed's own text stands in."""
    if page is not None:
        text, meta = page
        title = entry.title or (meta.get("title") or "")
        extraction = "page"
        canonical = meta.get("url") or entry.link
        published = entry.published or _date(meta.get("date"))
        author, language = meta.get("author"), meta.get("language")
    else:
        text = entry.content or entry.summary
        title = entry.title
        extraction = "feed" if why_not is None else f"feed: {why_not}"
        canonical = entry.link
        published = entry.published
        author = language = None
    return Article(
        entry=entry,
        url=entry.link,
        canonical_url=canonical,
        title=title,
        text=text,
        published=published,
        extraction=extraction,
        content_hash=content_hash(title, text),
        author=author,
        language=language,
    )
