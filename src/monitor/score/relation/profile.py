"""The seed profile of the relation model: facets, theme and relation terms (pure: no I/O)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from monitor.models import Seed
from monitor.score.geo import NAMES
from monitor.score.relation.params import RelationParams
from monitor.score.relation.reading import _Sent, idf
from monitor.score.text import stem


@dataclass
class _Facet:
    label: str
    members: dict[str, float]  # country code -> weight
    attached: dict[str, float] = field(default_factory=dict)  # stem -> weight


def _seed_parties(sents: list[_Sent], p: RelationParams) -> tuple[dict[str, float], list[set[str]]]:
    """Salience of each country in a seed, and coordinated lists of countries."""
    sal: dict[str, float] = defaultdict(float)
    lists: list[set[str]] = []
    for k, s in enumerate(sents):
        boost = p.seed_first_salience if k == 0 else 1.0
        run: list[str] = []
        prev_end = -10
        for a, b, c in s.codes:
            if c.startswith("@"):
                continue
            sal[c] += boost
            gap = s.folded[prev_end:a] if prev_end >= 0 else None
            if gap is not None and all(g in {"and", "or", "nor"} for g in gap) and len(gap) <= p.list_max_gap:
                run.append(c)
            else:
                if len(set(run)) >= p.list_min_countries:
                    lists.append(set(run))
                run = [c]
            prev_end = b
        if len(set(run)) >= p.list_min_countries:
            lists.append(set(run))
    return sal, lists


def _groups(sal: dict[str, float], lists: list[set[str]], p: RelationParams) -> list[set[str]]:
    """The seed's two parties: top country (+ its list mates) and the top other one."""
    if not sal:
        return []
    ranked = sorted(sal.items(), key=lambda kv: (-kv[1], kv[0]))
    top = ranked[0][1]

    def group_of(c: str) -> set[str]:
        g = {c}
        for lst in lists:
            if c in lst:
                g |= {x for x in lst if sal.get(x, 0.0) >= p.list_mate_share * top}
        return g

    g1 = group_of(ranked[0][0])
    rest = [(c, v) for c, v in ranked if c not in g1]
    if not rest or rest[0][1] < p.second_party_share * top:
        return [g1]
    g2 = group_of(rest[0][0]) - g1
    return [g1, g2]


def _two_colour(
    edges_diff: dict[tuple[str, str], float], edges_same: dict[tuple[str, str], float], max_exact: int
) -> tuple[set[str], set[str]]:
    """Two sides maximising agreement with the edges: exactly (every split) up to ``max_exact``
    nodes, by local search beyond."""
    nodes = sorted({x for e in list(edges_diff) + list(edges_same) for x in e})
    if not nodes:
        return set(), set()
    best: tuple[float, int] | None = None
    n = len(nodes)
    if n <= max_exact:
        candidates = range(1 << (n - 1))
    else:  # greedy fallback for very many nodes
        candidates = range(1)
    best_mask = 0
    for mask in candidates:
        side = {nodes[i]: (mask >> i) & 1 for i in range(n)}
        val = 0.0
        for (a, b), w in edges_diff.items():
            val += w if side[a] != side[b] else -w
        for (a, b), w in edges_same.items():
            val += w if side[a] == side[b] else -w
        if best is None or val > best[0] + 1e-12:
            best = (val, mask)
            best_mask = mask
    if n > max_exact:  # local search
        side = {x: 0 for x in nodes}
        changed = True
        while changed:
            changed = False
            for x in nodes:

                def gain(v: int, x: str = x) -> float:
                    g = 0.0
                    for (a, b), w in edges_diff.items():
                        if x in (a, b):
                            o = b if a == x else a
                            g += w if v != side[o] else -w
                    for (a, b), w in edges_same.items():
                        if x in (a, b):
                            o = b if a == x else a
                            g += w if v == side[o] else -w
                    return g

                if gain(1 - side[x]) > gain(side[x]) + 1e-12:
                    side[x] = 1 - side[x]
                    changed = True
        a_side = {x for x in nodes if side[x] == 0}
    else:
        a_side = {nodes[i] for i in range(n) if not (best_mask >> i) & 1}
    return a_side, set(nodes) - a_side


@dataclass
class _Profile:
    facets: list[_Facet]
    theme: dict[str, float]
    seed_terms: list[dict[str, float]]
    seed_codes: list[set[str]]
    seed_names: list[str]
    theme_z: float
    surface: dict[str, str]  # stem -> a surface form for explanations
    pairs: set[tuple[str, str]] = field(default_factory=set)  # place pairs a seed relates
    attached_code: dict[str, str] = field(default_factory=dict)  # attached stem -> place
    relation: dict[str, float] = field(default_factory=dict)  # stem -> relation-bearing weight
    relation_z: float = 1.0
    pair_share: float = 0.0  # share of seeds that relate two parties of their own

    @property
    def structure(self) -> float:
        """How much the seeds are about a relation between two sides (0: not at all, 1: every
        seed relates the two facets): what the combination lets the relation features earn."""
        return self.pair_share if len(self.facets) == 2 else 0.0

    @property
    def breadth(self) -> float:
        """The structure times the log of the number of distinct party pairs the seeds relate:
        0 for seeds about one pair (an event between two countries, where the words already say
        it), growing for seeds that relate many parties (the topic is the relation itself)."""
        pairs = len(self.pairs) // 2  # both directions are kept
        return self.structure * math.log(pairs) if pairs > 1 else 0.0


def _relations(
    seed_reads: list[list[_Sent]], n: int, p: RelationParams
) -> tuple[list[_Facet], list[set[str]], set[tuple[str, str]], list[bool]]:
    """The facets (the seeds' parties 2-coloured), each seed's parties, the party pairs the
    seeds relate (both directions) and which seeds relate two parties."""
    diff: dict[tuple[str, str], float] = defaultdict(float)
    same: dict[tuple[str, str], float] = defaultdict(float)
    seed_codes: list[set[str]] = []
    pairs: set[tuple[str, str]] = set()
    pair_seeds: list[bool] = []
    for sents in seed_reads:
        sal, lists = _seed_parties(sents, p)
        groups = _groups(sal, lists, p)
        seed_codes.append(set().union(*groups) if groups else set())
        pair_seeds.append(len(groups) == 2)
        if len(groups) == 2:
            for a in groups[0]:
                for b in groups[1]:
                    diff[tuple(sorted((a, b)))] += 1.0  # type: ignore[index]
                    pairs.add((a, b))
                    pairs.add((b, a))
        for g in groups:
            for a in g:
                for b in g:
                    if a < b:
                        same[(a, b)] += 1.0
    side_a, side_b = _two_colour(dict(diff), dict(same), p.max_exact_colouring)
    facets: list[_Facet] = []
    relational = sum(1 for x in pair_seeds if x)
    # a relation is the topic only when several seeds show one (a list of launch countries in
    # a single seed is not a relation)
    if side_a and side_b and relational >= min(p.min_relational_seeds, n):
        for side in (side_a, side_b):
            label = "/".join(sorted(NAMES.get(c, c) for c in side))
            facets.append(_Facet(label, {c: 1.0 for c in sorted(side)}))
    return facets, seed_codes, pairs, pair_seeds


def _theme_terms(
    seed_reads: list[list[_Sent]], n: int, p: RelationParams
) -> tuple[dict[str, float], list[dict[str, float]], dict[str, str]]:
    """The seeds' theme terms (the strongest ``theme_size``), each seed's weighted terms, and a
    surface form of each stem."""
    df: Counter[str] = Counter()
    tf_all: list[Counter[str]] = []
    surface: dict[str, str] = {}
    for sents in seed_reads:
        tf: Counter[str] = Counter()
        for s in sents:
            inplace: set[int] = set()
            for p0, p1, _c in s.codes:
                inplace.update(range(p0, p1))
            for i, f in enumerate(s.folded):
                if i in inplace or idf(f) <= 0:
                    continue
                st = stem(f)
                tf[st] += 1
                surface.setdefault(st, f)
        tf_all.append(tf)
        df.update(tf.keys())
    seed_terms: list[dict[str, float]] = []
    for tf in tf_all:
        seed_terms.append({t: idf(surface[t]) * (1 + math.log(c)) for t, c in tf.items()})
    theme: dict[str, float] = {}
    for t, d in df.items():
        tot = sum(tf[t] for tf in tf_all)
        if d < p.theme_min_seeds and tot < p.theme_min_count:
            continue
        theme[t] = idf(surface[t]) * (d / n) ** p.theme_share_power * (1 + math.log(tot) / p.theme_count_damping)
    top = sorted(theme.items(), key=lambda kv: (-kv[1], kv[0]))[: p.theme_size]
    return dict(top), seed_terms, surface


def _attach_names(seed_reads: list[list[_Sent]], facets: list[_Facet], p: RelationParams) -> dict[str, str]:
    """Proper names glued to a facet's place in the seeds join that facet (``facets`` gain
    them); returns each attached stem's place."""
    attached_code: dict[str, str] = {}
    votes: dict[str, Counter[int]] = defaultdict(Counter)
    code_votes: dict[str, Counter[str]] = defaultdict(Counter)
    for sents in seed_reads:
        for s in sents:
            fpos: list[tuple[int, int, int]] = []
            for p0, p1, c in s.codes:
                for k, fa in enumerate(facets):
                    if c in fa.members:
                        fpos.append((p0, p1, k))
            if not fpos:
                continue
            near = {i for p0, p1, _ in fpos for i in range(p0, p1)}
            for i, tok in enumerate(s.raw):
                if i == 0 or i in near or not tok[:1].isupper() or tok.isupper():
                    continue
                f = s.folded[i]
                if idf(f) < p.zipf_ceiling - p.attached_max_zipf:  # rare names only
                    continue
                dist = [(min(abs(i - p0), abs(i - (p1 - 1))), k, p0) for p0, p1, k in fpos]
                d, k, at = min(dist)
                if d <= p.attached_distance:
                    votes[stem(f)][k] += 1
                    code_votes[stem(f)][next(c for x, _y, c in s.codes if x == at)] += 1
    for st, v in sorted(votes.items()):
        (k, c1), *rest = v.most_common()
        if rest and rest[0][1] == c1:
            continue
        facets[k].attached[st] = p.attached_weight
        attached_code[st] = code_votes[st].most_common(1)[0][0]
    return attached_code


def _relation_terms(
    seed_reads: list[list[_Sent]], facets: list[_Facet], theme: dict[str, float], n: int, p: RelationParams
) -> tuple[dict[str, float], float]:
    """Relation-bearing terms: theme terms of seed sentences that hold both facets, weighted by
    the share of seeds that use them so (what the seeds say about the relation itself); and
    their normaliser."""
    rdf: Counter[str] = Counter()
    for sents in seed_reads:
        seen_r: set[str] = set()
        for s in sents:
            cs = {c for _a, _b, c in s.codes}
            if all(cs & set(fa.members) for fa in facets):
                seen_r.update(t for t in s.stems if t in theme)
        rdf.update(seen_r)
    least = p.relation_min_seeds
    relation = {t: theme[t] * d / n for t, d in rdf.items() if d >= least or n <= least}
    masses = sorted(sum(relation.get(t, 0.0) for t in {t for s in sents for t in s.stems}) for sents in seed_reads)
    relation_z = max(1.0, masses[len(masses) // 2] / p.relation_z_divisor) if masses else 1.0
    return relation, relation_z


def _theme_z(seed_reads: list[list[_Sent]], theme: dict[str, float], p: RelationParams) -> float:
    """The theme normaliser: what a seed's opening window holds."""
    leads = []
    for sents in seed_reads:
        seen: set[str] = set()
        ntok = 0
        for s in sents:
            seen.update(s.stems)
            ntok += s.ntok
            if ntok >= p.window_tokens:
                break
        leads.append(sum(theme.get(t, 0.0) for t in seen))
    leads.sort()
    return leads[len(leads) // 2] / p.theme_z_divisor if leads and leads[len(leads) // 2] > 0 else 1.0


def _build_profile(seeds: Sequence[Seed], seed_reads: list[list[_Sent]], p: RelationParams) -> _Profile:
    n = max(1, len(seeds))
    facets, seed_codes, pairs, pair_seeds = _relations(seed_reads, n, p)
    theme, seed_terms, surface = _theme_terms(seed_reads, n, p)
    if not facets:
        # no relational structure: places are ordinary theme features
        for codes in seed_codes:
            for c in codes:
                theme["#" + c] = theme.get("#" + c, 0.0) + p.place_theme_weight / n
    attached_code: dict[str, str] = _attach_names(seed_reads, facets, p) if facets else {}
    relation: dict[str, float] = {}
    relation_z = 1.0
    if facets:
        relation, relation_z = _relation_terms(seed_reads, facets, theme, n, p)
    z = _theme_z(seed_reads, theme, p)
    return _Profile(
        facets,
        theme,
        seed_terms,
        seed_codes,
        [s.name for s in seeds],
        z,
        surface,
        pairs,
        attached_code,
        relation,
        relation_z,
        sum(pair_seeds) / len(pair_seeds) if pair_seeds else 0.0,
    )
