"""Deterministic background pseudo-documents: general English words drawn by their frequency
(``wordfreq``), the "anything else" that thresholds are set against (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice


def common_words() -> list[str]:
    """The 5,000 most frequent English words (letters only), most frequent first."""
    from wordfreq import top_n_list

    return [w for w in top_n_list("en", 5000) if w.isalpha()]


def uniforms(seed: int = 12345) -> Iterator[float]:
    """A reproducible stream of numbers in [0, 1) (a linear congruential generator)."""
    state = seed
    while True:
        state = (1103515245 * state + 12345) % (1 << 31)
        yield state / (1 << 31)


def zipf_words(words: list[str], draws: Iterator[float], n: int) -> list[str]:
    """``n`` words, frequent ones favoured (a Zipf-like draw)."""
    return [words[int(len(words) * r * r)] for r in islice(draws, n)]
