"""Storage: the `Storage` protocol (the one seam to the database) and its SQLite backend.

Only this package speaks SQL. Consumers type against `Storage` (or one of its role protocols);
`open_storage` picks the backend.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from ..errors import StorageError
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


Location = Path | str  # a SQLite file, or a postgresql:// URL
POSTGRES_SCHEMES = ("postgresql", "postgres")
POSTGRES_HINT = "pip install 'monitor[postgres]'"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def database_location(value: str) -> Location:
    """`--db` / MONITOR_DB: a file path (SQLite), or a URL whose scheme this build can serve.

    Checked before anything is opened, so a URL is never taken for a file name (a folder
    `postgresql:` holding a SQLite file)."""
    found = _SCHEME.match(value)
    if found is None:
        return Path(value)
    scheme = found.group(1).lower()
    if scheme not in POSTGRES_SCHEMES:
        raise StorageError(
            f"--db {scheme}://…: unsupported database; use a SQLite file path or a postgresql:// URL"
        )
    if importlib.util.find_spec("psycopg") is None:
        raise StorageError(f"--db {scheme}://…: the PostgreSQL backend needs psycopg; install it with {POSTGRES_HINT}")
    return value


def describe_location(location: Location) -> str:
    """For logs and messages: a URL without its password."""
    if isinstance(location, Path):
        return str(location)
    return re.sub(r"^([^:/]+://[^:@/]*):[^@/]*@", r"\1:***@", location)


def open_storage(location: Location) -> Storage:
    """The backend for a database location: SQLite for a path, PostgreSQL for a URL."""
    if isinstance(location, str):
        from .postgres import PostgresStore  # psycopg is an optional extra: imported only when asked for

        return PostgresStore(location)
    return SqliteStore(location)


__all__ = [
    "MIGRATIONS",
    "POSTGRES_HINT",
    "Location",
    "database_location",
    "describe_location",
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
