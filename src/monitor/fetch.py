"""HTTP fetching: polite, bounded and guarded. Only fetch*.py modules import httpx.

* ``Fetcher.fetch_feed``: conditional GET of a feed (the user's own configuration, not guarded).
* ``Fetcher.fetch_page``: GET of an article page (third-party link: SSRF-guarded on every hop).

Every failure comes out as a :class:`~monitor.errors.FetchError` with a one-line message; no
httpx exception escapes. Bodies are capped on *decoded* bytes (gzip/deflate are inflated here in
bounded pieces, so a gzip bomb never inflates in one go), and every request has a total deadline
checked between body chunks, so a slow-drip server cannot hold a worker. Requests to one host
are limited in concurrency (``per_host``) and spaced (``host_spacing``).

Article pages connect to the addresses the guard checked (one DNS lookup per hop, so a second
answer cannot differ from the one checked: no DNS rebinding; through a proxy, the proxy
connects), while the Host header, TLS SNI and
the certificate check keep the host name. Cookies are neither kept nor sent: every page is a
first visit. Requests go straight to a keep-alive connection pool (``fetch_pool``: the pinning
happens in the connection, so a kept connection is reused only for its own host name and went to
checked addresses; the deadline watchdog covers reused connections), except when the
environment names a proxy (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY), which httpx's Client applies
(a new connection per request), and with an injected client (tests).

This module is the client and the conditional GET; the address guard is ``fetch_guard``, the
per-host politeness and Retry-After ``fetch_polite``, the size caps and deadlines ``fetch_limits``
and the one-line error messages ``fetch_errors``.
"""

from __future__ import annotations

import ssl
import time
from base64 import b64encode
from collections.abc import Callable
from datetime import UTC, datetime
from http.cookiejar import Cookie, CookieJar
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies

import httpx

from monitor import USER_AGENT
from monitor.errors import FetchError
from monitor.fetch_errors import _oneline, _status_message, _timeout_message, _transport_message
from monitor.fetch_guard import Resolver as Resolver
from monitor.fetch_guard import check_address as check_address
from monitor.fetch_guard import checked_addresses, default_resolver
from monitor.fetch_limits import DecodeError, _encoding_kind, _Watchdog
from monitor.fetch_limits import _BoundedDecoder as _BoundedDecoder
from monitor.fetch_polite import LocalPoliteness, Politeness
from monitor.fetch_polite import parse_retry_after as parse_retry_after
from monitor.fetch_pool import KeepAlivePool
from monitor.models import FetchResult, FetchSettings

MAX_REDIRECTS = 10
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})
_RETRY_AFTER_STATUSES = frozenset({429, 503})

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
ACCEPT_ENCODING = "gzip, deflate"
# A redirect's, 304's or error's body up to this size is read (and dropped) so that its kept
# connection can serve the next request: an unread body would make httpcore close it.
_DRAIN_MAX = 64 * 1024


# --- fetcher -----------------------------------------------------------------------------------


class Fetcher:
    """Thread-safe HTTP fetcher for feeds and article pages (see module docstring)."""

    def __init__(
        self,
        settings: FetchSettings,
        *,
        client: httpx.Client | None = None,
        resolver: Resolver | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        politeness: Politeness | None = None,
    ) -> None:
        self.settings = settings
        self._resolver: Resolver = resolver or default_resolver
        self._owns_client = client is None
        self._client: httpx.Client | None = client
        self._pool: KeepAlivePool | None = None
        if client is None and not _environment_proxies():
            # The usual case: requests go straight to a connection pool that keeps connections
            # alive (a new TCP+TLS connection per page is the largest cost of a real site). The
            # Client's layers (URL and header merging, auth, redirects, cookie extraction,
            # logging) are things this module does itself or does not want, and cost ~0.1 ms of
            # CPU per request in the one process that fetches for every worker (bench_fetch).
            self._pool = KeepAlivePool()
        elif client is None:
            # HTTP(S)_PROXY / ALL_PROXY set: httpx's Client applies them (and NO_PROXY) per URL;
            # a new connection per request, so the watchdog sees every socket (trace events)
            self._client = httpx.Client(
                headers={"User-Agent": USER_AGENT},
                timeout=httpx.Timeout(settings.timeout),
                follow_redirects=False,
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=0),
                cookies=_NoCookies(),
            )
        # per_host and host_spacing: this process's gates unless shared ones are given (workers)
        self._politeness: Politeness = politeness or LocalPoliteness(
            settings.per_host, settings.host_spacing, clock=clock, sleep=sleep
        )

    # --- public API ----------------------------------------------------------------------------

    def fetch_feed(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """Conditional GET of a feed: 304 -> ``status=304, content=b""``; errors -> FetchError."""
        headers = {"Accept": FEED_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        result = self._fetch(url, headers, cap=self.settings.max_feed_bytes, guard=False)
        if result.status == 304:
            # not modified: the validators we sent are still valid unless the server sent new
            return FetchResult(
                url=result.url,
                final_url=result.final_url,
                status=304,
                content=b"",
                headers=result.headers,
                etag=result.etag or etag,
                last_modified=result.last_modified or last_modified,
                permanent_redirect=result.permanent_redirect,
            )
        return result

    def fetch_page(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """GET of an article page; the SSRF guard checks the URL and every redirect hop. With
        validators (a re-check of a stored article) it is conditional: 304 -> ``status=304``."""
        headers = {"Accept": PAGE_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._fetch(url, headers, cap=self.settings.max_page_bytes, guard=True)

    def close(self) -> None:
        """Close every connection (kept idle ones too)."""
        if self._pool is not None:
            self._pool.close()
        if self._owns_client and self._client is not None:
            self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- core ----------------------------------------------------------------------------------

    def _fetch(self, url: str, headers: dict[str, str], *, cap: int, guard: bool) -> FetchResult:
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING, **headers}
        deadline = max(0.001, self.settings.deadline)
        started: float | None = None
        current = url
        seen: set[str] | None = None  # built on the first redirect: parsing URLs is not free
        permanent: str | None = None
        permanent_chain = True
        redirects = 0
        while True:
            # the connection goes to the addresses checked here (pinned), not to a second lookup
            pinned = checked_addresses(current, self.settings.allow_hosts, self._resolver) if guard else ()
            try:
                parts = urlsplit(current)
                scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
            except ValueError as exc:
                raise FetchError(f"invalid URL {current!r}: {_oneline(exc)}") from None
            if scheme not in ("http", "https"):
                raise FetchError(f"unsupported URL scheme {scheme or '(none)'!r}: {current}")
            if not host:
                raise FetchError(f"invalid URL {current!r}: no host")
            with self._politeness.hold(host):
                if started is None:
                    started = time.monotonic()
                deadline_at = started + deadline
                outcome = self._one_request(current, headers, host, pinned, cap, deadline_at)
            if isinstance(outcome, FetchResult):
                return FetchResult(
                    url=url,
                    final_url=outcome.final_url,
                    status=outcome.status,
                    content=outcome.content,
                    headers=outcome.headers,
                    etag=outcome.etag,
                    last_modified=outcome.last_modified,
                    permanent_redirect=permanent,
                )
            status, target = outcome
            redirects += 1
            if redirects > MAX_REDIRECTS:
                raise FetchError(f"too many redirects (more than {MAX_REDIRECTS})")
            key = _url_key(target)
            if seen is None:
                seen = {_url_key(url)}
            if key in seen:
                raise FetchError(f"redirect loop: {current} redirects back to {target}")
            seen.add(key)
            if permanent_chain and status in _PERMANENT_REDIRECTS:
                permanent = target
            else:
                permanent_chain = False
            current = target

    def _one_request(
        self, url: str, headers: dict[str, str], host: str, pinned: tuple[str, ...], cap: int, deadline_at: float
    ) -> FetchResult | tuple[int, str]:
        """One hop: a FetchResult, or (status, absolute target URL) for a redirect."""
        remaining = deadline_at - time.monotonic()
        if remaining <= 0:
            raise self._deadline_error()
        per_op = max(0.001, min(self.settings.timeout, remaining))
        limited_by_deadline = per_op < self.settings.timeout
        watchdog = _Watchdog(remaining)
        response: httpx.Response | None = None
        try:
            try:
                with watchdog:
                    response, target = self._send(url, headers, pinned, per_op, deadline_at, watchdog.trace)
                    outcome = self._handle(response, target, url, cap, deadline_at)
            finally:
                # after the watchdog is finished: a connection back in the pool may serve another
                # request at once, and this request's deadline must not shut its socket then
                if response is not None:
                    response.close()
            if watchdog.fired:  # the cut-off socket may have looked like a normal end of body
                raise self._deadline_error()
            return outcome
        except FetchError:
            if watchdog.fired:
                raise self._deadline_error() from None
            raise
        except httpx.TimeoutException as exc:
            if watchdog.fired or limited_by_deadline or time.monotonic() >= deadline_at:
                raise self._deadline_error() from None
            raise FetchError(_timeout_message(exc, self.settings.timeout)) from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            if watchdog.fired:
                raise self._deadline_error() from None
            raise FetchError(_transport_message(exc, host)) from None
        except (UnicodeError, ValueError) as exc:  # e.g. an unencodable host name
            raise FetchError(f"invalid URL {url!r}: {_oneline(exc)}") from None
        except (OSError, ssl.SSLError) as exc:  # only if the watchdog raced a TLS read
            if watchdog.fired:
                raise self._deadline_error() from None
            raise FetchError(f"network error: {_oneline(exc)}") from None

    def _send(
        self,
        url: str,
        headers: dict[str, str],
        pinned: tuple[str, ...],
        per_op: float,
        deadline_at: float,
        trace: Callable[[str, dict[str, Any]], None],
    ) -> tuple[httpx.Response, httpx.URL]:
        """Send one GET (no redirects followed): the response, its body unread, and the URL asked
        for. With `pinned` addresses it connects to them in turn (as the system would try a
        name's addresses) while the request and TLS still name the host: the Host header, SNI
        and the certificate check."""
        extensions: dict[str, Any] = {
            "timeout": {"connect": per_op, "read": per_op, "write": per_op, "pool": per_op},
        }
        if self._pool is None:  # an injected client, or a proxy
            extensions["trace"] = trace  # the watchdog learns new connections' sockets from it
            assert self._client is not None
            request = self._client.build_request("GET", url, headers=headers, extensions=extensions)
            return self._client.send(request, stream=True), request.url
        target = httpx.URL(url)
        if target.userinfo:  # user:password@ in the URL: Basic credentials, as httpx's Client sends
            headers = {**headers, "Authorization": _basic_auth(target)}
        # The URL keeps the host name (the pool's key, the Host header, SNI, the certificate);
        # a new connection for a pinned request goes to the checked addresses in turn.
        request = httpx.Request("GET", target, headers=headers, extensions=extensions)
        return self._pool.send(request, pinned, deadline_at), target

    def _deadline_error(self) -> FetchError:
        return FetchError(f"timed out after {self.settings.deadline:g} s (total deadline for the request)")

    def _handle(
        self, response: httpx.Response, target: httpx.URL, url: str, cap: int, deadline_at: float
    ) -> FetchResult | tuple[int, str]:
        status = response.status_code
        hdrs = {k.lower(): v for k, v in response.headers.items()}
        if not 200 <= status < 300:
            self._drain(response, hdrs)
        if status in _REDIRECT_STATUSES and hdrs.get("location", "").strip():
            location = hdrs["location"].strip()
            try:
                joined = str(target.join(location))
            except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
                raise FetchError(f"HTTP {status} redirect to an invalid URL {location!r}: {_oneline(exc)}") from None
            return status, joined
        if status == 304:
            return FetchResult(
                url=url,
                final_url=str(target),
                status=304,
                content=b"",
                headers=hdrs,
                etag=hdrs.get("etag"),
                last_modified=hdrs.get("last-modified"),
            )
        if 200 <= status < 300:
            content = self._read_body(response, hdrs, cap, deadline_at)
            return FetchResult(
                url=url,
                final_url=str(target),
                status=status,
                content=content,
                headers=hdrs,
                etag=hdrs.get("etag"),
                last_modified=hdrs.get("last-modified"),
            )
        retry_after = None
        if status in _RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after(hdrs.get("retry-after"), datetime.now(UTC))
        if status in _REDIRECT_STATUSES:
            raise FetchError(f"HTTP {status} redirect without a Location header", status=status)
        raise FetchError(
            _status_message(status, response.reason_phrase, retry_after),
            status=status,
            retry_after=retry_after,
            permanent=status == 410,
        )

    def _drain(self, response: httpx.Response, hdrs: dict[str, str]) -> None:
        """Read a short body that is not used (a redirect's, an error page) so that the kept
        connection can serve another request; a 304 has none by definition. A failure costs only
        the connection (closed with the response); past the deadline the watchdog's verdict
        stands, as for any read."""
        if self._pool is None:  # a proxy or an injected client: no connection is kept
            return
        if response.status_code != 304:
            length = hdrs.get("content-length", "").strip()
            if not length.isdigit() or int(length) > _DRAIN_MAX:
                return
        try:
            for _ in response.iter_raw():
                pass
        except (httpx.HTTPError, httpx.StreamError, OSError):
            pass

    def _read_body(self, response: httpx.Response, hdrs: dict[str, str], cap: int, deadline_at: float) -> bytes:
        too_large = f"response larger than {cap} bytes"
        kind = _encoding_kind(hdrs.get("content-encoding", ""))
        if kind == "identity":
            length = hdrs.get("content-length", "").strip()
            if length.isdigit() and int(length) > cap:
                raise FetchError(too_large)
        chunks: list[bytes] = []
        total = 0

        def take(piece: bytes) -> None:
            nonlocal total
            total += len(piece)
            if total > cap:
                raise FetchError(too_large)
            chunks.append(piece)

        def check_deadline() -> None:
            if time.monotonic() > deadline_at:
                raise self._deadline_error()

        if kind is None or response.is_stream_consumed:
            # an encoding we did not ask for (br, zstd, stacked), or a response already read
            # into memory (e.g. from an injected mock transport): httpx decodes
            for piece in response.iter_bytes():
                check_deadline()
                take(piece)
            return b"".join(chunks)
        decoder = _BoundedDecoder(kind) if kind != "identity" else None
        try:
            for raw in response.iter_raw():
                check_deadline()
                if decoder is None:
                    take(raw)
                else:
                    for piece in decoder.feed(raw):
                        take(piece)
            if decoder is not None:
                for piece in decoder.flush():
                    take(piece)
        except DecodeError as exc:
            raise FetchError(f"could not decode {kind} response body: {_oneline(exc)}") from None
        return b"".join(chunks)


class _NoCookies(CookieJar):
    """Keeps no cookies: pages are fetched as a first visit (a metered paywall counts nothing,
    and nothing accumulates from the thousands of hosts a poll visits)."""

    def set_cookie(self, cookie: Cookie) -> None:
        pass

    def extract_cookies(self, response: Any, request: Any) -> None:
        pass


def _basic_auth(url: httpx.URL) -> str:
    token = b64encode(f"{url.username}:{url.password}".encode()).decode("ascii")
    return f"Basic {token}"


def _environment_proxies() -> bool:
    """Whether the environment names a proxy, as httpx's Client reads it (urllib's getproxies)."""
    return any(scheme in ("http", "https", "all") for scheme in getproxies())


def _url_key(url: str) -> str:
    try:
        return str(httpx.URL(url).copy_with(fragment=None))
    except (httpx.InvalidURL, ValueError, UnicodeError):
        return url
