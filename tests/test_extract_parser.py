"""extract.py parses pages with lxml's C element-class lookup instead of lxml.html's Python one
(``extract._c_class_lookup``): the same text and metadata, for a tenth less CPU per page. These
tests hold it to "the same" on every real page of the fixtures, and check that the faster lookup
is the one in effect (otherwise the saving is silently gone)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import lxml.html
import pytest
from lxml import etree
from trafilatura import utils

from helpers import PAGES, corpus_pages
from monitor import extract
from monitor.errors import ExtractError

URLS: dict[str, str] = json.loads((PAGES / "urls.json").read_text(encoding="utf-8"))


def _extract(body: bytes, url: str) -> tuple[str, dict[str, str | None]] | str:
    try:
        return extract.extract_page(body, "text/html", url)
    except ExtractError as exc:
        return f"refused: {exc}"


@pytest.fixture
def stock_lookup() -> Iterator[None]:
    """trafilatura's parser with lxml.html's own class lookup for the test, the C one after."""
    extract._trafilatura()
    utils.HTML_PARSER.set_element_class_lookup(lxml.html.HtmlElementClassLookup())
    try:
        yield
    finally:
        extract._c_class_lookup()


def test_the_c_lookup_is_in_effect_after_the_first_extraction() -> None:
    key, body = corpus_pages()[0]
    extract.extract_page(body, "text/html", URLS.get(key, "https://example.org/a.html"))
    page = etree.fromstring(b"<html><body><form><input name='q'></form><p>x</p></body></html>", utils.HTML_PARSER)
    form = page.find(".//form")
    assert type(form) is lxml.html.HtmlElement  # lxml.html's lookup makes it a FormElement
    assert isinstance(page.find(".//p"), lxml.html.HtmlElement)
    assert form is not None and form.text_content() == ""  # HtmlElement's methods are there


def test_every_fixture_page_extracts_as_with_lxml_htmls_own_lookup(stock_lookup: None) -> None:
    pages = corpus_pages()
    assert len(pages) >= 180
    stock = [_extract(body, URLS.get(key, f"https://example.org/{key}.html")) for key, body in pages]
    extract._c_class_lookup()
    fast = [_extract(body, URLS.get(key, f"https://example.org/{key}.html")) for key, body in pages]
    assert sum(not isinstance(r, str) for r in fast) >= 150, "the comparison covers extracted articles"
    for (key, _), want, got in zip(pages, stock, fast, strict=True):
        assert got == want, key
