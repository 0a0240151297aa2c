"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from httpserver import TestServer

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
