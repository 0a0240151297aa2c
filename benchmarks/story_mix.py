"""What the story-engine experiments share (story_bigram.py, story_embed.py, story_join.py): the
gold replay their teacher-forced measures run on, the engine with a second similarity to each
candidate story, mixed into its join decision or used as a gate, and the eval's online protocol
(each topic half as its own stream, B-cubed F1 with new hits and false "new"). Not a script; the
experiments import it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.changes import stories as S
from monitor.changes.evaluate import story_scores, stream_order
from monitor.changes.offline import parse_article
from monitor.changes.story_signals import number_factor
from monitor.changes.vectors import Vocabulary

Row = dict[str, Any]
GATE_HI = 0.40  # the gate looks only at joins below this similarity (the engine's uncertain band)


class MixClusterer(S.StoryClusterer):
    """The engine with a second similarity to each candidate story (``extra``, which a subclass
    defines for the article being placed): *mix*, similarity = ((1 - beta) * the engine's +
    beta * extra) x the year and number factors; *gate*, a best story in [threshold, GATE_HI)
    whose extra similarity is below ``gate`` is no join (another event)."""

    def __init__(self, threshold: float, beta: float = 0.0, gate: float | None = None) -> None:
        super().__init__(threshold)
        self.beta, self.gate = beta, gate

    def begin(self, article: S.Article) -> None:
        """Before the article is placed: its own side of the second similarity."""
        raise NotImplementedError

    def joined(self, story: str) -> None:
        """After: the article is a member of this story now."""
        raise NotImplementedError

    def extra(self, story: str) -> float:
        """The article's second similarity to a candidate story."""
        raise NotImplementedError

    def assign(
        self, article: S.Article, story_hint: str | None = None, terms: S.ArticleTerms | None = None
    ) -> S.Assignment:
        self.begin(article)
        out = super().assign(article, story_hint, terms)
        self.joined(out.story)
        return out

    def _best(
        self,
        vec: dict[int, float],
        query: list[str],
        when: float | None,
        hint: str | None,
        year: int | None,
        numbers: frozenset[str],
    ) -> tuple[str | None, float]:
        best_id, best, best_extra = None, 0.0, 0.0
        for sid in self.index.candidates(query, when, S.MAX_CANDIDATES):
            story = self._stories.get(sid)
            if story is None:
                continue
            other = self.extra(sid)
            sim = (1.0 - self.beta) * story.similarity(vec, self.centroid_share) + self.beta * other
            if year is not None and story.years and S._year_conflict(year, story.years):
                sim *= self.year_penalty
            sim *= number_factor(numbers, story.numbers, self.number_penalty)
            if sim > best:
                best_id, best, best_extra = sid, sim, other
        if self.gate is not None and self.threshold <= best < GATE_HI and best_extra < self.gate:
            return best_id, 0.0
        return best_id, best


@dataclass(frozen=True)
class Candidate:
    """A story the engine's index offers for an article, as the gold placement built it."""

    sid: str
    story: S._Story
    own: bool  # the article's gold story
    conflict: bool  # the year rule fires
    nf: float  # the number factor

    @property
    def factor(self) -> float:
        """The year and number factors the engine multiplies its similarity by."""
        return (S.YEAR_PENALTY if self.conflict else 1.0) * self.nf


@dataclass(frozen=True)
class GoldStep:
    """One article of a gold replay, before it joins its gold story. `kind`: "first" (a topic's
    first article), "second" (the first article of a topic's second event), "follow"."""

    row: Row
    article: S.Article
    story: str
    topic: str
    kind: str
    ivec: dict[int, float]  # the engine's weighted terms, by the replay's vocabulary ids
    year: int | None
    numbers: frozenset[str]
    candidates: list[Candidate]
    df: S.DocFrequency
    vocab: Vocabulary


def gold_replay(rows: Sequence[Row], seed: int) -> Iterator[GoldStep]:
    """The eval's order of this seed placed by the *gold* stories: every article meets the
    stories as they would be had every earlier decision been right (the engine's terms, index,
    year and number rules). Each article is yielded with its candidates, then joins its story."""
    df, vocab, index = S.DocFrequency(), Vocabulary(), S.MemoryStoryIndex()
    gold: dict[str, S._Story] = {}
    topics: set[str] = set()
    for r in stream_order(rows, seed):
        art = parse_article(r)
        counts = S.term_counts(art.title, art.text, df)
        df.add(counts.keys())
        vec = S.weigh(counts, df)
        query = sorted(vec, key=vec.__getitem__, reverse=True)[: S.QUERY_TERMS]
        year, numbers, ivec = S.article_year(art), S.article_numbers(counts), vocab.vector(vec)
        story, topic = str(r["story"]), str(r.get("topic", r["story"]))
        cands = []
        for sid in index.candidates(query, None, S.MAX_CANDIDATES):
            st = gold[sid]
            conflict = bool(year is not None and st.years and S._year_conflict(year, st.years))
            cands.append(Candidate(sid, st, sid == story, conflict, number_factor(numbers, st.numbers)))
        first = story not in gold
        kind = "second" if first and topic in topics else "first" if first else "follow"
        yield GoldStep(r, art, story, topic, kind, ivec, year, numbers, cands, df, vocab)
        topics.add(topic)
        st = gold.setdefault(story, S._Story(story))
        st.add(ivec, None)
        if year is not None:
            st.years.add(year)
        st.note_numbers(numbers)
        index.add(story, query, None)


def halves(rows: Sequence[Row]) -> tuple[list[Row], list[Row]]:
    """The eval's two topic halves (A = topics 1, 5, 9, ..., B = the others), each its own stream."""
    topics = sorted({str(r.get("topic", r["story"])) for r in rows})
    a, b = set(topics[0::2]), set(topics[1::2])
    return [r for r in rows if str(r.get("topic")) in a], [r for r in rows if str(r.get("topic")) in b]


def online(rows: Sequence[Row], seeds: Sequence[int], make: Callable[[], S.StoryClusterer]) -> dict[str, float]:
    """The eval's story scores, averaged over the orders of these seeds, a fresh clusterer each."""
    tot: dict[str, float] = defaultdict(float)
    for seed in seeds:
        order = stream_order(rows, seed)
        c = make()
        out = [c.assign(parse_article(r)) for r in order]
        sc = story_scores([str(r["story"]) for r in order], [a.story for a in out], [a.new_story for a in out])
        for k, v in sc.items():
            tot[k] += v / len(seeds)
    return dict(tot)


def fmt(d: dict[str, float]) -> str:
    return f"{d['bcubed_f1']:.3f} ({d['new_hits']:.3f}, {d['new_false']:.3f})"
