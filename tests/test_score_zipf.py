"""score/zipf.py answers exactly what wordfreq.zipf_frequency(word, "en") answers: from wordfreq's
table for plain words (checked over a spread of the table, the place-name words and the seeds'
words), from wordfreq itself for anything else. The table is read two ways, each checked: the
module's own copy (bisected, then its dict), or wordfreq's own dict (``share_wordfreq``, which a
scorer learnt from its seeds switches to)."""

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


@pytest.fixture(params=["own table", "wordfreq's dict"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Either way of reading the table (the mode is process-wide: a scorer learnt by an earlier
    test switched this process to wordfreq's dict; each test here sets it)."""
    monkeypatch.setattr(zipf_mod, "_SHARED", request.param != "own table")
    return str(request.param)


def _table() -> zipf_mod._Table:
    table = zipf_mod._table()
    assert table is not None, "wordfreq's English table was not found where wordfreq keeps it"
    return table


def _plain_words() -> list[str]:
    return sorted(w for w in _table().words() if PLAIN.fullmatch(w))


def test_plain_words_of_the_table_are_answered_as_wordfreq_does(mode: str) -> None:
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


def test_words_not_in_the_table_and_several_words_are_answered_as_wordfreq_does(mode: str) -> None:
    plain = _plain_words()[::211]
    words = [w + "qzx" for w in plain] + [f"{a} {b}" for a, b in zip(plain, plain[1:], strict=False)]
    words += [w + " zzqxv" for w in plain[:50]] + ["zzqxv", "a", "burkina faso", "połnocna"]
    assert [zipf_mod._zipf(w) for w in words] == [zipf_frequency(w, "en") for w in words]
    assert zipf("zzqxv") == 0.0 and zipf("the") > 7


def test_the_place_names_and_the_seeds_words_are_answered_as_wordfreq_does(mode: str) -> None:
    table, _first = _build_gazetteer()
    words = sorted({w for alias in table for w in alias} | {n.lower() for n in NAMES.values()})
    words += sorted({t for p in SEEDS.glob("*.txt") for t in quick_tokens(p.read_text(encoding="utf-8"))})
    assert [zipf_mod._zipf(w) for w in words] == [zipf_frequency(w, "en") for w in words]


@pytest.mark.parametrize("word", ["côte d'ivoire", "guinea-bissau", "2004", "faso’s", "Mali", "straße", "москва"])
def test_other_words_are_passed_to_wordfreq(word: str, mode: str) -> None:
    assert not PLAIN.fullmatch(word)
    assert zipf_mod._zipf(word) == zipf_frequency(word, "en")


def test_without_the_table_wordfreq_answers_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipf_mod, "_SHARED", False)
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


LEARN_CHILD = """
import json, sys
from wordfreq import get_frequency_dict, zipf_frequency
from helpers import SEEDS
from monitor.config import load_seeds
from monitor.score import build_scorer, zipf
scorer = build_scorer(load_seeds(SEEDS))
words = sorted(scorer._rarity_words)
print(json.dumps({
    "shared": zipf._SHARED,
    "own table": zipf._table.cache_info().currsize,
    "dicts": get_frequency_dict.cache_info().currsize,
    "same": [zipf.zipf(w) for w in words] == [zipf_frequency(w, "en") for w in words],
    "words": len(words),
    "after": get_frequency_dict.cache_info().currsize,
}))
"""


def test_a_scorer_learnt_from_its_seeds_reads_wordfreqs_dict_and_no_other_copy() -> None:
    """Learning looks up ~2,000 words and loads wordfreq's dict anyway: no bisection, no second
    dict (neither this module's nor a second one of wordfreq's, cached under other arguments)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", LEARN_CHILD], capture_output=True, text=True, env=env, check=True
    ).stdout
    child = json.loads(out)
    assert child["words"] > 1000
    assert child == {**child, "shared": True, "own table": 0, "dicts": 1, "same": True, "after": 1}


def test_the_fork_servers_preload_holds_wordfreqs_dict_alone() -> None:
    """score/warm.py: the workers read wordfreq's dict anyway (the story terms' priors)."""
    import subprocess
    import sys

    code = (
        "import json\n"
        "from wordfreq import get_frequency_dict\n"
        "import monitor.score.warm\n"
        "from monitor.score import zipf\n"
        "print(json.dumps([zipf.preloaded(), zipf._SHARED, zipf._table.cache_info().currsize,"
        " get_frequency_dict.cache_info().currsize]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [True, True, 0, 1]
