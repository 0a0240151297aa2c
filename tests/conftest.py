"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from httpserver import TestServer
from pg import NO_BINARIES, PgServer, find_bindir, running_server

_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to 127.0.0.1 directly: never through a proxy taken from the environment
    (also for subprocesses, which inherit os.environ)."""
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setenv("no_proxy", "*")


@pytest.fixture
def server() -> Iterator[TestServer]:
    """A real HTTP server on 127.0.0.1 (random port), stopped after the test."""
    srv = TestServer()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One real PostgreSQL server for the session (tests/pg.py); skipped, with the reason, only
    when no PostgreSQL binaries exist."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(NO_BINARIES)
    with running_server(bindir) as srv:
        yield srv


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL of a fresh, empty database on the session's server."""
    return pg_server.create_database()
