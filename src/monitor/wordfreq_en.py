"""wordfreq's English word frequencies read from its own dict, with its own arithmetic.

For a plain word (one that wordfreq's tokenizer keeps whole) ``wordfreq.word_frequency`` is this
dict look-up plus a few float operations, but it runs the tokenizer first (~5 us a word). The
relevance scorer (score/zipf.py: Zipf values) and the story engine (changes/text.py: the terms'
priors) each meet thousands of new words a poll, so both read the dict here: one copy of it in
a process, one copy of the arithmetic. Imports nothing of the monitor (stage modules share it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from functools import lru_cache


@lru_cache(maxsize=1)
def english() -> Mapping[str, float]:
    """wordfreq's dict for English, the very object its look-ups read: its cache is keyed by the
    arguments as given, and wordfreq's _word_frequency passes ``(lang, wordlist)`` positionally."""
    from wordfreq import get_frequency_dict

    return get_frequency_dict("en", "best")


def frequency(freqs: Iterable[float | None], minimum: float) -> float:
    """wordfreq's _word_frequency for tokens of these frequencies (values of `english()`; None: a
    token not in its list), the same operations in the same order: 1 / (sum of 1 / f), at least
    `minimum`, rounded to three significant digits; `minimum` for a missing token or none."""
    one_over_result = 0.0
    for f in freqs:
        if f is None:
            return minimum
        one_over_result += 1.0 / f
    if one_over_result == 0.0:
        return minimum
    unrounded = max(1.0 / one_over_result, minimum)
    if unrounded == 0.0:
        return 0.0
    return round(unrounded, math.floor(-math.log(unrounded, 10)) + 3)
