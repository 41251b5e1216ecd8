"""Adaptive next pair with a stop rule (a task setting, for pairwise tasks).

Instead of breadth-first, the next item's *pair of models* is drawn with probability
proportional to how much one more verdict on it is expected to reduce the uncertainty of the
ranking, in the spirit of Chatbot Arena's active sampling:

- The task's counted verdicts (the ones its leaderboard uses: ``dashboard.task_frame``) are
  fitted with ``arena.ratings.bt.fit_bt`` (public API only) with bootstrap rounds.
- The ratings' covariance is the inverse Fisher information of the fitted BT model (plus the
  fit's normal prior, so it exists from the first verdict). One verdict on pair (i, j) removes
  ``w (a_kl' S x)^2 / (1 + w x' S x)`` from the variance of every rating difference
  ``d_kl`` (``x = e_i - e_j``, ``w`` the verdict's information ``p (1 - p)``); the pair's
  *value* is that reduction summed over all pairs (k, l), each weighted by how uncertain its
  order is (the density of ``d_kl`` at 0, ``phi(d / s) / s``). Pairs whose order is already
  clear count for little, close pairs for much. The draw is proportional to ``value ** focus``
  (``FOCUS``), mixed with an even share over the open pairs (``EXPLORE``) so that no model
  goes without verdicts; both were tuned with ``bench/adaptive.py`` on other seeds.
- Stop rule, per pair: *separated* when the two models' ranks are separated at the CI level,
  i.e. their bootstrap rating CIs (the task's ``adaptive_ci``, default 0.95) do not overlap
  (the rule the leaderboard's CI ranks use; far stricter than a CI of the difference, which
  matters because the rule is looked at again after every few verdicts; and only once both
  models have ``MIN_MODEL_VERDICTS`` verdicts and the pair ``MIN_PAIR_VERDICTS`` of its own,
  before which a bootstrap CI means little; a model that never lost or never won is trusted
  only when the pair's own verdicts all went one way), or
  *cap* when it has ``adaptive_cap`` verdicts. Separation is judged afresh by every plan (a
  pair whose CIs come to overlap again, through other pairs' verdicts, reopens); a cap is
  final and recorded (``TaskPairStop``, with the figures at that moment). The dashboard shows
  why each pair stopped; when every pair has stopped the task hands out no more normal items.
- Overlap, swap probes and gold items work as for breadth-first (``annotate.assign``): only
  the choice among open normal items changes.

Plans are computed per task and cached per process (``PlanCache``); one is recomputed after
``adaptive_refresh`` new verdicts (default 10), in a background thread on the app's reader
while claims go on with the previous plan (the first plan, and claims given an explicit
clock, compute it at once). Nothing here raises for odd data: a task without verdicts gets
uniform weights.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import numpy as np
from sqlalchemy import Connection, bindparam, func, select

from arena.ratings.bt import fit_bt
from arena.store.annotation_schema import TaskItem, TaskPairStop
from arena.store.ingest import insert_ignore
from arena.store.schema import Judgment, utcnow

log = logging.getLogger(__name__)

FOCUS = 2.0
EXPLORE = 0.15  # share of each draw spread evenly over the open pairs
MIN_MODEL_VERDICTS = 10  # a model's CI is trusted for the stop rule after this many verdicts
MIN_PAIR_VERDICTS = 2  # ... and a pair's after this many of its own
ROUNDS = 100
DEFAULT_CI = 0.95
DEFAULT_CAP = 50
DEFAULT_REFRESH = 10
PRIOR_SD = 400.0  # Elo points; as fit_bt's own prior when the MLE does not exist
_K = (np.log(10.0) / 400.0) ** 2  # Fisher information scale on the Elo scale


@dataclass(frozen=True)
class Settings:
    enabled: bool = False
    ci_level: float = DEFAULT_CI
    cap: int = DEFAULT_CAP
    refresh: int = DEFAULT_REFRESH


def settings_of(settings: Optional[Mapping[str, Any]]) -> Settings:
    """The adaptive settings of a task (``adaptive``, ``adaptive_ci``, ``adaptive_cap``,
    ``adaptive_refresh``), clamped to sane values."""
    s = settings or {}
    try:
        return Settings(enabled=bool(s.get("adaptive", False)),
                        ci_level=min(max(float(s.get("adaptive_ci", DEFAULT_CI)), 0.5), 0.999),
                        cap=max(int(s.get("adaptive_cap", DEFAULT_CAP)), 1),
                        refresh=max(int(s.get("adaptive_refresh", DEFAULT_REFRESH)), 1))
    except (TypeError, ValueError):
        return Settings()


@dataclass
class PairState:
    model_a: str
    model_b: str
    n: int = 0  # counted verdicts on the pair
    diff: float = float("nan")  # rating of model_a minus model_b (Elo)
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    value: float = 0.0  # the draw's weight (0 once stopped)
    status: str = "open"  # open | separated | cap
    reason: str = ""


@dataclass
class Plan:
    task_id: int
    n_verdicts: int
    pairs: dict[tuple[str, str], PairState]
    ratings: dict[str, float] = field(default_factory=dict)
    made: float = field(default_factory=time.monotonic)
    persisted: bool = False

    @property
    def open_pairs(self) -> list[tuple[str, str]]:
        return [k for k, p in self.pairs.items() if p.status == "open"]

    @property
    def finished(self) -> bool:
        return bool(self.pairs) and not self.open_pairs

    def pick(self, rng: Any, candidates: list[tuple[str, str]]) -> Optional[tuple[str, str]]:
        """Draw one of ``candidates`` (pairs with an item open to the user) by value; None
        when none of them is open."""
        cands = [c for c in candidates if c in self.pairs and self.pairs[c].status == "open"]
        if not cands:
            return None
        w = np.array([self.pairs[c].value for c in cands], dtype=np.float64)
        w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
        if w.sum() <= 0:
            w = np.ones(len(cands))
        u = rng.random() * w.sum()
        return cands[int(min(np.searchsorted(np.cumsum(w), u, side="right"), len(cands) - 1))]


def _fisher_cov(rating: np.ndarray, a: np.ndarray, b: np.ndarray, m: int) -> np.ndarray:
    p = 1.0 / (1.0 + 10.0 ** ((rating[b] - rating[a]) / 400.0))
    w = _K * p * (1.0 - p)
    info = np.zeros((m, m))
    np.add.at(info, (a, a), w)
    np.add.at(info, (b, b), w)
    np.add.at(info, (a, b), -w)
    np.add.at(info, (b, a), -w)
    info += np.eye(m) / PRIOR_SD ** 2
    return np.linalg.inv(info)


def pair_values(rating: np.ndarray, cov: np.ndarray, pi: np.ndarray, pj: np.ndarray
                ) -> np.ndarray:
    """The expected reduction of the ranking's uncertainty from one verdict on each pair
    (pi[k], pj[k]) (see the module docstring), before ``FOCUS``."""
    from scipy.stats import norm

    idx = np.arange(len(pi))
    d = rating[pi] - rating[pj]
    p = 1.0 / (1.0 + 10.0 ** (-d / 400.0))
    info = _K * p * (1.0 - p)
    sx = cov[:, pi] - cov[:, pj]  # M x P: cov(rating, d_candidate)
    q = np.maximum(sx[pi, idx] - sx[pj, idx], 1e-12)  # var(d) of every pair
    sd = np.sqrt(q)
    weight = norm.pdf(d / sd) / sd  # how uncertain each pair's order is
    cross = sx[pi, :] - sx[pj, :]  # P x P: cov(d_kl, d_candidate)
    return info / (1.0 + info * q) * (weight[:, None] * cross ** 2).sum(axis=0)


def plan_from_arrays(task_id: int, models: list[str], a: np.ndarray, b: np.ndarray,
                     score: np.ndarray, pairs: list[tuple[str, str]], cfg: Settings, *,
                     stopped: Optional[Mapping[tuple[str, str], tuple[str, str]]] = None,
                     seed: int = 0, rounds: int = ROUNDS) -> Plan:
    """The plan for ``pairs`` (model names as the task's items orient them) given verdicts
    ``a`` / ``b`` (indices into ``models``) with ``score`` (1 = a won, 0.5 tie, 0 = b won).
    ``stopped`` maps pairs stopped for good (the cap) to (status, reason)."""
    stopped = dict(stopped or {})
    index = {m: i for i, m in enumerate(models)}
    for x, y in pairs:
        for name in (x, y):
            if name not in index:
                index[name] = len(models)
                models = models + [name]
    m = len(models)
    n_pair: dict[tuple[int, int], int] = {}
    for x, y in zip(a.tolist(), b.tolist()):
        key = (min(x, y), max(x, y))
        n_pair[key] = n_pair.get(key, 0) + 1
    states = {}
    for x, y in pairs:
        i, j = index[x], index[y]
        st = PairState(x, y, n=n_pair.get((min(i, j), max(i, j)), 0))
        if (x, y) in stopped:
            st.status, st.reason = stopped[(x, y)]
        states[(x, y)] = st
    plan = Plan(task_id, int(len(a)), states)
    if len(a) == 0 or m < 2:
        for st in states.values():
            if st.status == "open":
                st.value = 1.0
        return plan
    res = fit_bt(a, b, score, models, rounds=rounds, ci_level=cfg.ci_level, seed=seed,
                 resample="battles")
    rating = np.asarray(res.rating, dtype=np.float64)
    if not np.isfinite(rating).all():
        for st in states.values():
            if st.status == "open":
                st.value = 1.0
        return plan
    plan.ratings = {name: float(rating[i]) for name, i in index.items()}
    pi = np.array([index[x] for x, _ in pairs])
    pj = np.array([index[y] for _, y in pairs])
    values = pair_values(rating, _fisher_cov(rating, a, b, m), pi, pj) ** FOCUS
    is_open = np.array([states[key].status == "open" for key in pairs])
    if is_open.any():
        # A share spread evenly keeps every model compared (the values alone would starve a
        # model the fit knows little about) and the bootstrap meaningful.
        v = np.where(is_open & np.isfinite(values), values, 0.0)
        v = v / v.sum() if v.sum() > 0 else is_open / is_open.sum()
        values = (1.0 - EXPLORE) * v + EXPLORE * is_open / is_open.sum()
    ai, bi = a.astype(np.int64), b.astype(np.int64)
    per_model = np.bincount(np.concatenate([ai, bi]), minlength=m)
    won = np.bincount(ai, weights=score > 0.5, minlength=m) + \
        np.bincount(bi, weights=score < 0.5, minlength=m)
    lost = np.bincount(ai, weights=score < 0.5, minlength=m) + \
        np.bincount(bi, weights=score > 0.5, minlength=m)
    # A model that never lost (or never won) is trusted only through the pair's own verdicts
    # going the same way: its rating has no finite MLE and its bootstrap CI says little.
    known = per_model >= MIN_MODEL_VERDICTS
    one_sided = (won == 0) | (lost == 0)
    alpha = (1.0 - cfg.ci_level) / 2.0
    samples = res.samples
    for k, key in enumerate(pairs):
        st = states[key]
        st.diff = float(rating[pi[k]] - rating[pj[k]])
        if samples is not None and len(samples):
            diffs = samples[:, pi[k]] - samples[:, pj[k]]
            st.ci_low, st.ci_high = (float(v) for v in np.quantile(diffs, [alpha, 1 - alpha]))
        if st.status != "open":
            continue
        lo_i, hi_i = float(res.ci_low[pi[k]]), float(res.ci_high[pi[k]])
        lo_j, hi_j = float(res.ci_low[pj[k]]), float(res.ci_high[pj[k]])
        trusted = bool(known[pi[k]] and known[pj[k]]) and st.n >= MIN_PAIR_VERDICTS
        if trusted and (one_sided[pi[k]] or one_sided[pj[k]]):
            trusted = _one_way(a, b, score, int(pi[k]), int(pj[k]))
        if trusted and (lo_i > hi_j or lo_j > hi_i):  # the leaderboard would rank them apart
            st.status = "separated"
            st.reason = (f"their {cfg.ci_level:.0%} rating CIs do not overlap ({key[0]} "
                         f"{lo_i:.0f} to {hi_i:.0f}, {key[1]} {lo_j:.0f} to {hi_j:.0f}) after "
                         f"{st.n} verdicts")
        elif st.n >= cfg.cap:
            st.status = "cap"
            st.reason = f"{st.n} verdicts reached the cap of {cfg.cap}"
        else:
            st.value = float(values[k])
    return plan


def _one_way(a: np.ndarray, b: np.ndarray, score: np.ndarray, i: int, j: int) -> bool:
    """Whether every direct verdict between i and j was won by the same one of them."""
    ij = (a == i) & (b == j)
    ji = (a == j) & (b == i)
    s_i = np.concatenate([score[ij], 1.0 - score[ji]])
    return bool(len(s_i)) and (bool((s_i == 1.0).all()) or bool((s_i == 0.0).all()))


SCORE_OF = np.array([1.0, 0.0, 0.5, 0.5])  # outcome codes A, B, TIE, BOTH_BAD


def compute_plan(conn: Connection, task_id: int, settings: Mapping[str, Any],
                 seed: int = 0) -> Plan:
    """Read the task's counted verdicts, its pairs and its stops, and make the plan."""
    from annotate import dashboard

    cfg = settings_of(settings)
    pairs = [tuple(r) for r in conn.execute(
        select(TaskItem.model_a, TaskItem.model_b).where(
            TaskItem.task_id == task_id, TaskItem.kind == "normal",
            TaskItem.model_b.is_not(None)).distinct()).all()]
    pairs.sort()
    stopped = {(r.model_a, r.model_b): (r.reason, r.detail) for r in conn.execute(
        select(TaskPairStop).where(TaskPairStop.task_id == task_id))}
    frame = dashboard.task_frame(conn, task_id, include_excluded=False, mode="pairwise",
                                 adjudicated=True)
    keep = (frame.outcome >= 0) & (frame.model_b >= 0)
    return plan_from_arrays(task_id, list(frame.models), frame.model_a[keep],
                            frame.model_b[keep], SCORE_OF[frame.outcome[keep]],
                            pairs, cfg, stopped=stopped, seed=seed + len(frame))


def persist_stops(conn: Connection, plan: Plan) -> None:
    """Record the plan's capped pairs that are not recorded yet (first writer wins)."""
    rows = [{"task_id": plan.task_id, "model_a": st.model_a, "model_b": st.model_b,
             "reason": st.status, "detail": st.reason[:300], "n": st.n,
             "diff": st.diff if np.isfinite(st.diff) else None,
             "ci_low": st.ci_low if np.isfinite(st.ci_low) else None,
             "ci_high": st.ci_high if np.isfinite(st.ci_high) else None,
             "stopped_at": utcnow()}
            for st in plan.pairs.values() if st.status == "cap"]
    if rows:
        insert_ignore(conn, TaskPairStop.__table__, rows, ["task_id", "model_a", "model_b"])
    plan.persisted = True


def verdict_count(conn: Connection, task_id: int) -> int:
    """How many human verdicts the task has (the refresh trigger)."""
    return int(conn.execute(select(func.count()).select_from(Judgment).where(
        Judgment.task_id == task_id, Judgment.judge_kind.in_(
            ("human", "human-adjudicated")))).scalar_one())


class PlanCache:
    """Plans per (engine, task) in this process; refreshed in the background."""

    def __init__(self) -> None:
        self._plans: dict[tuple[int, int], Plan] = {}
        self._busy: set[tuple[int, int]] = set()
        self._lock = threading.Lock()

    def get(self, conn: Connection, task_id: int, settings: Mapping[str, Any], *,
            sync: bool = False) -> Plan:
        key = (id(conn.engine), task_id)
        cfg = settings_of(settings)
        with self._lock:
            plan = self._plans.get(key)
        count = verdict_count(conn, task_id)
        if plan is not None and count - plan.n_verdicts < cfg.refresh and not (
                sync and count != plan.n_verdicts):
            return plan
        from annotate.db import READERS  # the app's reader: never the SQLite write lock

        reader = READERS.get(id(conn.engine))
        if plan is None or sync or reader is None:
            plan = compute_plan(conn, task_id, settings)
            with self._lock:
                self._plans[key] = plan
            return plan
        with self._lock:
            if key in self._busy:
                return plan
            self._busy.add(key)
        threading.Thread(target=self._refresh, args=(key, reader, task_id, dict(settings)),
                         daemon=True, name=f"adaptive-plan-{task_id}").start()
        return plan

    def _refresh(self, key: tuple[int, int], reader: Callable[[], Any], task_id: int,
                 settings: dict[str, Any]) -> None:
        try:
            with reader() as conn:
                plan = compute_plan(conn, task_id, settings)
            with self._lock:
                self._plans[key] = plan
        except Exception:  # noqa: BLE001 - the previous plan stays in use
            log.exception("adaptive plan for task %d could not be refreshed", task_id)
        finally:
            with self._lock:
                self._busy.discard(key)

    def forget(self, task_id: int) -> None:
        with self._lock:
            for key in [k for k in self._plans if k[1] == task_id]:
                self._plans.pop(key, None)


PLANS = PlanCache()


P = bindparam
_PAIR_SLOTS: dict[str, tuple[Any, Any]] = {}


def _pair_statements(dialect: str) -> tuple[Any, Any]:
    """(open pairs for the user, take a slot of one pair) for adaptive tasks, built once."""
    got = _PAIR_SLOTS.get(dialect)
    if got is not None:
        return got
    from annotate.assign import open_item_conditions, take_statement

    open_items = open_item_conditions(dialect, TaskItem.model_b.is_not(None))
    pairs = select(TaskItem.model_a, TaskItem.model_b).where(*open_items).distinct()
    take = take_statement(dialect, *open_items, TaskItem.model_a == P("p_ma"),
                          TaskItem.model_b == P("p_mb"))
    _PAIR_SLOTS[dialect] = (pairs, take)
    return pairs, take


def take_slot(conn: Connection, task_id: int, user_id: int, task: Any, rng: Any, *,
              sync: bool) -> Optional[tuple[int, bool]]:
    """For ``annotate.assign.claim``: take a slot of an open item of the pair the task's plan
    draws (the same slot rule as breadth-first: below the overlap, not the user's, most
    holders first); (item id, is a pair) or None when no open pair has an item left for this
    user (or the stop rule closed them all)."""
    plan = PLANS.get(conn, task_id, task.settings or {}, sync=sync)
    if not plan.persisted:
        persist_stops(conn, plan)
    if plan.finished:
        return None
    pairs_q, take = _pair_statements(conn.dialect.name)
    params = {"p_tid": task_id, "p_uid": user_id, "p_overlap": int(task.overlap)}
    candidates = [tuple(r) for r in conn.execute(pairs_q, params).all()]
    for _ in range(len(candidates)):
        pair = plan.pick(rng, candidates)
        if pair is None:
            return None
        got = conn.execute(take, {**params, "p_ma": pair[0], "p_mb": pair[1]}).first()
        if got is not None:
            return int(got.id), got.answer_b_id is not None
        candidates.remove(pair)  # taken by someone else a moment ago (SKIP LOCKED)
    return None


@dataclass
class PairRow:
    """One pair as the dashboard shows it."""

    model_a: str
    model_b: str
    status: str
    why: str
    n: int
    diff: float
    ci_low: float
    ci_high: float
    chance: float  # share of the next draw (open pairs)
    stopped_at: Any = None


def pair_report(conn: Connection, task_id: int, settings: Mapping[str, Any]) -> list[PairRow]:
    """Every pair of the task: capped ones with the figures recorded when they stopped,
    separated ones with the CIs that separate them, open ones with the current figures and
    their chance of being drawn next."""
    plan = compute_plan(conn, task_id, settings)
    stops = {(r.model_a, r.model_b): r for r in conn.execute(
        select(TaskPairStop).where(TaskPairStop.task_id == task_id))}
    total = sum(p.value for p in plan.pairs.values() if p.status == "open") or 0.0
    rows = []
    for key, st in sorted(plan.pairs.items()):
        r = stops.get(key)
        if r is not None:
            rows.append(PairRow(st.model_a, st.model_b, r.reason, r.detail, r.n,
                                r.diff if r.diff is not None else float("nan"),
                                r.ci_low if r.ci_low is not None else float("nan"),
                                r.ci_high if r.ci_high is not None else float("nan"),
                                0.0, r.stopped_at))
        else:
            rows.append(PairRow(st.model_a, st.model_b, st.status,
                                st.reason or "open: its order is not settled yet", st.n,
                                st.diff, st.ci_low, st.ci_high,
                                st.value / total if total and st.status == "open" else 0.0))
    order = {"open": 0, "separated": 1, "cap": 2}
    rows.sort(key=lambda r: (order.get(r.status, 3), -r.chance, r.model_a, r.model_b))
    return rows
