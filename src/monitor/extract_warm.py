"""Runs one small extraction on import: the worker pool's fork server imports this module
(``monitor.workers``), so every worker forks with what trafilatura builds on its first page
(the public-suffix list, ``_strptime``, date patterns; with trafilatura's fallback extractors,
which extract.py no longer runs, justext's stop-word lists too: ~0.2 s CPU, measured) already in
memory, instead of each worker building it again. Nothing else imports it."""

from __future__ import annotations

import logging

from monitor.extract import extract_page

# Short (without extract.FAST, trafilatura falls back to justext here, whose stop-word lists are the
# largest part); a domain label under 4 letters makes courlan load the public-suffix list (as bbc.co.uk does).
_PAGE = (
    b"<html><head><title>Warm-up</title><meta name='date' content='2024-01-02'>"
    b"<link rel='canonical' href='https://abc.example/warm-up.html'></head><body>"
    b"<article><h1>Warm-up</h1><p>A short paragraph that is read once, at start.</p></article>"
    b"</body></html>"
)

try:
    extract_page(_PAGE, "text/html; charset=utf-8", "https://abc.example/warm-up.html")
except Exception as exc:  # a warm-up must never stop the fork server: workers then warm up themselves
    logging.getLogger("monitor.workers").debug("extraction warm-up failed: %s", exc)
