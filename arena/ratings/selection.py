"""Which verdicts count, and the one store query that loads them into arrays.

Rules (DESIGN.md section 5), applied in this order and each counted in ``VerdictFrame.counts``:

1. ``superseded``: a row that a later correction names in ``supersedes_id`` is replaced by it.
2. ``failed``: judge outputs that could not be parsed never count (they keep their raw output
   in the store; here they are only counted).
3. ``dry_run``: random verdicts never enter a real leaderboard; a dry-run leaderboard reads only
   them (``Selection(judge_kinds=("dry-run",))``).
4. ``judge_kind`` / ``judge_id`` / ``template_version``: the configured filters (empty = all).
5. ``excluded_annotator``: human verdicts by annotators an admin marked as excluded.
6. ``category``: when the selection names categories.

``load_verdicts`` never raises for an empty store: it returns an empty frame whose counts say why.
"""

from __future__ import annotations

import gc
import json
import logging
import re
from operator import itemgetter
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Iterator, Literal, Optional, Sequence, Union

import numpy as np
from sqlalchemy import Connection, inspect, select

from arena.ratings.answer_lengths import answer_lengths
from arena.store.schema import Judgment, Question

log = logging.getLogger(__name__)

OUTCOME_CODES = {"A": 0, "B": 1, "TIE": 2, "BOTH_BAD": 3}
OUTCOME_NAMES = ["A", "B", "TIE", "BOTH_BAD"]
REAL_KINDS = ("llm", "human", "metric", "imported")
COUNT_KEYS = ("rows", "superseded", "failed", "dry_run", "judge_kind", "judge_id",
              "template_version", "excluded_annotator", "category", "included")


@dataclass(frozen=True)
class Selection:
    """A filter over stored judgments. Empty tuples mean "all"."""

    mode: Literal["pairwise", "single"] = "pairwise"
    judge_kinds: tuple[str, ...] = REAL_KINDS
    judge_ids: tuple[str, ...] = ()
    template_versions: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    include_excluded_annotators: bool = False
    with_lengths: bool = True  # load answer lengths (length control, style BT)

    @classmethod
    def from_config(cls, ratings_cfg: Any, *, dry_run: bool = False,
                    mode: Literal["pairwise", "single"] = "pairwise") -> "Selection":
        """Build from ``RatingsConfig``; ``dry_run`` selects only dry-run verdicts."""
        kinds = ("dry-run",) if dry_run else tuple(k for k in ratings_cfg.judge_kinds
                                                  if k != "dry-run")
        return cls(mode=mode, judge_kinds=kinds, judge_ids=tuple(ratings_cfg.judge_ids),
                   template_versions=tuple(ratings_cfg.template_versions))

    @property
    def is_dry_run(self) -> bool:
        return self.judge_kinds == ("dry-run",)


@dataclass
class VerdictFrame:
    """Selected verdicts as parallel numpy arrays (one entry per judgment row).

    Index arrays point into the name lists (``models``, ``questions``, ``categories``,
    ``judges``, ``templates``). Codes: ``outcome`` 0=A 1=B 2=TIE 3=BOTH_BAD -1=none (single);
    ``first`` 0 = model_a shown first, 1 = model_b shown first, -1 unknown; ``strength`` 1 or 2
    (A>>B), 0 unknown; ``model_b`` -1 in single mode; ``annotator``/``battle`` -1 when absent;
    ``turn`` -1 = whole dialogue; ``len_a``/``len_b`` characters of the judged answer text
    (NaN when unknown); ``created`` seconds since the epoch. Rows are sorted by (created, id).
    """

    selection: Selection
    models: list[str]
    questions: list[str]
    categories: list[str]
    judges: list[str]  # "kind:id"
    templates: list[str]  # "" = none recorded
    id: np.ndarray
    question: np.ndarray
    category: np.ndarray
    model_a: np.ndarray
    model_b: np.ndarray
    outcome: np.ndarray
    strength: np.ndarray
    first: np.ndarray
    judge: np.ndarray
    template: np.ndarray
    annotator: np.ndarray
    battle: np.ndarray
    turn: np.ndarray
    created: np.ndarray
    score_a: np.ndarray
    score_b: np.ndarray
    len_a: np.ndarray
    len_b: np.ndarray
    scores: list[Optional[dict[str, Any]]]
    counts: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.id.shape[0])

    @property
    def judge_kinds(self) -> list[str]:
        return sorted({j.split(":", 1)[0] for j in (self.judges[i] for i in np.unique(self.judge))})

    def used_judges(self) -> list[str]:
        return sorted(self.judges[i] for i in np.unique(self.judge))

    def used_templates(self) -> list[str]:
        return sorted(self.templates[i] or "(none)" for i in np.unique(self.template))

    def subset(self, mask: np.ndarray) -> "VerdictFrame":
        """Rows where ``mask`` is true; name lists and counts are kept (they describe the load)."""
        arrays = {name: getattr(self, name)[mask] for name in _ARRAY_FIELDS}
        idx = np.flatnonzero(mask)
        return replace(self, scores=[self.scores[i] for i in idx], **arrays)

    def for_category(self, name: str) -> "VerdictFrame":
        if name not in self.categories:
            return self.subset(np.zeros(len(self), dtype=bool))
        return self.subset(self.category == self.categories.index(name))

    def used_categories(self) -> list[str]:
        return [self.categories[i] for i in np.unique(self.category)]


_ARRAY_FIELDS = ("id", "question", "category", "model_a", "model_b", "outcome", "strength",
                 "first", "judge", "template", "annotator", "battle", "turn", "created",
                 "score_a", "score_b", "len_a", "len_b")


def _codes(values: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    """(int32 code per value, distinct values in order of first appearance): one dict pass
    in C (``dict.fromkeys`` keeps insertion order) instead of a Python call per value."""
    names = list(dict.fromkeys(values))
    index = {name: k for k, name in enumerate(names)}
    return np.fromiter(map(index.__getitem__, values), dtype=np.int32, count=len(values)), names


def _take(values: Sequence[Any], idx: np.ndarray) -> Sequence[Any]:
    """``values`` at the positions ``idx`` (in C: itemgetter instead of a comprehension)."""
    if len(idx) == 0:
        return ()
    got = itemgetter(*idx.tolist())(values)
    return got if len(idx) > 1 else (got,)


def _ints(values: Sequence[Optional[int]], dtype: Any) -> np.ndarray:
    """Integers with None as -1 (exact for any int64, unlike a detour through float)."""
    return np.array([-1 if v is None else v for v in values], dtype=dtype)


_NAIVE_TIMES = re.compile(r"(?:\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d{6})?\n)*")


def _epochs(conn: Connection, values: Sequence[Any]) -> np.ndarray:
    """Seconds since the epoch of ``created_at`` values as the driver hands them back.

    SQLite gives strings in SQLAlchemy's naive-UTC storage format: when every value has that
    format (checked by one regular expression over all of them) numpy parses them in one
    call. Anything else (PostgreSQL's datetimes, other string formats) goes value by value
    through SQLAlchemy's own result processor, as an ORM read would."""
    present = [v for v in values if v is not None]
    out = np.zeros(len(values))
    if not present:
        return out
    mask = np.array([v is not None for v in values], dtype=bool)
    if all(type(v) is str for v in present) and _NAIVE_TIMES.fullmatch("\n".join(present) + "\n"):
        us = np.array(present, dtype="datetime64[us]").astype(np.int64)
        out[mask] = us / 1e6  # int microseconds / 1e6: the same rounding as timestamp()
        return out
    proc = Judgment.__table__.c.created_at.type.dialect_impl(conn.dialect).result_processor(
        conn.dialect, None)
    out[mask] = [_epoch(proc(v) if proc is not None and isinstance(v, str) else v)
                 for v in present]
    return out


def _epoch(ts: Optional[datetime]) -> float:
    if ts is None:
        return 0.0
    if ts.tzinfo is None:  # SQLite hands back naive datetimes that were stored as UTC
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.timestamp()


def _excluded_annotators(conn: Connection) -> set[int]:
    if not inspect(conn).has_table("users"):
        return set()
    from arena.store.annotation_schema import User

    return set(conn.execute(select(User.id).where(User.excluded.is_(True))).scalars())


def _fetch(conn: Connection, sql: str) -> list[tuple]:
    """Plain DB-API tuples on the connection's own transaction: no Row objects and no type
    processing (JSON decoding, datetime parsing), which cost most of a 100 k-row load.
    ``sql`` is built here from constants, never from user input."""
    cur = conn.connection.cursor()
    try:
        cur.execute(sql)
        return cur.fetchall()
    finally:
        cur.close()


def load_verdicts(source: Union[Connection, Any], selection: Selection = Selection()
                  ) -> VerdictFrame:
    """Load the judgments that ``selection`` admits into a ``VerdictFrame``.

    ``source`` is a SQLAlchemy Connection or a ``Store`` (read in its own transaction).
    Raises only on database errors; an empty store gives an empty frame.
    """
    with _no_gc():
        if isinstance(source, Connection):
            return _load(source, selection)
        with source.begin() as conn:
            return _load(conn, selection)


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: a load creates millions of short-lived tuples and
    strings, none of them in cycles, and the collections they trigger cost ~20% of it."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


_COLUMNS = ("id", "model_a", "model_b", "question_id", "category", "outcome", "strength",
            "first", "judge_kind", "judge_id", "template_version", "annotator_id", "battle_id",
            "turn", "created_at", "score_a", "score_b", "scores", "parse_status", "answer_a_id",
            "answer_b_id", "answer_id")
_REASONS = ("superseded", "failed", "dry_run", "judge_kind", "judge_id", "template_version",
            "excluded_annotator", "category")


def _load(conn: Connection, sel: Selection) -> VerdictFrame:
    J = Judgment.__table__.c
    pairwise = sel.mode == "pairwise"
    cols = [J[c] for c in _COLUMNS if c != "category"]
    cols.insert(4, Question.__table__.c.category)
    stmt = (select(*cols)
            .select_from(Judgment.__table__.outerjoin(Question.__table__,
                                                      Question.__table__.c.id == J.question_id))
            .where(J.model_b.is_not(None) if pairwise else J.model_b.is_(None))
            .order_by(J.created_at, J.id))
    # the statement has no bound parameters, so its SQL text runs as is on the raw cursor
    rows = _fetch(conn, str(stmt.compile(dialect=conn.dialect)))
    superseded = set(conn.execute(select(Judgment.supersedes_id).where(
        Judgment.supersedes_id.is_not(None))).scalars())
    excluded = set() if sel.include_excluded_annotators else _excluded_annotators(conn)

    counts = {k: 0 for k in COUNT_KEYS}
    counts["rows"] = len(rows)
    c = dict(zip(_COLUMNS, zip(*rows))) if rows else {k: () for k in _COLUMNS}
    # JSON is decoded only where a row has some (SQLite hands back text, psycopg objects)
    scores_all = [json.loads(v) if type(v) is str else v for v in c["scores"]]
    kinds, jids, tvs, cats = (set(sel.judge_kinds), set(sel.judge_ids),
                              set(sel.template_versions), set(sel.categories))
    # each row is counted under the first rule that drops it (module docstring order)
    reasons = [
        np.isin(np.array(c["id"], dtype=np.int64), np.fromiter(superseded, np.int64)),
        np.array([st != "ok" or (o is None if pairwise else (sa is None and not sc))
                  for st, o, sa, sc in zip(c["parse_status"], c["outcome"], c["score_a"],
                                           scores_all)], dtype=bool),
        np.array([k == "dry-run" and "dry-run" not in kinds for k in c["judge_kind"]], bool),
        np.array([k not in kinds for k in c["judge_kind"]], dtype=bool),
        np.array([bool(jids) and j not in jids for j in c["judge_id"]], dtype=bool),
        np.array([bool(tvs) and (t or "") not in tvs for t in c["template_version"]], bool),
        np.array([a is not None and a in excluded for a in c["annotator_id"]], dtype=bool),
        np.array([bool(cats) and (g or "") not in cats for g in c["category"]], dtype=bool),
    ]
    reason = np.select(reasons, list(range(1, len(_REASONS) + 1)), default=0) if rows \
        else np.zeros(0, dtype=np.int64)
    tally = np.bincount(reason, minlength=len(_REASONS) + 1)
    for code, name in enumerate(_REASONS, start=1):
        counts[name] = int(tally[code])
    keep = np.flatnonzero(reason == 0)
    counts["included"] = n = int(keep.size)
    k = c if n == len(rows) else {name: _take(c[name], keep) for name in _COLUMNS}

    if pairwise:
        model_codes, models = _codes([m for pair in zip(k["model_a"], k["model_b"])
                                      for m in pair])
        model_a, model_b = model_codes[0::2], model_codes[1::2]
        outcome = np.fromiter((OUTCOME_CODES.get(o, -1) for o in k["outcome"]), np.int8, n)
        sides = (k["answer_a_id"], k["answer_b_id"])
    else:
        model_a, models = _codes(k["model_a"])
        model_b = np.full(n, -1, dtype=np.int32)
        outcome = np.full(n, -1, dtype=np.int8)
        sides = ([x or y for x, y in zip(k["answer_id"], k["answer_a_id"])],)
    question, questions = _codes(k["question_id"])
    category, categories = _codes([g or "" for g in k["category"]])
    judge_pairs, judge_keys = _codes(list(zip(k["judge_kind"], k["judge_id"])))
    # distinct (kind, id) pairs are few: name them, then merge pairs that name alike
    judge_str, judges = _codes([f"{kd}:{jd}" for kd, jd in judge_keys])
    judge = judge_str[judge_pairs] if n else np.zeros(0, dtype=np.int32)
    template, templates = _codes([t or "" for t in k["template_version"]])
    turn = _ints(k["turn"], np.int32)
    lens = [np.full(n, np.nan), np.full(n, np.nan)]
    if sel.with_lengths and n:
        got = answer_lengths(conn, [_ints(ids, np.int64) for ids in sides], turn)
        lens[:len(got)] = got
    arr = {"id": np.array(k["id"], dtype=np.int64), "question": question,
           "category": category, "model_a": model_a, "model_b": model_b, "outcome": outcome,
           "strength": np.array([s or 0 for s in k["strength"]], dtype=np.int8),
           "first": np.array([{"A": 0, "B": 1}.get(f or "", -1) for f in k["first"]], np.int8),
           "judge": judge, "template": template, "annotator": _ints(k["annotator_id"], np.int64),
           "battle": _ints(k["battle_id"], np.int64), "turn": turn,
           "created": _epochs(conn, k["created_at"]),
           "score_a": np.array(k["score_a"], dtype=np.float64).reshape(n),
           "score_b": np.array(k["score_b"], dtype=np.float64).reshape(n),
           "len_a": lens[0], "len_b": lens[1]}
    scores: list[Optional[dict[str, Any]]] = list(_take(scores_all, keep))
    frame = VerdictFrame(sel, models, questions, categories, judges, templates, scores=scores,
                         counts=counts, **arr)
    if pairwise and n and (outcome < 0).any():
        # an outcome string outside the vocabulary: count it as failed rather than guess
        bad = outcome < 0
        counts["failed"] += int(bad.sum())
        counts["included"] -= int(bad.sum())
        return frame.subset(~bad)
    return frame


def empty_frame(selection: Selection = Selection()) -> VerdictFrame:
    """A frame with no rows (for callers that build frames by hand or need a neutral value)."""
    z = {name: np.zeros(0, dtype=np.float64 if name in ("created", "score_a", "score_b", "len_a",
                                                         "len_b") else np.int64)
         for name in _ARRAY_FIELDS}
    return VerdictFrame(selection, [], [], [], [], [], scores=[],
                        counts={k: 0 for k in COUNT_KEYS}, **z)


__all__ = ["Selection", "VerdictFrame", "load_verdicts", "empty_frame", "OUTCOME_CODES",
           "OUTCOME_NAMES", "REAL_KINDS"]
