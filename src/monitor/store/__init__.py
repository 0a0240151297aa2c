"""Storage: the `Storage` protocol (the one seam to the database) and its SQLite backend.

Only this package speaks SQL. Consumers type against `Storage` (or one of its role protocols);
`open_storage` picks the backend.
"""

from __future__ import annotations

from pathlib import Path

from .lifecycle import MatchChange, match_change, rescore_outcome
from .migrations import MIGRATIONS
from .protocol import ArticleStorage, DigestStorage, FeedStorage, JudgmentStorage, ServiceStorage, Storage
from .records import (
    Counts,
    DigestRecord,
    FeedStatus,
    PendingDigest,
    RescoreOutcome,
    SavedArticle,
    StoredArticle,
    StoredMatch,
)
from .sqlite import SqliteStore

Store = SqliteStore  # the default backend under its historical name


def open_storage(path: Path) -> Storage:
    """The backend for a database location (a SQLite file today; a PostgreSQL URL later)."""
    return SqliteStore(path)


__all__ = [
    "MIGRATIONS",
    "ArticleStorage",
    "Counts",
    "DigestRecord",
    "DigestStorage",
    "FeedStatus",
    "FeedStorage",
    "JudgmentStorage",
    "MatchChange",
    "PendingDigest",
    "RescoreOutcome",
    "SavedArticle",
    "ServiceStorage",
    "SqliteStore",
    "Storage",
    "Store",
    "StoredArticle",
    "StoredMatch",
    "match_change",
    "open_storage",
    "rescore_outcome",
]
