"""Tokens, sentences and background word rarity shared by the change engines (pure)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache

import snowballstemmer

from ..wordfreq_en import english, frequency

# words with inner apostrophes, dots, hyphens or commas kept together ("U.S.", "6.1", "1,200"),
# and clock times ("06:00")
WORD_RE = re.compile(r"[^\W_]+(?:[.,'’\-][^\W_]+|(?<=\d):\d+)*", re.UNICODE)
NUMBER_RE = re.compile(r"\d+(?:[.,:]\d+)*")
# a sentence ends at . ! ? … (with closing quotes/brackets) before whitespace and a capital,
# digit or opening quote; newlines always end one
_SENT_SPLIT = re.compile(r"(?<=[.!?…])([\"'”’)\]]*)\s+(?=[\"'“‘(\[]?[A-Z0-9À-ÖØ-ÞĀ-ſА-ЯЁ])")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves said says say told according one two new year years
    mr mrs ms s t also would could may might must shall us""".split()
)


@lru_cache(maxsize=131072)
def fold(word: str) -> str:
    """Lower-case, strip accents and possessive 's, unify apostrophes."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = w.rstrip("'")
    if not w.isascii():
        w = "".join(c for c in unicodedata.normalize("NFKD", w) if not unicodedata.combining(c))
    return w


# PyStemmer's C stemmer when installed (a dependency): the same stems, ~9x faster on a new word
_STEMMER = snowballstemmer.stemmer("english")


@lru_cache(maxsize=262144)
def stem(word: str) -> str:
    """Snowball (Porter 2) English stem of a folded word, so "earthquakes"/"earthquake" and
    "announced"/"announces" meet; names and numbers pass unchanged."""
    if len(word) <= 3 or not word.isalpha():
        return word
    return str(_STEMMER.stemWord(word))


def words(text: str) -> list[str]:
    """Surface words in order (case kept)."""
    return WORD_RE.findall(text)


# a period after these (or after a single capital: an initial) does not end a sentence
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr gen gov sen rep lt col capt sgt maj cmdr adm rev hon pres supt insp det "
    "no vs inc co corp ltd jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k u.n e.u".split()
)
_LAST_WORD = re.compile(r"([^\W\d_][\w.]*)\.$")


def _ends(line: str) -> list[tuple[int, int]]:
    """(end of sentence, start of next) positions in one line, abbreviations and initials skipped."""
    out = []
    for m in _SENT_SPLIT.finditer(line):
        last = _LAST_WORD.search(line, max(0, m.start() - 12), m.start(1))
        if last and (last.group(1).lower() in _ABBREVIATIONS or (len(last.group(1)) == 1 and last.group(1).isupper())):
            continue
        out.append((m.end(1), m.end()))
    return out


def sentences(text: str) -> list[str]:
    """Split at sentence ends followed by a capital/digit/quote, and at newlines."""
    return [text[a:b] for a, b in iter_sentence_spans(text)]


def iter_sentences(text: str) -> Iterator[str]:
    """`sentences`, one at a time: a reader of the leading sentences splits no further."""
    return (text[a:b] for a, b in iter_sentence_spans(text))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text`, stripped of surrounding whitespace."""
    return list(iter_sentence_spans(text))


def iter_sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    pos = 0
    for line in text.split("\n"):
        start = 0
        for end, nxt in _ends(line):
            span = _span(line, pos, start, end)
            if span is not None:
                yield span
            start = nxt
        span = _span(line, pos, start, len(line))
        if span is not None:
            yield span
        pos += len(line) + 1


def _span(line: str, offset: int, start: int, end: int) -> tuple[int, int] | None:
    seg = line[start:end]
    stripped = seg.strip()
    if not stripped:
        return None
    lead = len(seg) - len(seg.lstrip())
    return offset + start + lead, offset + start + lead + len(stripped)


@lru_cache(maxsize=262144)
def rarity(word: str, lang: str = "en") -> float:
    """Background rarity in 0..1 from wordfreq's Zipf frequency (8 = "the", 0 = unseen).

    A word the general language rarely uses (a name, a place, a number) carries more of what
    makes one event differ from another than a common word.
    """
    from wordfreq import zipf_frequency

    z = zipf_frequency(word, lang)
    return min(1.0, max(0.0, (7.0 - z) / 7.0))


def doc_probability(word: str, lang: str = "en", doc_len: int = 300) -> float:
    """Chance that a general-language document of `doc_len` words contains `word`."""
    f = word_frequency(word, lang)
    return 1.0 - math.exp(-f * doc_len)


_PLAIN = re.compile(r"[a-z]+")


def word_frequency(word: str, lang: str = "en") -> float:
    """``wordfreq.word_frequency(word, lang)``. A plain lower-case ASCII word, which wordfreq's
    tokenizer keeps whole, is looked up in wordfreq's dict directly, with wordfreq's arithmetic
    (1.2 instead of 6 us a new word: a worker process meets thousands of new words a poll)."""
    if lang != "en" or not _PLAIN.fullmatch(word):
        from wordfreq import word_frequency as wordfreq_frequency

        return float(wordfreq_frequency(word, lang))
    return frequency((english().get(word),), 0.0)  # wordfreq's default minimum: 0.0


_DATE_WORDS = frozenset(
    """jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june july
    august september october november december mon tue wed thu fri sat sun monday tuesday wednesday
    thursday friday saturday sunday am pm a.m p.m gmt utc bst est edt pst pdt cet cest et pt updated
    last published posted at on by | / - : , st nd rd th today yesterday""".split()
)


def is_date_line(line: str) -> bool:
    """A line made only of dates, times and words like "updated"/"published" (a dateline)."""
    toks = WORD_RE.findall(line)
    if not toks:
        return True
    return all(t.isdigit() or t.lower().rstrip(".") in _DATE_WORDS or NUMBER_RE.fullmatch(t) for t in toks)


def headline(title: str, text: str) -> tuple[str, str]:
    """(headline, body): a dateline given as a title gives way to the body's first real line."""
    if not is_date_line(title):
        return title, text
    lines = text.split("\n")
    for n, line in enumerate(lines):
        if line.strip() and not is_date_line(line):
            return line.strip(), "\n".join([title, *lines[:n], *lines[n + 1 :]])
    return "", "\n".join([title, text])


_MONTHS = {m: n for n, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_MONTH_RE = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
# "May 24, 2005", "September 18th, 2013", "24 May 2005", "2013-05-03"
_FULL_DATE = re.compile(
    rf"\b{_MONTH_RE}\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+((?:19|20)\d\d)\b"
    rf"|\b(\d{{1,2}})\s+{_MONTH_RE}\.?,?\s+((?:19|20)\d\d)\b"
    r"|\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b",
    re.IGNORECASE,
)
DATELINE_CHARS = 300  # a dateline sits before or in the first lines of the text


def text_date(title: str, text: str) -> tuple[int, int, int] | None:
    """(year, month, day) of the first full date near the top of a page ("Posted: May 24, 2005",
    "September 18th, 2013, 05:31 GMT"): a page's own date when its feed gives none."""
    m = _FULL_DATE.search(f"{title}\n{text[:DATELINE_CHARS]}")
    if m is None:
        return None
    g = m.groups()
    if g[0]:
        y, mo, d = int(g[2]), _MONTHS[g[0].lower()[:3]], int(g[1])
    elif g[3]:
        y, mo, d = int(g[5]), _MONTHS[g[4].lower()[:3]], int(g[3])
    else:
        y, mo, d = int(g[6]), int(g[7]), int(g[8])
    try:
        datetime(y, mo, d)
    except ValueError:  # "Feb 30", "2013-13-01"
        return None
    return y, mo, d
