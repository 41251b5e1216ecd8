"""The admin dashboard's figures for one task, computed by the project's ratings functions.

- ``annotator_rows``: progress per annotator (done, skipped, live, expired, mean / median time
  per item), gold accuracy (``annotate.gold``), swap-probe consistency and left-side
  preference (``arena.ratings.judge_stats.rater_stats`` over the task's human verdicts,
  probes included), exclusion state.
- ``agreement_report``: human <-> human and human <-> LLM-judge agreement on shared items
  (``arena.ratings.agreement.agreement`` over ``judge_stats.votes``: with / without ties,
  Cohen and Fleiss kappa, Krippendorff alpha, bootstrap CIs) and confusion matrices.
  Round-1 verdicts only (a probe is the same annotator again), excluded annotators included
  (agreement is a diagnostic of everyone's work).
- ``live_leaderboard``: ``arena.leaderboard.compute_leaderboard`` over the task's human
  verdicts as ``load_verdicts`` selects them, so excluded annotators are left out; adjudicated
  verdicts count as the task's ``adjudication`` setting says (``annotate.adjudicate``).
- ``disagreements``: items whose human votes differ, or differ from the LLM judge's.

Verdicts on gold items (judge kind ``human-gold``) enter none of these but gold accuracy.
Nothing here writes; every function raises only on database errors.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

import numpy as np
from sqlalchemy import Connection, case, func, select

from arena.leaderboard import Leaderboard, LeaderboardSettings, compute_leaderboard
from arena.ratings.agreement import Stat, agreement, confusion, vote_pairs
from arena.ratings.judge_stats import rater_stats, votes
from arena.ratings.selection import Selection, VerdictFrame, load_verdicts
from arena.store.annotation_schema import Assignment, Task, TaskItem, User
from arena.store.schema import Judgment
from annotate import assign
from annotate.adjudicate import ADJUDICATED_KIND, counted_ids
from annotate.gold import gold_accuracy

CATEGORIES = ("first model", "second model", "TIE", "BOTH_BAD")
STAT_KEYS = ("agreement_with_ties", "agreement_without_ties", "cohen_kappa", "fleiss_kappa",
             "krippendorff_alpha")


def task_mode(conn: Connection, task_id: int) -> str:
    scale = conn.execute(select(Task.scale).where(Task.id == task_id)).scalar()
    return "pairwise" if scale in (None, "pairwise") else "single"


_MEMO: ContextVar[Optional[tuple[dict[Any, Any], dict[Any, Any]]]] = ContextVar(
    "dashboard_memo", default=None)
_SHARED_KEYS = ("frame", "llm_votes")  # loads that depend on the verdicts only


@contextmanager
def memo(shared: Optional[dict[Any, Any]] = None) -> Iterator[None]:
    """Within this block the store's verdicts are loaded once (per kind and mode) and shared
    by every figure: one page render reads them once, not once per table. ``shared``: a dict
    kept by the caller for as long as the verdicts do not change (``annotate.figures``), in
    which those loads are kept between renders."""
    token = _MEMO.set(({}, shared if shared is not None else {}))
    try:
        yield
    finally:
        _MEMO.reset(token)


def _loaded(conn: Connection, key: Any, load: Callable[[], Any]) -> Any:
    got = _MEMO.get()
    if got is None:
        return load()
    cache = got[1] if (key[0] if isinstance(key, tuple) else key) in _SHARED_KEYS else got[0]
    if key not in cache:
        cache[key] = load()
    return cache[key]


def task_frame(conn: Connection, task_id: int, *, include_excluded: bool,
               rounds: tuple[int, ...] = (1, 2), mode: Optional[str] = None,
               adjudicated: bool = False) -> VerdictFrame:
    """The task's human verdicts as the ratings code selects them (superseded rows replaced,
    excluded annotators left out unless ``include_excluded``); with ``adjudicated``, the
    admins' adjudicated verdicts counted as the task's setting says (``annotate.adjudicate``)."""
    mode = mode or task_mode(conn, task_id)
    # One load of every human and adjudicated verdict (excluded annotators included); the
    # selection's exclusion rule is applied below on its annotator column.
    frame = _loaded(conn, ("frame", mode), lambda: load_verdicts(conn, Selection(
        mode=mode, judge_kinds=("human", ADJUDICATED_KIND),  # type: ignore[arg-type]
        include_excluded_annotators=True, with_lengths=False)))
    if not include_excluded:
        excluded = _loaded(conn, "excluded", lambda: np.fromiter(conn.execute(
            select(User.id).where(User.excluded.is_(True))).scalars(), np.int64))
        if len(excluded):
            frame = frame.subset(~np.isin(frame.annotator, excluded))
    def ids() -> np.ndarray:
        if adjudicated:
            got = counted_ids(conn, task_id, rounds)
        else:
            got = list(conn.execute(select(Judgment.id).where(
                Judgment.task_id == task_id, Judgment.judge_kind == "human",
                Judgment.round.in_(rounds))).scalars())
        return np.asarray(got, dtype=np.int64)

    keep = _loaded(conn, ("ids", task_id, tuple(rounds), adjudicated), ids)
    return frame.subset(np.isin(frame.id, keep))


@dataclass
class AnnotatorRow:
    user_id: int
    username: str
    pseudonym: str
    excluded: bool
    excluded_note: Optional[str]
    done: int = 0
    skipped: int = 0
    leased: int = 0
    expired: int = 0
    probes_done: int = 0
    mean_s: Optional[float] = None
    median_s: Optional[float] = None
    gold_n: int = 0
    gold_correct: int = 0
    consistency: float = math.nan
    consistency_pairs: int = 0
    left_preference: float = math.nan
    decisive: int = 0

    @property
    def gold_accuracy(self) -> float:
        return self.gold_correct / self.gold_n if self.gold_n else math.nan


def annotator_rows(conn: Connection, task_id: int) -> list[AnnotatorRow]:
    """One row per annotator who touched the task, by username."""
    rows: dict[int, AnnotatorRow] = {}
    times: dict[int, list[float]] = defaultdict(list)
    for uid, name, pseudo, excl, note, status, rnd, tot in conn.execute(
            select(User.id, User.username, User.pseudonym, User.excluded, User.excluded_note,
                   Assignment.status, Assignment.round, Assignment.time_on_task_s)
            .join(User, User.id == Assignment.annotator_id)
            .where(Assignment.task_id == task_id)):
        r = rows.setdefault(uid, AnnotatorRow(uid, name, pseudo, bool(excl), note))
        if rnd != 1:
            r.probes_done += status == "done"
            continue
        if status in ("done", "skipped", "leased", "expired"):
            setattr(r, status, getattr(r, status) + 1)
        if status == "done" and tot is not None:
            times[uid].append(float(tot))
    for uid, ts in times.items():
        rows[uid].mean_s = statistics.fmean(ts)
        rows[uid].median_s = statistics.median(ts)
    for uid, g in gold_accuracy(conn, task_id).items():
        if uid in rows:
            rows[uid].gold_n, rows[uid].gold_correct = g.n, g.correct
    if task_mode(conn, task_id) == "pairwise":
        frame = task_frame(conn, task_id, include_excluded=True, mode="pairwise")
        if len(frame):
            for st in rater_stats(frame, by="annotator"):
                if not st.rater.startswith("annotator:"):
                    continue
                uid = int(st.rater.split(":", 1)[1])
                if uid in rows:
                    r = rows[uid]
                    r.consistency, r.consistency_pairs = st.position_consistency, st.n_pairs
                    r.left_preference, r.decisive = st.first_win_rate, st.n_decisive_ordered
    return sorted(rows.values(), key=lambda r: r.username)


@dataclass
class AgreementReport:
    human_human: dict[str, Stat] = field(default_factory=dict)
    human_llm: dict[str, Stat] = field(default_factory=dict)
    human_votes: int = 0
    llm_votes: int = 0  # LLM votes on items the humans judged
    shared_items: int = 0  # items with a human and an LLM vote
    confusion_hh: list[list[int]] = field(default_factory=lambda: _zeros())
    confusion_hl: list[list[int]] = field(default_factory=lambda: _zeros())  # rows: human
    llm_judges: list[str] = field(default_factory=list)


def _zeros() -> list[list[int]]:
    return [[0] * len(CATEGORIES) for _ in CATEGORIES]


def _cat(item: tuple, value: str) -> int:
    # item = (question, lower model name, higher model name, turn): orientation-free.
    if value == item[1]:
        return 0
    if value == item[2]:
        return 1
    return CATEGORIES.index(value) if value in CATEGORIES else 2


def _latest(items: list, raters: list, values: list) -> dict[Any, dict[str, str]]:
    # A rater's later vote on an item replaces the earlier one, as agreement() does.
    out: dict[Any, dict[str, str]] = defaultdict(dict)
    for it, ra, va in zip(items, raters, values):
        out[it][ra] = va
    return out


def llm_votes_on(conn: Connection, items: set) -> tuple[list, list, list]:
    """The LLM judges' votes (item, judge label, value) on the given items."""
    def load() -> tuple[list, list, list]:
        frame = load_verdicts(conn, Selection(judge_kinds=("llm",), with_lengths=False))
        return votes(frame, by="judge") if len(frame) else ([], [], [])

    li, lr, lv = _loaded(conn, "llm_votes", load)
    keep = [k for k, it in enumerate(li) if it in items]
    return [li[k] for k in keep], [lr[k] for k in keep], [lv[k] for k in keep]


def agreement_report(conn: Connection, task_id: int, *, rounds: int = 500, seed: int = 0
                     ) -> AgreementReport:
    rep = AgreementReport()
    if task_mode(conn, task_id) != "pairwise":
        return rep
    human = task_frame(conn, task_id, include_excluded=True, rounds=(1,), mode="pairwise")
    hi, hr, hv = votes(human, by="annotator") if len(human) else ([], [], [])
    rep.human_votes = len(hi)
    if not hi:
        return rep
    rep.human_human = agreement(hi, hr, hv, rounds=rounds, seed=seed)
    li, lr, lv = llm_votes_on(conn, set(hi))
    rep.llm_votes, rep.llm_judges = len(li), sorted(set(lr))
    if li:
        rep.human_llm = agreement(hi + li, hr + lr, hv + lv, group_a=sorted(set(hr)),
                                  group_b=rep.llm_judges, rounds=rounds, seed=seed)
    hum, llm = _latest(hi, hr, hv), _latest(li, lr, lv)
    rep.shared_items = sum(1 for it in hum if it in llm)
    # the confusion matrices count the agreement figures' own vote pairs
    label = lambda it, v: CATEGORIES[_cat(it, v)]  # noqa: E731
    rep.confusion_hh = confusion(vote_pairs(hi, hr, hv), CATEGORIES, label,
                                 symmetric=True).tolist()  # each pair of annotators both ways
    if li:
        rep.confusion_hl = confusion(vote_pairs(hi + li, hr + lr, hv + lv,
                                                group_a=sorted(set(hr)),
                                                group_b=rep.llm_judges),
                                     CATEGORIES, label).tolist()  # rows: human
    return rep


def live_leaderboard(conn: Connection, task_id: int, *, rounds: int = 200, seed: int = 0
                     ) -> tuple[Leaderboard, int]:
    """(board over the task's human verdicts, verdicts left out for excluded annotators).

    Both orders of a swap probe by one annotator make one game (``tie_if_inconsistent``)."""
    mode = task_mode(conn, task_id)
    frame = task_frame(conn, task_id, include_excluded=False, mode=mode, adjudicated=True)
    everyone = task_frame(conn, task_id, include_excluded=True, mode=mode, adjudicated=True)
    settings = LeaderboardSettings(mode=mode, policy="tie_if_inconsistent", rounds=rounds,
                                   seed=seed, methods=("bt", "winrate"), per_category=False)
    return compute_leaderboard(frame, settings), len(everyone) - len(frame)


@dataclass
class Disagreement:
    item_id: Optional[int]
    question_id: str
    models: tuple[str, str]
    kind: str  # "humans" | "human vs LLM"
    human: list[tuple[str, str]]  # (pseudonym, vote)
    llm: list[tuple[str, str]]


def disagreements(conn: Connection, task_id: int, limit: Optional[int] = 200
                  ) -> list[Disagreement]:
    """Items to adjudicate: humans disagree, or the human majority differs from the LLM's."""
    if task_mode(conn, task_id) != "pairwise":
        return []
    human = task_frame(conn, task_id, include_excluded=True, rounds=(1,), mode="pairwise")
    if not len(human):
        return []
    hi, hr, hv = votes(human, by="annotator")
    li, lr, lv = llm_votes_on(conn, set(hi))
    hum, llm = _latest(hi, hr, hv), _latest(li, lr, lv)
    names = {f"annotator:{uid}": p for uid, p in conn.execute(select(User.id, User.pseudonym))}
    item_ids: dict[tuple[str, str, str], int] = {}
    for iid, q, a, b in conn.execute(select(TaskItem.id, TaskItem.question_id, TaskItem.model_a,
                                            TaskItem.model_b).where(TaskItem.task_id == task_id)):
        if b is not None:
            lo, hi_ = sorted((a, b))
            item_ids[(q, lo, hi_)] = int(iid)
    out = []
    for it, by in hum.items():
        vals = list(by.values())
        kind = None
        if len(set(vals)) > 1:
            kind = "humans"
        elif it in llm:
            majority = max(set(vals), key=vals.count)
            if any(v != majority for v in llm[it].values()):
                kind = "human vs LLM"
        if kind is None:
            continue
        out.append(Disagreement(
            item_ids.get((it[0], it[1], it[2])), it[0], (it[1], it[2]), kind,
            [(names.get(r, r), v) for r, v in sorted(by.items())],
            sorted(llm.get(it, {}).items())))
        if limit is not None and len(out) >= limit:
            break
    return out


def task_summary(conn: Connection, task_id: int) -> dict[str, Any]:
    """Items, complete items, verdicts, skips and gold items of the task."""
    overlap = conn.execute(select(Task.overlap).where(Task.id == task_id)).scalar() or 1
    n_items, gold_n = conn.execute(select(
        func.count(), func.sum(case((TaskItem.kind == "gold", 1), else_=0)))
        .where(TaskItem.task_id == task_id)).one()
    complete = assign.complete_items(conn, task_id, int(overlap))
    counts = dict(conn.execute(select(Assignment.status, func.count()).where(
        Assignment.task_id == task_id).group_by(Assignment.status)).all())
    return {"items": int(n_items or 0), "complete": int(complete or 0), "gold": int(gold_n or 0),
            "done": int(counts.get("done", 0)), "skipped": int(counts.get("skipped", 0)),
            "leased": int(counts.get("leased", 0))}
