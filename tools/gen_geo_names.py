"""Generate src/monitor/score/geo_names.py: country names in other languages.

Usage (needs ``babel`` and ``wordfreq``, which are not needed at run time)::

    .venv/bin/python tools/gen_geo_names.py

For every country code of the English gazetteer (monitor.score.geo) it takes the CLDR name
in each language of ``LANGS`` (``babel.Locale(lang).territories[code]``; a parenthesised
alternative such as "Mjanma (Birma)" gives two names).  At run time the names are
accent-folded and expanded by the general inflection rule ``geo.inflect``; all of them must
be capitalised in the text.  Collisions are measured here, not guessed:

* a form produced for two countries is dropped (unless it is one country's own CLDR name);
* a one-word form that is a frequent English word (wordfreq Zipf >= EN_MAX) is dropped, so
  that capitalised English words (sentence starts, headlines) are not read as countries;
* an inflected (not CLDR) one-word form that is a frequent word of any of the languages
  (Zipf >= OTHER_MAX) is dropped;
* English gazetteer forms matched without case that are frequent words in one of the
  languages (Polish "mali" = small) are listed in CASED_EXTRA: they must be capitalised.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import babel
from wordfreq import zipf_frequency

from monitor.score.geo import CASED, ENTRIES
from monitor.score.text import GAZ, TOKEN_RE, expand_l10n, fold, normalise

LANGS = ("pl", "de", "fr", "es", "it", "pt")
EN_MAX = 3.0
OTHER_MAX = 3.5
OUT = Path(__file__).resolve().parent.parent / "src" / "monitor" / "score" / "geo_names.py"


def cldr_rows() -> list[tuple[str, str, str]]:
    codes = sorted({c for _a, c, _k in ENTRIES})
    rows: list[tuple[str, str, str]] = []
    for lang in LANGS:
        terr = babel.Locale(lang).territories
        own = {terr.get(c) for c in codes}
        for code in codes:
            name = terr.get(code)
            if not name:
                continue
            for i, part in enumerate(re.split(r"[()]", name)):
                part = part.strip(" ,")
                # skip acronyms and a parenthesised other country ("SRA Hongkong (Chiny)")
                if part and not re.fullmatch(r"[A-Z]{2,4}", part) and not (i and part in own):
                    rows.append((code, lang, part))
    return rows


def _lines(words: set[str]) -> str:
    return "".join(f'        "{w}",\n' for w in sorted(words))


def main() -> None:
    rows = cldr_rows()
    base: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for code, _lang, name in rows:
        base[tuple(fold(t) for t in re.findall(r"[^\W_]+", name.replace("’", " ").replace("'", " ")))].add(code)
    owners: dict[tuple[str, ...], set[str]] = defaultdict(set)
    langs: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for code, lang, name in rows:
        for key, _c in expand_l10n([(code, lang, name)]):
            owners[key].add(code)
            langs[key].add(lang)
    drop: set[str] = set()
    why: dict[str, str] = {}
    for key, codes in owners.items():
        if key in GAZ:
            continue  # the English gazetteer wins at run time anyway
        joined = " ".join(key)
        if len(codes) > 1 and len(base.get(key, set())) != 1:
            drop.add(joined)
            why[joined] = "ambiguous " + ",".join(sorted(codes))
            continue
        if len(key) == 1:
            en = zipf_frequency(joined, "en")
            if en >= EN_MAX:
                drop.add(joined)
                why[joined] = f"en {en:.1f}"
                continue
            if key not in base:
                # a frequent word of another language (its own language: capitalisation)
                top = max((zipf_frequency(joined, lg), lg) for lg in LANGS if lg not in langs[key])
                if top[0] >= OTHER_MAX:
                    drop.add(joined)
                    why[joined] = f"{top[1]} {top[0]:.1f}"
    cased_extra = set()
    english = {tuple(fold(t) for t in TOKEN_RE.findall(normalise(alias))) for alias, _c, _k in ENTRIES}
    for key, a in GAZ.items():
        if len(key) == 1 and not a.exact and not a.code.startswith("@") and key in english:
            # much more frequent in another language than in English: an ordinary word there
            en = zipf_frequency(key[0], "en")
            top = max((zipf_frequency(key[0], lg), lg) for lg in LANGS)
            if top[0] >= OTHER_MAX and top[0] - en >= 0.5 and key[0] not in CASED:
                cased_extra.add(key[0])
                why[key[0]] = f"cased: {top[1]} {top[0]:.1f}"
    for k in sorted(why):
        print(k, "|", why[k])
    by: dict[tuple[str, str], list[str]] = defaultdict(list)
    for code, lang, name in rows:
        by[(code, lang)].append(name)
    table = "\n".join(
        f"{c}|{lg}|{';'.join(ns)}" for (c, lg), ns in sorted(by.items(), key=lambda x: (x[0][1], x[0][0]))
    )
    OUT.write_text(
        '"""Country names in other languages (CLDR, via babel) and measured collisions.\n\n'
        "Generated by tools/gen_geo_names.py; do not edit by hand.\n"
        '"""\n\n'
        f'L10N_TABLE = """\n{table}\n"""\n\n'
        "# inflected forms dropped as collisions (see the generator)\n"
        f"L10N_DROP: frozenset[str] = frozenset(\n    {{\n{_lines(drop)}    }}\n)\n\n"
        "# English gazetteer forms that are frequent words in another language: must be capitalised\n"
        f"CASED_EXTRA: frozenset[str] = frozenset(\n    {{\n{_lines(cased_extra)}    }}\n)\n",
        encoding="utf-8",
    )
    print(len(rows), "names,", len(owners), "forms,", len(drop), "dropped,", len(cased_extra), "cased extra")


if __name__ == "__main__":
    main()
