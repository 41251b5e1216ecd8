"""Who may work on a task, and what annotators see of it.

- A task is *restricted* (``Task.restricted``) when an admin chose its annotators: only the
  users in ``task_members`` see it and get items (``annotate.assign.claim`` checks the same
  rule in its own statement). An unrestricted task is open to every annotator.
- Archived tasks are hidden from annotators whatever their status; closed tasks too.
- To anyone else a task they may not see does not exist (404), never "forbidden".
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from sqlalchemy import Connection, delete, exists, select, update

from arena.errors import InputError
from arena.store.annotation_schema import Task, TaskMember, User
from arena.store.schema import utcnow

_TASK_COLS = (Task.id, Task.public_title, Task.status, Task.scale, Task.mode, Task.archived,
              Task.restricted)


def _member_clause(user_id: int) -> Any:
    return Task.restricted.is_(False) | exists().where(TaskMember.task_id == Task.id,
                                                       TaskMember.user_id == user_id)


def visible_tasks(conn: Connection, user_id: int) -> list[Any]:
    """The tasks an annotator's list shows: not closed, not archived, and open to them."""
    return list(conn.execute(select(*_TASK_COLS).where(
        Task.status != "closed", Task.archived.is_(False), _member_clause(user_id))
        .order_by(Task.id)).all())


def task_for(conn: Connection, task_id: int, user_id: int) -> Optional[Any]:
    """The task row if the user may see it (any status but archived), else None."""
    return conn.execute(select(*_TASK_COLS).where(
        Task.id == task_id, Task.archived.is_(False), _member_clause(user_id))).first()


def members(conn: Connection, task_id: int) -> list[int]:
    return list(conn.execute(select(TaskMember.user_id).where(TaskMember.task_id == task_id)
                             .order_by(TaskMember.user_id)).scalars())


def set_members(conn: Connection, task_id: int, user_ids: Iterable[int],
                restricted: bool) -> None:
    """Restrict the task to ``user_ids`` (``restricted``) or open it to everyone.

    The chosen users are kept either way (opening a task and restricting it again restores the
    list). Raises LookupError for an unknown task, InputError for an unknown user or a
    restricted task with nobody chosen."""
    ids = sorted({int(u) for u in user_ids})
    if conn.execute(select(Task.id).where(Task.id == task_id)).first() is None:
        raise LookupError(task_id)
    known = set(conn.execute(select(User.id).where(User.id.in_(ids))).scalars()) if ids else set()
    unknown = [u for u in ids if u not in known]
    if unknown:
        raise InputError(f"no account with id {unknown[0]}", field="members")
    if restricted and not ids:
        raise InputError("choose at least one annotator, or open the task to everyone",
                         field="members")
    conn.execute(delete(TaskMember).where(TaskMember.task_id == task_id))
    if ids:
        now = utcnow()
        conn.execute(TaskMember.__table__.insert(),
                     [{"task_id": task_id, "user_id": u, "added_at": now} for u in ids])
    conn.execute(update(Task).where(Task.id == task_id).values(restricted=restricted))
