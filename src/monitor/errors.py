"""Every error a user or a remote server can cause is a MonitorError.

The CLI turns these into one-line messages (exit 2); the pipeline turns them into per-feed
error values. Anything else escaping is a bug.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of all expected failures."""


class ConfigError(MonitorError):
    """feeds.yaml, seeds or environment are unusable."""


class FetchError(MonitorError):
    """A feed or page could not be fetched.

    `retry_after` carries a server's Retry-After (seconds), `status` the HTTP status if any,
    `permanent` marks failures that retrying will not fix (410 Gone, refused address).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        permanent: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.permanent = permanent


class BlockedAddressError(FetchError):
    """The SSRF guard refused a URL (non-http scheme or a non-public address)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class ParseError(MonitorError):
    """A document is not a usable feed."""


class ExtractError(MonitorError):
    """A page yielded no article text."""


class StorageError(MonitorError):
    """The database cannot be opened or written."""


class DeliveryError(MonitorError):
    """A digest target (file or email) failed."""
