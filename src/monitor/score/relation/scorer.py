"""Scoring documents against a seed profile, and learning from judgments (pure: no I/O)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import repeat
from operator import itemgetter

from monitor.models import Document, Score
from monitor.score.clean import is_chrome_title
from monitor.score.geo import NAMES
from monitor.score.relation.params import RelationParams
from monitor.score.relation.profile import _Profile
from monitor.score.relation.reading import (
    _Doc,
    _forms,
    _Lexicon,
    _read,
    _read_fast,
    _Sent,
    country_rarity,
    idf,
)
from monitor.score.relation.window import _Ctx, _Eval, _Feats, _windows
from monitor.score.text import REGION_MEMBERS


class RelationScorer:
    """Scores documents against a seed profile's relation and theme; learns from judgments."""

    def __init__(self, profile: _Profile, threshold: float, base_threshold: float, params: RelationParams) -> None:
        self._p = profile
        self._w = params
        self.breadth = profile.breadth
        self.threshold = threshold
        self.base_threshold = base_threshold
        self._learned: dict[str, float] = {}
        self._judged: list[tuple[Document, bool]] = []
        self._rel_vecs: list[dict[str, float]] = []
        self._non_vecs: list[dict[str, float]] = []
        self._knn: list[tuple[str, dict[str, float], float]] = []
        members: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for k, fa in enumerate(profile.facets):
            for c, w in fa.members.items():
                members[c].append((k, w))
        for r, mem in REGION_MEMBERS.items():
            for k, fa in enumerate(profile.facets):
                frac = len(mem & set(fa.members)) / len(mem)
                if frac > 0:
                    members[r].append((k, min(params.region_strength, math.sqrt(frac))))
        self._code_facets = dict(members)
        attached: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for k, fa in enumerate(profile.facets):
            for st, w in fa.attached.items():
                attached[st].append((k, w))
        self._attached = dict(attached)
        # the open facet: with two facets, the one with more member countries is a class that
        # other countries can join (the seeds show several parties on that side)
        self._open = -1
        if len(profile.facets) == 2:
            sizes = [len(fa.members) for fa in profile.facets]
            if sizes[0] != sizes[1]:
                self._open = 0 if sizes[0] > sizes[1] else 1
        self._open_rarity = 1.0
        if self._open >= 0:
            open_members = profile.facets[self._open].members
            self._open_rarity = sum(country_rarity(c) for c in open_members) / len(open_members)
        self._rebuild_vocab()

    def _rebuild_vocab(self) -> None:
        vocab: dict[str, str] = {}
        for st in list(self._p.theme) + list(self._attached) + sorted(self._learned):
            if st[:1] in "#=":
                continue
            for f in _forms(st):
                vocab.setdefault(f, st)
        # places matter only in documents that name a facet's place (or a seed's party, for
        # the nearest seed) or an attached name (see _read_fast)
        if self._p.facets:
            relevant = frozenset(self._code_facets).union(*self._p.seed_codes)
            attached = frozenset(f for f, st in vocab.items() if st in self._attached)
            self._lex = _Lexicon.of(vocab, relevant, attached)
        else:
            self._lex = _Lexicon.of(vocab)
        self._attached_only = frozenset(self._attached).difference(self._p.theme, self._learned)

    # -- internals --
    def _evidence(self, s: _Sent) -> tuple[list[float], set[str], set[str]]:
        """A sentence's facet strengths, terms (facet places as "=code") and facet places."""
        strength = [0.0] * len(self._p.facets)
        places: set[str] = set()
        for _a, _b, c in s.codes:
            fac = self._code_facets.get(c)
            if fac:
                places.add(c)
                for k, w in fac:
                    if w > strength[k]:
                        strength[k] = w
        terms = set(s.stems)
        if not terms.isdisjoint(self._attached):
            for st in terms.intersection(self._attached):
                places.add(self._p.attached_code.get(st, "?"))
                for k, w in self._attached[st]:
                    if w > strength[k]:
                        strength[k] = w
            terms -= self._attached_only
        if places:
            terms.update(["=" + c for c in places])
        if not self._p.facets:
            terms.update(["#" + c for _a, _b, c in s.codes if "#" + c in self._p.theme])
        return strength, terms, places

    def _sent_features(self, s: _Sent) -> tuple[list[float], list[list[str]], set[str]]:
        """``_evidence`` with the facet labels it names (for explanations)."""
        strength, terms, _places = self._evidence(s)
        hits: list[list[str]] = [[] for _ in self._p.facets]
        labels = [(k, NAMES.get(c, c.lstrip("@"))) for _a, _b, c in s.codes for k, _w in self._code_facets.get(c, ())]
        surface = self._p.surface
        labels += [(k, surface.get(st, st).capitalize()) for st in s.stems for k, _w in self._attached.get(st, ())]
        for k, label in labels:
            if label not in hits[k]:
                hits[k].append(label)
        return strength, hits, terms

    def _window_value(
        self, strengths: list[float], terms: set[str], prominence: float, places: set[str]
    ) -> tuple[float, float]:
        """``places``: the window's facet places and attached-name places (without the '=')."""
        w = self._w
        theme = self._p.theme
        t_raw = sum(theme.get(t, 0.0) for t in terms)
        t = 1.0 - math.exp(-t_raw / self._p.theme_z)
        nf = len(strengths)
        if nf >= 2:
            conj = math.prod(strengths) ** (1.0 / nf)
            if conj > 0:
                # a pair of places some seed relates directly beats a generalised pair
                pairs = self._p.pairs
                direct = any((a, b) in pairs for a in places for b in places if a < b)
                conj *= (1.0 if direct else w.pair_generalised) * prominence
            cover = min(1.0, len(places) / w.cover_places)
            single = max(strengths)
            base = w.w_conj * conj + w.w_single * single + w.w_cover * cover + w.w_theme * t
        else:
            base = t
        adj = 0.0
        if self._learned:
            lr = sum(self._learned.get(u, 0.0) for u in terms)
            adj = min(w.learn_up, w.learn_weight * math.tanh(w.learn_gain * lr))
        return base, adj

    def _evaluate(self, doc: Document) -> tuple[_Eval, _Doc]:
        d = _read_fast(doc.text or "", doc.title or "", self._lex)
        cx = self._context(d)
        windows, members = _windows(d, cx.feats, self._w.window_sentences, self._w.window_tokens)
        found = self._search(cx, members)
        best = self._best(cx, found, windows, members)
        if best is not None and self._knn:
            self._knn_vote(doc, best)
        if best is None:
            best = _Eval(0.0, 0.0, (0, 0), [0.0] * cx.nf, [], [])
        elif cx.nf >= 2 and cx.title_idx and not is_chrome_title(doc.title or ""):
            # a title names its item's subject: a facet relation the title does not touch is a
            # side story (a briefing, a round-up, one paragraph of a long page), one it names
            # only one side of is less surely the story; a title that is page chrome (a date,
            # a counter) says nothing
            feats = cx.feats
            named = sum(1 for k in range(cx.nf) if 0 in feats and feats[0][0][k] > 0)
            f = self._w.title_absent ** (1.0 - named / cx.nf)
            best.value *= f
            best.base *= f
        return best, d

    def _context(self, d: _Doc) -> _Ctx:
        """A document's sentence evidence, theme masses, prominence and new party."""
        info = d.info
        nf = len(self._p.facets)
        theme = self._p.theme
        code_facets = self._code_facets
        feats: dict[int, _Feats] = {}
        mass: dict[int, float] = {}
        n_places = n_facet = n_facet_mentions = 0
        for i, s in info.items():
            f = feats[i] = self._evidence(s)
            mass[i] = sum(map(theme.get, f[1], repeat(0.0)))
            n_facet += len(f[2])
            if s.codes:
                n_places += len(s.codes)
                n_facet_mentions += sum(1 for _a, _b, c in s.codes if c in code_facets)
        share = n_facet_mentions / n_places if n_places else (1.0 if n_facet else 0.0)
        prominence = self._prominence(share)
        title_idx = [0] if d.has_title else []
        actor, actor_w, prom_gen = self._actor(info, feats, n_places, n_facet_mentions, prominence)
        w_theme = self._w.w_theme if nf >= 2 else 1.0
        return _Ctx(d, feats, mass, nf, prominence, prom_gen, actor, actor_w, title_idx, w_theme, self._learned)

    def _prominence(self, share: float) -> float:
        """How much the window's value counts given the share of the document's places that are
        facet places: from ``prominence_floor`` (none) to 1."""
        floor = self._w.prominence_floor
        return floor + (1.0 - floor) * min(1.0, self._w.prominence_gain * share)

    def _actor(
        self, info: dict[int, _Sent], feats: dict[int, _Feats], n_places: int, n_facet_mentions: int, prominence: float
    ) -> tuple[str | None, float, float]:
        """The document's own main country, when it is in no facet, may stand in for a missing
        facet: a page about X's ties with a facet country is the seed relation with a new
        party.  Credit is partial and needs the seeds' relation-bearing terms.  Returns the
        party (or None), its weight and the prominence with it."""
        w = self._w
        actor = self._main_outsider(list(info.values())) if self._open >= 0 and n_facet_mentions else None
        if actor is not None:
            # the relation must be the document's subject: stated (actor and the closed facet
            # in one sentence) at least twice
            closed = 1 - self._open
            stated = sum(
                1
                for i, s in info.items()
                if feats[i][0][closed] >= w.stated_strength and any(c == actor for _a, _b, c in s.codes)
            )
            if stated < w.gen_min_stated:
                actor = None
        actor_w = 0.0
        if actor is not None:
            # like a term, a new party is evidence in proportion to its background rarity,
            # relative to the open facet's own members (a much-covered country is weak evidence)
            actor_w = min(1.0, country_rarity(actor) / self._open_rarity) ** w.gen_rarity_power
        prom_gen = prominence
        if actor is not None:
            n_actor = sum(1 for s in info.values() for _a, _b, c in s.codes if c == actor)
            share_g = (n_facet_mentions + n_actor) / n_places if n_places else 1.0
            prom_gen = self._prominence(share_g)
        return actor, actor_w, prom_gen

    def _place_less(self, cx: _Ctx, w: list[int]) -> tuple[float, float]:
        # no facet place in the window: only the theme (and what feedback taught) counts
        no_terms: set[str] = set()
        terms = no_terms.union(*(cx.feats[i][1] for i in w))
        theme = self._p.theme
        base = cx.w_theme * (1.0 - math.exp(-sum(theme.get(t, 0.0) for t in terms) / self._p.theme_z))
        adj = 0.0
        learned = cx.learned
        if learned:
            wp = self._w
            adj = min(wp.learn_up, wp.learn_weight * math.tanh(wp.learn_gain * sum(learned.get(u, 0.0) for u in terms)))
        return base, adj

    def _with_places(self, cx: _Ctx, w: list[int]) -> tuple[float, float, list[float]]:
        nf, feats, actor = cx.nf, cx.feats, cx.actor
        strengths = [0.0] * nf
        terms: set[str] = set()
        places: set[str] = set()
        rel_terms: set[str] | None = None
        for i in w:
            st, tm, pl = feats[i]
            for k in range(nf):
                if st[k] > strengths[k]:
                    strengths[k] = st[k]
            terms |= tm
            places |= pl
            if (
                actor is not None
                and any(c == actor for _a, _b, c in cx.d.info[i].codes)
                and st[1 - self._open] >= self._w.stated_strength
            ):
                # the actor and the other facet named in one sentence: a stated relation
                rel_terms = (rel_terms or set()) | tm
        prom = cx.prominence
        k_open = self._open
        gen_actor, same_facet = self._w.gen_actor, self._w.same_facet
        if rel_terms is not None and strengths[k_open] < gen_actor:
            for i in cx.title_idx:
                if i in feats:
                    rel_terms |= feats[i][1]
            rel = sum(self._p.relation.get(t, 0.0) for t in rel_terms)
            g = gen_actor * (1.0 - math.exp(-rel / self._p.relation_z)) * cx.actor_w
            if g > strengths[k_open]:
                strengths[k_open] = g
                prom = cx.prom_gen
        if nf == 2 and len(places) >= 2:
            # two members of one facet related in the seeds' terms (the partners dealing
            # with each other, the bloc acting together): adjacent coverage, partial credit
            for k in range(nf):
                same = {c for c in places if c[:1] != "@" and k in self._facets_of(c)}
                if len(same) >= 2 and strengths[1 - k] < same_facet:
                    rel = sum(self._p.relation.get(t, 0.0) for t in terms)
                    alt = same_facet * (1.0 - math.exp(-rel / self._p.relation_z))
                    strengths[1 - k] = max(strengths[1 - k], alt)
        base, adj = self._window_value(strengths, terms, prom, places)
        return base, adj, strengths

    def _search(self, cx: _Ctx, members: list[list[int]]) -> dict[int, tuple[float, float, list[float]]]:
        """The windows worth a look, by index, with their base, adjustment and strengths."""
        # windows naming a facet place first: the best of them bounds which place-less windows
        # need a look (their value is at most the theme of the sum of their sentences' masses);
        # those are looked at by that bound, best first, until the bound cannot beat the best
        placed = {i for i, f in cx.feats.items() if f[2]}
        has_place = [not placed.isdisjoint(m) for m in members]
        found: dict[int, tuple[float, float, list[float]]] = {}
        for j, m in enumerate(members):
            if has_place[j]:
                found[j] = self._with_places(cx, m)
        top = max((min(1.0, max(0.0, b + a)) for b, a, _s in found.values()), default=-1.0)
        room = self._w.learn_up if cx.learned else 0.0
        # a place-less window's value is at most its bound, increasing in the sum of its
        # sentences' theme masses: look at them by that sum, largest first
        mass = cx.mass
        msum = {j: sum(map(mass.__getitem__, m)) for j, m in enumerate(members) if not has_place[j]}
        best_seen = top
        for j, x in sorted(msum.items(), key=itemgetter(1), reverse=True):
            bound = cx.w_theme * (1.0 - math.exp(-x / self._p.theme_z)) + room
            if bound <= top or bound < best_seen - 1e-9:
                break
            b, a = self._place_less(cx, members[j])
            found[j] = (b, a, [0.0] * cx.nf)
            best_seen = max(best_seen, min(1.0, max(0.0, b + a)))
        return found

    @staticmethod
    def _best(
        cx: _Ctx,
        found: dict[int, tuple[float, float, list[float]]],
        windows: list[tuple[int, int]],
        members: list[list[int]],
    ) -> _Eval | None:
        """The best window looked at (the first of equals)."""
        no_terms: set[str] = set()
        best: _Eval | None = None
        for j in sorted(found):
            base, adj, strengths = found[j]
            val = min(1.0, max(0.0, base + adj))
            if best is None or val > best.value + 1e-12:
                terms = no_terms.union(*(cx.feats[i][1] for i in members[j]))
                best = _Eval(val, base, windows[j], strengths, [], sorted(terms))
        return best

    def _knn_vote(self, doc: Document, best: _Eval) -> None:
        # the judged documents most like this one vote (a document never votes on itself,
        # so re-scoring the judged ones for the threshold stays honest)
        v = self._doc_vector(doc)
        sims = sorted(
            ((sum(x * vec.get(k, 0.0) for k, x in v.items()), y) for i, vec, y in self._knn if i != doc.id),
            reverse=True,
        )[: self._w.knn_k]
        tot = sum(s for s, _y in sims if s > 0)
        if tot > 0:
            vote = sum(s * y for s, y in sims if s > 0) / tot
            best.value = min(1.0, max(0.0, best.value + self._w.knn_weight * vote * sims[0][0]))

    def _facets_of(self, code: str) -> set[int]:
        return {k for k, _w in self._code_facets.get(code, ())}

    def _main_outsider(self, sents: list[_Sent]) -> str | None:
        """The document's most salient country when it belongs to no facet (title counts
        double), provided a facet country is also named; else None."""
        sal: Counter[str] = Counter()
        facet_seen = False
        for s in sents:
            for _a, _b, c in s.codes:
                if c.startswith("@"):
                    continue
                if c in self._code_facets:
                    facet_seen = True
                sal[c] += self._w.title_salience if s.is_title else 1
        if not facet_seen or not sal:
            return None
        (top, v), *rest = sorted(sal.items(), key=lambda kv: (-kv[1], kv[0]))
        if top in self._code_facets or v < self._w.outsider_min_mentions or (rest and rest[0][1] == v):
            return None
        return top

    # -- public --
    def score(self, doc: Document) -> Score:
        return self.explain(*self._evaluate(doc))

    def read(self, doc: Document) -> tuple[_Eval, _Doc]:
        """The value and the reading of a document (its sentences' tokens serve the lexical
        features too, so a document is tokenised once)."""
        return self._evaluate(doc)

    def explain(self, ev: _Eval, d: _Doc) -> Score:
        value = round(ev.value, 6)
        if not d.texts:
            return Score(value=0.0, match=False)
        lo, hi = ev.win  # the winning window (the title counts with every window)
        idx = ([0] if d.has_title and lo > 0 else []) + list(range(lo, hi + 1))
        nf = len(self._p.facets)
        hits: list[list[str]] = [[] for _ in range(nf)]
        best_sent, best_sv = "", -1.0
        for i in idx:
            s = d.info.get(i)
            sv = 0.0
            if s is not None:
                st, h, tm = self._sent_features(s)
                for k in range(nf):
                    for x in h[k]:
                        if x not in hits[k]:
                            hits[k].append(x)
                sv = sum(st) + self._w.explain_theme_weight * sum(self._p.theme.get(t, 0.0) for t in tm)
            if not (d.has_title and i == 0) and sv > best_sv:
                best_sent, best_sv = d.texts[i], sv
        if not best_sent:
            best_sent = d.texts[idx[0]] if idx else ""
        facets = tuple(f"{fa.label}: {', '.join(hits[k])}" for k, fa in enumerate(self._p.facets) if hits[k])

        def weight(t: str) -> tuple[float, str]:
            return (-(self._p.theme.get(t, 0.0) + self._learned.get(t, 0.0)), t)

        ranked = sorted((t for t in ev.terms if t[:1] != "="), key=weight)
        terms = tuple(self._p.surface.get(t, t.lstrip("#")) for t in ranked[: self._w.explain_terms])
        # nearest seed: shared weighted terms and places
        doc_codes = {c for s in d.info.values() for _a, _b, c in s.codes}
        doc_terms = set(ev.terms)
        sims = []
        for j, seed_vec in enumerate(self._p.seed_terms):
            v = sum(seed_vec.get(t, 0.0) for t in doc_terms)
            v += self._w.explain_place_weight * len(doc_codes & self._p.seed_codes[j])
            sims.append((v, -j))
        nearest = self._p.seed_names[-max(sims)[1]] if sims and max(sims)[0] > 0 else ""
        return Score(
            value=value,
            match=value >= self.threshold,
            nearest_seed=nearest,
            facets=facets,
            terms=terms,
            sentence=best_sent[: self._w.explain_sentence_chars],
        )

    def _doc_vector(self, doc: Document) -> dict[str, float]:
        sents = _read((doc.text or "")[: self._w.opening_chars], doc.title or "")
        tf: Counter[str] = Counter()
        for s in sents[: self._w.opening_sentences]:  # the opening: title and lead carry the story
            for st in s.stems:
                tf[st] += 1
        vec = {}
        for st, c in tf.items():
            w = idf(self._p.surface.get(st, st))
            if w > 0:
                vec[st] = w * (1 + math.log(c))
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {k: v / norm for k, v in vec.items()}

    def learn(self, doc: Document, relevant: bool) -> None:
        """Rocchio-style term feedback plus threshold adaptation on judged documents."""
        self.learn_many([(doc, relevant)])

    def learn_many(self, judged: Sequence[tuple[Document, bool]]) -> None:
        """learn() for each, with the learned terms, vocabulary and threshold rebuilt once: the
        same final state (they are functions of all judged documents; a document's vector uses
        the seed profile only), at one re-scoring of the judged instead of one per judgment."""
        if not judged:
            return
        self._take(judged, [self._doc_vector(doc) for doc, _relevant in judged])
        self._adapt_threshold()

    def restore(
        self, judged: Sequence[tuple[Document, bool]], vectors: Sequence[dict[str, float]], threshold: float
    ) -> None:
        """learn_many's state from what it computed before (each judged document's opening
        vector, in order, and the adapted threshold): nothing is read or re-scored."""
        if judged:
            self._take(judged, vectors)
        self.threshold = threshold

    @property
    def judged_vectors(self) -> list[dict[str, float]]:
        """The judged documents' opening vectors, in the order learnt (for ``restore``)."""
        return [vec for _id, vec, _y in self._knn]

    def _take(self, judged: Sequence[tuple[Document, bool]], vectors: Sequence[dict[str, float]]) -> None:
        for (doc, relevant), dv in zip(judged, vectors, strict=True):
            self._judged.append((doc, relevant))
            (self._rel_vecs if relevant else self._non_vecs).append(dv)
            self._knn.append((doc.id, dv, 1.0 if relevant else -1.0))
        learned: dict[str, float] = defaultdict(float)
        for vecs, sign in ((self._rel_vecs, 1.0), (self._non_vecs, -1.0)):
            if not vecs:
                continue
            for vec in vecs:
                for k, v in vec.items():
                    learned[k] += sign * v / len(vecs)
        self._learned = {k: v for k, v in learned.items() if abs(v) > 1e-9}
        self._rebuild_vocab()

    def _adapt_threshold(self) -> None:
        scored = sorted(((self._evaluate(d)[0].value, r) for d, r in self._judged), key=lambda x: x[0])
        if not scored:
            return
        base = self.base_threshold
        cands = {base}
        for v, _r in scored:
            cands.add(v)
            cands.add(v + 1e-6)
        best = None
        for th in sorted(cands):
            if not base - self._w.threshold_down <= th <= base + self._w.threshold_up:
                continue
            u = sum((self._w.relevant_gain if r else -1.0) for v, r in scored if v >= th)
            key = (u, -abs(th - base))
            if best is None or key > best[0]:
                best = (key, th)
        if best is not None:
            self.threshold = best[1]
