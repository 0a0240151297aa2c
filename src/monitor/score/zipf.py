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

A scorer restored from its kept state (score/learned.py) brings the answers its seeds and the
place names needed (``remember``), so `monitor explain` only looks up the explained article's
new words, by bisection in the table's sorted buckets, without building the table's dict.

A process that holds wordfreq's own dict anyway (the story engine's priors read it: the service,
a poll's workers and its polling process) answers plain words from that dict instead
(``share_wordfreq``), with the same arithmetic: one copy of the table, and no bisection. A scorer
learnt from its seeds (some 2,000 new words, and a hyphenated country name that needs wordfreq's
tokenizer, hence its dict, anyway) switches to it first (``expect_many``).
"""

from __future__ import annotations

import gzip
import importlib.util
import math
import operator
import re
import sys
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from itertools import repeat
from pathlib import Path

from ..wordfreq_en import english, frequency

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
    for words in _RECORDING:
        words.add(word)
    return z


_SEEN: dict[str, float] = {}  # the place-name triggers ask for the same few thousand words often
_RECORDING: list[set[str]] = []


@contextmanager
def recording() -> Iterator[set[str]]:
    """The words looked up inside the block (by any thread), e.g. those building a scorer needs."""
    words: set[str] = set()
    _RECORDING.append(words)
    try:
        yield words
    finally:
        _RECORDING.remove(words)


def remember(known: Mapping[str, float]) -> None:
    """Answers given before (``{word: zipf(word)}``, kept with a scorer's learned state under the
    identity of wordfreq's table), so that building the scorer again reads no table."""
    for word, z in known.items():
        if len(_SEEN) >= 500_000:
            break
        _SEEN.setdefault(word, z)


def preload() -> None:
    """Everything a lookup may need, now (for the worker pool's fork server, score/warm.py):
    wordfreq's dict (its workers read it anyway: the story terms' priors, changes/text.py), which
    then answers every word (``share_wordfreq``), and wordfreq's tokenizer for the words it alone
    answers."""
    share_wordfreq()
    english()
    from wordfreq import zipf_frequency

    zipf_frequency("warm", "en")


def preloaded() -> bool:
    """Whether this process holds a table's dict (wordfreq's, or this module's) and wordfreq's
    tokenizer (checked without building them)."""
    if "wordfreq" not in sys.modules:
        return False
    if _SHARED:
        from wordfreq import get_frequency_dict

        return get_frequency_dict.cache_info().currsize > 0
    table = _table() if _table.cache_info().currsize else None
    return table is not None and table._index is not None


_SHARED = False  # set by share_wordfreq()


def share_wordfreq() -> None:
    """Answer every word from wordfreq's own dict from now on (plain words with this module's
    arithmetic over it, any other word through wordfreq's tokenizer), and drop this module's copy
    of the table. For a process that loads wordfreq's dict anyway (the story engine's priors read
    it, changes/text.py): one ~30 MB copy of the table instead of two. The answers are the same
    (this module is exact), as cheap as from this module's dict. Called before the scorer is
    built, so the two copies never coexist."""
    global _SHARED
    _SHARED = True
    _table.cache_clear()


def expect_many() -> None:
    """Thousands of new words are coming (a scorer learnt from its seeds, not restored): answer
    them from wordfreq's dict (``share_wordfreq``) rather than bisect 2,000 of them (~0.35 s CPU)
    and then build this module's dict as well. Learning from the seeds loads wordfreq's dict
    anyway (the background documents' countries include Guinea-Bissau, which only wordfreq's
    tokenizer answers), and so does the story engine of the processes that learn (the service,
    a poll): wordfreq's ~0.1 s instead of ~0.5 s. A restored scorer (`monitor explain`) never
    calls it, and keeps bisecting its few new words."""
    share_wordfreq()


_OF_FREQ: dict[float, float] = {}  # a frequency of wordfreq's dict -> its Zipf value (one per bucket)


def _shared_zipf(word: str) -> float:
    freqs = english()
    if " " in word:
        return _zipf_of([freqs.get(w) for w in word.split(" ")])
    f = freqs.get(word)
    if f is None:
        return _FLOOR
    z = _OF_FREQ.get(f)
    if z is None:
        z = _OF_FREQ[f] = _zipf_of((f,))
    return z


def _zipf(word: str) -> float:
    if _SHARED:
        if PLAIN.fullmatch(word):
            return _shared_zipf(word)
        from wordfreq import zipf_frequency

        return zipf_frequency(word, "en")
    table = _table()
    if table is not None and PLAIN.fullmatch(word):
        if " " not in word:
            bucket = table.bucket(word)
            return table.single[bucket] if bucket is not None else _FLOOR
        return _zipf_of([None if b is None else table.freq[b] for b in map(table.bucket, word.split(" "))])
    from wordfreq import zipf_frequency  # the general case: wordfreq's own tokenizer

    return zipf_frequency(word, "en")


def _cb_to_freq(b: int) -> float:
    return 10 ** (-b / 100)  # wordfreq's cB_to_freq(-b): the frequency of bucket b in its dict


def _zipf_of(freqs: Iterable[float | None]) -> float:
    """wordfreq's zipf_frequency for tokens of these frequencies (the values of wordfreq's dict;
    None: a token not in the table): its _word_frequency (wordfreq_en.frequency) with the floor
    zipf_frequency passes, then the Zipf value, rounded as it rounds."""
    return _to_zipf(frequency(freqs, _MINIMUM))


def _to_zipf(freq: float) -> float:
    return round(math.log(freq, 10) + 9, 2)  # wordfreq's freq_to_zipf, rounded as zipf_frequency does


_FLOOR = _to_zipf(_MINIMUM)


class _Table:
    """wordfreq's buckets (bucket b: the words at frequency 10^(-b/100), each list sorted, as its
    format says and as checked here). A word is first looked for by bisection in every bucket
    (0.05-0.2 ms; a process that restores its scorer looks up a few dozen new words), and once
    bisection has cost about what it costs, through a dict of every word (0.1-0.2 s to build;
    a process that scores many documents looks up thousands; one that learns a scorer uses
    wordfreq's dict instead, ``expect_many``)."""

    BISECTIONS = 2000

    def __init__(self, buckets: list[list[str]]) -> None:
        if not all(isinstance(words, list) for words in buckets):
            raise TypeError("a bucket is not a list")
        # a word in two buckets: the later one counts, as in wordfreq's dict, so later first
        self._filled = [(b, words) for b, words in reversed(list(enumerate(buckets))) if words]
        self.freq = [_cb_to_freq(b) for b in range(len(buckets))]
        self.single = [_zipf_of((f,)) for f in self.freq]
        self._index: dict[str, int] | None = None
        self._bisected = 0
        if not all(all(map(operator.lt, words, words[1:])) for _b, words in self._filled):
            self._index = self._build_index()  # not sorted after all: no bisection

    def bucket(self, word: str) -> int | None:
        if self._index is not None:
            return self._index.get(word)
        self._bisected += 1
        if self._bisected > self.BISECTIONS:
            self._index = self._build_index()
            return self._index.get(word)
        for b, words in self._filled:
            i = bisect_left(words, word)
            if i < len(words) and words[i] == word:
                return b
        return None

    def words(self) -> Iterator[str]:
        for _b, words in self._filled:
            yield from words

    def _build_index(self) -> dict[str, int]:
        index: dict[str, int] = {}
        for b, words in reversed(self._filled):  # in bucket order: the later wins
            index.update(zip(words, repeat(b)))
        return index


@lru_cache(maxsize=1)
def _table() -> _Table | None:
    """wordfreq's English table; None when it is not found as documented (then wordfreq answers)."""
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
    try:
        return _Table(data[1:])
    except TypeError:  # not lists of words after all
        return None
