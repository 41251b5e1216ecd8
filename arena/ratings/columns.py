"""Driver rows -> numpy columns: the helpers that keep a 100 k-row store load column-wise.

Each helper replaces a per-row Python loop by one pass in C (dict building, ``itemgetter``,
numpy), with the same result the row-by-row code gave. None of them raise except on
values the ORM read would also have refused (a date that is not a date).
"""

from __future__ import annotations

from datetime import datetime, timezone
from operator import itemgetter
from typing import Any, Optional, Sequence

import numpy as np
from sqlalchemy import Connection
from sqlalchemy.types import TypeEngine

from arena.gcpause import no_gc  # re-exported: selection imports it from here


def codes(values: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    """(int32 code per value, distinct values in order of first appearance): one dict pass
    in C (``dict.fromkeys`` keeps insertion order) instead of a Python call per value."""
    names = list(dict.fromkeys(values))
    index = {name: k for k, name in enumerate(names)}
    return np.fromiter(map(index.__getitem__, values), dtype=np.int32, count=len(values)), names


def take(values: Sequence[Any], idx: np.ndarray) -> Sequence[Any]:
    """``values`` at the positions ``idx`` (in C: itemgetter instead of a comprehension)."""
    if len(idx) == 0:
        return ()
    got = itemgetter(*idx.tolist())(values)
    return got if len(idx) > 1 else (got,)


def first_seen(code: np.ndarray, names: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    """Renumber ``code`` (indices into ``names``) so that names are listed in order of first
    appearance in ``code``, leaving out names that do not appear."""
    if len(code) == 0:
        return np.zeros(0, dtype=np.int32), []
    uniq, first = np.unique(code, return_index=True)
    order = uniq[np.argsort(first)]
    remap = np.zeros(len(names), dtype=np.int32)
    remap[order] = np.arange(len(order), dtype=np.int32)
    return remap[code], [names[i] for i in order]


def merge_codes(code: np.ndarray, names: Sequence[Any], key: Any) -> tuple[np.ndarray, list[Any]]:
    """Codes after mapping each name through ``key`` (names that map alike merge)."""
    merged, merged_names = codes([key(v) for v in names])
    return (merged[code] if len(names) else code), merged_names


def epochs(conn: Connection, values: Sequence[Any], column_type: TypeEngine[Any]
           ) -> np.ndarray:
    """Seconds since the epoch of DateTime values (of ``column_type``) as the driver hands
    them back; None counts 0.

    SQLite gives strings in SQLAlchemy's naive-UTC storage format: when every value has that
    format (checked on all of them at once) numpy parses them in one call. Anything else
    (PostgreSQL's datetimes, other string formats) goes value by value through SQLAlchemy's
    own result processor, as an ORM read would."""
    present = [v for v in values if v is not None]
    out = np.zeros(len(values))
    if not present:
        return out
    mask = np.array([v is not None for v in values], dtype=bool)
    if all(type(v) is str for v in present) and naive_format(present):
        us = np.array(present, dtype="datetime64[us]").astype(np.int64)
        out[mask] = us / 1e6  # int microseconds / 1e6: the same rounding as timestamp()
        return out
    proc = column_type.dialect_impl(conn.dialect).result_processor(conn.dialect, None)
    out[mask] = [epoch(proc(v) if proc is not None and isinstance(v, str) else v)
                 for v in present]
    return out


_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
_FIXED = {4: b"-", 7: b"-", 13: b":", 16: b":"}


def naive_format(values: list[str]) -> bool:
    """Every value is ``YYYY-MM-DD HH:MM:SS`` (or ``T`` for the space) optionally followed by
    ``.ffffff`` and nothing else - the strings numpy and ``datetime.fromisoformat`` read
    alike. Checked as a byte matrix, one column at a time."""
    try:
        raw = np.array(values, dtype="S27")  # non-ASCII text raises; longer strings show
    except (UnicodeEncodeError, ValueError):
        return False
    u = raw.view(np.uint8).reshape(len(values), 27)
    digit = (u >= ord("0")) & (u <= ord("9"))
    ok = digit[:, _DIGITS].all(axis=1)
    for col, ch in _FIXED.items():
        ok &= u[:, col] == ord(ch)
    ok &= (u[:, 10] == ord(" ")) | (u[:, 10] == ord("T"))
    short = (u[:, 19:] == 0).all(axis=1)
    micro = (u[:, 19] == ord(".")) & digit[:, 20:26].all(axis=1) & (u[:, 26] == 0)
    return bool((ok & (short | micro)).all())


def epoch(ts: Optional[datetime]) -> float:
    if ts is None:
        return 0.0
    if ts.tzinfo is None:  # SQLite hands back naive datetimes that were stored as UTC
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.timestamp()


def fetch_tuples(conn: Connection, sql: str) -> list[tuple]:
    """Plain DB-API tuples on the connection's own transaction: no Row objects and no type
    processing (JSON decoding, datetime parsing), which cost most of a 100 k-row load.
    ``sql`` is built here from constants, never from user input."""
    cur = conn.connection.cursor()
    try:
        cur.execute(sql)
        return cur.fetchall()
    finally:
        cur.close()


__all__ = ["codes", "take", "first_seen", "merge_codes", "epochs", "naive_format", "epoch",
           "fetch_tuples", "no_gc"]
