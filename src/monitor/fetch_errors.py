"""One-line messages for fetch failures: transport errors, HTTP statuses and timeouts."""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterator

import httpx

# --- errors ------------------------------------------------------------------------------------


def _oneline(exc: BaseException | str) -> str:
    if isinstance(exc, BaseException):
        text = str(exc) or type(exc).__name__
    else:
        text = exc
    return " ".join(text.split())


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _errnos(exc: BaseException) -> set[int]:
    return {e.errno for e in _chain(exc) if isinstance(e, OSError) and e.errno is not None}


def _transport_message(exc: Exception, host: str) -> str:
    """One-line description of an httpx transport failure (timeouts are handled by the caller)."""
    text = _oneline(exc)
    low = text.lower()
    codes = _errnos(exc)
    if isinstance(exc, httpx.ConnectError):
        if any(isinstance(e, socket.gaierror) for e in _chain(exc)) or any(
            s in low
            for s in (
                "name or service not known",
                "nodename nor servname",
                "temporary failure in name resolution",
                "no address associated",
                "name resolution",
                "getaddrinfo",
            )
        ):
            return f"DNS lookup failed for {host}"
        if errno.ECONNREFUSED in codes or "connection refused" in low:
            return "connection refused"
        if errno.ECONNRESET in codes or "connection reset" in low:
            return "connection reset by peer"
        if errno.ENETUNREACH in codes or "network is unreachable" in low:
            return "network unreachable"
        if errno.EHOSTUNREACH in codes or "no route to host" in low:
            return "host unreachable"
        if any(isinstance(e, ssl.SSLError) for e in _chain(exc)) or "ssl" in low:
            return f"TLS error: {text}"
        return f"connection failed: {text}"
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.CloseError):
        if errno.ECONNRESET in codes or "connection reset" in low:
            return "connection reset by peer"
        if errno.EPIPE in codes or "broken pipe" in low:
            return "connection closed by server (broken pipe)"
        return f"network error: {text}"
    if isinstance(exc, httpx.RemoteProtocolError):
        if "without sending a response" in low or "server disconnected" in low:
            return "connection closed by server without a response"
        if "complete message body" in low or "incomplete" in low:
            return "connection closed before the response body was complete"
        return f"HTTP protocol error: {text}"
    if isinstance(exc, httpx.ProtocolError):
        return f"HTTP protocol error: {text}"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"unsupported URL: {text}"
    if isinstance(exc, httpx.InvalidURL):
        return f"invalid URL: {text}"
    if isinstance(exc, httpx.DecodingError):
        return f"could not decode response body: {text}"
    if isinstance(exc, httpx.ProxyError):
        return f"proxy error: {text}"
    return f"HTTP error ({type(exc).__name__}): {text}"


def _status_message(status: int, reason: str, retry_after: float | None) -> str:
    reason = reason or httpx.codes.get_reason_phrase(status)
    msg = f"HTTP {status} {reason}".rstrip()
    if retry_after is not None:
        msg += f" (retry after {retry_after:.0f} s)"
    return msg


def _timeout_message(exc: httpx.TimeoutException, timeout: float) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timed out after {timeout:g} s"
    if isinstance(exc, httpx.PoolTimeout):
        return f"timed out after {timeout:g} s waiting for a free connection"
    if isinstance(exc, httpx.WriteTimeout):
        return f"timed out after {timeout:g} s sending the request"
    return f"timed out after {timeout:g} s"
