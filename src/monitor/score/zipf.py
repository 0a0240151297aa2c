"""wordfreq's English Zipf frequency, exactly, without importing wordfreq for plain words.

``wordfreq.zipf_frequency(word, "en")`` costs a process about 0.5 s before its first answer
(importing wordfreq pulls in langcodes, ftfy and regex; then its table becomes a 321,000-entry
dict) and ~15 us per new word after (its tokenizer runs on every word). The scorer asks for some
25,000 words while it builds (place-name triggers, the seeds, the judged documents), which made
rarity lookups a third of what `monitor explain` spent on scoring.

For a *plain* word (lower-case Latin letters, single spaces between words) wordfreq's English
tokenizer returns the words themselves, so its answer depends only on its table: this module
reads that table from wordfreq's own data file (the gzipped msgpack "cBpack" wordfreq reads) and
applies wordfreq's arithmetic to it, step for step (``_zipf_of``). Anything else (digits,
apostrophes, hyphens, other scripts) is passed to wordfreq itself, as is every word when the data
file is not where wordfreq keeps it or not in the format it documents. tests/test_score_zipf.py
checks the answers against wordfreq's over its table.
"""

from __future__ import annotations

import gzip
import importlib.util
import math
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from itertools import repeat
from pathlib import Path

# lower-case Latin letters wordfreq's English preprocessing leaves as they are (NFKC and case
# folding are the identity on them: no ß, no ligatures, no dotless i)
_LATIN = "".join(
    c
    for c in map(chr, range(0xDF, 0x180))
    if c.isalpha() and c.islower() and c.casefold() == c and unicodedata.normalize("NFKC", c) == c and c != "ı"
)
PLAIN = re.compile(f"[a-z{_LATIN}]+(?: [a-z{_LATIN}]+)*")
_MINIMUM = 10**0.0 / 1e9  # wordfreq's zipf_to_freq(0.0): the floor zipf_frequency passes by default


def zipf(word: str) -> float:
    """``wordfreq.zipf_frequency(word, "en")``."""
    z = _SEEN.get(word)
    if z is None:
        z = _zipf(word)
        if len(_SEEN) < 500_000:  # bounded like the callers' caches
            _SEEN[word] = z
    return z


_SEEN: dict[str, float] = {}  # the place-name triggers ask for the same few thousand words often


def _zipf(word: str) -> float:
    table = _table()
    if table is not None and PLAIN.fullmatch(word):
        index, by_bucket = table
        if " " not in word:
            bucket = index.get(word)
            return by_bucket[bucket] if bucket is not None else _FLOOR
        return _zipf_of([index.get(w) for w in word.split(" ")])
    from wordfreq import zipf_frequency  # the general case: wordfreq's own tokenizer

    return zipf_frequency(word, "en")


def _zipf_of(buckets: Iterable[int | None]) -> float:
    """wordfreq's _word_frequency then zipf_frequency for tokens in these buckets (None: a token
    not in the table), the same operations in the same order."""
    one_over_result = 0.0
    for b in buckets:
        if b is None:
            return _FLOOR  # a missing token: the floor, unrounded
        one_over_result += 1.0 / (10 ** (-b / 100))  # wordfreq's cB_to_freq(-b)
    if one_over_result == 0.0:
        return _FLOOR  # no token
    unrounded = max(1.0 / one_over_result, _MINIMUM)
    leading_zeroes = math.floor(-math.log(unrounded, 10))
    return _to_zipf(round(unrounded, leading_zeroes + 3))


def _to_zipf(freq: float) -> float:
    return round(math.log(freq, 10) + 9, 2)  # wordfreq's freq_to_zipf, rounded as zipf_frequency does


_FLOOR = _to_zipf(_MINIMUM)


@lru_cache(maxsize=1)
def _table() -> tuple[dict[str, int], list[float]] | None:
    """word -> its bucket (its frequency in -centibels) and each bucket's single-word Zipf value;
    None when wordfreq's English table is not found as documented (then wordfreq answers)."""
    spec = importlib.util.find_spec("wordfreq")  # found, not imported
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "data" / "large_en.msgpack.gz"
    try:
        import msgpack

        with gzip.open(path, "rb") as f:
            data = msgpack.unpackb(f.read(), raw=False)
    except (OSError, ValueError, ImportError):
        return None
    header = data[0] if isinstance(data, list) and data else None
    if not isinstance(header, dict) or header.get("format") != "cB" or header.get("version") != 1:
        return None
    buckets = data[1:]
    index: dict[str, int] = {}
    for b, words in enumerate(buckets):  # a word in two buckets: the later wins, as in wordfreq
        index.update(zip(words, repeat(b)))
    return index, [_zipf_of((b,)) for b in range(len(buckets))]
