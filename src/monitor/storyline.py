"""Every stored article joins a story, online, in arrival order (changes.stories does the
clustering; the store keeps each article's story).

Candidate stories come from the store (`StoreStoryIndex`: an FTS5 table of each story's
distinctive terms, ranked by BM25, limited to stories grown in the last REPLAY_DAYS); the
engine's similarity decides among them. The story vectors live in memory: when a process
starts, they are rebuilt by replaying the articles of the last REPLAY_DAYS in arrival order, each
placed in its stored story (the engine's `story_hint`), so a poll in a new process continues the
same stories. Older stories cannot be joined anyway: the engine halves a story's similarity for
every HALF_LIFE_DAYS it has not grown, and after REPLAY_DAYS even a perfect match is under the
threshold.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .changes.stories import HALF_LIFE_DAYS, THRESHOLD, StoryClusterer
from .changes.stories import Article as StoryArticle
from .models import Article

if TYPE_CHECKING:
    from .store.protocol import Storage

# similarity 1.0 * 0.5 ** (days / HALF_LIFE_DAYS) < THRESHOLD beyond this many days
REPLAY_DAYS = math.ceil(HALF_LIFE_DAYS * math.log2(1.0 / THRESHOLD))


MAX_CANDIDATES = 24  # stories the index returns (the engine compares at most its own limit)


class StoreStoryIndex:
    """changes.stories.StoryIndex over the store's story_terms table. The engine names stories
    itself; the tracker's maps translate, and a new story's terms are written once the tracker
    has stored the story (`flush`)."""

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

    def flush(self, store: Storage, stored: dict[str, int], now: datetime) -> None:
        if self._pending is None:
            return
        story, terms, when = self._pending
        self._pending = None
        if story in stored:
            store.index_story_terms(stored[story], terms, datetime.fromtimestamp(when, UTC) if when else now)


def _load_text_tables() -> None:
    """What the first placement loads once per process (wordfreq's frequency table, the stemmer,
    compiled patterns: about 1.5 s), loaded here with the replay so no new article pays it: a
    throwaway clusterer places one sentence."""
    sample = "Officials in Ouagadougou said on Monday that 300 people attended the ceremony."
    StoryClusterer().assign(StoryArticle("warm-up", "Warm-up", sample, None, None, datetime(2026, 1, 1, tzinfo=UTC)))


class StoryTracker:
    """The clusterer and the map from its story ids to stored stories; thread-safe."""

    def __init__(self) -> None:
        self.index = StoreStoryIndex(self)
        self._clusterer = StoryClusterer(index=self.index)
        self._stored: dict[str, int] = {}  # clusterer story -> stored story
        self.engine_ids: dict[int, str] = {}  # stored story -> clusterer story
        self._lock = threading.Lock()
        self._warm = False
        self.replaying = False
        self.store: Storage | None = None

    def warm(self, store: Storage, now: datetime) -> int:
        """Replay the recent stored articles into the clusterer (once); returns how many."""
        with self._lock:
            if self._warm:
                return 0
            self._warm, self.store, self.replaying = True, store, True
            _load_text_tables()
            try:
                members = store.story_members(now - timedelta(days=REPLAY_DAYS))
                for m in members:
                    art = StoryArticle(str(m.article_id), m.title, m.text, m.url, None, m.published or m.first_seen)
                    placed = self._clusterer.assign(art, story_hint=self.engine_ids.get(m.story_id))
                    self._stored.setdefault(placed.story, m.story_id)
                    self.engine_ids.setdefault(m.story_id, placed.story)
            finally:
                self.replaying = False
            return len(members)

    def place(self, store: Storage, article_id: int, article: Article, feed: str, now: datetime) -> int:
        """Assign a newly stored article to a story (a stored one, or a new one)."""
        self.warm(store, now)
        with self._lock:
            art = StoryArticle(
                str(article_id), article.title, article.text, article.url, feed, article.published or now
            )
            placed = self._clusterer.assign(art)
            story = store.assign_story(article_id, None if placed.new_story else self._stored.get(placed.story), now)
            self._stored[placed.story] = story
            self.engine_ids.setdefault(story, placed.story)
            self.index.flush(store, self._stored, now)
            return story
