"""The login rate limit, kept in the store so every server process counts the same attempts.

Contract:
- ``begin_attempt`` runs in one write transaction *before* the password is checked: it counts
  the attempts of each key in the last ``window_s`` seconds and, unless one key is at its
  limit, records this attempt for every key. Parallel guesses are therefore each counted
  before any of them is verified: ``--workers N`` or many threads do not multiply the
  guesses an attacker gets.
- ``succeeded`` forgets the user key's attempts after a right password, and this attempt
  under every key: only failures count against an address (one address guessing many accounts
  stays limited; many annotators logging in from one office address do not).
- Rows older than the window are deleted as new attempts come in.
The work does not depend on whether the account exists, is invited or deactivated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import Connection, bindparam, delete, func, select

from arena.store.annotation_schema import LoginAttempt
from arena.store.schema import utcnow

P = bindparam
_COUNT = (select(func.count()).select_from(LoginAttempt)
          .where(LoginAttempt.key == P("p_key"), LoginAttempt.at > P("p_since")))
_PRUNE = delete(LoginAttempt).where(LoginAttempt.at <= P("p_since"))
_FORGET = delete(LoginAttempt).where(LoginAttempt.key == P("p_key"))


@dataclass(frozen=True)
class Limit:
    key: str
    limit: int


def begin_attempt(conn: Connection, limits: list[Limit], window_s: float,
                  now: Optional[datetime] = None) -> Optional[list[int]]:
    """Record an attempt under every key and return the rows' ids; None (nothing recorded)
    when a key is at its limit already."""
    now = now or utcnow()
    since = now - timedelta(seconds=window_s)
    conn.execute(_PRUNE, {"p_since": since})
    for lim in limits:
        if conn.execute(_COUNT, {"p_key": lim.key, "p_since": since}).scalar_one() >= lim.limit:
            return None
    return [int(conn.execute(LoginAttempt.__table__.insert().values(key=lim.key, at=now)
                             .returning(LoginAttempt.id)).scalar_one()) for lim in limits]


def succeeded(conn: Connection, key: str, attempt: list[int]) -> None:
    """Forget the attempts of ``key`` (a right password for that account) and the rows of
    this ``attempt``."""
    conn.execute(_FORGET, {"p_key": key})
    conn.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(attempt)))
