"""The Starlette app behind `monitor serve` (and `monitor run` with settings.web), and uvicorn.

Every page reads through the `Storage` protocol and the `app` functions the CLI uses; feedback
is `app.feedback`, exactly what `monitor feedback` runs. Work that touches the scorer holds one
lock: feedback rebuilds it, and two requests must not rebuild it at once.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import app as application
from ..errors import ConfigError
from ..store.records import MatchQuery
from . import security, stories, views

log = logging.getLogger("monitor.web")
TEMPLATES = Path(__file__).parent / "templates"
PUBLIC = ("/login",)  # reachable without the access token
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


@dataclass
class WebState:
    app: application.App
    token: str | None  # MONITOR_WEB_TOKEN; None: loopback only, no login
    hosts: frozenset[str] = frozenset(LOOPBACK_NAMES)  # Host headers accepted without a token
    secret: bytes = field(default_factory=lambda: security.new_nonce().encode())  # per process: CSRF
    lock: threading.Lock = field(default_factory=threading.Lock)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every page: stored text is hostile input
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = views.when
    env.globals["health"] = views.health
    return env


ENV = _environment()


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    nonce = request.state.csrf_nonce
    state: WebState = request.app.state.web
    html = ENV.get_template(name).render(
        csrf=security.csrf_token(state.secret, nonce),
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status)


class Guard(BaseHTTPMiddleware):
    """The Host check, the access token (when set), the CSRF cookie, and the security headers."""

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        state: WebState = request.app.state.web
        cookie = request.cookies.get(security.CSRF_COOKIE)
        request.state.csrf_nonce = cookie or security.new_nonce()
        response = await self._checked(request, state, call_next)
        for name, value in security.HEADERS.items():
            response.headers[name] = value
        if not cookie:
            response.set_cookie(
                security.CSRF_COOKIE, request.state.csrf_nonce, httponly=True, samesite="strict", path="/"
            )
        return response

    async def _checked(
        self, request: Request, state: WebState, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if state.token is None and request.url.hostname not in state.hosts:
            # Without a token the page trusts loopback; a foreign Host header means DNS
            # rebinding (a web site's name pointed at 127.0.0.1), which must not read or judge.
            return PlainTextResponse("unexpected Host header", status_code=400)
        if state.token is not None and request.url.path not in PUBLIC:
            given = request.headers.get(security.TOKEN_HEADER) or request.cookies.get(security.TOKEN_COOKIE)
            if not security.token_ok(state.token, given):
                if request.method == "GET":
                    return RedirectResponse("/login", status_code=303)
                return PlainTextResponse("access token required", status_code=401)
        return await call_next(request)


async def checked_form(request: Request) -> FormData | Response:
    """A POST's form when its CSRF token matches this browser's cookie, else the 403 to send."""
    form = await request.form()
    given = form.get(security.CSRF_FIELD)
    state = _state(request)
    if not security.csrf_ok(state.secret, request.cookies.get(security.CSRF_COOKIE), str(given or "")):
        return PlainTextResponse("bad or missing CSRF token: reload the page and try again", status_code=403)
    return form


# --- pages -----------------------------------------------------------------------------------


def _state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def _verdicts(state: WebState) -> dict[int, bool]:
    return {int(j.document.id): j.relevant for j in state.app.store.judgments()}


def digest_page(request: Request) -> Response:
    state = _state(request)
    records = sorted(state.app.store.digests(), key=lambda d: d.id, reverse=True)
    chosen = records[0] if records else None
    if "digest_id" in request.path_params:
        wanted = int(request.path_params["digest_id"])
        chosen = next((d for d in records if d.id == wanted), None)
        if chosen is None:
            return render(request, "error.html.j2", 404, title="Not found", message=f"No digest #{wanted}.")
    items = state.app.store.digest_items(chosen.id) if chosen else ()
    return render(
        request,
        "digest.html.j2",
        title="Digest",
        digest=chosen,
        earlier=records,
        sections=stories.digest_sections(items),
        verdicts=_verdicts(state),
    )


def matches_page(request: Request) -> Response:
    state = _state(request)
    f, errors = views.parse_filter(request.query_params)
    search = views.fts_query(f.q) if f.q else None  # "" (punctuation only): nothing matches
    query = MatchQuery(search, f.feed, f.since, f.min_score, f.judged, f.page, views.PAGE_SIZE)
    # filtering, counting and paging run in the store: only the page's matches are read in full
    found = state.app.store.match_page(query)
    return render(
        request,
        "matches.html.j2",
        title="Matches",
        f=f,
        errors=errors,
        page=views.Page(found.items, found.number, found.pages, found.total),
        feeds=found.feeds,
        verdicts=_verdicts(state),
        demoted=found.demoted,
        page_size=views.PAGE_SIZE,
    )


def _article(state: WebState, article_id: int) -> dict[str, Any] | None:
    found = state.app.store.find_article(str(article_id))
    if found is None:
        return None
    with state.lock:
        info = application.explain(state.app, str(article_id))
    listed = state.app.store.match_item(article_id)
    return {
        "article": found,
        "versions": stories.version_views(state.app.store.versions(article_id)),
        "also_in": listed.also_in if listed else (),
        "story": state.app.store.story_of(article_id),
        "info": info,
        "match": state.app.store.match_for(article_id),
        "paragraphs": views.highlight(found.text, str(info["sentence"] or "")),
        "verdict": _verdicts(state).get(article_id),
    }


def article_page(request: Request) -> Response:
    state = _state(request)
    article_id = int(request.path_params["article_id"])
    data = _article(state, article_id)
    if data is None:
        return render(request, "error.html.j2", 404, title="Not found", message=f"No stored article #{article_id}.")
    moved = None
    try:  # after a judgment: how the threshold moved (values passed on by the redirect)
        moved = (float(request.query_params["t0"]), float(request.query_params["t1"]))
    except (KeyError, ValueError):
        pass
    outcome = request.query_params.get("outcome", "")
    outcome = outcome if outcome in ("new", "demoted", "kept", "none") else ""
    return render(
        request,
        "article.html.j2",
        title=data["article"].title or "(untitled)",
        moved=moved,
        outcome=outcome,
        **data,
    )


def story_page(request: Request) -> Response:
    state = _state(request)
    story_id = int(request.path_params["story_id"])
    members = stories.story_articles(state.app.store.story_articles(story_id), story_id)
    if not members:
        return render(request, "error.html.j2", 404, title="Not found", message=f"No story #{story_id}.")
    return render(
        request,
        "story.html.j2",
        title=f"Story #{story_id}",
        story_id=story_id,
        members=members,
        chart=stories.coverage_chart(members),
        verdicts=_verdicts(state),
    )


def judge(state: WebState, article_id: int, relevant: bool) -> tuple[float, float, str]:
    """`monitor feedback`'s function, with the threshold before and after."""
    with state.lock:
        before = state.app.scorer.threshold
        _, outcome = application.feedback(state.app, str(article_id), relevant)
        after = state.app.scorer.threshold
    return before, after, outcome


async def feedback_post(request: Request) -> Response:
    state = _state(request)
    article_id = int(request.path_params["article_id"])
    form = await checked_form(request)
    if isinstance(form, Response):
        return form
    verdict = form.get("verdict")
    if verdict not in ("relevant", "irrelevant"):
        return PlainTextResponse("verdict must be relevant or irrelevant", status_code=400)
    try:
        before, after, outcome = await run_in_threadpool(judge, state, article_id, verdict == "relevant")
    except ConfigError as exc:  # no such article
        return PlainTextResponse(str(exc), status_code=404)
    log.info("feedback: article #%d marked %s; re-scored: %s", article_id, verdict, outcome)
    query = f"t0={before:.4f}&t1={after:.4f}&outcome={outcome}"
    return RedirectResponse(f"/article/{article_id}?{query}#judgment", status_code=303)


def feeds_page(request: Request) -> Response:
    feeds = sorted(_state(request).app.store.feed_statuses(), key=lambda s: (s.status != "active", s.name.lower()))
    return render(request, "feeds.html.j2", title="Feeds", feeds=feeds)


async def login(request: Request) -> Response:
    state = _state(request)
    if state.token is None:
        return RedirectResponse("/digest", status_code=303)
    if request.method == "GET":
        return render(request, "login.html.j2", title="Log in", failed=False)
    form = await checked_form(request)
    if isinstance(form, Response):
        return form
    given = form.get("token")
    if not security.token_ok(state.token, str(given or "")):
        return render(request, "login.html.j2", 401, title="Log in", failed=True)
    response = RedirectResponse("/digest", status_code=303)
    # Lax, not Strict: a digest email's link must open the page; POSTs still need the CSRF token.
    response.set_cookie(
        security.TOKEN_COOKIE, state.token, httponly=True, samesite="lax", secure=request.url.scheme == "https"
    )
    return response


def create_app(app: application.App, *, token: str | None = None) -> Starlette:
    routes = [
        Route("/", lambda request: RedirectResponse("/digest", status_code=303)),
        Route("/digest", digest_page),
        Route("/digest/{digest_id:int}", digest_page),
        Route("/matches", matches_page),
        Route("/article/{article_id:int}", article_page),
        Route("/article/{article_id:int}/feedback", feedback_post, methods=["POST"]),
        Route("/story/{story_id:int}", story_page),
        Route("/feeds", feeds_page),
        Route("/login", login, methods=["GET", "POST"]),
    ]
    web = Starlette(routes=routes, middleware=[Middleware(Guard)])
    hosts = set(LOOPBACK_NAMES)
    if app.settings.web is not None and app.settings.web.base_url:  # the name digests link to
        hosts.add(urlsplit(app.settings.web.base_url).hostname or "")
    web.state.web = WebState(app=app, token=token, hosts=frozenset(hosts))
    return web


# --- running it --------------------------------------------------------------------------------


@dataclass
class Running:
    """A server started by `start_in_thread`; `stop()` ends it."""

    server: uvicorn.Server
    thread: threading.Thread
    port: int

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def _listen(host: str, port: int) -> socket.socket:
    """Bind here, not in uvicorn: a busy port is a one-line error, and port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"web page: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _server(app: application.App, host: str, port: int, token: str | None) -> tuple[uvicorn.Server, socket.socket]:
    security.check_bind(host, token)
    sock = _listen(host, port)
    config = uvicorn.Config(create_app(app, token=token), log_config=None, access_log=False)
    return uvicorn.Server(config), sock


def serve(app: application.App, host: str, port: int, token: str | None) -> None:
    """Run until Ctrl-C / SIGTERM (uvicorn handles the signals)."""
    server, sock = _server(app, host, port, token)
    log.info("web page on http://%s:%d/", host, sock.getsockname()[1])
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handlers
    # it found; quiet ones here let the caller close the store and exit 0 instead of dying by it.
    quiet = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with sock:
            server.run(sockets=[sock])
    finally:
        for sig, handler in quiet.items():
            signal.signal(sig, handler)


def serve_command(paths: application.Paths, host: str, port: int) -> None:
    """`monitor serve`: check the bind rule before opening anything, then serve the database."""
    token = os.environ.get(security.TOKEN_ENV) or None
    security.check_bind(host, token)
    app = application.open_app(paths, need_feeds=False)
    try:
        serve(app, host, port, token)
    finally:
        app.close()


def start_in_thread(app: application.App, host: str, port: int, token: str | None) -> Running:
    """For `monitor run` (settings.web) and the browser tests; returns once it accepts connections."""
    server, sock = _server(app, host, port, token)

    def run() -> None:
        with sock:
            server.run(sockets=[sock])

    thread = threading.Thread(target=run, name="web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    log.info("web page on http://%s:%d/", host, sock.getsockname()[1])
    return Running(server, thread, sock.getsockname()[1])
