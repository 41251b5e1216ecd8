"""The store side of the Batch API: which batches were submitted and which requests they hold.

``arena.llm.batch_provider`` records a batch (``record``) in one transaction once its input
file is uploaded and *before* the batch is created, under a placeholder id (``file:<input
file id>``, status ``submitting``); ``set_provider_id`` puts the provider's batch id in once
it is created. So a killed run leaves every batch that may exist findable, even one killed
between the create call and its answer: a placeholder is matched to the provider's batches by
input file id (``arena.llm.batch_provider`` lists them), or, when no batch was created,
``abandon`` closes it and its requests are submitted again. The next run asks
``open_batches_of`` the next run asks ``open_batches_of`` which of the requests it is about to
submit already sit in an open batch (not terminal, or terminal but not yet ingested) of the
same endpoint and model, and polls that batch instead of paying for the requests again.
``update`` keeps status, counts and file ids current while polling; ``mark_ingested`` is set
once every result of the batch was handed to the stage.

All functions take a :class:`arena.store.Store` and run their own short transaction; they
raise the database's errors (nothing is swallowed here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Optional

from sqlalchemy import func, insert, select, update

from arena.store.schema import BatchJob, BatchRequest, utcnow

TERMINAL = ("completed", "failed", "expired", "cancelled", "not_created")
IN_CHUNK = 500  # ids per IN (...) list: well under SQLite's variable limit


def batch_key(model: str, endpoint: str) -> str:
    """The endpoint + model a batch belongs to (a request id only matches within one key)."""
    return f"{endpoint.rstrip('/')}|{model}"[:300]


@dataclass
class BatchRow:
    id: int
    provider_batch_id: str
    key: str
    model: str
    endpoint: str
    status: str
    request_count: int
    completed: int
    failed: int
    cost: Optional[float]
    input_file_id: str
    output_file_id: Optional[str]
    error_file_id: Optional[str]
    reason: Optional[str]
    submitted_at: datetime
    finished_at: Optional[datetime]
    ingested_at: Optional[datetime]

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


_COLS = [getattr(BatchJob, f) for f in BatchRow.__dataclass_fields__]


def _row(r: Any) -> BatchRow:
    return BatchRow(*r)


PLACEHOLDER = "file:"  # provider_batch_id of a batch recorded before it was created


def placeholder_id(input_file_id: str) -> str:
    return f"{PLACEHOLDER}{input_file_id}"


def is_placeholder(provider_batch_id: str) -> bool:
    return provider_batch_id.startswith(PLACEHOLDER)


def record(store: Any, *, provider_batch_id: str, key: str, model: str, endpoint: str,
           status: str, custom_ids: list[str], input_file_id: str,
           cost: Optional[float]) -> int:
    """Store a batch (or, under ``placeholder_id``, one about to be created) and its request
    ids in one transaction; its row id."""
    with store.begin() as conn:
        bid = conn.execute(insert(BatchJob.__table__).values(
            provider_batch_id=provider_batch_id, key=key, model=model, endpoint=endpoint,
            status=status, request_count=len(custom_ids), completed=0, failed=0, cost=cost,
            input_file_id=input_file_id, submitted_at=utcnow()).returning(
            BatchJob.__table__.c.id)).scalar_one()
        for start in range(0, len(custom_ids), 5000):
            conn.execute(insert(BatchRequest.__table__),
                         [{"batch_id": bid, "custom_id": c}
                          for c in custom_ids[start:start + 5000]])
    return int(bid)


def update_status(store: Any, row_id: int, *, status: str, completed: int = 0,
                  failed: int = 0, output_file_id: Optional[str] = None,
                  error_file_id: Optional[str] = None, reason: Optional[str] = None) -> None:
    values: dict[str, Any] = {"status": status, "completed": completed, "failed": failed}
    if output_file_id:
        values["output_file_id"] = output_file_id
    if error_file_id:
        values["error_file_id"] = error_file_id
    if reason:
        values["reason"] = reason[:2000]
    J = BatchJob.__table__.c
    if status in TERMINAL:  # the first time it was seen finished (cancel may come first)
        values["finished_at"] = func.coalesce(J.finished_at, utcnow())
    with store.begin() as conn:
        conn.execute(update(BatchJob.__table__).where(J.id == row_id).values(**values))


def set_provider_id(store: Any, row_id: int, provider_batch_id: str, status: str) -> None:
    """The provider's id (and status) of a batch recorded under a placeholder."""
    with store.begin() as conn:
        conn.execute(update(BatchJob.__table__).where(BatchJob.__table__.c.id == row_id)
                     .values(provider_batch_id=provider_batch_id, status=status))


def abandon(store: Any, row_id: int, reason: str) -> None:
    """Close a placeholder whose batch was never created: nothing to poll, nothing paid; its
    requests are pending again (``status`` ``not_created``)."""
    now = utcnow()
    with store.begin() as conn:
        conn.execute(update(BatchJob.__table__).where(BatchJob.__table__.c.id == row_id)
                     .values(status="not_created", reason=reason[:2000], finished_at=now,
                             ingested_at=now))


def mark_ingested(store: Any, row_id: int) -> None:
    with store.begin() as conn:
        conn.execute(update(BatchJob.__table__).where(BatchJob.__table__.c.id == row_id)
                     .values(ingested_at=utcnow()))


def open_batches_of(store: Any, key: str, custom_ids: Iterable[str]
                    ) -> tuple[dict[str, int], dict[int, BatchRow]]:
    """Which of ``custom_ids`` sit in a batch of ``key`` that is not ingested yet:
    ({custom_id: batch row id}, {batch row id: BatchRow}). Newest batch wins."""
    ids = list(custom_ids)
    J, R = BatchJob.__table__.c, BatchRequest.__table__.c
    found: dict[str, int] = {}
    rows: dict[int, BatchRow] = {}
    with store.begin() as conn:
        open_ids = {r.id: r for r in map(_row, conn.execute(
            select(*_COLS).where(J.key == key, J.ingested_at.is_(None))))}
        if not open_ids:
            return found, rows
        for start in range(0, len(ids), IN_CHUNK):
            for cid, b in conn.execute(select(R.custom_id, R.batch_id).where(
                    R.custom_id.in_(ids[start:start + IN_CHUNK]),
                    R.batch_id.in_(list(open_ids))).order_by(R.batch_id)):
                found[cid] = b
                rows[b] = open_ids[b]
    return found, rows


def custom_ids_of(store: Any, row_id: int) -> list[str]:
    R = BatchRequest.__table__.c
    with store.begin() as conn:
        return list(conn.execute(select(R.custom_id).where(R.batch_id == row_id)).scalars())


def find(store: Any, provider_batch_id: str) -> Optional[BatchRow]:
    with store.begin() as conn:
        r = conn.execute(select(*_COLS).where(
            BatchJob.__table__.c.provider_batch_id == provider_batch_id)).first()
    return _row(r) if r is not None else None


def list_batches(store: Any, *, key: Optional[str] = None) -> list[BatchRow]:
    """Every recorded batch, newest first (``key``: of one endpoint + model)."""
    J = BatchJob.__table__.c
    q = select(*_COLS).order_by(J.id.desc())
    if key is not None:
        q = q.where(J.key == key)
    with store.begin() as conn:
        return [_row(r) for r in conn.execute(q)]


__all__ = ["batch_key", "record", "update_status", "mark_ingested", "open_batches_of",
           "placeholder_id", "is_placeholder", "set_provider_id", "abandon", "PLACEHOLDER",
           "custom_ids_of", "find", "list_batches", "BatchRow", "TERMINAL"]
