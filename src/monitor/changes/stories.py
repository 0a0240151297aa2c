"""Online story clustering in arrival order (pure; candidate lookup behind `StoryIndex`).

An article is compared with a bounded set of candidate stories (those sharing its most
distinctive terms, found through an index) and joins the most similar one if the similarity,
decayed by the time since the story last grew, reaches a threshold; otherwise it starts a new
story. Terms are weighted by TF-IDF where the document frequency is maintained incrementally
over the stream and smoothed by a background prior from general-language word frequencies, so
the first articles of a stream are already weighted sensibly and words that a stream repeats
(the "earthquake" of every earthquake story) lose weight against names, places and numbers.
"""

from __future__ import annotations

import math
import re
from collections import Counter, OrderedDict, defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Protocol

from .story_signals import number_factor
from .story_state import ClustererState, FrequencyState, StoryState
from .text import STOPWORDS, WORD_RE, doc_probability, fold, headline, iter_sentences, stem, text_date
from .vectors import TermVector, Vocabulary

# Defaults; each is a documented, principled choice (docs/changes.md), the threshold fitted by
# cross-validation over topics.
THRESHOLD = 0.25
TITLE_WEIGHT = 3.0  # a headline word counts as much as three body mentions
ENTITY_WEIGHT = 2.0
PRIOR_DOCS = 1000.0  # strength of the background document-frequency prior, in pseudo-documents
CENTROID_SHARE = 0.5  # similarity = share * centroid + (1 - share) * best member
HALF_LIFE_DAYS = 3.0  # similarity halves for every three days a story has not grown
WINDOW_DAYS = 30.0  # stories silent for longer are no longer candidates
MAX_MEMBERS = 8  # most recent members compared one by one
QUERY_TERMS = 16  # distinctive terms an article is looked up by
MAX_CANDIDATES = 12
# a candidate's centroid of at least LOOKUP_TERMS terms is compared through a dict of it, kept for
# the latest such candidates up to LOOKUP_ENTRIES entries in all (~60 bytes each): a big story's
# centroid has thousands of terms, an article ~150, and big stories are candidates again and again
LOOKUP_TERMS = 512
LOOKUP_ENTRIES = 200_000
YEAR_GAP = 2  # an article whose own year is this much later than every year of a story: another event
YEAR_PENALTY = 0.7  # similarity factor for such a conflict (1.0: off)
NUMBER_PENALTY = 0.8  # base of the factor when article and story share no number (story_signals; 1.0: off)
MAX_NUMBERS = 256  # numbers a story remembers (its latest)
TEXT_WORDS = 400  # leading body words used: a story's facts come first, and cost stays bounded


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    text: str = ""
    url: str | None = None
    feed: str | None = None
    published: datetime | None = None


@dataclass(frozen=True)
class Assignment:
    article_id: str
    story: str
    new_story: bool
    similarity: float


class StoryIndex(Protocol):
    """Candidate stories by shared terms; a store can back this with FTS5/BM25 or a term table."""

    def add(self, story: str, terms: Sequence[str], when: float | None) -> None: ...

    def candidates(self, terms: Sequence[str], when: float | None, limit: int) -> list[str]: ...


class MemoryStoryIndex:
    """In-memory inverted index: term -> recent stories (bounded lists, so lookups stay O(1))."""

    def __init__(self, per_term: int = 64, window_days: float = WINDOW_DAYS) -> None:
        self._post: dict[str, deque[str]] = {}
        self._last: dict[str, float | None] = {}
        self._per_term = per_term
        self._window = window_days * 86400.0

    def add(self, story: str, terms: Sequence[str], when: float | None) -> None:
        for t in terms:
            post = self._post.get(t)
            if post is None:
                post = self._post[t] = deque(maxlen=self._per_term)
            if story in post:
                post.remove(story)
            post.append(story)
        self._last[story] = when

    def candidates(self, terms: Sequence[str], when: float | None, limit: int) -> list[str]:
        hits: Counter[str] = Counter()
        for rank, t in enumerate(terms):
            for s in self._post.get(t, ()):
                hits[s] += len(terms) - rank  # earlier (more distinctive) terms count more
        out = []
        for s, _ in hits.most_common():
            last = self._last.get(s)
            if when is not None and last is not None and when - last > self._window:
                continue
            out.append(s)
            if len(out) == limit:
                break
        return out


class DocFrequency:
    """Document frequency over the stream, smoothed by a general-language prior."""

    def __init__(self, prior_docs: float = PRIOR_DOCS, lang: str = "en") -> None:
        self.n = 0
        self.df: Counter[str] = Counter()
        self._prior: dict[str, float] = {}
        self._prior_docs = prior_docs
        self._lang = lang

    def note_surface(self, term: str, surface: str) -> None:
        if term not in self._prior:
            self._prior[term] = self._prior_docs * doc_probability(surface, self._lang)

    def note_probabilities(self, probabilities: Mapping[str, float]) -> None:
        """`note_surface` for terms whose surface was looked up elsewhere (`ArticleTerms`)."""
        for term, probability in probabilities.items():
            if term not in self._prior:
                self._prior[term] = self._prior_docs * probability

    def idf(self, term: str) -> float:
        prior = self._prior.get(term, 0.0)
        return math.log((self.n + self._prior_docs + 1.0) / (self.df[term] + prior + 1.0))

    def add(self, terms: Iterable[str]) -> None:
        self.n += 1
        self.df.update(terms)

    def state(self) -> FrequencyState:
        return FrequencyState(self.n, dict(self.df), dict(self._prior))

    def restore(self, state: FrequencyState) -> None:
        self.n = state.n
        self.df = Counter(state.df)
        self._prior = dict(state.prior)


def term_counts(title: str, text: str, df: DocFrequency | None = None) -> dict[str, float]:
    """Stemmed content-word counts; headline words weighted by TITLE_WEIGHT, and names and
    numbers (capitalised inside a sentence, or digits) by ENTITY_WEIGHT: they tell one event
    from another of the same kind. `df` notes each term's first surface form (a later one
    would not change what it noted)."""
    out, surfaces = _counts(title, text)
    if df is not None:
        for t, f in surfaces.items():
            df.note_surface(t, f)
    return out


class _WordTerms(dict[str, tuple[str, str, bool, bool] | None]):
    """A word as `term_counts` reads it: None for a stopword or a lone letter, else its term
    (stem of the folded word), the folded word, whether it is a name or a number (capital or
    digit first) and whether it is a number; filled as words are met (bounded), so the words of
    a text are folded and stemmed once per process, not once per occurrence."""

    def __missing__(self, word: str) -> tuple[str, str, bool, bool] | None:
        f = fold(word)
        entry: tuple[str, str, bool, bool] | None = None
        if not (f in STOPWORDS or (len(f) < 2 and not f.isdigit())):
            digit = word[0].isdigit()
            entry = (stem(f), f, digit or word[0].isupper(), digit)
        if len(self) < 50_000:  # ~200 bytes an entry (the strings shared with fold's and stem's caches)
            self[word] = entry
        return entry


_WORD_TERMS = _WordTerms()


def _counts(title: str, text: str) -> tuple[defaultdict[str, float], dict[str, str]]:
    """(`term_counts`, each term's first surface form), both in the order terms are first met."""
    out: defaultdict[str, float] = defaultdict(float)
    surfaces: dict[str, str] = {}
    title, text = headline(title, text)
    budget = TEXT_WORDS
    entry_of = _WORD_TERMS.__getitem__
    for weight, part in ((TITLE_WEIGHT, title), (1.0, text)):
        in_title = weight > 1.0  # a headline's first word is a name when capitalised, too
        for sent in iter_sentences(part):
            toks = WORD_RE.findall(sent)
            for n, entry in enumerate(map(entry_of, toks)):
                if entry is None:
                    continue
                t, f, capital_or_digit, digit = entry
                if t not in surfaces:
                    surfaces[t] = f
                named = digit or (capital_or_digit and (n > 0 or in_title))
                out[t] += weight * (ENTITY_WEIGHT if named else 1.0)
            if weight == 1.0:
                budget -= len(toks)
                if budget <= 0:
                    return out, surfaces
    return out, surfaces


@dataclass(frozen=True)
class ArticleTerms:
    """An article's `term_counts` and the word-frequency probability of each term's first surface
    form, computed away from the clusterer (in the worker process that extracted the article):
    `assign` given them does no stemming or word-frequency look-up, and places the article exactly
    as it would have from its text."""

    counts: dict[str, float]
    probabilities: dict[str, float]
    lang: str = "en"


@lru_cache(maxsize=65536)
def _surface_probability(surface: str, lang: str) -> float:
    # a worker looks up each surface once: the clusterer's priors, its cache, are not there
    return doc_probability(surface, lang)


def article_terms(title: str, text: str, lang: str = "en") -> ArticleTerms:
    counts, surfaces = _counts(title, text)
    probabilities = {t: _surface_probability(f, lang) for t, f in surfaces.items()}
    return ArticleTerms(dict(counts), probabilities, lang)


def weigh(counts: Mapping[str, float], df: DocFrequency) -> dict[str, float]:
    """Log-TF x IDF, L2-normalised."""
    vec = {t: (1.0 + math.log(c)) * df.idf(t) for t, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {t: v / norm for t, v in vec.items()}


def dot(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


@dataclass
class _Story:
    id: str
    # compact (changes.vectors): the window's stories hold millions of entries; term ids of the
    # engine's vocabulary, so converting to and from StoryState takes that vocabulary
    centroid: TermVector = field(default_factory=TermVector)
    norm: float = 0.0
    members: deque[TermVector] = field(default_factory=lambda: deque(maxlen=MAX_MEMBERS))
    size: int = 0
    last: float | None = None
    years: set[int] = field(default_factory=set)
    numbers: dict[str, None] = field(default_factory=dict)  # insertion-ordered set, oldest first
    # the centroid as a dict while the story is among the latest candidates with a long centroid
    # (StoryClusterer._lookup): comparing with it then costs the article's length, not the story's
    lookup: dict[int, float] | None = None

    def note_numbers(self, numbers: frozenset[str]) -> None:
        for n in sorted(numbers):  # sorted: a set's order varies between processes (hash seed)
            self.numbers.pop(n, None)
            self.numbers[n] = None
        while len(self.numbers) > MAX_NUMBERS:
            del self.numbers[next(iter(self.numbers))]

    def add(self, vec: dict[int, float], when: float | None) -> None:
        self.centroid.add(vec)
        if self.lookup is not None:  # the same sums as the centroid's, so it stays equal to it
            for t, v in vec.items():
                self.lookup[t] = self.lookup.get(t, 0.0) + v
        self.norm = math.sqrt(self.centroid.norm_squared())
        self.members.append(TermVector.of(vec))
        self.size += 1
        if when is not None and (self.last is None or when > self.last):
            self.last = when

    def state(self, vocab: Vocabulary) -> StoryState:
        members = tuple(vocab.named(m) for m in self.members)
        years = frozenset(self.years)
        centroid = vocab.named(self.centroid)
        return StoryState(self.id, centroid, members, self.size, self.last, years, tuple(self.numbers))

    @classmethod
    def from_state(cls, state: StoryState, vocab: Vocabulary) -> _Story:
        centroid = TermVector(vocab.ids(state.centroid), state.centroid.values())
        story = cls(state.id, centroid, size=state.size, last=state.last, years=set(state.years))
        story.numbers = dict.fromkeys(state.numbers)
        story.norm = math.sqrt(story.centroid.norm_squared())
        story.members.extend(TermVector(vocab.ids(m), m.values()) for m in state.members[-MAX_MEMBERS:])
        return story

    def similarity(self, vec: dict[int, float], centroid_share: float) -> float:
        cen = self.centroid.dot(vec, self.lookup) / (self.norm or 1.0)
        best = max(m.dot(vec) for m in self.members)
        return centroid_share * cen + (1.0 - centroid_share) * best


_YEAR = re.compile(r"\b(?:19|20)\d\d\b")


def article_year(article: Article) -> int | None:
    """The year an article was written, as far as it tells: `published`, else a full date near
    the top (a dateline), else the year its text mentions most."""
    if article.published is not None:
        return article.published.year
    found = text_date(article.title, article.text)
    if found is not None:
        return found[0]
    years = Counter(int(y) for y in _YEAR.findall(f"{article.title} {article.text[: TEXT_WORDS * 7]}"))
    # the year mentioned most (the latest on a tie): a page's own year recurs, background years less
    return max(years.items(), key=lambda yc: (yc[1], yc[0]))[0] if years else None


_YEAR_TERM = re.compile(r"(?:19|20)\d\d")


def article_numbers(counts: Mapping[str, float]) -> frozenset[str]:
    """The numbers an article states among its terms: tolls, scores, ages ("43-year-old"),
    amounts, magnitudes, dates and times, but not years (background years are common; the year
    rule weighs an article's own year). Reports of one event repeat its numbers; two events of
    the same kind rarely share one."""
    return frozenset(t for t in counts if t[:1].isdigit() and not _YEAR_TERM.fullmatch(t))


def _year_conflict(year: int, years: set[int]) -> bool:
    """An article written years after everything in a story reports another event (the 2013
    Internet Explorer patch is not the 2008 one). Only *later* counts: in arrival order a story's
    follow-ups are not older than it, while an older year is often background ("since 2005")."""
    return year - max(years) >= YEAR_GAP


def _decay(story_last: float | None, when: float | None, half_life_days: float) -> float:
    if story_last is None or when is None or when <= story_last:
        return 1.0
    return float(0.5 ** ((when - story_last) / 86400.0 / half_life_days))


class StoryClusterer:
    """Assigns each article, in arrival order, to an existing story or a new one."""

    def __init__(
        self,
        threshold: float = THRESHOLD,
        *,
        index: StoryIndex | None = None,
        centroid_share: float = CENTROID_SHARE,
        half_life_days: float = HALF_LIFE_DAYS,
        max_stories: int = 100_000,
        year_penalty: float = YEAR_PENALTY,
        number_penalty: float = NUMBER_PENALTY,
    ) -> None:
        self.year_penalty = year_penalty
        self.number_penalty = number_penalty
        self.threshold = threshold
        self.index: StoryIndex = index if index is not None else MemoryStoryIndex()
        self.df = DocFrequency()
        self.centroid_share = centroid_share
        self.half_life_days = half_life_days
        self._stories: OrderedDict[str, _Story] = OrderedDict()
        self.vocab = Vocabulary()  # numbers the terms of the stories' compact vectors
        self._max_stories = max_stories
        self._next = 0
        # stories holding a lookup (with its size when made), latest last
        self._lookups: OrderedDict[str, tuple[_Story, int]] = OrderedDict()
        self._lookup_entries = 0

    def assign(
        self, article: Article, story_hint: str | None = None, terms: ArticleTerms | None = None
    ) -> Assignment:
        """Place `article`; `story_hint` (e.g. the story of a confirmed copy) skips the search;
        `terms` (`article_terms` of its title and text) spares computing them here."""
        if terms is not None and terms.lang == self.df._lang:
            counts = terms.counts
            self.df.note_probabilities(terms.probabilities)
        else:
            counts = term_counts(article.title, article.text, self.df)
        self.df.add(counts.keys())
        vec = weigh(counts, self.df)
        when = article.published.timestamp() if article.published else None
        query = sorted(vec, key=vec.__getitem__, reverse=True)[:QUERY_TERMS]
        year = article_year(article) if self.year_penalty < 1.0 else None
        numbers = article_numbers(counts)
        ivec = self.vocab.vector(vec)  # keyed by term id, as the stories' vectors are
        best_id, best = self._best(ivec, query, when, story_hint, year, numbers)
        new = best_id is None or best < self.threshold
        if new or best_id is None:
            best_id = f"s{self._next}"
            self._next += 1
            self._stories[best_id] = _Story(best_id)
            self._evict()
        story = self._stories[best_id]
        self._stories.move_to_end(best_id)
        story.add(ivec, when)
        if year is not None:
            story.years.add(year)
        story.note_numbers(numbers)
        self.index.add(best_id, query, when)
        return Assignment(article.id, best_id, new, round(best, 4))

    def story_state(self, story: str) -> StoryState | None:
        """One story's state (e.g. to store after each placement); None once it is evicted."""
        found = self._stories.get(story)
        return found.state(self.vocab) if found is not None else None

    def state(self) -> ClustererState:
        """Everything but the index: `restore` continues from it exactly."""
        stories = tuple(s.state(self.vocab) for s in self._stories.values())
        return ClustererState(stories, self.df.state(), self._next)

    def restore(self, state: ClustererState) -> None:
        """Continue from `state` (replacing this clusterer's stories and frequencies). The index
        is not touched: it is expected to know the stories already (a store's persists itself)."""
        self.df.restore(state.df)
        self._stories = OrderedDict((s.id, _Story.from_state(s, self.vocab)) for s in state.stories)
        self._next = state.next_id
        self._evict()

    def restore_story(self, state: StoryState) -> None:
        """Add or replace one story (restoring story by story, least recently grown first)."""
        self._stories[state.id] = _Story.from_state(state, self.vocab)
        self._stories.move_to_end(state.id)
        number = state.id[1:]
        if state.id.startswith("s") and number.isdigit():
            self._next = max(self._next, int(number) + 1)  # a new story never takes a restored id
        self._evict()

    def _best(
        self,
        vec: dict[int, float],
        query: list[str],
        when: float | None,
        hint: str | None,
        year: int | None,
        numbers: frozenset[str],
    ) -> tuple[str | None, float]:
        if hint is not None and hint in self._stories:
            return hint, 1.0
        best_id, best = None, 0.0
        for sid in self.index.candidates(query, when, MAX_CANDIDATES):
            story = self._stories.get(sid)
            if story is None:
                continue
            self._keep_lookup(story)
            sim = story.similarity(vec, self.centroid_share) * _decay(story.last, when, self.half_life_days)
            if year is not None and story.years and _year_conflict(year, story.years):
                sim *= self.year_penalty
            # both state numbers, none in common: likely another event, the more so the more both state
            sim *= number_factor(numbers, story.numbers, self.number_penalty)
            if sim > best:
                best_id, best = sid, sim
        return best_id, best

    def _keep_lookup(self, story: _Story) -> None:
        if len(story.centroid) < LOOKUP_TERMS:
            return
        held = self._lookups.pop(story.id, None)
        if held is not None and held[0] is not story:  # replaced by restore_story
            self._drop_lookup(*held)
            held = None
        if held is None:
            story.lookup = story.centroid.as_dict()
            held = (story, len(story.lookup))
            self._lookup_entries += held[1]
        self._lookups[story.id] = held
        while self._lookup_entries > LOOKUP_ENTRIES and len(self._lookups) > 1:
            self._drop_lookup(*self._lookups.popitem(last=False)[1])

    def _drop_lookup(self, story: _Story, entries: int) -> None:
        self._lookup_entries -= entries
        story.lookup = None

    def _evict(self) -> None:
        while len(self._stories) > self._max_stories:
            self._stories.popitem(last=False)
