"""Every stored article joins a story, online, in arrival order (changes.stories does the
clustering; the store keeps each article's story).

The clusterer lives in memory. When a process starts, it is rebuilt by replaying the articles
of the last REPLAY_DAYS in arrival order, each placed in its stored story (the engine's
`story_hint`), so a poll in a new process continues the same stories. Older stories cannot be
joined anyway: the engine halves a story's similarity for every HALF_LIFE_DAYS it has not grown,
and after REPLAY_DAYS even a perfect match is under the threshold.
"""

from __future__ import annotations

import math
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .changes.stories import HALF_LIFE_DAYS, THRESHOLD, StoryClusterer
from .changes.stories import Article as StoryArticle
from .models import Article

if TYPE_CHECKING:
    from .store.protocol import Storage

# similarity 1.0 * 0.5 ** (days / HALF_LIFE_DAYS) < THRESHOLD beyond this many days
REPLAY_DAYS = math.ceil(HALF_LIFE_DAYS * math.log2(1.0 / THRESHOLD))


class StoryTracker:
    """The clusterer and the map from its story ids to stored stories; thread-safe."""

    def __init__(self, clusterer: StoryClusterer | None = None) -> None:
        self._clusterer = clusterer or StoryClusterer()
        self._stored: dict[str, int] = {}  # clusterer story -> stored story
        self._engine: dict[int, str] = {}  # stored story -> clusterer story
        self._lock = threading.Lock()
        self._warm = False

    def warm(self, store: Storage, now: datetime) -> int:
        """Replay the recent stored articles into the clusterer (once); returns how many."""
        with self._lock:
            if self._warm:
                return 0
            self._warm = True
            members = store.story_members(now - timedelta(days=REPLAY_DAYS))
            for m in members:
                art = StoryArticle(str(m.article_id), m.title, m.text, m.url, None, m.published or m.first_seen)
                placed = self._clusterer.assign(art, story_hint=self._engine.get(m.story_id))
                self._stored.setdefault(placed.story, m.story_id)
                self._engine.setdefault(m.story_id, placed.story)
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
            self._engine.setdefault(story, placed.story)
            return story
