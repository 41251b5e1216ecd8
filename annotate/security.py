"""Security plumbing: secret key, CSRF, login rate limit, response headers.

- SECRET_KEY comes from ``ARENA_SECRET_KEY`` or is generated once into the instance folder
  (``annotate.instance``: outside the code checkout; ``secret_key``, mode 0600); it is never
  in code or config files.
- CSRF: every POST/PUT/PATCH/DELETE must carry the session's token, as the form field
  ``csrf_token`` or the header ``X-CSRF-Token`` (JSON endpoints). A missing or wrong token is
  a 400 before any view runs, so nothing is written.
- Login attempts are limited per client address and per username in the store
  (``annotate.ratelimit``).
- Every response carries a Content-Security-Policy without inline script or style, plus
  nosniff, no-referrer and frame denial.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

log = logging.getLogger(__name__)

SECRET_ENV = "ARENA_SECRET_KEY"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'; object-src 'none'")


def load_secret_key(instance_path: str | Path) -> str:
    """The key from ``ARENA_SECRET_KEY``, else the instance folder's ``secret_key`` file,
    created with 64 random hex characters (0600) on first start."""
    env = os.environ.get(SECRET_ENV)
    if env:
        return env
    folder = Path(instance_path)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "secret_key"
    try:
        # O_EXCL: two processes starting at once agree on one key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # a key others can read signs their forged sessions
        key = path.read_text(encoding="ascii").strip()
        if len(key) < 32:
            raise RuntimeError(f"{path}: secret key is too short; delete it to regenerate")
        return key
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key)
    log.info("generated a new secret key in %s", path)
    return key


def csrf_token() -> str:
    """The session's CSRF token (created on first use)."""
    tok = session.get(CSRF_FIELD)
    if not tok:
        tok = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = tok
    return str(tok)


def check_csrf() -> None:
    """Abort with 400 unless an unsafe request carries the session's CSRF token."""
    if request.method not in UNSAFE_METHODS:
        return
    expected = session.get(CSRF_FIELD)
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        log.warning("rejected %s %s: missing or wrong CSRF token", request.method, request.path)
        abort(400, description="missing or wrong CSRF token; reload the page and try again")


def security_headers(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.endpoint != "static":
        # Pages carry answers and tokens: never cache them.
        resp.headers["Cache-Control"] = "no-store"
    return resp


class CachedSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with each verified cookie remembered for a minute.

    Every request carries the cookie; checking its signature and decoding it costs a fifth
    of a millisecond, on the hot path twice per item. A cookie string that verified once
    holds the same data until its own expiry, so it is decoded from the cache (as a fresh
    copy) until the earlier of a minute later and that expiry. Whether the session is still
    valid for its account is checked on every request anyway (``auth.load_user``).
    """

    CACHE_S = 60.0
    SIZE = 20_000

    def __init__(self) -> None:
        self._seen: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def open_session(self, app: Flask, request: Any) -> Any:
        val = request.cookies.get(self.get_cookie_name(app))
        if not val or not app.secret_key:
            return super().open_session(app, request)
        now = time.monotonic()
        with self._lock:
            hit = self._seen.get(val)
        if hit is not None and hit[0] > now:
            return self.session_class(dict(hit[1]))  # (no serializer built: half the cost)
        s = self.get_signing_serializer(app)
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed_at = s.loads(val, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        left = max_age - (time.time() - signed_at.timestamp())
        with self._lock:
            if len(self._seen) >= self.SIZE:
                self._seen.clear()
            self._seen[val] = (now + min(self.CACHE_S, max(left, 0.0)), dict(data))
        return self.session_class(data)


def init_app(app: Flask) -> None:
    """Sessions, the template's CSRF helper and the response headers. The CSRF check itself
    is registered by the app factory, after the login and role checks
    (``annotate.create_app``)."""
    app.session_interface = CachedSessionInterface()
    app.after_request(security_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
