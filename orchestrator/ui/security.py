"""Guards for the UI: a token when bound beyond loopback, the Host header checked (DNS
rebinding), state-changing requests only from our own page (CSRF), strict response headers."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

__all__ = ["Guard", "is_loopback"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_COOKIE = "bicameral_ui_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Guard:
    """The UI's security settings for one server.

    Attributes:
        host: the address the server binds.
        port: its port.
        token: required on every request when not on loopback (``None`` on loopback).
        csrf: a per-server secret our page sends back on every state-changing request.
    """

    host: str
    port: int
    token: str | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @classmethod
    def for_address(cls, host: str, port: int, token: str | None = None) -> Guard:
        """Loopback needs no token; any other address gets one (given or generated)."""
        if is_loopback(host):
            return cls(host, port, token)
        return cls(host, port, token or secrets.token_urlsafe(24))

    def _host_ok(self, request: web.Request) -> bool:
        if not is_loopback(self.host):
            return True  # the token protects; names for the address are the user's business
        name = (request.host or "").rsplit(":", 1)[0].strip("[]")
        return is_loopback(name)

    def _token_ok(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        given = request.cookies.get(_COOKIE) or request.query.get("token", "")
        return hmac.compare_digest(given, self.token)

    def _same_origin(self, request: web.Request) -> bool:
        if not hmac.compare_digest(request.headers.get("X-Bicameral-CSRF", ""), self.csrf):
            return False
        origin = request.headers.get("Origin")
        return origin is None or origin == f"{request.scheme}://{request.host}"

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Apply every guard, then add the security headers."""
        if not self._host_ok(request):
            return _plain(403, "forbidden: unexpected Host header")
        if not self._token_ok(request):
            return _plain(401, "unauthorized: open the URL with ?token=... printed at start")
        if request.method not in _SAFE_METHODS and not self._same_origin(request):
            return _plain(403, "forbidden: cross-site request")
        response = await handler(request)
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        if self.token is not None and request.query.get("token"):
            response.set_cookie(_COOKIE, self.token, httponly=True, samesite="Strict")
        return response


def _plain(status: int, text: str) -> web.Response:
    response = web.Response(status=status, text=text + "\n")
    for name, value in _HEADERS.items():
        response.headers[name] = value
    return response
