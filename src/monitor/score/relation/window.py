"""A document's windows and what one evaluation knows about it (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.score.relation.reading import _Doc


@dataclass
class _Eval:
    value: float
    base: float
    win: tuple[int, int]
    strengths: list[float]
    hits: list[list[str]]
    terms: list[str]


_Feats = tuple[list[float], set[str], set[str]]  # a sentence's facet strengths, terms, places


@dataclass(slots=True)
class _Ctx:
    """What one evaluation knows about a document before looking at its windows."""

    d: _Doc
    feats: dict[int, _Feats]  # by informative sentence index
    mass: dict[int, float]  # each informative sentence's theme mass
    nf: int  # the number of facets
    prominence: float
    prom_gen: float  # the prominence when the new party stands in for a facet
    actor: str | None  # the new party (the document's own main country in no facet)
    actor_w: float
    title_idx: list[int]
    w_theme: float
    learned: dict[str, float]


def _windows(
    d: _Doc, feats: dict[int, _Feats], max_sentences: int, max_tokens: int
) -> tuple[list[tuple[int, int]], list[list[int]]]:
    """Windows as (first, last) sentence index and their informative sentences (the title's
    too); a window starts at the first body sentence and at each sentence with evidence (a
    term or a facet place; one starting elsewhere is dominated by the one at the next such
    sentence) and takes up to ``max_sentences`` within ``max_tokens``."""
    info = d.info
    ntok = d.ntok
    n = len(ntok)
    b0 = 1 if d.has_title else 0  # the first body sentence
    windows: list[tuple[int, int]] = []
    members: list[list[int]] = []
    if n == 0:
        pass  # nothing readable: no window, value 0
    elif b0 == n:
        windows = [(0, 0)]
        members = [[0] if 0 in info else []]
    else:
        head = [0] if d.has_title and 0 in info else []
        for i in [b0] + [i for i in info if i > b0 and feats[i][1]]:
            end = i
            nt = ntok[i]
            lim = min(n, i + max_sentences)
            while end + 1 < lim and nt + ntok[end + 1] <= max_tokens:
                end += 1
                nt += ntok[end]
            windows.append((i, end))
            members.append(head + [k for k in range(i, end + 1) if k in info])
    return windows, members
