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

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Iterable, Literal, Optional, Union

import numpy as np
from sqlalchemy import Connection, inspect, select

from arena.store.schema import Answer, Judgment, Question

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


class _Codes:
    """Assigns stable integer codes to names in order of first appearance."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.names: list[str] = []

    def __call__(self, name: str) -> int:
        code = self.index.get(name)
        if code is None:
            code = self.index[name] = len(self.names)
            self.names.append(name)
        return code


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


def _answer_lengths(conn: Connection, answer_ids: Iterable[int]) -> dict[int, list[int]]:
    """Characters per turn of each answer (for length control)."""
    ids = sorted({int(a) for a in answer_ids if a is not None})
    out: dict[int, list[int]] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        for aid, turns in conn.execute(select(Answer.id, Answer.turns).where(Answer.id.in_(chunk))):
            out[int(aid)] = [len(t or "") for t in (turns or [])]
    return out


def _length(lengths: dict[int, list[int]], aid: Optional[int], turn: Optional[int]) -> float:
    per_turn = lengths.get(aid) if aid is not None else None
    if not per_turn:
        return float("nan")
    if turn is not None and 0 <= turn < len(per_turn):
        return float(per_turn[turn])
    return float(sum(per_turn))


def load_verdicts(source: Union[Connection, Any], selection: Selection = Selection()
                  ) -> VerdictFrame:
    """Load the judgments that ``selection`` admits into a ``VerdictFrame``.

    ``source`` is a SQLAlchemy Connection or a ``Store`` (read in its own transaction).
    Raises only on database errors; an empty store gives an empty frame.
    """
    if isinstance(source, Connection):
        return _load(source, selection)
    with source.begin() as conn:
        return _load(conn, selection)


def _load(conn: Connection, sel: Selection) -> VerdictFrame:
    J = Judgment
    stmt = (select(J.id, J.model_a, J.model_b, J.question_id, Question.category, J.outcome,
                   J.strength, J.first, J.judge_kind, J.judge_id, J.template_version,
                   J.annotator_id, J.battle_id, J.turn, J.created_at, J.score_a, J.score_b,
                   J.scores, J.parse_status, J.answer_a_id, J.answer_b_id, J.answer_id)
            .join(Question, Question.id == J.question_id, isouter=True)
            .order_by(J.created_at, J.id))
    pairwise = sel.mode == "pairwise"
    stmt = stmt.where(J.model_b.is_not(None) if pairwise else J.model_b.is_(None))
    rows = conn.execute(stmt).all()
    superseded = set(conn.execute(select(J.supersedes_id).where(
        J.supersedes_id.is_not(None))).scalars())
    excluded = set() if sel.include_excluded_annotators else _excluded_annotators(conn)

    counts = {k: 0 for k in COUNT_KEYS}
    counts["rows"] = len(rows)
    kinds, jids, tvs, cats = (set(sel.judge_kinds), set(sel.judge_ids),
                              set(sel.template_versions), set(sel.categories))
    kept = []
    for r in rows:
        if r.id in superseded:
            counts["superseded"] += 1
        elif r.parse_status != "ok" or (pairwise and r.outcome is None) or \
                (not pairwise and r.score_a is None and not r.scores):
            counts["failed"] += 1
        elif r.judge_kind == "dry-run" and "dry-run" not in kinds:
            counts["dry_run"] += 1
        elif r.judge_kind not in kinds:
            counts["judge_kind"] += 1
        elif jids and r.judge_id not in jids:
            counts["judge_id"] += 1
        elif tvs and (r.template_version or "") not in tvs:
            counts["template_version"] += 1
        elif r.annotator_id is not None and r.annotator_id in excluded:
            counts["excluded_annotator"] += 1
        elif cats and (r.category or "") not in cats:
            counts["category"] += 1
        else:
            kept.append(r)
    counts["included"] = len(kept)

    lengths: dict[int, list[int]] = {}
    if sel.with_lengths and kept:
        wanted = [x for r in kept for x in ((r.answer_a_id, r.answer_b_id) if pairwise
                                            else (r.answer_id or r.answer_a_id,))]
        lengths = _answer_lengths(conn, wanted)

    models, questions, categories, judges, templates = _Codes(), _Codes(), _Codes(), _Codes(), \
        _Codes()
    n = len(kept)
    i32 = lambda: np.empty(n, dtype=np.int32)  # noqa: E731
    f64 = lambda: np.empty(n, dtype=np.float64)  # noqa: E731
    arr = {"id": np.empty(n, dtype=np.int64), "question": i32(), "category": i32(),
           "model_a": i32(), "model_b": i32(), "outcome": np.empty(n, dtype=np.int8),
           "strength": np.empty(n, dtype=np.int8), "first": np.empty(n, dtype=np.int8),
           "judge": i32(), "template": i32(), "annotator": np.empty(n, dtype=np.int64),
           "battle": np.empty(n, dtype=np.int64), "turn": i32(), "created": f64(),
           "score_a": f64(), "score_b": f64(), "len_a": f64(), "len_b": f64()}
    scores: list[Optional[dict[str, Any]]] = []
    nan = float("nan")
    for k, r in enumerate(kept):
        arr["id"][k] = r.id
        arr["question"][k] = questions(r.question_id)
        arr["category"][k] = categories(r.category or "")
        arr["model_a"][k] = models(r.model_a)
        arr["model_b"][k] = models(r.model_b) if pairwise else -1
        arr["outcome"][k] = OUTCOME_CODES.get(r.outcome, -1) if pairwise else -1
        arr["strength"][k] = r.strength or 0
        arr["first"][k] = {"A": 0, "B": 1}.get(r.first or "", -1)
        arr["judge"][k] = judges(f"{r.judge_kind}:{r.judge_id}")
        arr["template"][k] = templates(r.template_version or "")
        arr["annotator"][k] = -1 if r.annotator_id is None else r.annotator_id
        arr["battle"][k] = -1 if r.battle_id is None else r.battle_id
        arr["turn"][k] = -1 if r.turn is None else r.turn
        arr["created"][k] = _epoch(r.created_at)
        arr["score_a"][k] = nan if r.score_a is None else r.score_a
        arr["score_b"][k] = nan if r.score_b is None else r.score_b
        if pairwise:
            arr["len_a"][k] = _length(lengths, r.answer_a_id, r.turn)
            arr["len_b"][k] = _length(lengths, r.answer_b_id, r.turn)
        else:
            arr["len_a"][k] = _length(lengths, r.answer_id or r.answer_a_id, r.turn)
            arr["len_b"][k] = nan
        scores.append(r.scores)
    if pairwise and n and (arr["outcome"] < 0).any():
        # an outcome string outside the vocabulary: count it as failed rather than guess
        bad = arr["outcome"] < 0
        counts["failed"] += int(bad.sum())
        counts["included"] -= int(bad.sum())
        frame = VerdictFrame(sel, models.names, questions.names, categories.names, judges.names,
                             templates.names, scores=scores, counts=counts, **arr)
        return frame.subset(~bad)
    return VerdictFrame(sel, models.names, questions.names, categories.names, judges.names,
                        templates.names, scores=scores, counts=counts, **arr)


def empty_frame(selection: Selection = Selection()) -> VerdictFrame:
    """A frame with no rows (for callers that build frames by hand or need a neutral value)."""
    z = {name: np.zeros(0, dtype=np.float64 if name in ("created", "score_a", "score_b", "len_a",
                                                         "len_b") else np.int64)
         for name in _ARRAY_FIELDS}
    return VerdictFrame(selection, [], [], [], [], [], scores=[],
                        counts={k: 0 for k in COUNT_KEYS}, **z)


__all__ = ["Selection", "VerdictFrame", "load_verdicts", "empty_frame", "OUTCOME_CODES",
           "OUTCOME_NAMES", "REAL_KINDS"]
