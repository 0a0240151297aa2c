"""Page HTML → article text and metadata (trafilatura), with the feed's text as fallback. Pure."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from datetime import UTC, datetime
from html import unescape
from types import ModuleType
from typing import Any

from .errors import ExtractError
from .models import Article, Entry

log = logging.getLogger(__name__)

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


_lookup_set = False  # trafilatura's parser has had _c_class_lookup (first use)


def _trafilatura() -> ModuleType:
    # imported on first use: commands that never extract (digest, matches, status, explain) start
    # ~0.1 s sooner; the worker processes preload it (workers.py)
    import trafilatura

    global _lookup_set
    if not _lookup_set:
        _lookup_set = True
        _c_class_lookup()
    return trafilatura


def _c_class_lookup() -> None:
    """trafilatura parses with a module-level ``lxml.html.HTMLParser``, whose element-class lookup
    (``lxml.html.HtmlElementClassLookup``) is Python code that lxml calls every time it hands an
    element to Python: some 1,900 times a page, a tenth of extraction's CPU. lxml's C lookup gives
    the same ``HtmlElement`` class (and comment, PI, entity classes) without the call. What it
    drops are lxml.html's form-control subclasses (``FormElement``, ``InputElement``: ``.fields``,
    ``.value``), which neither trafilatura nor htmldate uses. Measured on the 181 corpus pages:
    the same text and metadata on every page, 9.6 -> 8.4-8.9 ms CPU a page
    (tests/test_extract_parser.py checks the sameness; docs/performance.md). Set once, on first use, so
    importing this module changes nothing; a trafilatura without that parser keeps its own."""
    try:
        from lxml import etree, html
        from trafilatura import utils

        parser = utils.HTML_PARSER
        parser.set_element_class_lookup(
            etree.ElementDefaultClassLookup(
                element=html.HtmlElement,
                comment=html.HtmlComment,
                pi=html.HtmlProcessingInstruction,
                entity=html.HtmlEntity,
            )
        )
    except (ImportError, AttributeError, TypeError) as exc:
        log.debug("trafilatura's parser keeps lxml.html's class lookup: %r", exc)


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


def extract_page(
    content: bytes, content_type: str, url: str, *, with_date: bool = True
) -> tuple[str, dict[str, str | None]]:
    """Return (text, metadata) or raise ExtractError saying why the page is unusable.
    with_date=False skips the page's date (htmldate's search; "date" is then None): the pipeline
    asks for it only when the feed entry has no date of its own (build_article prefers the entry's)."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype and ctype not in ("text/html", "application/xhtml+xml", "text/plain") and not ctype.endswith("+xml"):
        raise ExtractError(f"not an HTML page ({ctype})")
    if not _HTML_HINT.search(content[:4096]) and ctype != "text/html":
        raise ExtractError("not an HTML page")
    try:
        with _TRAFILATURA:
            data = _extract(content, url, with_date)
    except Exception as exc:  # trafilatura can raise on hostile markup
        raise ExtractError(f"extraction failed: {type(exc).__name__}") from None
    if data is None:
        raise ExtractError("no article text found")
    text = (data.get("text") or "").strip()
    if len(text.split()) < MIN_WORDS:
        raise ExtractError(f"page text too short ({len(text.split())} words)")
    meta = {k: data.get(k) for k in META}
    return text, meta


META = ("title", "url", "date", "author", "language")  # the metadata the monitor keeps (build_article)
# trafilatura's with_metadata=True runs its whole extract_metadata, a third of extraction's CPU,
# partly for fields the monitor drops (categories, tags, license, sitename, hostname). The
# selective path computes only META with trafilatura's own functions and rules (trafilatura
# 2.3.1), then extracts the text without metadata: the same title, URL and date (checked on the
# 181 corpus pages; tests/test_extract_meta.py compares them with extract_metadata). The author is
# the one the page declares (meta tags, JSON-LD), without trafilatura's search for a byline in the
# body (extract_author: ~40 XPath expressions over a pruned copy of the page, 1.7 ms a page, 14 %
# of extraction, for the 4 pages in 10 that declare none): the monitor stores the author but
# shows it nowhere (on the 181 pages: 106 authors instead of 154, text identical). Those functions are not
# trafilatura's stable API: if importing or calling them fails where the full call does not, the
# full call is used from then on (logged once).
_selective: dict[str, Any] | None = None  # trafilatura's internal functions, once imported
_use_selective = True


def _extract(content: bytes, url: str, with_date: bool) -> dict[str, Any] | None:
    """The page's text and META, as bare_extraction(..., with_metadata=True) returns them."""
    global _use_selective
    if _use_selective:
        try:
            return _extract_selective(content, url, with_date)
        except Exception as exc:
            failure: Exception = exc
        data = _extract_full(content, url)  # raises too: the page is the cause, not the internals
        if data is not None:  # (None: trafilatura discarded the page, as it does on a TypeError or ValueError)
            _use_selective = False
            log.warning("selective page metadata failed (%r): trafilatura's full metadata from now on", failure)
        return data
    return _extract_full(content, url)


def _extract_full(content: bytes, url: str) -> dict[str, Any] | None:
    doc = _trafilatura().bare_extraction(
        content, url=url, include_comments=False, include_tables=False, with_metadata=True, fast=FAST
    )
    if doc is None:
        return None
    return doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)


def _internals() -> dict[str, Any]:
    global _selective
    if _selective is None:
        _trafilatura()  # (its parser's class lookup, before load_html first parses)
        from htmldate import find_date
        from trafilatura.metadata import examine_meta, extract_meta_json, extract_title, extract_url
        from trafilatura.settings import DEFAULT_CONFIG, set_date_params
        from trafilatura.utils import line_processing, load_html

        _selective = {
            "find_date": find_date,
            "examine_meta": examine_meta,
            "extract_meta_json": extract_meta_json,
            "extract_title": extract_title,
            "extract_url": extract_url,
            "line_processing": line_processing,
            "load_html": load_html,
            # bare_extraction's defaults: its Extractor reads both from the default config
            "max_file_size": DEFAULT_CONFIG.getint("DEFAULT", "MAX_FILE_SIZE"),
            "date_params": lambda: set_date_params(DEFAULT_CONFIG.getboolean("DEFAULT", "EXTENSIVE_DATE_SEARCH")),
        }
    return _selective


def _extract_selective(content: bytes, url: str, with_date: bool) -> dict[str, Any] | None:
    t = _internals()
    tree = t["load_html"](content, t["max_file_size"])  # parsed once, as bare_extraction parses it
    if tree is None:
        return None  # bare_extraction: "empty HTML tree", no document
    found = _head_metadata(t, tree, url)
    # bare_extraction works on a copy of a tree it is given: `tree` stays intact for the date. Its
    # text extraction takes the page's URL, else the metadata's (options.url or document.url, trimmed).
    doc = _trafilatura().bare_extraction(
        tree, url=url or _trimmed(t, found.url), include_comments=False, include_tables=False, fast=FAST
    )
    if doc is None:
        return None
    return {**_rest_metadata(t, tree, found, with_date), "text": doc.text}


def selective_metadata(tree: Any, url: str | None, with_date: bool = True) -> dict[str, str | None]:
    """META of a parsed page as trafilatura.metadata.extract_metadata(tree, url) finds them, by the
    same steps, without the fields the monitor does not keep, and with the declared author only."""
    t = _internals()
    return _rest_metadata(t, tree, _head_metadata(t, tree, url), with_date)


def _head_metadata(t: dict[str, Any], tree: Any, url: str | None) -> Any:
    """extract_metadata's steps up to the author: meta tags, JSON-LD, title, URL (reads the tree)."""
    doc = t["examine_meta"](tree)
    if doc.author and " " not in doc.author:  # extract_metadata's rule
        doc.author = None
    try:
        doc = t["extract_meta_json"](tree, doc)
    except Exception as exc:  # extract_metadata's guard (bugs in trafilatura's json_metadata.py)
        log.debug("error in JSON metadata extraction: %s", exc)
    if not doc.title:
        doc.title = t["extract_title"](tree)
    if not doc.url:
        doc.url = t["extract_url"](tree, url)
    return doc


def _rest_metadata(t: dict[str, Any], tree: Any, doc: Any, with_date: bool) -> dict[str, str | None]:
    """The date (htmldate copies a tree it is given); the author as declared (no byline search, see
    META)."""
    date = t["find_date"](tree, **{**t["date_params"](), "url": doc.url}) if with_date else None
    # language: trafilatura sets it only when filtering on a target language, which we do not
    return {
        "title": _trimmed(t, doc.title),
        "url": _trimmed(t, doc.url),
        "date": _trimmed(t, date),
        "author": _trimmed(t, doc.author),
        "language": None,
    }


def _trimmed(t: dict[str, Any], value: Any) -> Any:
    """Document.clean_and_trim on one field."""
    if not isinstance(value, str):
        return value
    if len(value) > 10000:
        value = value[:9999] + "…"
    return t["line_processing"](unescape(value))


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
