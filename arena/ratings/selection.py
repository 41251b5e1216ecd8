"""Which verdicts count, and the one store query that loads them into arrays.

Rules (DESIGN.md section 5), applied in this order and each counted in ``VerdictFrame.counts``
(and per category in ``VerdictFrame.counts_for(category)``):

0. ``out_of_scope``: with a run scope (``arena.scope.VerdictScope``: a config's questions,
   answer versions, judge fingerprints, planned pairs and display orders), a machine verdict
   counts only when its judgment key is one the config plans, and a human or imported verdict
   only when it judged the selected answer versions of a planned battle (or answer);
1. ``superseded``: a row that a later correction names in ``supersedes_id`` is replaced by it.
2. ``failed``: judge outputs that could not be parsed never count (they keep their raw output
   in the store; here they are only counted).
3. ``dry_run``: random verdicts never enter a real leaderboard; a dry-run leaderboard reads only
   them (``Selection(judge_kinds=("dry-run",))``).
4. ``judge_kind`` / ``judge_id`` / ``template_version``: the configured filters (empty = all).
5. ``excluded_annotator``: human verdicts by annotators an admin marked as excluded.
6. ``category``: when the selection names categories;
7. ``fingerprint``: when the selection names judge fingerprints;
8. ``duplicate``: a machine verdict whose judgment key an earlier kept row already has (the
   database keeps usable keys unique; stores from before that rule may hold copies).

Judges are named ``kind:id#fingerprint`` (``kind:id`` for humans): two fingerprints under one
name are two judges everywhere downstream.

``load_verdicts`` never raises for an empty store: it returns an empty frame whose counts say why.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Optional, Sequence, Union

import numpy as np
from sqlalchemy import Connection, case, func, inspect, select

from arena.identity import short
from arena.ratings.answer_lengths import answer_lengths
from arena.ratings.columns import (codes, epochs, fetch_tuples, first_seen, merge_codes, no_gc,
                                   take)
from arena.rules.outcomes import OUTCOME_CODES, OUTCOME_NAMES
from arena.rules.verdict_kinds import MACHINE_KINDS, REAL_KINDS
from arena.store.schema import Judgment, Question

log = logging.getLogger(__name__)

COUNT_KEYS = ("rows", "out_of_scope", "superseded", "failed", "dry_run", "judge_kind",
              "judge_id", "template_version", "excluded_annotator", "category", "fingerprint",
              "duplicate", "included")


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
    fingerprints: tuple[str, ...] = ()
    # A config's run scope (arena.scope.VerdictScope); None = every stored verdict.
    scope: Optional[Any] = field(default=None, compare=False, hash=False)

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
    (NaN when unknown); ``created`` seconds since the epoch; ``preference`` the fractional
    verdict (``arena.rules.preference``; NaN when the verdict is discrete). Rows are sorted by
    (created, id).
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
    preference: np.ndarray = field(default_factory=lambda: np.zeros(0))
    counts: dict[str, int] = field(default_factory=dict)
    # counts per category name (the category's own exclusions); see counts_for
    category_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)  # judge name -> fingerprint

    def counts_for(self, category: Optional[str]) -> dict[str, int]:
        """The counts of one category's verdicts (all of them for None)."""
        if category is None:
            return dict(self.counts)
        return dict(self.category_counts.get(category, {k: 0 for k in COUNT_KEYS}))

    def __post_init__(self) -> None:
        if self.preference.shape[0] != self.id.shape[0]:  # frames built without the column
            self.preference = np.full(self.id.shape[0], np.nan)

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
                 "score_a", "score_b", "len_a", "len_b", "preference")


def _excluded_annotators(conn: Connection) -> set[int]:
    if not inspect(conn).has_table("users"):
        return set()
    from arena.store.annotation_schema import User

    return set(conn.execute(select(User.id).where(User.excluded.is_(True))).scalars())


def load_verdicts(source: Union[Connection, Any], selection: Selection = Selection()
                  ) -> VerdictFrame:
    """Load the judgments that ``selection`` admits into a ``VerdictFrame``.

    ``source`` is a SQLAlchemy Connection or a ``Store`` (read in its own transaction).
    Raises only on database errors; an empty store gives an empty frame.
    """
    with no_gc():
        if isinstance(source, Connection):
            return _load(source, selection)
        with source.read() as conn:
            return _load(conn, selection)


_REASONS = ("out_of_scope", "superseded", "failed", "dry_run", "judge_kind", "judge_id",
            "template_version", "excluded_annotator", "category", "fingerprint")


def _statement(conn: Connection, pairwise: bool, lengths: bool) -> tuple[str, list[str]]:
    """SQL text of the one query, and its column names. Small vocabularies (outcome, order,
    parse status) and NULL defaults are mapped in SQL, so the driver hands back small ints
    (shared objects) instead of a new string per row; the mapping is the one the ORM read
    applied in Python (exact string equality, None -> -1)."""
    J, Q = Judgment.__table__.c, Question.__table__.c
    outcome = case(*[(J.outcome == k, v) for k, v in OUTCOME_CODES.items()],
                   (J.outcome.is_(None), -2), else_=-1)
    cols = {"id": J.id, "model_a": J.model_a, "model_b": J.model_b,
            "question_id": J.question_id, "category": Q.category, "outcome": outcome,
            "strength": func.coalesce(J.strength, 0),
            "first": case((J.first == "A", 0), (J.first == "B", 1), else_=-1),
            "judge_kind": J.judge_kind, "judge_id": J.judge_id,
            "template_version": J.template_version,
            "annotator": func.coalesce(J.annotator_id, -1),
            "battle": func.coalesce(J.battle_id, -1), "turn": func.coalesce(J.turn, -1),
            "created_at": J.created_at, "score_a": J.score_a, "score_b": J.score_b,
            "preference": J.preference,
            "scores": J.scores, "ok": case((J.parse_status == "ok", 1), else_=0),
            "cache_key": J.cache_key, "fingerprint": J.fingerprint}
    if pairwise:
        cols["answer_a"] = func.coalesce(J.answer_a_id, -1)
        cols["answer_b"] = func.coalesce(J.answer_b_id, -1)
    else:  # ``answer_id or answer_a_id``
        cols["answer_a"] = func.coalesce(case((func.coalesce(J.answer_id, 0) == 0,
                                               J.answer_a_id), else_=J.answer_id), -1)
    stmt = (select(*[c.label(name) for name, c in cols.items()])
            .select_from(Judgment.__table__.outerjoin(Question.__table__,
                                                      Q.id == J.question_id))
            .where(J.model_b.is_not(None) if pairwise else J.model_b.is_(None))
            .order_by(J.created_at, J.id))
    # constants only (no user input, no "%"): inline them so the text runs on the raw cursor
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    return sql, list(cols)


def _load(conn: Connection, sel: Selection) -> VerdictFrame:
    pairwise = sel.mode == "pairwise"
    lengths = sel.with_lengths
    sql, names = _statement(conn, pairwise, lengths)
    rows = fetch_tuples(conn, sql)
    superseded = set(conn.execute(select(Judgment.supersedes_id).where(
        Judgment.supersedes_id.is_not(None))).scalars())
    excluded = set() if sel.include_excluded_annotators else _excluded_annotators(conn)

    counts = {k: 0 for k in COUNT_KEYS}
    N = counts["rows"] = len(rows)
    c = dict(zip(names, zip(*rows))) if rows else {k: () for k in names}
    i8 = lambda col: np.array(col, dtype=np.int64).reshape(N)  # noqa: E731
    ids, outcome_all = i8(c["id"]), i8(c["outcome"])
    # string columns are coded once over all rows: filters test the few distinct values
    kind_c, kind_v = codes(c["judge_kind"])
    jid_c, jid_v = codes(c["judge_id"])
    tv_c, tv_v = codes(c["template_version"])
    cat_c, cat_v = codes(c["category"])
    # JSON is decoded only where a row has some (SQLite hands back text, psycopg objects)
    scores_all = [json.loads(v) if type(v) is str else v for v in c["scores"]]
    if pairwise:
        failed = (i8(c["ok"]) != 1) | (outcome_all == -2)
    else:
        failed = (i8(c["ok"]) != 1) | np.array(
            [sa is None and not sc for sa, sc in zip(c["score_a"], scores_all)], dtype=bool)
    kinds, jids, tvs, cats = (set(sel.judge_kinds), set(sel.judge_ids),
                              set(sel.template_versions), set(sel.categories))
    fp_c, fp_v = codes(c["fingerprint"])
    fps = set(sel.fingerprints)

    def on(values: list[Any], test: Any) -> np.ndarray:
        return np.array([bool(test(v)) for v in values], dtype=bool)

    machine = on(kind_v, lambda k: k in MACHINE_KINDS)[kind_c] if N else np.zeros(0, bool)
    # each row is counted under the first rule that drops it (module docstring order)
    reasons = [
        _out_of_scope(sel.scope, c, pairwise, N),
        np.isin(ids, np.fromiter(superseded, np.int64, len(superseded))),
        failed,
        on(kind_v, lambda k: k == "dry-run" and "dry-run" not in kinds)[kind_c],
        on(kind_v, lambda k: k not in kinds)[kind_c],
        on(jid_v, lambda j: jids and j not in jids)[jid_c],
        on(tv_v, lambda t: tvs and (t or "") not in tvs)[tv_c],
        np.isin(i8(c["annotator"]), np.fromiter(excluded, np.int64, len(excluded))),
        on(cat_v, lambda g: cats and (g or "") not in cats)[cat_c],
        on(fp_v, lambda f: fps and f not in fps)[fp_c],
    ]
    reason = np.select(reasons, list(range(1, len(_REASONS) + 1)), default=0) if N \
        else np.zeros(0, dtype=np.int64)
    dup_code = len(_REASONS) + 1
    if N:
        reason[_duplicates(c["cache_key"], machine & (reason == 0))] = dup_code
    tally = np.bincount(reason, minlength=dup_code + 1)
    for code, name in enumerate(_REASONS, start=1):
        counts[name] = int(tally[code])
    counts["duplicate"] = int(tally[dup_code])
    keep = np.flatnonzero(reason == 0)
    counts["included"] = n = int(keep.size)
    category_counts = _per_category(reason, cat_c, cat_v, dup_code)
    k = c if n == N else {name: take(c[name], keep) for name in names}

    # names are listed in order of first appearance among the kept rows
    if pairwise:
        both, model_v = codes(c["model_a"] + c["model_b"])
        inter = np.empty(2 * n, dtype=np.int32)
        inter[0::2], inter[1::2] = both[:N][keep], both[N:][keep]
        inter, models = first_seen(inter, model_v)
        model_a, model_b = inter[0::2], inter[1::2]
        outcome = outcome_all[keep].astype(np.int8)
    else:
        model_a, models = first_seen(*codes(k["model_a"]))
        model_b = np.full(n, -1, dtype=np.int32)
        outcome = np.full(n, -1, dtype=np.int8)
    question, questions = first_seen(*codes(k["question_id"]))
    category, categories = first_seen(*merge_codes(cat_c[keep], cat_v, lambda g: g or ""))
    # "kind:id#fp" named once per (kind, id, fingerprint) present; names that read alike merge
    nj, nf = max(len(jid_v), 1), max(len(fp_v), 1)
    pair = (kind_c[keep].astype(np.int64) * nj + jid_c[keep]) * nf + fp_c[keep]
    upair, pinv = np.unique(pair, return_inverse=True)
    labels = []
    fingerprints: dict[str, str] = {}
    for p_ in upair.tolist():
        kj, f_ = divmod(p_, nf)
        kk, jj = divmod(kj, nj)
        name = f"{kind_v[kk]}:{jid_v[jj]}"
        fp = fp_v[f_]
        if fp:
            name = f"{name}#{short(fp)}"
            fingerprints[name] = fp
        labels.append(name)
    jstr, jnames = codes(labels)
    judge, judges = first_seen(jstr[pinv.reshape(n)], jnames)
    template, templates = first_seen(*merge_codes(tv_c[keep], tv_v, lambda t: t or ""))
    turn = np.array(k["turn"], dtype=np.int32).reshape(n)
    lens = [np.full(n, np.nan), np.full(n, np.nan)]
    if lengths and n:
        sides = ["answer_a", "answer_b"] if pairwise else ["answer_a"]
        got = answer_lengths(conn, [np.array(k[s], dtype=np.int64) for s in sides], turn)
        lens[:len(got)] = got
    arr = {"id": ids[keep], "question": question, "category": category, "model_a": model_a,
           "model_b": model_b, "outcome": outcome,
           "strength": np.array(k["strength"], dtype=np.int8).reshape(n),
           "first": np.array(k["first"], dtype=np.int8).reshape(n), "judge": judge,
           "template": template, "annotator": np.array(k["annotator"], np.int64).reshape(n),
           "battle": np.array(k["battle"], dtype=np.int64).reshape(n), "turn": turn,
           "created": epochs(conn, k["created_at"], Judgment.__table__.c.created_at.type),
           "score_a": np.array(k["score_a"], dtype=np.float64).reshape(n),
           "score_b": np.array(k["score_b"], dtype=np.float64).reshape(n),
           "len_a": lens[0], "len_b": lens[1],
           "preference": np.array(k["preference"], dtype=np.float64).reshape(n)}
    scores: list[Optional[dict[str, Any]]] = list(take(scores_all, keep))
    frame = VerdictFrame(sel, models, questions, categories, judges, templates, scores=scores,
                         counts=counts, category_counts=category_counts,
                         fingerprints=fingerprints, **arr)
    if pairwise and n and (outcome < 0).any():
        # an outcome string outside the vocabulary: count it as failed rather than guess
        bad = outcome < 0
        counts["failed"] += int(bad.sum())
        counts["included"] -= int(bad.sum())
        for ci in np.flatnonzero(bad).tolist():
            cc = category_counts.setdefault(categories[category[ci]], _zero_counts())
            cc["failed"] += 1
            cc["included"] -= 1
        return frame.subset(~bad)
    return frame


def _zero_counts() -> dict[str, int]:
    return {k: 0 for k in COUNT_KEYS}


def _out_of_scope(scope: Any, c: dict[str, Any], pairwise: bool, n: int) -> np.ndarray:
    """Rows outside a config's run scope (module docstring, rule 0; ``VerdictScope.mask``
    defines it); none without a scope."""
    if scope is None or n == 0:
        return np.zeros(n, dtype=bool)
    a = [None if x == -1 else x for x in c["answer_a"]]
    b = [None if x == -1 else x for x in c["answer_b"]] if pairwise else None
    return ~scope.mask(c["judge_kind"], c["cache_key"], a, b)


def _duplicates(keys: Sequence[Any], candidates: np.ndarray) -> np.ndarray:
    """Indices of candidate rows whose key an earlier candidate row already has (rows are in
    verdict order, so the first stored copy is the one kept)."""
    seen: set[Any] = set()
    dup = []
    for i in np.flatnonzero(candidates).tolist():
        k = keys[i]
        if k is None:
            continue
        if k in seen:
            dup.append(i)
        else:
            seen.add(k)
    return np.array(dup, dtype=np.int64)


def _per_category(reason: np.ndarray, cat_c: np.ndarray, cat_v: list[Any],
                  dup_code: int) -> dict[str, dict[str, int]]:
    """Counts per category name, tallied like the totals (one bincount per category)."""
    out: dict[str, dict[str, int]] = {}
    names = [g or "" for g in cat_v]
    for code, name in enumerate(names):
        mask = cat_c == code
        if not mask.any():
            continue
        tally = np.bincount(reason[mask], minlength=dup_code + 1)
        cc = out.setdefault(name, _zero_counts())
        cc["rows"] += int(mask.sum())
        for k, reason_name in enumerate(_REASONS, start=1):
            cc[reason_name] += int(tally[k])
        cc["duplicate"] += int(tally[dup_code])
        cc["included"] += int(tally[0])
    return out


def empty_frame(selection: Selection = Selection()) -> VerdictFrame:
    """A frame with no rows (for callers that build frames by hand or need a neutral value)."""
    z = {name: np.zeros(0, dtype=np.float64 if name in ("created", "score_a", "score_b", "len_a",
                                                         "len_b", "preference") else np.int64)
         for name in _ARRAY_FIELDS}
    return VerdictFrame(selection, [], [], [], [], [], scores=[],
                        counts={k: 0 for k in COUNT_KEYS}, **z)


__all__ = ["Selection", "VerdictFrame", "load_verdicts", "empty_frame", "OUTCOME_CODES",
           "OUTCOME_NAMES", "REAL_KINDS"]
