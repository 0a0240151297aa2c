"""Tokenising, sentence splitting, light stemming and gazetteer matching (pure, fast)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress, count
from operator import not_

from monitor.score.geo import CASED, ENTRIES, REGIONS, inflect
from monitor.score.geo_names import CASED_EXTRA, L10N_DROP, L10N_TABLE
from monitor.score.zipf import zipf

_ABBREV = [
    (re.compile(r"\bU\.\s?S\.(?:\s?A\.)?"), "US"),
    (re.compile(r"\bU\.\s?N\.?(?=\W)"), "UN"),
    (re.compile(r"\bU\.\s?K\.?(?=\W)"), "UK"),
    (re.compile(r"\bE\.\s?U\.?(?=\W)"), "EU"),
    (re.compile(r"\bD\.\s?P\.\s?R\.\s?K\.?"), "DPRK"),
]
_POSSESSIVE = re.compile(r"['’](?:s\b)?")
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_SENT_END = re.compile(r"(?<=[.!?…\"'”’)])\s+(?=[\"'“‘(\[A-Z0-9])|\n+|\s\|\s")


@lru_cache(maxsize=65536)
def fold(token: str) -> str:
    """Lower-case and strip accents."""
    t = token.lower()
    if t.isascii():
        return t
    return _strip_marks(t)


def _strip_marks(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def normalise(text: str) -> str:
    # every _ABBREV pattern begins with one of these (substring tests are much cheaper than
    # a regex scan)
    if "U." in text or "E." in text or "D." in text:
        for pat, rep in _ABBREV:
            text = pat.sub(rep, text)
    if "'" not in text and "’" not in text:
        return text
    return _POSSESSIVE.sub(" ", text)


TOKEN_RE = _TOKEN


# a sentence starts with a capital of any Latin or Cyrillic alphabet, or a digit
_SENT_SPLIT = re.compile(r"[.!?…][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9À-ÖØ-ÞĀ-ſА-ЯЁ])")


def sentences(text: str) -> list[str]:
    """Split at sentence ends followed by a capital or digit, at newlines and at ' | '."""
    out: list[str] = []
    for chunk in text.replace(" | ", "\n").split("\n"):
        out += filter(None, map(str.strip, _SENT_SPLIT.split(chunk)))
    return out


_BYTE_TABLE = bytes(b if (b >= 128 or chr(b).isalnum()) else 32 for b in range(256))
# the same, lower-casing ASCII letters on the way
_LOWER_TABLE = bytes(b if b >= 128 else ord(chr(b).lower()) if chr(b).isalnum() else 32 for b in range(256))
_LOWER_NL_TABLE = _LOWER_TABLE[:10] + b"\n" + _LOWER_TABLE[11:]  # and newlines kept
_COMMON_PUNCT = "’‘“”–—…«»\u00a0"


def quick_tokens(text: str) -> list[str]:
    """Folded tokens by C-level translate + split (no positions, no case)."""
    return _tokens_of(_common_to_space(text))


def _common_to_space(text: str) -> str:
    if not text.isascii():
        # curly quotes and dashes are most of the non-ASCII in English text: C-level replaces
        # are much cheaper than a regex scan of the whole text
        for c in _COMMON_PUNCT:
            if c in text:
                text = text.replace(c, " ")
    return text


def _tokens_of(t: str) -> list[str]:
    """``quick_tokens`` once the common punctuation is spaced: ASCII letters are lower-cased
    by the byte table, tokens with other characters one by one."""
    if t.isascii():
        return t.encode("ascii").translate(_LOWER_TABLE).decode("ascii").split()
    # surrogatepass: a lone surrogate (a broken emoji in a JSON feed) is kept, not an error
    b = t.encode("utf-8", "surrogatepass").translate(_LOWER_TABLE)
    return _fixed_tokens(b.decode("utf-8", "surrogatepass").split())


def sentence_tokens(parts: list[str]) -> list[list[str]]:
    """``quick_tokens`` of each part (parts hold no newline): one C-level translation of
    them all, joined by newlines that the translation keeps; only parts with non-ASCII
    characters are looked at token by token."""
    t = _common_to_space("\n".join(parts))
    if t.isascii():
        return list(map(str.split, t.encode("ascii").translate(_LOWER_NL_TABLE).decode("ascii").split("\n")))
    b = t.encode("utf-8", "surrogatepass").translate(_LOWER_NL_TABLE).decode("utf-8", "surrogatepass")
    lines = b.split("\n")
    out = list(map(str.split, lines))
    for i in compress(count(), map(not_, map(str.isascii, lines))):
        out[i] = _fixed_tokens(out[i])
    return out


def _fixed_tokens(words: list[str]) -> list[str]:
    out: list[str] = []
    add, more = out.append, out.extend
    for w in words:
        if w.isascii():
            add(w)
        else:
            more(_fix_token(w))
    return out


_FIXED: dict[str, list[str]] = {}


def _fix_token(w: str) -> list[str]:
    """A non-ASCII token: lower-cased, split by symbols and punctuation, accented Latin
    letters folded."""
    v = _FIXED.get(w)
    if v is None:
        s = _NA_PUNCT.sub(" ", w.lower())
        if _NA_LATIN.search(s) is not None:
            s = _NA_LATIN.sub(_latin_sub, s)
        v = s.split()
        if len(_FIXED) < 200000:
            _FIXED[w] = v
    return v


# non-ASCII separators (Latin-1 symbols, general punctuation, arrows and symbols, CJK
# punctuation, emoji) become spaces in one C-level pass; accented Latin letters are folded;
# letters of other scripts are kept as they are (lower-cased)
_NA_PUNCT = re.compile(
    "[\u00a0-\u00bf\u00d7\u00f7\u2000-\u206f\u2190-\u2bff\u3000-\u303f\ufe30-\ufe4f\uff00-\uff0f\U0001f000-\U0001faff]"
)
_NA_LATIN = re.compile("[\u00c0-\u024f\u1e00-\u1eff]+")
_LATIN_CACHE: dict[str, str] = {}
_LATIN_TABLE: dict[int, str] = {}  # a Latin character -> its letters without marks (as met)


def _latin_sub(m: re.Match[str]) -> str:
    run = m.group()
    v = _LATIN_CACHE.get(run)
    if v is None:
        for ch in run:
            if ord(ch) not in _LATIN_TABLE:
                _LATIN_TABLE[ord(ch)] = " " if unicodedata.category(ch)[0] in "PSZC" else _strip_marks(ch)
        v = run.translate(_LATIN_TABLE)
        if len(_LATIN_CACHE) < 100000:
            _LATIN_CACHE[run] = v
    return v


@lru_cache(maxsize=200000)
def stem(word: str) -> str:
    """A deliberately light English stemmer: plural and a few suffixes."""
    w = word
    n = len(w)
    if n <= 3 or not w.isalpha():
        return w
    if w.endswith("ies") and n > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "shes", "ches", "xes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    return w


# ---- gazetteer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Alias:
    code: str
    n: int
    cased: bool  # first letter must be upper case
    exact: bool  # must be written exactly as in the table (acronyms)
    form: str


def l10n_rows() -> list[tuple[str, str, str]]:
    """(code, language, name) rows of the generated table of names in other languages."""
    rows: list[tuple[str, str, str]] = []
    for line in L10N_TABLE.strip().splitlines():
        code, lang, names = line.split("|")
        rows.extend((code, lang, n) for n in names.split(";") if n)
    return rows


def expand_l10n(rows: list[tuple[str, str, str]]) -> list[tuple[tuple[str, ...], str]]:
    """(folded token tuple, code) for every inflected form of every name (see geo.inflect)."""
    out: list[tuple[tuple[str, ...], str]] = []
    for code, lang, name in rows:
        words = [fold(t) for t in _TOKEN.findall(normalise(name))]
        if not words:
            continue
        keys: list[tuple[str, ...]] = [()]
        for w in words:
            keys = [k + (f,) for k in keys for f in sorted(inflect(w, lang))]
        out.extend((k, code) for k in keys)
    return out


def _build_gazetteer() -> tuple[dict[tuple[str, ...], _Alias], dict[str, int]]:
    table: dict[tuple[str, ...], _Alias] = {}
    first: dict[str, int] = {}
    for alias, code, _kind in ENTRIES:
        toks = tuple(fold(t) for t in _TOKEN.findall(normalise(alias)))
        if not toks:
            continue
        joined = " ".join(toks)
        exact = alias.isupper() and len(alias) <= 5
        table[toks] = _Alias(code, len(toks), joined in CASED or joined in CASED_EXTRA, exact, alias)
        first[toks[0]] = max(first.get(toks[0], 0), len(toks))
    # country names in other languages (always capitalised; inflected by a general rule);
    # English forms win, and forms that collide with frequent words were dropped when the
    # table was generated
    for toks, code in expand_l10n(l10n_rows()):
        if toks not in table and " ".join(toks) not in L10N_DROP:
            table[toks] = _Alias(code, len(toks), True, False, " ".join(toks))
            first[toks[0]] = max(first.get(toks[0], 0), len(toks))
    for name, _members in REGIONS:
        toks = tuple(fold(t) for t in _TOKEN.findall(normalise(name)))
        table[toks] = _Alias("@" + name.split(";")[0], len(toks), False, False, name)
        first[toks[0]] = max(first.get(toks[0], 0), len(toks))
    return table, first


REGION_MEMBERS: dict[str, frozenset[str]] = {"@" + n: frozenset(m) for n, m in REGIONS}


# every alias has one trigger, its rarest token: a sentence can only hold the alias when it
# holds the trigger, so one set intersection per sentence decides which sentences need a
# closer look (common words such as "the" or "new" in "The Gambia" or "New Zealand" trigger
# nothing)
def _build_triggers(
    table: dict[tuple[str, ...], _Alias],
) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]], frozenset[str]]:
    trig: dict[str, list[tuple[tuple[str, ...], _Alias]]] = {}
    for k, a in table.items():
        t = k[0] if len(k) == 1 else min(k, key=lambda w: (zipf(w), w))
        trig.setdefault(t, []).append((k, a))
    # triggers whose aliases all start with them and must be capitalised (or are acronyms):
    # the sentence must show the trigger written so
    cased = frozenset(t for t, al in trig.items() if all(k[0] == t and (a.cased or a.exact) for k, a in al))
    codes = {t: frozenset(a.code for _k, a in al) for t, al in trig.items()}
    words = {t: frozenset(w for k, _a in al for w in k) for t, al in trig.items()}
    return codes, words, cased


@dataclass(frozen=True)
class Gazetteer:
    """The place-name tables, built on first use (about 0.7 s of CPU: a command that scores
    nothing, such as ``monitor status``, does not pay it).

    * ``table``: folded token tuple -> alias; ``first``: a first token -> the longest alias
      starting with it; ``single``: first tokens that are an alias on their own; ``second``: a
      first token -> the second tokens of its longer aliases;
    * ``trigger_codes``/``trigger_words``: a trigger -> the codes / words of its aliases;
      ``cased_triggers``: triggers that must be written capitalised; ``triggers``: all of them;
    * ``words``: every word of every alias (a vocabulary word among them may be part of a
      place's name)."""

    table: dict[tuple[str, ...], _Alias]
    first: dict[str, int]
    single: frozenset[str]
    second: dict[str, frozenset[str]]
    trigger_codes: dict[str, frozenset[str]]
    trigger_words: dict[str, frozenset[str]]
    cased_triggers: frozenset[str]
    triggers: frozenset[str]
    words: frozenset[str]


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    table, first = _build_gazetteer()
    second: dict[str, frozenset[str]] = {}
    for k in table:
        if len(k) > 1:
            second[k[0]] = second.get(k[0], frozenset()) | {k[1]}
    codes, words, cased = _build_triggers(table)
    return Gazetteer(
        table,
        first,
        frozenset(k[0] for k in table if len(k) == 1),
        second,
        codes,
        words,
        cased,
        frozenset(codes),
        frozenset(w for k in table for w in k),
    )


def gazetteer_lookups() -> frozenset[str]:
    """The words whose rarity building the tables looks up (those of aliases of several words)."""
    return frozenset(w for k in gazetteer().table if len(k) > 1 for w in k)


def tables_built() -> bool:
    """Whether this process has built the tables (checked without building them)."""
    return gazetteer.cache_info().currsize > 0


# the tables' former module-level names, for tools (built on first access)
_LAZY = {
    "GAZ": "table",
    "GAZ_FIRST": "first",
    "GAZ_SINGLE": "single",
    "GAZ_SECOND": "second",
    "TRIGGER_CODES": "trigger_codes",
    "TRIGGER_WORDS": "trigger_words",
    "TRIGGERS": "triggers",
    "GAZ_WORDS": "words",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(gazetteer(), _LAZY[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def may_have_place(tset: set[str] | frozenset[str], text: str) -> bool:
    """Cheap test whether ``countries`` can find anything in a sentence (``tset``: its folded
    tokens, or those of them that are triggers or anything else)."""
    g = gazetteer()
    cased = g.cased_triggers
    for t in tset & g.triggers:
        if t in cased and t.capitalize() not in text and t.upper() not in text:
            continue
        return True
    return False


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(normalise(text))


def place_tokens(text: str, folded: list[str] | None = None) -> tuple[list[str], list[str]]:
    """``tokens(text)`` and their folded forms; C-level for (most) ASCII sentences.
    ``folded``: the sentence's ``quick_tokens``, which are the folded forms whenever the
    sentence has nothing to normalise and is ASCII but for separators."""
    if "U." in text or "E." in text or "D." in text or "'" in text or "’" in text:
        t = normalise(text)
        folded = None
    else:
        t = text
    t = _common_to_space(t)  # separators either way
    if not t.isascii():
        raw = _TOKEN.findall(t)
        return raw, [fold(x) for x in raw]
    b = t.encode("ascii").translate(_BYTE_TABLE)
    if folded is not None:
        return b.decode("ascii").split(), folded
    return b.decode("ascii").split(), b.lower().decode("ascii").split()


def countries(raw_tokens: list[str], folded: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, code) of each country mention, longest match first."""
    out: list[tuple[int, int, str]] = []
    n = len(folded)
    g = gazetteer()
    first, single, second, table = g.first, g.single, g.second, g.table
    nxt = 0
    for i in compress(count(), map(first.__contains__, folded)):
        if i < nxt:
            continue  # inside the previous mention
        f = folded[i]
        if f not in single and (i + 1 == n or folded[i + 1] not in second[f]):
            continue  # the first word of longer names only ("the", "new"), not followed by one
        for k in range(min(first[f], n - i), 0, -1):
            a = table.get(tuple(folded[i : i + k]))
            if a is None:
                continue
            tok = raw_tokens[i]
            if a.exact and tok != a.form.replace(".", "")[: len(tok)]:
                continue
            if a.cased and not tok[:1].isupper():
                continue
            out.append((i, i + k, a.code))
            nxt = i + k
            break
    return out
