"""Every stored article joins a story, online, in arrival order (changes.stories does the
clustering; the store keeps each article's story and the engine's state).

Candidate stories come from the store (`StoreStoryIndex`: an FTS5 table of each story's
distinctive terms, ranked by BM25, limited to stories grown in the last REPLAY_DAYS); the
engine's similarity decides among them. The story vectors live in memory and in the store: each
placement writes the story's engine state and the article's document frequencies in the same
transaction as the story assignment, so a new process loads the stories grown in the last
REPLAY_DAYS and the frequencies and continues exactly where the last one stopped. A store
without that state (written by an older version) is replayed once instead: the articles of the
last REPLAY_DAYS in arrival order, each placed in its stored story (the engine's `story_hint`);
the result is then saved. A story whose stored state is unreadable is rebuilt from its articles
alone. Older stories cannot be joined anyway: the engine halves a story's similarity for every
HALF_LIFE_DAYS it has not grown, and after REPLAY_DAYS even a perfect match is under the
threshold.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from sys import intern
from typing import TYPE_CHECKING

import orjson

from .changes.stories import (
    HALF_LIFE_DAYS,
    THRESHOLD,
    ArticleTerms,
    DocFrequency,
    MemoryStoryIndex,
    StoryClusterer,
)
from .changes.stories import Article as StoryArticle
from .changes.story_state import STATE_VERSION, FrequencyState, StateError, StoryState, story_from_json, story_to_json
from .models import Article
from .store.records import StoryEngineState, StoryFrequencies, StoryMember, StoryStep
from .store.shared import MEMBER_PAGE

if TYPE_CHECKING:
    from .store.protocol import Storage

# similarity 1.0 * 0.5 ** (days / HALF_LIFE_DAYS) < THRESHOLD beyond this many days
REPLAY_DAYS = math.ceil(HALF_LIFE_DAYS * math.log2(1.0 / THRESHOLD))


log = logging.getLogger("monitor")

MAX_CANDIDATES = 24  # stories the index returns (the engine compares at most its own limit)
# story states read or written per store call: a busy window's states are over 100 MB of JSON,
# which held at once would set the process's peak memory (and stay in its heap after)
STATE_CHUNK = 256


class StoreStoryIndex:
    """changes.stories.StoryIndex over the store's story_terms table. The engine names stories
    itself; the tracker's maps translate, and an article's terms are written with its placement
    (`take`: in the same transaction)."""

    def __init__(self, tracker: StoryTracker) -> None:
        self._tracker = tracker
        self._pending: tuple[str, list[str], float | None] | None = None

    def add(self, story: str, terms: Sequence[str], when: float | None) -> None:
        if not self._tracker.replaying:  # a replayed article's terms are stored already
            self._pending = (story, list(terms), when)

    def candidates(self, terms: Sequence[str], when: float | None, limit: int) -> list[str]:
        store = self._tracker.store
        if store is None:
            return []
        at = datetime.fromtimestamp(when, UTC) if when is not None else datetime.now(UTC)
        found = store.story_candidates(list(terms), at - timedelta(days=REPLAY_DAYS), max(limit, MAX_CANDIDATES))
        engine = self._tracker.engine_ids
        return [engine[s] for s in found if s in engine][:limit]

    def take(self, story: str, now: datetime) -> tuple[tuple[str, ...], datetime] | None:
        """The terms the engine indexed `story` by in its last placement, with their time."""
        pending, self._pending = self._pending, None
        if pending is None or pending[0] != story:
            return None
        _, terms, when = pending
        return tuple(terms), datetime.fromtimestamp(when, UTC) if when else now


def _load_text_tables() -> None:
    """What the first placement loads once per process (wordfreq's frequency table, the stemmer,
    compiled patterns: about 1.5 s), loaded here with the replay so no new article pays it: a
    throwaway clusterer places one sentence."""
    sample = "Officials in Ouagadougou said on Monday that 300 people attended the ceremony."
    StoryClusterer().assign(StoryArticle("warm-up", "Warm-up", sample, None, None, datetime(2026, 1, 1, tzinfo=UTC)))


class _NotedFrequency(DocFrequency):
    """The engine's document frequencies, noting the last article's terms with their priors: the
    tracker stores that change with the article's story."""

    def __init__(self) -> None:
        super().__init__()
        self.added: tuple[tuple[str, float], ...] = ()

    def add(self, terms: Iterable[str]) -> None:
        terms = list(terms)
        super().add(terms)
        # every term of an article had its prior noted while it was counted (term_counts)
        self.added = tuple((t, self._prior.get(t, 0.0)) for t in terms)


def _encode(state: StoryState) -> str:
    # orjson writes the shortest repr that reads back to the same float, as json does (exact)
    return orjson.dumps(story_to_json(state)).decode()


def _story_article(m: StoryMember) -> StoryArticle:
    return StoryArticle(str(m.article_id), m.title, m.text, m.url, None, m.published or m.first_seen)


class StoryTracker:
    """The clusterer and the map from its story ids to stored stories; thread-safe."""

    replay_page = MEMBER_PAGE  # members a replay reads per store call

    def __init__(self) -> None:
        self.index = StoreStoryIndex(self)
        self._clusterer = StoryClusterer(index=self.index)
        self._df = _NotedFrequency()
        self._clusterer.df = self._df
        self._stored: dict[str, int] = {}  # clusterer story -> stored story
        self.engine_ids: dict[int, str] = {}  # stored story -> clusterer story
        self._lock = threading.Lock()
        self._warm = False
        self.replaying = False
        self.replayed = 0  # articles replayed at start (0 when the stored state was loaded)
        self.rebuilt: list[int] = []  # stored stories rebuilt from their articles (unreadable state)
        self.store: Storage | None = None

    def warm(self, store: Storage, now: datetime) -> int:
        """Load the stored engine state (once), else replay the recent stored articles into the
        clusterer and save the result; returns how many articles were replayed."""
        with self._lock:
            if self._warm:
                return 0
            self._warm, self.store = True, store
            _load_text_tables()
            since = now - timedelta(days=REPLAY_DAYS)
            saved = store.load_story_engine(since, states=False)  # read in chunks by _load
            if saved is not None and saved.version == STATE_VERSION:
                self._load(store, saved, since)
                log.info("stories: %d loaded from the stored engine state", len(saved.stories))
                return self.replayed
            if saved is not None:
                log.warning("story engine state v%s, this engine reads v%s: replaying", saved.version, STATE_VERSION)
            self.replayed = self._replay(store.story_members(since, self.replay_page))
            self._save(store, list(self._stored), whole=True)
            log.info("stories: no stored engine state, replayed %d articles (saved now)", self.replayed)
            return self.replayed

    def _replay(self, members: Iterable[StoryMember]) -> int:
        """Place `members` in order as the store pages them in: a text is dropped once placed,
        so the window's texts and its stories' vectors are never all in memory together."""
        count = 0
        self.replaying = True
        try:
            for m in members:
                placed = self._clusterer.assign(_story_article(m), story_hint=self.engine_ids.get(m.story_id))
                self._stored.setdefault(placed.story, m.story_id)
                self.engine_ids.setdefault(m.story_id, placed.story)
                count += 1
        finally:
            self.replaying = False
        return count

    def _load(self, store: Storage, saved: StoryEngineState, since: datetime) -> None:
        terms = [(intern(t), n, p) for t, n, p in saved.terms]  # shared with the stories' vectors
        self._df.restore(FrequencyState(saved.articles, {t: n for t, n, _ in terms}, {t: p for t, _, p in terms}))
        missing: list[int] = []
        ids = [story_id for story_id, _ in saved.stories]  # least recently grown first
        for at in range(0, len(ids), STATE_CHUNK):
            chunk = ids[at : at + STATE_CHUNK]
            rows = store.story_states(chunk)
            for story_id in chunk:
                raw = rows.pop(story_id, None)
                try:
                    state = None if raw is None else story_from_json(orjson.loads(raw))
                except (StateError, ValueError) as exc:
                    log.warning("story %s: unreadable engine state (%s); rebuilt from its articles", story_id, exc)
                    state = None
                if state is None:
                    missing.append(story_id)
                else:
                    self._adopt(story_id, state)
        if missing:
            self._rebuild(store, since, missing)

    def _adopt(self, story_id: int, state: StoryState) -> None:
        engine_id = f"s{story_id}"  # unique here; the clusterer numbers its new stories after it
        self._clusterer.restore_story(replace(state, id=engine_id))
        self._stored[engine_id] = story_id
        self.engine_ids[story_id] = engine_id

    def _rebuild(self, store: Storage, since: datetime, story_ids: list[int]) -> None:
        """Stories without a readable state: each is built again from its recent articles alone
        (in a scratch clusterer over the stored frequencies, which count these articles already)."""
        base = self._df.state()
        for story_id in story_ids:
            # one story's articles at a time: the whole window's texts would set the peak memory
            members = [m for m in store.story_articles(story_id) if m.first_seen >= since]
            if not members:
                continue
            scratch = StoryClusterer(index=MemoryStoryIndex())
            scratch.df.restore(base)
            first = scratch.assign(_story_article(members[0])).story
            for m in members[1:]:
                scratch.assign(_story_article(m), story_hint=first)
            state = scratch.story_state(first)
            if state is not None:
                self._adopt(story_id, state)
                self.rebuilt.append(story_id)
        self._save(store, [self.engine_ids[s] for s in self.rebuilt], whole=False)

    def _save(self, store: Storage, engine_ids: list[str], whole: bool) -> None:
        """Store these stories' states (in chunks), then, if whole, the frequencies: a store
        has a whole engine only once every story row is written."""
        for at in range(0, len(engine_ids), STATE_CHUNK):
            states = {}
            for engine_id in engine_ids[at : at + STATE_CHUNK]:
                state = self._clusterer.story_state(engine_id)
                if state is not None:
                    states[self._stored[engine_id]] = _encode(state)
            store.save_story_engine(states, None)
        if whole:
            freq = self._df.state()
            store.save_story_engine({}, StoryFrequencies(STATE_VERSION, freq.n, freq.df, freq.prior))

    def place(
        self,
        store: Storage,
        article_id: int,
        article: Article,
        feed: str,
        now: datetime,
        terms: ArticleTerms | None = None,
    ) -> int:
        """Assign a newly stored article to a story (a stored one, or a new one) and store the
        story's engine state and the article's frequencies with it. `terms`: the article's story
        terms when a worker process computed them (changes.stories.article_terms)."""
        self.warm(store, now)
        with self._lock:
            art = StoryArticle(
                str(article_id), article.title, article.text, article.url, feed, article.published or now
            )
            placed = self._clusterer.assign(art, terms=terms)
            state = self._clusterer.story_state(placed.story)
            index = self.index.take(placed.story, now)
            step = StoryStep(_encode(state) if state else "null", self._df.added, index)
            target = None if placed.new_story else self._stored.get(placed.story)
            story = store.assign_story_step(article_id, target, now, step)
            self._stored[placed.story] = story
            self.engine_ids.setdefault(story, placed.story)
            return story
