"""extract_page's selective metadata against trafilatura's own extract_metadata, on real pages.

extract.py computes only the metadata the monitor keeps, with trafilatura's internal functions in
extract_metadata's order: an upgrade of trafilatura that changes those rules (or the functions)
makes these comparisons fail instead of silently changing stored titles, URLs, dates or authors.
The author is the one the page declares (meta tags, JSON-LD): trafilatura's search for a byline in
the body is skipped (extract.META), so a page that declares none has no author.
"""

from __future__ import annotations

import gzip
import json
import logging
from typing import Any

import pytest
from trafilatura.metadata import extract_metadata
from trafilatura.utils import load_html

from helpers import PAGES
from monitor import extract
from monitor.errors import ExtractError

# pages chosen for the paths they take through extract_metadata: 042bb7b5, 8267acac, aade2ec8 and
# e100c961 find title, URL and date in meta tags / JSON-LD; 5ae11e58 needs extract_url; 0d461229
# and 9da36ae4 need extract_title too. 042bb7b5 and e100c961 declare their author; 8267acac,
# 680c2848 and 0d461229 declare none, and trafilatura's byline search finds one in the body
KEYS = ("042bb7b5", "8267acac", "aade2ec8", "e100c961", "680c2848", "5ae11e58", "0d461229", "9da36ae4")


def pages() -> list[tuple[str, bytes, str]]:
    urls: dict[str, str] = json.loads((PAGES / "urls.json").read_text(encoding="utf-8"))
    out = []
    for prefix in KEYS:
        (path,) = PAGES.glob(f"{prefix}*.html.gz")
        key = path.name.split(".")[0]
        out.append((key, gzip.decompress(path.read_bytes()), urls[key]))
    return out


PAGE_LIST = pages()


def full_extract_page(body: bytes, url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, str | None]]:
    """extract_page as it was: trafilatura's bare_extraction with with_metadata=True."""
    with monkeypatch.context() as m:
        m.setattr(extract, "_use_selective", False)
        return extract.extract_page(body, "text/html", url)


def _declared_author(body: bytes) -> str | None:
    """The author in the page's meta tags or JSON-LD, by extract_metadata's rules (one word is no author)."""
    from trafilatura.metadata import examine_meta, extract_meta_json

    doc = examine_meta(load_html(body))
    if doc.author and " " not in doc.author:
        doc.author = None
    return extract_meta_json(load_html(body), doc).author


@pytest.mark.parametrize(("key", "body", "url"), PAGE_LIST, ids=[k[:8] for k in KEYS])
def test_selective_metadata_is_trafilaturas(key: str, body: bytes, url: str) -> None:
    want = extract_metadata(load_html(body), url)  # its default date parameters are bare_extraction's
    got = extract.selective_metadata(load_html(body), url)
    author = want.author if _declared_author(body) else None  # no byline search in the body
    assert got == {**{field: getattr(want, field) for field in extract.META}, "author": author}, key
    assert got["title"] and got["url"] and got["date"], "the comparison covers real values"


def test_the_pages_take_every_path_through_the_metadata() -> None:
    """The chosen pages still exercise extract_title and extract_url (from the tree, not from meta
    tags), and include pages that declare no author but have a byline trafilatura would find:
    otherwise the comparison above stops covering them."""
    from trafilatura.metadata import examine_meta, extract_meta_json

    missing: set[str] = set()
    for _, body, _ in PAGE_LIST:
        doc = extract_meta_json(load_html(body), examine_meta(load_html(body)))
        missing |= {field for field in ("title", "author", "url") if not getattr(doc, field)}
    assert missing == {"title", "author", "url"}
    undeclared = [(body, url) for _, body, url in PAGE_LIST if not _declared_author(body)]
    assert any(extract_metadata(load_html(body), url).author for body, url in undeclared)
    assert all(extract.selective_metadata(load_html(body), url)["author"] is None for body, url in undeclared)


@pytest.mark.parametrize(("key", "body", "url"), PAGE_LIST[:4], ids=[k[:8] for k in KEYS[:4]])
def test_extract_page_gives_what_the_full_extraction_gives(
    key: str, body: bytes, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, meta = extract.extract_page(body, "text/html", url)
    full_text, full_meta = full_extract_page(body, url, monkeypatch)
    author = full_meta["author"] if _declared_author(body) else None  # no byline search in the body
    assert (text, meta) == (full_text, {**full_meta, "author": author}), key
    assert extract._use_selective, "the selective path ran"
    assert extract.extract_page(body, "text/html", url, with_date=False) == (text, {**meta, "date": None})


def test_broken_trafilatura_internals_fall_back_to_the_full_extraction(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _, body, url = PAGE_LIST[0]
    want = full_extract_page(body, url, monkeypatch)

    def renamed() -> dict[str, Any]:
        raise ImportError("cannot import name 'examine_meta' from 'trafilatura.metadata'")

    monkeypatch.setattr(extract, "_internals", renamed)
    monkeypatch.setattr(extract, "_use_selective", True)
    with caplog.at_level(logging.WARNING, logger="monitor.extract"):
        assert extract.extract_page(body, "text/html", url) == want
        assert extract.extract_page(body, "text/html", url) == want
    assert not extract._use_selective
    warnings = [r for r in caplog.records if r.name == "monitor.extract"]
    assert len(warnings) == 1 and "ImportError" in warnings[0].getMessage()


def test_a_page_that_fails_both_ways_is_refused_and_keeps_the_selective_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def hostile(*_: object) -> None:
        raise ValueError("hostile markup")

    monkeypatch.setattr(extract, "_extract_selective", hostile)
    monkeypatch.setattr(extract, "_extract_full", hostile)
    monkeypatch.setattr(extract, "_use_selective", True)
    with pytest.raises(ExtractError, match="extraction failed: ValueError"):
        extract.extract_page(b"<html><body><p>x</p></body></html>", "text/html", "http://127.0.0.1/x")
    assert extract._use_selective, "the page was the cause, not trafilatura's internals"


def test_a_page_trafilatura_discards_keeps_the_selective_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """bare_extraction turns a TypeError or ValueError into "no document": the full call's None
    says the page, not the selective path, was at fault."""

    def hostile(*_: object) -> None:
        raise TypeError("hostile markup")

    monkeypatch.setattr(extract, "_extract_selective", hostile)
    monkeypatch.setattr(extract, "_extract_full", lambda *_: None)
    monkeypatch.setattr(extract, "_use_selective", True)
    with pytest.raises(ExtractError, match="no article text found"):
        extract.extract_page(b"<html><body><p>x</p></body></html>", "text/html", "http://127.0.0.1/x")
    assert extract._use_selective
