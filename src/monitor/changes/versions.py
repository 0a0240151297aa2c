"""Versions of an article's text: a sentence-then-word diff, a material/minor verdict and a
significance in 0..1 (pure).

A new version is never material when it is blank, an error page, a truncated extraction, a
flip back to a version seen before, or differs only in whitespace/punctuation, a date line or
counters, or spelling. Otherwise its significance grows with the information the edit brings
or takes away (see `information`: new or removed content words by background rarity, figures
and dates as facts, rewordings counted by their imbalance only), and
significance = 1 - exp(-information / INFO_SCALE). docs/changes.md has the measured figures.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .text import NUMBER_RE, STOPWORDS, WORD_RE, fold, is_date_line, rarity, sentence_spans, sentences, stem

INFO_SCALE = 2.0  # information (in rarity units: ~2 rare content words) for significance 0.63
MATERIAL_AT = 0.5  # significance from which a version is material (information >= ~1.4)
FUNCTION_WEIGHT = 0.1  # a function word or a word moved from elsewhere in the text
NAME_WEIGHT = 1.0  # a name or figure swapped for another: facts live there
TRUNCATE = 5  # letters that identify a word across derivations (truncation stemming, 4-5 for English)
SPELLING_RATIO = 0.8  # a replaced word this close in letters (difflib ratio) is a spelling fix
BLANK_WORDS = 5
_ERROR_PAGE = re.compile(
    r"\b(?:page not found|404 not found|error 404|403 forbidden|access denied|internal server error|"
    r"service unavailable|bad gateway|gateway timeout|something went wrong|page (?:isn't|is not) available|"
    r"enable javascript|are you a robot|captcha|too many requests)\b",
    re.IGNORECASE,
)
_COUNTER_WORDS = frozenset(
    "comment comments view views share shares like likes read reads ago updated update published posted "
    "minute minutes hour hours second seconds reply replies vote votes".split()
)
_TIME_WORDS = frozenset(
    "jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june july august "
    "september october november december monday tuesday wednesday thursday friday saturday sunday am pm "
    "a.m p.m gmt utc edt est bst cet cest today yesterday".split()
)
_QUOTE = re.compile(r"[\"“”]([^\"“”]{3,})[\"“”]")


@dataclass(frozen=True)
class Change:
    op: str  # "added" | "removed" | "changed"
    before: str
    after: str
    span: tuple[int, int]  # characters of the old text this change covers (a gap for "added")
    words: tuple[tuple[str, str], ...] = ()  # inline word diff of a "changed" sentence: (op, text)


@dataclass(frozen=True)
class VersionDiff:
    material: bool
    significance: float
    summary: str
    changes: tuple[Change, ...]
    reason: str  # why a version is minor ("" when material)
    headline_changed: bool = False
    numbers: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())  # (removed, added)
    quotes: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    counts: dict[str, int] = field(default_factory=dict)


def _norm(text: str) -> str:
    return " ".join(text.split())


def _folded(text: str) -> list[str]:
    return [fold(w) for w in WORD_RE.findall(text)]


# ---------------------------------------------------------------- sentence and word alignment


def align(old: str, new: str) -> tuple[Change, ...]:
    """Changes between two texts: sentences aligned first, then words inside changed sentences."""
    o_spans, n_spans = sentence_spans(old), sentence_spans(new)
    o_sents = [old[a:b] for a, b in o_spans]
    n_sents = [new[a:b] for a, b in n_spans]
    sm = difflib.SequenceMatcher(None, [_norm(s) for s in o_sents], [_norm(s) for s in n_sents], autojunk=False)
    out: list[Change] = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            continue
        out += _pair_block(o_sents[i1:i2], o_spans[i1:i2], n_sents[j1:j2], _gap(o_spans, i1, len(old)))
    return tuple(out)


def _gap(spans: Sequence[tuple[int, int]], i: int, size: int) -> tuple[int, int]:
    start = spans[i - 1][1] if i > 0 else 0
    end = spans[i][0] if i < len(spans) else size
    return (start, max(start, end))


def _pair_block(
    olds: Sequence[str], spans: Sequence[tuple[int, int]], news: Sequence[str], gap: tuple[int, int]
) -> list[Change]:
    """Within a replaced block, pair each old sentence with the most similar new one (in order)."""
    out: list[Change] = []
    j = 0
    for k, (o, span) in enumerate(zip(olds, spans, strict=True)):
        best, best_j = 0.0, -1
        for jj in range(j, len(news)):
            r = difflib.SequenceMatcher(None, _folded(o), _folded(news[jj]), autojunk=False).ratio()
            if r > best:
                best, best_j = r, jj
        if best >= 0.5:
            for jj in range(j, best_j):
                out.append(Change("added", "", news[jj], (span[0], span[0])))
            out.append(Change("changed", o, news[best_j], span, word_diff(o, news[best_j])))
            j = best_j + 1
        else:
            out.append(Change("removed", o, "", span))
        if k == len(olds) - 1:
            end = span[1]
            out += [Change("added", "", n, (end, end)) for n in news[j:]]
            j = len(news)
    if not olds:
        out += [Change("added", "", n, gap) for n in news]
    return out


# a word or punctuation mark with the whitespace after it: runs of changes read as phrases
_PIECE = re.compile(r"[^\W_]+(?:[.,'’\-][^\W_]+)*\s*|[^\w\s]\s*|\s+", re.UNICODE)


def word_diff(old: str, new: str) -> tuple[tuple[str, str], ...]:
    """(op, text) runs with op in equal/insert/delete, words and punctuation as units."""
    a, b = _PIECE.findall(old), _PIECE.findall(new)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("equal", "delete", "replace") and i2 > i1:
            out.append(("equal" if op == "equal" else "delete", "".join(a[i1:i2])))
        if op in ("insert", "replace") and j2 > j1:
            out.append(("insert", "".join(b[j1:j2])))
    return tuple(out)


# ---------------------------------------------------------------- information and gates


def _hunks(old: str, new: str) -> list[tuple[list[str], list[str]]]:
    """Word-level changed runs over the whole texts: (removed surface words, added surface words)."""
    a, b = WORD_RE.findall(old), WORD_RE.findall(new)
    sm = difflib.SequenceMatcher(None, [fold(w) for w in a], [fold(w) for w in b], autojunk=False)
    return [(a[i1:i2], b[j1:j2]) for op, i1, i2, j1, j2 in sm.get_opcodes() if op != "equal"]


def _is_spelling(removed: Sequence[str], added: Sequence[str]) -> bool:
    return (
        len(removed) == len(added) > 0
        and all(
            difflib.SequenceMatcher(None, fold(x), fold(y)).ratio() >= SPELLING_RATIO
            and not (NUMBER_RE.search(x) or NUMBER_RE.search(y))
            for x, y in zip(removed, added, strict=True)
        )
    )


_NUMBER_WORDS = {
    w: str(n)
    for n, ws in enumerate(
        (
            "zero", "first", "two second", "three third", "four fourth", "five fifth", "six sixth",
            "seven seventh", "eight eighth", "nine ninth", "ten tenth", "eleven eleventh", "twelve twelfth",
            "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
        )
    )
    for w in ws.split()
}
_ORDINAL = re.compile(r"(?<=\d)(?:st|nd|rd|th)$")


def _key(folded: str) -> str:
    """What a word means for the diff: a number's value (06:00 = 0600, 10 = ten, 11th = eleventh),
    else its first TRUNCATE letters (a light stem for shorter words). A word whose key is still
    found on the other side was only reworded or moved."""
    if folded in _NUMBER_WORDS:
        return _NUMBER_WORDS[folded]
    if folded[:1].isdigit():
        digits = re.sub(r"\D", "", _ORDINAL.sub("", folded))
        return digits.lstrip("0") or "0"
    word = folded.replace(".", "")  # "a.m." = "am", "U.S." = "us"
    if word.isalpha() and len(word) > TRUNCATE:
        # truncation catches derivations a stemmer keeps apart (Canada/Canadian, Japan/Japanese)
        return word[:TRUNCATE]
    if word.endswith("s") and len(word) > 2:  # short plurals and acronyms: MP/MPs
        return stem(word[:-1])
    return stem(word)


def _found(folded: str, other: set[str]) -> bool:
    """The word's meaning is still on the other side (a hyphenated word: all of its parts)."""
    if _key(folded) in other:
        return True
    parts = folded.split("-")
    return len(parts) > 1 and all(_key(p) in other for p in parts if p)


# time words state when something happened: a changed one is a changed fact, like a figure
_QUALIFIERS = frozenset("today yesterday tomorrow tonight".split()) | _TIME_WORDS


_MODAL_MONTHS = frozenset({"may", "march"})


def _keys(text: str) -> set[str]:
    out: set[str] = set()
    for w in _folded(text):
        out.add(_key(w))
        if "-" in w:
            out.update(_key(p) for p in w.split("-") if p)
    return out


def _is_number(folded: str) -> bool:
    """A figure or a word like it: a number or a date word."""
    return folded[:1].isdigit() or folded in _NUMBER_WORDS or folded in _QUALIFIERS


def _names(text: str) -> set[str]:
    """Folded words written with a capital inside a sentence (names), or with digits."""
    out: set[str] = set()
    for sent in sentences(text):
        for n, w in enumerate(WORD_RE.findall(sent)):
            if w[0].isdigit() or (n > 0 and w[0].isupper()):
                out.add(fold(w))
    return out


def information(old: str, new: str) -> float:
    """Information an edit adds or removes, in background-rarity units.

    A pure insertion or deletion counts all its content words. A replacement counts only the
    imbalance between what it adds and what it removes (rewording the same content is not news),
    plus NAME_WEIGHT for every name or figure that changed (a swapped figure is a changed fact).
    Spelling fixes count 0; a word still found elsewhere in the other version counts as a
    function word.
    """
    in_old, in_new = _keys(old), _keys(new)
    names = _names(old) | _names(new)
    total = 0.0
    for removed, added in _hunks(old, new):
        if _is_spelling(removed, added):
            continue
        (gone, gone_names), (came, came_names) = _side(removed, in_new, names), _side(added, in_old, names)
        if removed and added:
            total += abs(came - gone) + NAME_WEIGHT * (gone_names + came_names)
        else:
            total += gone + came
    return total


def _side(words: Sequence[str], other: set[str], names: set[str]) -> tuple[float, int]:
    """(information, changed names and figures) of one side of a hunk."""
    info, named = 0.0, 0
    for w in words:
        f = fold(w)
        # "may", "march": a verb unless capitalised
        figure = _is_number(f) and not (f in _MODAL_MONTHS and w[0].islower())
        if _found(f, other) or (not figure and f in STOPWORDS):
            info += FUNCTION_WEIGHT
            continue
        info += 1.0 if figure else rarity(f)
        named += figure or f in names
    return info, named


def _only_dates_or_counters(old: str, new: str) -> bool:
    hunks = _hunks(old, new)
    if not hunks:
        return False
    for removed, added in hunks:
        words = [fold(w) for w in (*removed, *added)]
        if not all(NUMBER_RE.fullmatch(w) or w.rstrip(".") in _TIME_WORDS for w in words):
            return False
    # every changed number sits in a date line or next to a counter word
    for sentence in _changed_sentences(old, new):
        folded = set(_folded(sentence))
        if not (is_date_line(sentence) or folded & _COUNTER_WORDS or folded & _TIME_WORDS):
            return False
    return True


def _changed_sentences(old: str, new: str) -> Iterable[str]:
    for c in align(old, new):
        yield from (s for s in (c.before, c.after) if s)


def minor_reason(old: str, new: str, history: Sequence[str] = ()) -> str:
    """Why `new` is not a material version of `old` ("" if nothing rules it out)."""
    new_words = _folded(new)
    if len(new_words) < BLANK_WORDS:
        return "blank page"
    if len(new_words) < 150 and _ERROR_PAGE.search(new):
        return "error page"
    old_words = _folded(old)
    if new_words == old_words:
        return "whitespace or punctuation only"
    if any(new_words == _folded(h) for h in history):
        return "flip back to an earlier version"
    if _is_truncation(old_words, new_words):
        return "truncated text"
    if _only_dates_or_counters(old, new):
        return "date line or counters only"
    if all(_is_spelling(r, a) for r, a in _hunks(old, new)):
        return "spelling only"
    return ""


def _is_truncation(old_words: list[str], new_words: list[str]) -> bool:
    """The new text is the old one cut short (a failed or partial extraction), not an edit."""
    if len(new_words) >= 0.8 * len(old_words):
        return False
    sm = difflib.SequenceMatcher(None, old_words, new_words, autojunk=False)
    kept = sum(size for _, j, size in sm.get_matching_blocks() if size)
    return kept >= 0.9 * len(new_words)  # the cut may split a word


# ---------------------------------------------------------------- the verdict


def compare(
    old: str, new: str, *, old_title: str = "", new_title: str = "", history: Sequence[str] = ()
) -> VersionDiff:
    """Diff two versions of an article's text (and headline); `history` = earlier versions."""
    changes = align(old, new)
    reason = minor_reason(old, new, history)
    headline_changed = _folded(old_title) != _folded(new_title)
    info = information(old, new) + (information(old_title, new_title) if headline_changed else 0.0)
    significance = 1.0 - math.exp(-info / INFO_SCALE)
    if reason:
        significance = min(significance, 0.1)
    material = not reason and significance >= MATERIAL_AT
    numbers = _set_diff(NUMBER_RE.findall(old), NUMBER_RE.findall(new))
    quotes = _set_diff(_QUOTE.findall(old), _QUOTE.findall(new))
    counts = {op: sum(c.op == op for c in changes) for op in ("added", "removed", "changed")}
    summary = _summary(counts, headline_changed, numbers, quotes, reason)
    return VersionDiff(
        material, round(significance, 4), summary, changes, reason, headline_changed, numbers, quotes, counts
    )


def _set_diff(old: Sequence[str], new: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    o, n = set(old), set(new)
    return tuple(x for x in dict.fromkeys(old) if x not in n), tuple(x for x in dict.fromkeys(new) if x not in o)


def _summary(
    counts: dict[str, int],
    headline_changed: bool,
    numbers: tuple[tuple[str, ...], tuple[str, ...]],
    quotes: tuple[tuple[str, ...], tuple[str, ...]],
    reason: str,
) -> str:
    parts = [f"{n} sentence{'s' if n != 1 else ''} {op}" for op, n in counts.items() if n]
    if headline_changed:
        parts.insert(0, "headline changed")
    if numbers[0] or numbers[1]:
        parts.append(f"numbers {', '.join(numbers[0]) or '-'} → {', '.join(numbers[1]) or '-'}")
    if quotes[0] or quotes[1]:
        parts.append(f"quotes: {len(quotes[1])} new, {len(quotes[0])} gone")
    text = "; ".join(parts) or "no change"
    return f"minor ({reason}): {text}" if reason else text
