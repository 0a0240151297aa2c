"""score/zipf.py answers exactly what wordfreq.zipf_frequency(word, "en") answers: from wordfreq's
table for plain words (checked over a spread of the table, the place-name words and the seeds'
words), from wordfreq itself for anything else."""

from __future__ import annotations

import json

import pytest
from wordfreq import zipf_frequency

from helpers import SEEDS
from monitor.score import zipf as zipf_mod
from monitor.score.geo import NAMES
from monitor.score.relation.reading import idf
from monitor.score.text import _build_gazetteer, quick_tokens
from monitor.score.zipf import PLAIN, zipf


def _table() -> zipf_mod._Table:
    table = zipf_mod._table()
    assert table is not None, "wordfreq's English table was not found where wordfreq keeps it"
    return table


def _plain_words() -> list[str]:
    return sorted(w for w in _table().words() if PLAIN.fullmatch(w))


def test_plain_words_of_the_table_are_answered_as_wordfreq_does() -> None:
    plain = _plain_words()
    # all 292,344 plain words of wordfreq 3.1.1's table agreed when this was written (5 s); a
    # spread of them here, every non-ASCII one among them
    sample = plain[::37] + [w for w in plain if not w.isascii()]
    assert len(sample) > 10_000
    assert [zipf_mod._zipf(w) for w in sample] == [zipf_frequency(w, "en") for w in sample]


def test_bisection_and_the_dict_find_the_same_buckets() -> None:
    filled = dict(_table()._filled)
    buckets = [filled.get(b, []) for b in range(max(filled) + 1)]
    bisecting = zipf_mod._Table(buckets)
    bisecting.BISECTIONS = 10**9  # never the dict
    indexed = zipf_mod._Table(buckets)
    indexed.BISECTIONS = 0  # the dict from the first look-up
    words = _plain_words()[::101] + ["zzqxv", "a"]
    assert [bisecting.bucket(w) for w in words] == [indexed.bucket(w) for w in words]
    assert indexed._index is not None and bisecting._index is None
    unsorted = zipf_mod._Table([["b", "a"], ["c"]])  # the format promises sorted buckets; if not,
    assert unsorted._index is not None and unsorted.bucket("b") == 0  # no bisection


def test_words_not_in_the_table_and_several_words_are_answered_as_wordfreq_does() -> None:
    plain = _plain_words()[::211]
    words = [w + "qzx" for w in plain] + [f"{a} {b}" for a, b in zip(plain, plain[1:], strict=False)]
    words += [w + " zzqxv" for w in plain[:50]] + ["zzqxv", "a", "burkina faso", "połnocna"]
    assert [zipf_mod._zipf(w) for w in words] == [zipf_frequency(w, "en") for w in words]
    assert zipf("zzqxv") == 0.0 and zipf("the") > 7


def test_the_place_names_and_the_seeds_words_are_answered_as_wordfreq_does() -> None:
    table, _first = _build_gazetteer()
    words = sorted({w for alias in table for w in alias} | {n.lower() for n in NAMES.values()})
    words += sorted({t for p in SEEDS.glob("*.txt") for t in quick_tokens(p.read_text(encoding="utf-8"))})
    assert [zipf_mod._zipf(w) for w in words] == [zipf_frequency(w, "en") for w in words]


@pytest.mark.parametrize("word", ["côte d'ivoire", "guinea-bissau", "2004", "faso’s", "Mali", "straße", "москва"])
def test_other_words_are_passed_to_wordfreq(word: str) -> None:
    assert not PLAIN.fullmatch(word)
    assert zipf_mod._zipf(word) == zipf_frequency(word, "en")


def test_without_the_table_wordfreq_answers_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipf_mod, "_table", lambda: None)
    assert zipf_mod._zipf("junta") == zipf_frequency("junta", "en") > 0


def test_a_short_or_non_alphabetic_word_weighs_nothing() -> None:
    assert idf("1985") == idf("7th") == idf("faso’s") == idf("ab") == 0.0
    assert idf("junta") > 0 and idf("the") == 0.0


def test_remembered_answers_are_used_and_looked_up_words_are_recorded() -> None:
    with zipf_mod.recording() as looked_up:
        zipf("junta")
        zipf_mod.remember({"qqzzyyxx": 1.23})
        assert zipf("qqzzyyxx") == 1.23  # remembered (in a kept scorer state: wordfreq's answer)
    assert looked_up == {"junta", "qqzzyyxx"}


def test_a_process_sharing_wordfreqs_table_drops_its_own_and_answers_the_same() -> None:
    """The service calls share_wordfreq() before building its scorer (one copy of the table)."""
    import subprocess
    import sys

    code = (
        "import json\n"
        "from monitor.score import zipf\n"
        "words = ['the', 'junta', 'ouagadougou', 'wagner group', 'qzxvbnmk', 'mh17']\n"
        "before = [zipf.zipf(w) for w in words]\n"
        "zipf._SEEN.clear()\n"
        "zipf.share_wordfreq()\n"
        "after = [zipf.zipf(w) for w in words]\n"
        "print(json.dumps([before, after, zipf._table.cache_info().currsize]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    before, after, tables = json.loads(out)
    assert (
        after
        == before
        == [zipf_frequency(w, "en") for w in ["the", "junta", "ouagadougou", "wagner group", "qzxvbnmk", "mh17"]]
    )
    assert tables == 0  # the module's copy was dropped and not built again
