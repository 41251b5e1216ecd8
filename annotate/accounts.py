"""Account operations: create, passwords, invite / reset links, roles, ending sessions.

Plain functions over a connection inside the caller's write transaction (used by the admin
pages, the CLI and tests). Rules:

- Passwords are werkzeug (scrypt) hashes. An invited user has no password until they open
  their link; a reset link works the same way for an account that has one.
- Link tokens are shown once and stored as their SHA-256 only (``User.invite_token``): a copy
  of the database does not contain a working link.
- Every change that must end an account's sessions increments ``User.session_version``
  (``end_sessions``): password set or reset, a reset link issued, deactivation, role change,
  logout. A session cookie carries the version it was issued with (``annotate.auth``).
- The owner is the first admin account (``User.owner``). Only the owner may reset, deactivate or
  change the role of another admin; any admin may do so for annotators.
Bad input raises InputError naming the field; a forbidden change raises PermissionError;
an unknown account LookupError. Nothing is written then.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from datetime import timedelta
from typing import Any, Optional

from sqlalchemy import Connection, func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from arena.errors import InputError
from arena.store.annotation_schema import User
from arena.store.schema import utcnow
from annotate.validate import check_text

log = logging.getLogger(__name__)

ROLES = ("admin", "annotator")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,120}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1000
INVITE_DAYS = 7


def token_hash(token: str) -> str:
    """What the store keeps of a link token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _check_password(password: str) -> None:
    check_text(password, "password", MAX_PASSWORD)
    if len(password) < MIN_PASSWORD:
        raise InputError(f"password must have at least {MIN_PASSWORD} characters",
                         field="password")


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
    if password is not None:
        _check_password(password)
    taken = conn.execute(select(User.id).where(User.username == username)).first()
    if taken:
        raise InputError(f"username {username!r} is taken", field="username")
    token = None if password else secrets.token_urlsafe(32)
    owner = role == "admin" and owner_id(conn) is None
    uid = conn.execute(User.__table__.insert().values(
        username=username, role=role, pseudonym="ann-" + secrets.token_hex(6),
        password_hash=generate_password_hash(password) if password else None,
        invite_token=token_hash(token) if token else None,
        invite_expires_at=utcnow() + timedelta(days=INVITE_DAYS) if token else None,
        active=True, excluded=False, session_version=0, owner=owner, created_at=utcnow())
        .returning(User.id)).scalar_one()
    log.info("created %s account %r (id %d)", role, username, uid)
    return int(uid), token


def end_sessions(conn: Connection, user_id: int) -> None:
    """End every session of the account (its cookies stop working at their next request)."""
    conn.execute(update(User).where(User.id == user_id)
                 .values(session_version=User.session_version + 1))
    _forget_if_in_app(user_id)


def set_password(conn: Connection, user_id: int, password: str) -> None:
    """Set a password, consume any invite / reset link and end the account's sessions.
    Raises InputError if the password is too short or too long."""
    _check_password(password)
    conn.execute(update(User).where(User.id == user_id).values(
        password_hash=generate_password_hash(password), invite_token=None,
        invite_expires_at=None))
    end_sessions(conn, user_id)


def verify_password(conn: Connection, user_id: int, password: str) -> bool:
    """Whether ``password`` is the account's current one."""
    h = conn.execute(select(User.password_hash).where(User.id == user_id)).scalar()
    return bool(h) and check_password_hash(h, password)


def owner_id(conn: Connection) -> Optional[int]:
    """The owner: the account marked so when the first admin was created (a store from before
    the mark: the admin with the lowest id), or None before any admin exists."""
    got = conn.execute(select(func.min(User.id)).where(User.owner.is_(True))).scalar()
    if got is None:
        got = conn.execute(select(func.min(User.id)).where(User.role == "admin")).scalar()
    return int(got) if got is not None else None


def _target(conn: Connection, user_id: int) -> Any:
    row = conn.execute(select(User.id, User.username, User.role).where(User.id == user_id)
                       ).first()
    if row is None:
        raise LookupError(user_id)
    return row


def _may_manage(conn: Connection, actor_id: Optional[int], target: Any, what: str) -> None:
    """Raise PermissionError unless ``actor_id`` may change ``target`` (None: the CLI, run by
    whoever has the server's shell, may do anything)."""
    if actor_id is None or target.role != "admin" or target.id == actor_id:
        return
    owner = owner_id(conn)
    if actor_id != owner:
        raise PermissionError(f"only the owner (the first admin) can {what} another admin")


def issue_link(conn: Connection, actor_id: Optional[int], user_id: int) -> tuple[str, str]:
    """A new invite link (no password yet) or reset link (the account has one) for
    ``user_id``; return (username, token). Issuing a reset link ends the account's sessions:
    whoever asked for it expects the account to be taken back. Raises LookupError,
    PermissionError (an admin's link, asked for by an admin who is not the owner)."""
    target = _target(conn, user_id)
    _may_manage(conn, actor_id, target, "reset the password of")
    token = secrets.token_urlsafe(32)
    conn.execute(update(User).where(User.id == user_id).values(
        invite_token=token_hash(token),
        invite_expires_at=utcnow() + timedelta(days=INVITE_DAYS)))
    end_sessions(conn, user_id)
    return str(target.username), token


def set_active(conn: Connection, actor_id: Optional[int], user_id: int, active: bool) -> None:
    """(De)activate an account; deactivation ends its sessions. Raises LookupError,
    PermissionError (another admin, by a non-owner; one's own account)."""
    target = _target(conn, user_id)
    if actor_id is not None and user_id == actor_id and not active:
        raise PermissionError("you cannot deactivate your own account")
    _may_manage(conn, actor_id, target, "deactivate")
    conn.execute(update(User).where(User.id == user_id).values(active=active))
    end_sessions(conn, user_id)


def set_role(conn: Connection, actor_id: Optional[int], user_id: int, role: str) -> None:
    """Change an account's role; ends its sessions (a cookie issued before must not gain or
    keep admin rights). Only the owner (or the CLI) may change roles. Raises InputError for an
    unknown role, LookupError, PermissionError."""
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}", field="role")
    target = _target(conn, user_id)
    owner = owner_id(conn)
    if actor_id is not None and actor_id != owner:
        raise PermissionError("only the owner (the first admin) can change roles")
    if target.id == owner and role != "admin":
        raise PermissionError("the owner stays an admin")
    if target.role == role:
        return
    values: dict[str, Any] = {"role": role}
    if role == "admin" and owner is None:
        values["owner"] = True  # the first admin of the store
    conn.execute(update(User).where(User.id == user_id).values(**values))
    end_sessions(conn, user_id)
    log.info("account %r is now %s", target.username, role)


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


_DUMMY_HASH = generate_password_hash("not-a-real-password")


def authenticate(conn: Connection, username: str, password: str) -> Optional[dict[str, Any]]:
    """The account (id, username, role, session_version) when the credentials are right and
    the account active, else None.

    Constant work: one hash check whether the account is unknown, invited (no password yet),
    deactivated or real, so the answer's timing says nothing about which.
    """
    row = conn.execute(select(User.id, User.username, User.role, User.active,
                              User.password_hash, User.session_version)
                       .where(User.username == username)).first()
    usable = row is not None and bool(row.password_hash) and bool(row.active)
    ok = check_password_hash(row.password_hash if usable else _DUMMY_HASH, password)
    if not (usable and ok):
        return None
    return {"id": row.id, "username": row.username, "role": row.role,
            "sv": int(row.session_version or 0)}


def _forget_if_in_app(user_id: int) -> None:
    from flask import has_app_context

    if has_app_context():
        from annotate.auth import forget_user

        forget_user(user_id)
