"""Event evidence beyond topical similarity: how strongly an article's own facts say that it
reports another event than a candidate story (pure).

Topical words cannot tell two events of one kind apart (two earthquakes, two title fights of
one boxer): both share the protagonist, the place and the vocabulary. What differs is each
event's own facts, and the most reliable of them in text are its numbers: tolls, scores and
records ("58-3", "31-24"), magnitudes, ages, amounts, days and times. Reports of one event
repeat them; another event of the same kind states others. See docs/changes.md (Stories,
"Numbers") for the measurements behind the form chosen here.
"""

from __future__ import annotations

import math
from collections.abc import Collection

NUMBER_PENALTY = 0.8  # similarity factor for one stated number that the story does not share
NUMBER_CAP = 9  # numbers counted at most (the factor stops growing at 0.8 ** 3 = 0.51)


def number_factor(
    article: Collection[str],
    story: Collection[str],
    penalty: float = NUMBER_PENALTY,
    cap: int = NUMBER_CAP,
) -> float:
    """Similarity factor from the numbers an article states and those its candidate story has
    stated: 1.0 when either side states none (absent numbers are no evidence) or when they share
    one; else `penalty ** sqrt(k)`, k the smaller of the two counts of distinct numbers (at most
    `cap`).

    Graded because the evidence grows with the chances the two sides had to share a number: a
    report of the same event stating nine numbers against a story that has stated twenty almost
    always repeats one of them. The smaller side bounds those chances: an article's nine numbers
    say little against a story that has stated one (a page's captions and background dates count
    too). Not `penalty ** k`: the misses are not independent pieces of evidence (a score and its
    parts, a date and its day), and the exponential form splits true stories (docs/changes.md).
    """
    if penalty >= 1.0 or not article or not story:
        return 1.0
    if any(n in story for n in article):
        return 1.0
    return float(penalty ** math.sqrt(min(len(article), len(story), cap)))
