"""Sessions and the login pages: login, logout, invite / reset links, changing one's password.

Every view needs a logged-in, active user except the login page, invite pages and static
files (enforced once, in ``load_user``); every ``/admin`` view needs the admin role, checked
before the request body is read (``require_role``).

A session is the signed cookie ``{uid, sv, csrf_token}``: ``sv`` is the account's
``session_version`` at login. ``load_user`` accepts the cookie only while the account is active
and its version unchanged, so a logout, password change or reset, deactivation or role change
(``annotate.accounts``) ends every session of the account, including copies of the cookie.
The account is read on each request, or taken from a per-process cache for ``USER_CACHE_S``
seconds (in the process that made a change, at once: ``forget_user``).

Login attempts are limited per username and per client address in the store
(``annotate.ratelimit``), shared by every server process; the work done for a login does not
depend on whether the account exists, is invited or deactivated.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Optional
from urllib.parse import urlsplit

from flask import (Blueprint, abort, current_app, flash, g, redirect, render_template, request,
                   session, url_for)
from sqlalchemy import bindparam, select

from arena.errors import InputError
from arena.store.annotation_schema import User
from arena.store.schema import utcnow
from annotate import db, ratelimit
from annotate.accounts import (INVITE_DAYS, MIN_PASSWORD, ROLES, admin_count,  # noqa: F401
                               authenticate, create_user, end_sessions, ensure_admin_from_env,
                               set_password, token_hash, verify_password)
from annotate.timeutil import as_utc

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__, url_prefix="/auth")

PUBLIC_ENDPOINTS = {"auth.login", "auth.invite", "static"}
ADMIN_BLUEPRINTS = {"admin", "manage", "adjudicate", "authoring"}


# --- request plumbing ---

USER_CACHE_S = 2.0  # how long a looked-up account is trusted without reading it again
_USER = select(User.id, User.username, User.role, User.active, User.session_version,
               User.owner).where(User.id == bindparam("p_uid"))


def _lookup(uid: int) -> Optional[dict[str, Any]]:
    """The active account ``uid`` (id, username, role, sv, owner) or None.

    Every request needs it, so each process keeps it for ``USER_CACHE_S`` seconds: a change
    made in another process takes effect within that time (in this process at once:
    ``forget_user``).
    """
    cache = db.app_store().users
    now = time.monotonic()
    hit = cache.get(uid)
    if hit is not None and hit[0] > now:
        return hit[1]  # type: ignore[no-any-return]
    with db.read() as conn:
        row = conn.execute(_USER, {"p_uid": uid}).first()
    user = {"id": row.id, "username": row.username, "role": row.role,
            "sv": int(row.session_version or 0), "owner": bool(row.owner)} \
        if row is not None and row.active else None
    if len(cache) > 10000:
        cache.clear()
    cache[uid] = (now + USER_CACHE_S, user)
    return user


def forget_user(user_id: int) -> None:
    """Drop a cached account (after a change to it) in this process."""
    db.app_store().users.pop(user_id, None)


def _start_session(user: dict[str, Any]) -> None:
    session.clear()  # a fresh session (and CSRF token) after login: no fixation
    session.permanent = True
    session["uid"] = user["id"]
    session["sv"] = user["sv"]


def load_user() -> Any:
    """before_request: set ``g.user``; redirect anonymous users to the login page."""
    g.user = None
    uid = session.get("uid")
    if uid is not None:
        user = _lookup(int(uid)) if isinstance(uid, int) else None
        if user is not None and session.get("sv") == user["sv"]:
            g.user = user
        else:
            session.clear()  # ended: logged out, password changed, deactivated, role changed
    if g.user is None and request.endpoint not in PUBLIC_ENDPOINTS:
        if request.path.startswith("/api/"):
            abort(401, description="log in first")
        return redirect(url_for("auth.login", next=request.full_path
                                if request.method == "GET" else None))
    return None


def require_role() -> None:
    """before_request, before anything reads the body: admin pages for admins only."""
    if request.blueprint in ADMIN_BLUEPRINTS and (g.get("user") is None
                                                  or g.user["role"] != "admin"):
        abort(403)


def safe_next(target: Optional[str]) -> str:
    """``target`` if it is a path on this site, else the task list: never an open redirect.

    Refused: anything with a scheme or host, a leading ``//``, backslashes, and any control
    character (browsers drop tabs and newlines from URLs, so ``/\\t/evil.example`` would
    become ``//evil.example``; CR / LF would split the header)."""
    default = url_for("review.index")
    if not target or len(target) > 2000 or not target.startswith("/") \
            or target.startswith("//") or "\\" in target:
        return default
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def _limits(username: str) -> tuple[list[ratelimit.Limit], str]:
    cfg = current_app.config
    per_user = int(cfg.get("LOGIN_LIMIT", 5))
    user_key = f"user:{username.lower()[:150]}"
    # Per address a little more generous: several annotators may share one NAT address.
    return [ratelimit.Limit(user_key, per_user),
            ratelimit.Limit(f"addr:{request.remote_addr}", per_user * 4)], user_key


def _login_form(error: Optional[str], status: int, next_: str = "") -> Any:
    return render_template("login.html", next=next_, error=error), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        nxt = request.args.get("next", "")
        return render_template("login.html", next=nxt if safe_next(nxt) == nxt else "")
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    if len(username) > 200 or len(password) > 1000:
        return _login_form("Wrong username or password.", 401)
    limits, user_key = _limits(username)
    window = float(current_app.config.get("LOGIN_WINDOW_S", 300))
    attempt = db.write(lambda c: ratelimit.begin_attempt(c, limits, window))
    if attempt is None:
        log.warning("login rate limit hit for %r from %s", username, request.remote_addr)
        return _login_form("Too many failed attempts; wait a few minutes and try again.", 429)
    with db.read() as conn:
        user = authenticate(conn, username, password)
    if user is None:
        return _login_form("Wrong username or password.", 401,
                           request.form.get("next", ""))
    db.write(lambda c: ratelimit.succeeded(c, user_key, attempt))
    _start_session(user)
    return redirect(safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """Log out: ends every session of the account (on every device), not only this cookie."""
    if g.get("user") is not None:
        uid = int(g.user["id"])
        db.write(lambda c: end_sessions(c, uid))
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
def password() -> Any:
    """Change one's own password (the current one is asked): every other session ends."""
    if request.method == "GET":
        return render_template("password.html")
    uid = int(g.user["id"])
    current, new = request.form.get("current", ""), request.form.get("password", "")
    with db.read() as conn:
        ok = verify_password(conn, uid, current[:1000])
    if not ok:
        return render_template("password.html", error="The current password is wrong."), 400
    if new != request.form.get("password2", ""):
        return render_template("password.html", error="The two new passwords differ."), 400
    try:
        db.write(lambda conn: set_password(conn, uid, new))
    except InputError as err:
        return render_template("password.html", error=str(err)), 400
    forget_user(uid)
    _start_session(_lookup(uid) or abort(403))
    flash("Password changed; your other sessions have ended.")
    return redirect(url_for("review.index"))


def _invite_row(token: str) -> Any:
    with db.read() as conn:
        return conn.execute(select(User.id, User.username, User.invite_expires_at, User.active)
                            .where(User.invite_token == token_hash(token))).first()


@bp.route("/invite/<token>", methods=["GET", "POST"])
def invite(token: str) -> Any:
    """An invite link (choose a first password) or a reset link (choose a new one)."""
    row = _invite_row(token) if len(token) <= 100 else None
    expires = as_utc(row.invite_expires_at) if row else None
    if row is None or not row.active or (expires is not None and expires < utcnow()):
        abort(404, description="this link is unknown, used or expired; ask your admin for a "
                               "new one")
    if request.method == "GET":
        return render_template("invite.html", username=row.username, token=token)
    new = request.form.get("password", "")
    if new != request.form.get("password2", ""):
        return render_template("invite.html", username=row.username, token=token,
                               error="The two passwords differ."), 400
    try:
        db.write(lambda conn: set_password(conn, row.id, new))
    except InputError as err:
        return render_template("invite.html", username=row.username, token=token,
                               error=err.detail), 400
    forget_user(row.id)
    user = _lookup(row.id)
    if user is None:
        abort(404)
    _start_session(user)
    flash("Password set. Welcome!")
    return redirect(url_for("review.index"))


__all__ = ["bp", "load_user", "require_role", "forget_user", "safe_next", "create_user",
           "set_password", "authenticate", "admin_count", "ensure_admin_from_env", "ROLES",
           "MIN_PASSWORD", "INVITE_DAYS"]
