"""Who may come in and what a browser may be made to do: token, CSRF, cross-site refusal, headers.

* With a token (required for any host other than loopback) every request must carry
  ``Authorization: Bearer <token>`` or the session cookie the login form sets (an HMAC of the token,
  HttpOnly, SameSite=Strict); only the login page and the static files are open.
* Every form carries a CSRF token equal to the ``analyzer_csrf`` cookie (double submit).
* Any POST/DELETE a browser marks as coming from another site (``Sec-Fetch-Site`` or a foreign
  ``Origin``) is refused, which also covers the JSON API when no token is set.
* Pages get a CSP with no external sources and no inline script; the CLI's HTML report keeps its own.
* Cookies are HttpOnly and SameSite=Strict, and ``Secure`` when the request came over https (directly,
  or through a proxy on this machine that says so in ``X-Forwarded-Proto``, which uvicorn honours) or
  when the operator declares an https proxy (``--behind-https-proxy``): a browser then never sends the
  session over plain http.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from analyzer.report.diagnosis.html import SCRIPT_HASH

CSRF_COOKIE = "analyzer_csrf"
SESSION_COOKIE = "analyzer_session"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The report's own policy, plus no framing: its one inline script (the DN Copy buttons) runs by its hash.
REPORT_CSP = f"default-src 'none'; style-src 'unsafe-inline'; script-src '{SCRIPT_HASH}'; frame-ancestors 'none'"
OPEN_PATHS = ("/login", "/static/")


def session_value(token: str) -> str:
    """The session cookie for a token: proves the token was given without storing it in the browser."""
    return hmac.new(token.encode("utf-8"), b"analyzer-session", hashlib.sha256).hexdigest()


def authorized(request: Request, token: str | None) -> bool:
    if not token:
        return True
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), session_value(token).encode())


def cross_site(request: Request) -> bool:
    """True when a browser says the request comes from another site.

    ``Sec-Fetch-Site`` decides where the browser sends it; older browsers are judged by ``Origin``.
    Scripts and the CLI send neither and are not browsers a page could misuse.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc != request.headers.get("host", "")


def set_cookie(response: Response, request: Request, name: str, value: str, *, always_secure: bool) -> None:
    """Every cookie of the server: HttpOnly, SameSite=Strict, whole site; Secure over https (see above)."""
    secure = always_secure or request.url.scheme == "https"
    response.set_cookie(name, value, httponly=True, samesite="strict", secure=secure, path="/")


def csrf_ok(request: Request, value: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and bool(value) and hmac.compare_digest(cookie.encode(), str(value).encode())


def csrf_token(request: Request) -> str:
    """The request's CSRF token (a new one when the browser has none yet; the middleware sets the cookie)."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = secrets.token_urlsafe(24)
        request.state.new_csrf = token
    return token


class SecurityMiddleware(BaseHTTPMiddleware):
    """Token check, cross-site refusal and security headers for every request."""

    def __init__(self, app: object, token: str | None, secure_cookies: bool = False) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.token = token
        self.secure_cookies = secure_cookies

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        is_api = path.startswith("/api/") or path == "/openapi.json"
        if not path.startswith(OPEN_PATHS) and not authorized(request, self.token):
            if is_api or request.method != "GET":
                return _secured(JSONResponse({"error": "missing or wrong token"}, status_code=401))
            return _secured(RedirectResponse("/login", status_code=303))
        if request.method not in ("GET", "HEAD", "OPTIONS") and cross_site(request):
            return _secured(JSONResponse({"error": "cross-site request refused"}, status_code=403))
        response = await call_next(request)
        new = getattr(request.state, "new_csrf", None)
        if new:
            set_cookie(response, request, CSRF_COOKIE, new, always_secure=self.secure_cookies)
        return _secured(response)


def _secured(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cache-Control", "no-store")
    return response
