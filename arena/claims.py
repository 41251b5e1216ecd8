"""Work claiming: several processes (on one machine or many, against one store) split the
paid work of a config, and no call is made twice except the in-flight calls of a worker whose
lease expired.

A unit of work (one answer, one judgment) has a key. Before calling, a worker claims a chunk
of keys with one statement on both dialects::

    INSERT INTO claims (key, owner, expires_at) VALUES ...
    ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
    WHERE claims.expires_at < :now
    RETURNING key

A key nobody holds is inserted; a key whose lease has expired is taken over; a live claim is
left alone (on PostgreSQL the conflicting row is locked and re-checked, so two workers never
both get a key). Keys are sorted within a statement, so concurrent claims take row locks in
one order and cannot deadlock; each worker starts at its own offset, so they rarely collide.
In the same transaction the caller's ``done`` check drops keys whose result is already stored
(another worker finished them after this worker planned), releasing them at once. The result
writer deletes a claim in the transaction that stores its result. A heartbeat thread renews
this worker's leases every third of the lease, so a slow call keeps its claim; a killed
worker's claims return after at most one lease.

"Done" for a round of concurrent workers includes a *failure* recorded since this worker
started (another worker of the round tried it): a failure is retried by the next run, not by
a sibling. Clocks: leases and that rule compare times written by different machines, which
must agree to well within a lease (NTP).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import deque
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Generic, Iterable, Optional, Sequence, TypeVar

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from arena.store.schema import Claim

log = logging.getLogger(__name__)

T = TypeVar("T")
DoneCheck = Callable[[Connection, list[str]], set[str]]
DEFAULT_LEASE_S = 120.0


def new_owner() -> str:
    """A worker id: host, process and a random part (a restarted process is a new worker)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def _gone(owner: str) -> bool:
    """Whether ``owner`` (``host:pid:tag``) is a process of this machine that has ended."""
    host, _, rest = owner.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname()[:60] or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class ClaimBook:
    """This worker's claims in one store. Thread-safe; ``close()`` stops the heartbeat and
    releases what is still held (a clean exit hands its unfinished keys back at once)."""

    def __init__(self, store: Any, *, lease_s: float = DEFAULT_LEASE_S,
                 owner: Optional[str] = None) -> None:
        if lease_s <= 0:
            raise ValueError("a lease must be positive")
        self.store = store
        self.lease_s = float(lease_s)
        self.owner = owner or new_owner()
        self.started = now_utc()
        self._stop = threading.Event()
        self._beat: Optional[threading.Thread] = None

    # -- claiming --------------------------------------------------------------------------
    def claim(self, keys: Sequence[str], done: Optional[DoneCheck] = None
              ) -> tuple[list[str], set[str]]:
        """Claim ``keys``; returns (claimed keys not done, keys found done). Done keys that
        this call claimed are released in the same transaction."""
        if not keys:
            return [], set()
        keys = sorted(set(keys))
        now = now_utc()
        rows = [{"key": k, "owner": self.owner, "expires_at": now + timedelta(
            seconds=self.lease_s), "created_at": now} for k in keys]
        with self.store.begin() as conn:
            mod = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = mod.insert(Claim.__table__).values(rows)
            stmt = stmt.on_conflict_do_update(
                index_elements=["key"],
                set_={"owner": stmt.excluded.owner, "expires_at": stmt.excluded.expires_at},
                where=Claim.__table__.c.expires_at < now).returning(Claim.__table__.c.key)
            got = set(conn.execute(stmt).scalars().all())
            finished = done(conn, keys) if done is not None else set()
            drop = sorted(got & finished)
            if drop:
                self._release(conn, drop)
        self._ensure_heartbeat()
        return [k for k in keys if k in got and k not in finished], finished

    def release(self, conn: Connection, keys: Iterable[str]) -> None:
        """Delete this worker's claims on ``keys`` (called in the transaction that stores
        their results)."""
        keys = list(keys)
        if keys:
            self._release(conn, keys)

    def _release(self, conn: Connection, keys: list[str]) -> None:
        c = Claim.__table__.c
        for start in range(0, len(keys), 500):
            conn.execute(delete(Claim.__table__).where(c.owner == self.owner,
                                                        c.key.in_(keys[start:start + 500])))

    def held_elsewhere(self, keys: Sequence[str]) -> tuple[int, Optional[float]]:
        """(how many of ``keys`` other workers hold under a live lease, seconds until the
        first of those leases ends). Claims of a worker on this machine whose process is gone
        (``kill -9``) are ended on the spot instead of waiting for their lease."""
        c = Claim.__table__.c
        now = now_utc()
        n, first = 0, None
        keys = list(keys)
        dead: set[str] = set()
        with self.store.begin() as conn:
            for start in range(0, len(keys), 500):
                for owner, exp in conn.execute(select(c.owner, c.expires_at).where(
                        c.key.in_(keys[start:start + 500]), c.owner != self.owner)):
                    exp = exp if exp.tzinfo else exp.replace(tzinfo=timezone.utc)
                    if exp <= now:
                        continue
                    if owner in dead or _gone(owner):
                        dead.add(owner)
                        continue
                    n += 1
                    left = (exp - now).total_seconds()
                    first = left if first is None else min(first, left)
            for owner in sorted(dead):
                log.info("worker %s is gone: its claims are taken over now", owner)
                conn.execute(update(Claim.__table__).where(c.owner == owner).values(
                    expires_at=now))
        return n, first

    # -- leases ----------------------------------------------------------------------------
    def renew(self) -> int:
        """Extend every lease this worker holds; returns how many."""
        c = Claim.__table__.c
        with self.store.begin() as conn:
            res = conn.execute(update(Claim.__table__).where(c.owner == self.owner).values(
                expires_at=now_utc() + timedelta(seconds=self.lease_s)))
        return int(res.rowcount or 0)

    def _ensure_heartbeat(self) -> None:
        if self._beat is not None:
            return
        self._beat = threading.Thread(target=self._heartbeat, name="claims-heartbeat",
                                      daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                self.renew()
            except Exception:  # the store is away for a moment: the next beat tries again
                log.warning("could not renew the leases of %s", self.owner, exc_info=True)

    def close(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        try:
            with self.store.begin() as conn:
                conn.execute(delete(Claim.__table__).where(
                    Claim.__table__.c.owner == self.owner))
        except Exception:  # leases expire by themselves
            log.warning("could not release the claims of %s", self.owner, exc_info=True)


class ClaimedSource(Generic[T]):
    """Hands out ``items`` one by one, each claimed first; for ``CallRunner.amap_source``.
    ``stop()`` true (the budget is spent) ends the hand-out: claims not worked on are
    released when the book closes. With ``writer`` an item is handed out only while the
    writer's uncommitted results are at most ``backlog`` (default: the chunk size).

    ``key(item)`` is its work key; ``done(conn, keys)`` the keys whose result is stored (or,
    for this round, tried). Claims run in a thread (never on the event loop), one chunk at a
    time, the next one started while half of the current one is still to hand out. When every
    remaining item is held by another live worker, ``take`` waits (polling,
    at most until the first lease ends) so that a dead worker's items are taken over and the
    run ends only when the work is done. ``claimed`` / ``done_elsewhere`` count what happened.
    """

    def __init__(self, book: ClaimBook, items: Sequence[T], key: Callable[[T], str],
                 done: DoneCheck, *, chunk: int = 64, poll_s: float = 2.0,
                 stop: Optional[Callable[[], bool]] = None, writer: Any = None,
                 backlog: Optional[int] = None) -> None:
        self.book = book
        self.key = key
        self.done = done
        self.chunk = max(1, chunk)
        self.poll_s = poll_s
        self.stop = stop  # e.g. "the budget is spent": hand out nothing more
        # back-pressure: no new item while the result writer holds more than ``backlog``
        # uncommitted results (arena.llm.writer)
        self.writer = writer
        self.backlog = backlog if backlog is not None else self.chunk
        by_key: dict[str, T] = {}
        for it in items:
            by_key.setdefault(key(it), it)
        self._items = by_key
        order = list(by_key)
        # each worker starts at its own offset: siblings rarely contend for one chunk
        if order:
            cut = random.Random(book.owner).randrange(len(order))
            order = order[cut:] + order[:cut]
        self._todo = order
        self._buffer: deque[T] = deque()
        # the next chunk's claim, started while the buffer still holds prefetch_at items
        self._next: Optional[asyncio.Future] = None
        self.prefetch_at = max(1, self.chunk // 2)
        self._lock: Optional[asyncio.Lock] = None
        self.claimed = 0
        self.done_elsewhere = 0
        self._said = 0.0

    async def take(self) -> Optional[T]:
        """The next claimed item, or None when no work is left."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        if self.writer is not None:
            await self.writer.wait_room(self.backlog)
        async with self._lock:
            while not self._buffer:
                if self._next is None:
                    if not self._todo or self._stopped():
                        return None
                    self._next = self._claim_in_thread()
                got, wait = await self._next
                self._next = None
                if got:
                    self._buffer.extend(got)
                elif wait is not None:
                    await asyncio.sleep(wait)
            item = self._buffer.popleft()
            # Claim the next chunk while this one is worked on, so that no call waits for a
            # claim transaction (one chunk at a time would leave slots idle at every refill).
            if (len(self._buffer) < self.prefetch_at and self._next is None and self._todo
                    and not self._stopped()):
                self._next = self._claim_in_thread()
            return item

    def _stopped(self) -> bool:
        return self.stop is not None and bool(self.stop())

    def _claim_in_thread(self) -> "asyncio.Future[tuple[list[T], Optional[float]]]":
        return asyncio.get_running_loop().run_in_executor(None, self._claim_some)

    def _claim_some(self) -> tuple[list[T], Optional[float]]:
        """Claim through the remaining keys; (items claimed, seconds to wait when none)."""
        busy: list[str] = []
        while self._todo:
            part, self._todo = self._todo[:self.chunk], self._todo[self.chunk:]
            mine, finished = self.book.claim(part, self.done)
            self.done_elsewhere += len(finished)
            busy += [k for k in part if k not in finished and k not in mine]
            if mine:
                self.claimed += len(mine)
                self._todo = self._todo + busy  # try the busy ones again last
                return [self._items[k] for k in mine], None
        self._todo = busy
        if not busy:
            return [], None
        n, first = self.book.held_elsewhere(busy)
        if n == 0:
            return [], 0.0  # their leases just ended (or the results landed): claim again
        now = time.monotonic()
        if now - self._said > 30:
            self._said = now
            log.info("waiting for %d items held by other workers (their results, or the end "
                     "of their lease in %.0f s)", n, first or 0)
        return [], min(self.poll_s, max(0.05, first or self.poll_s))


__all__ = ["ClaimBook", "ClaimedSource", "new_owner", "DEFAULT_LEASE_S"]
