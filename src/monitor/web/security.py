"""The web page's security rules: where it may bind, the access token, CSRF tokens, headers.

Pure functions of their inputs (the per-process secret is passed in), so they are unit-tested
without a server.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets

from ..errors import ConfigError

TOKEN_ENV = "MONITOR_WEB_TOKEN"
TOKEN_COOKIE = "monitor_token"
TOKEN_HEADER = "x-monitor-token"
CSRF_COOKIE = "monitor_csrf"
CSRF_FIELD = "csrf"

# No page loads anything from elsewhere: inline CSS only, no scripts, no external images or fonts;
# forms post only to this server and no other site may frame the pages.
HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Binding anywhere but loopback exposes stored articles and feedback: a token is required."""
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"binding the web page to {host} needs {TOKEN_ENV} (a long random secret) in the environment; "
            "without it, only 127.0.0.1 is allowed"
        )
    if token is not None and len(token) < 16:
        raise ConfigError(f"{TOKEN_ENV} is too short: use at least 16 characters (e.g. `openssl rand -hex 32`)")


def token_ok(expected: str, given: str | None) -> bool:
    """Constant-time comparison of the access token."""
    if not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(secret: bytes, nonce: str) -> str:
    """The form token for a browser's CSRF cookie: an HMAC only this process can make."""
    return hmac.new(secret, nonce.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: bytes, nonce: str | None, given: str | None) -> bool:
    if not nonce or not given:
        return False
    return hmac.compare_digest(csrf_token(secret, nonce), given)
