"""Accounts and sessions: login, logout, invite links, roles.

Roles are ``admin`` and ``annotator``. Every view needs a logged-in, active user except the
login page, invite pages and static files (enforced once, in ``load_user``); the admin
blueprint refuses non-admins for all its views (``annotate.admin``). Passwords are stored as
werkzeug (scrypt) hashes; an invited user has no password until they open their link and
choose one.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from datetime import timedelta
from typing import Any, Optional

from flask import (Blueprint, abort, current_app, flash, g, redirect, render_template, request,
                   session, url_for)
from sqlalchemy import Connection, bindparam, func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from arena.errors import InputError
from arena.store.annotation_schema import User
from arena.store.schema import utcnow
from annotate import db
from annotate.timeutil import as_utc

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__, url_prefix="/auth")

ROLES = ("admin", "annotator")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,120}$")
MIN_PASSWORD = 8
INVITE_DAYS = 7
PUBLIC_ENDPOINTS = {"auth.login", "auth.invite", "static"}


# --- account operations (plain functions over a connection; used by admin, CLI, tests) ---

def create_user(conn: Connection, username: str, role: str = "annotator",
                password: Optional[str] = None) -> tuple[int, Optional[str]]:
    """Create an account; return (user id, invite token or None).

    With a password the account can log in at once; without one an invite token (valid
    ``INVITE_DAYS`` days) is returned for the link. Raises InputError naming the field for a bad
    username, role, short password or a taken username; nothing is written then.
    """
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise InputError("use 1-120 letters, digits or _ . @ -", field="username")
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}", field="role")
    if password is not None and len(password) < MIN_PASSWORD:
        raise InputError(f"password must have at least {MIN_PASSWORD} characters",
                         field="password")
    taken = conn.execute(select(User.id).where(User.username == username)).first()
    if taken:
        raise InputError(f"username {username!r} is taken", field="username")
    token = None if password else secrets.token_urlsafe(32)
    uid = conn.execute(User.__table__.insert().values(
        username=username, role=role, pseudonym="ann-" + secrets.token_hex(6),
        password_hash=generate_password_hash(password) if password else None,
        invite_token=token,
        invite_expires_at=utcnow() + timedelta(days=INVITE_DAYS) if token else None,
        active=True, excluded=False, created_at=utcnow()).returning(User.id)).scalar_one()
    log.info("created %s account %r (id %d)", role, username, uid)
    return int(uid), token


def set_password(conn: Connection, user_id: int, password: str) -> None:
    """Set a password and consume any invite token. Raises InputError if too short."""
    if len(password) < MIN_PASSWORD:
        raise InputError(f"password must have at least {MIN_PASSWORD} characters",
                         field="password")
    conn.execute(update(User).where(User.id == user_id).values(
        password_hash=generate_password_hash(password), invite_token=None,
        invite_expires_at=None))
    _forget_if_in_app(user_id)


def _forget_if_in_app(user_id: int) -> None:
    from flask import has_app_context

    if has_app_context():
        forget_user(user_id)


def admin_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(User).where(
        User.role == "admin", User.active.is_(True))).scalar_one())


def ensure_admin_from_env(conn: Connection, username: Optional[str],
                          password: Optional[str]) -> Optional[int]:
    """First start: create the admin named by the environment when no admin exists yet."""
    if not username or not password or admin_count(conn):
        return None
    uid, _ = create_user(conn, username, "admin", password)
    return uid


def authenticate(conn: Connection, username: str, password: str) -> Optional[dict[str, Any]]:
    """The user row (as a dict) when the credentials are right and the account active."""
    row = conn.execute(select(User).where(User.username == username)).first()
    if row is None:
        # Spend the same time as a real check so usernames cannot be probed by timing.
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not row.password_hash or not row.active:
        return None
    if not check_password_hash(row.password_hash, password):
        return None
    return {"id": row.id, "username": row.username, "role": row.role}


_DUMMY_HASH = generate_password_hash("not-a-real-password")


# --- request plumbing ---

USER_CACHE_S = 2.0  # how long a looked-up account is trusted without reading it again
_USER = select(User.id, User.username, User.role, User.active).where(User.id == bindparam("p_uid"))


def _lookup(uid: int) -> Optional[dict[str, Any]]:
    """The active account ``uid`` (id, username, role) or None.

    Every request needs it, so each process keeps it for ``USER_CACHE_S`` seconds: a
    deactivation or role change made in another process takes effect within that time (in
    this process at once: ``forget_user``).
    """
    cache = db.app_store().users
    now = time.monotonic()
    hit = cache.get(uid)
    if hit is not None and hit[0] > now:
        return hit[1]  # type: ignore[no-any-return]
    with db.read() as conn:
        row = conn.execute(_USER, {"p_uid": uid}).first()
    user = {"id": row.id, "username": row.username, "role": row.role} \
        if row is not None and row.active else None
    if len(cache) > 10000:
        cache.clear()
    cache[uid] = (now + USER_CACHE_S, user)
    return user


def forget_user(user_id: int) -> None:
    """Drop a cached account (after a change to it) in this process."""
    db.app_store().users.pop(user_id, None)


def load_user() -> Any:
    """before_request: set ``g.user``; redirect anonymous users to the login page."""
    g.user = None
    uid = session.get("uid")
    if uid is not None:
        g.user = _lookup(int(uid))
        if g.user is None:
            session.clear()
    if g.user is None and request.endpoint not in PUBLIC_ENDPOINTS:
        if request.path.startswith("/api/"):
            abort(401, description="log in first")
        return redirect(url_for("auth.login", next=request.full_path
                                if request.method == "GET" else None))
    return None


def _safe_next(target: Optional[str]) -> str:
    # Only same-site relative paths: never an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("review.index")


def _limiter_keys(username: str) -> tuple[str, str]:
    return f"user:{username.lower()}", f"addr:{request.remote_addr}"


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    user_key, addr_key = _limiter_keys(username)
    lim_user = current_app.extensions["login_limit_user"]
    lim_addr = current_app.extensions["login_limit_addr"]
    if lim_user.blocked(user_key) or lim_addr.blocked(addr_key):
        log.warning("login rate limit hit for %r from %s", username, request.remote_addr)
        return render_template("login.html", next="", error="Too many failed attempts; "
                               "wait a few minutes and try again."), 429
    with db.read() as conn:
        user = authenticate(conn, username, password)
    if user is None:
        lim_user.fail(user_key)
        lim_addr.fail(addr_key)
        return render_template("login.html", next=request.form.get("next", ""),
                               error="Wrong username or password."), 401
    lim_user.reset(user_key)
    session.clear()  # a fresh session (and CSRF token) after login: no fixation
    session.permanent = True
    session["uid"] = user["id"]
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
def invite(token: str) -> Any:
    with db.read() as conn:
        row = conn.execute(select(User.id, User.username, User.invite_expires_at, User.active)
                           .where(User.invite_token == token)).first()
    expires = as_utc(row.invite_expires_at) if row else None
    if row is None or not row.active or (expires is not None and expires < utcnow()):
        abort(404, description="this invite link is unknown, used or expired; ask your admin "
                               "for a new one")
    if request.method == "GET":
        return render_template("invite.html", username=row.username, token=token)
    password = request.form.get("password", "")
    if password != request.form.get("password2", ""):
        return render_template("invite.html", username=row.username, token=token,
                               error="The two passwords differ."), 400
    try:
        db.write(lambda conn: set_password(conn, row.id, password))
    except InputError as err:
        return render_template("invite.html", username=row.username, token=token,
                               error=err.detail), 400
    session.clear()
    session.permanent = True
    session["uid"] = row.id
    flash("Password set. Welcome!")
    return redirect(url_for("review.index"))
