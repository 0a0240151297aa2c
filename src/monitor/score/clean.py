"""Generic removal of web-page chrome from seed texts (share counters, log-in links,
newsletter pleas, navigation crumbs, dates, bylines), by the shape of lines, not their words."""

from __future__ import annotations

import re

_DATE = re.compile(
    r"^\W*(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s*)?"
    r"(?:\d{1,2}\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?"
    r"(?:\s+\d{4})?\W*$|^\W*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\W*$",
    re.I,
)
_URLISH = re.compile(r"https?://|www\.|\.com\b|@\w", re.I)
_WORD = re.compile(r"[^\W\d_]+")
_SENTENCE_END = re.compile(r"[.!?…:;\"”’)]\s*$")


def _is_chrome(line: str) -> bool:
    s = line.strip()
    if not s:
        return False
    words = _WORD.findall(s)
    n = len(words)
    if n == 0:
        return True  # numbers, symbols, separators
    if _DATE.match(s):
        return True
    if _URLISH.search(s) and n <= 12:
        return True
    if n <= 3:
        # Short lines: menu items, counters ("Total", "0", "Shares"), "Lost Password?",
        # section names.  A short line with a question mark or no sentence ending is chrome.
        return True
    # Glued navigation crumbs ("HomeInternational RelationsUS presses ...").
    if len(re.findall(r"[a-z][A-Z]", s)) >= 2 and n <= 20:
        return True
    if n <= 6 and not _SENTENCE_END.search(s):
        # Short label-like line without a sentence ending: a headline is kept only when
        # it is title-cased or long enough to be a headline.
        caps = sum(1 for w in words if w[:1].isupper())
        return caps < n * 0.6
    return False


def is_chrome_title(line: str) -> bool:
    """A title that says nothing about its item: a date, a number, a link.  (Short titles are
    real headlines; the stricter line test above is for page text.)"""
    s = line.strip()
    n = len(_WORD.findall(s))
    return bool(s) and (n == 0 or bool(_DATE.match(s)) or (bool(_URLISH.search(s)) and n <= 12))


def _is_plea(line: str) -> bool:
    """Calls to action near the end of a page (subscribe, join, donate, read more)."""
    s = line.strip()
    words = _WORD.findall(s)
    if not words or len(words) > 30:
        return False
    second = sum(1 for w in words if w.lower() in {"you", "your", "us", "we", "our"})
    imperative = words[0].lower() in {
        "join",
        "subscribe",
        "sign",
        "follow",
        "share",
        "click",
        "read",
        "support",
        "donate",
        "feel",
        "get",
        "download",
        "register",
        "login",
        "log",
        "become",
    }
    return imperative and second >= 1


def clean_seed_text(raw: str) -> str:
    """Keep the article: drop short chrome lines, dates, link-like lines and end-of-page pleas."""
    lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _is_chrome(line):
            continue
        # A call to action in the last part of the page.
        if i >= len(lines) * 0.6 and _is_plea(line):
            continue
        kept.append(line.strip())
    # Drop a duplicated headline (crumb + title repeated).
    out: list[str] = []
    for line in kept:
        if out and line == out[-1]:
            continue
        out.append(line)
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
