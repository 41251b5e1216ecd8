"""The reviews stage: battles (or answers) -> judge work items -> Judgment rows.

Work items follow the position policy (DESIGN.md section 5):
- ``none``: one judgment per battle, model_a shown first;
- ``random_order``: one judgment, the order drawn from the seed and the battle (stable);
- ``tie_if_inconsistent`` and ``both_games``: both orders judged (they differ only in how the
  ratings combine the two rows).
Single mode makes one item per answer. With ``judge.per_turn`` a multi-turn question gives
one item per turn (``turn`` = 1..n); otherwise one item judges the whole dialogue.

Resume: every item has a cache key (judge id, template version, question, both answers, order
shown, turn). An item whose key already has a row is skipped; with ``retry_failed`` an item
whose rows are all failed is judged again (a new row; the failed one stays for the record).
Rows are stored as they arrive, so an interrupted run keeps what it finished.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol

from sqlalchemy import select

from arena.config import ArenaConfig
from arena.ids import content_id, sha256_hex, canonical_json
from arena.pairing import answer_map, plan_battles, selected_questions
from arena.store import Store
from arena.store.schema import Judgment
from arena.types import Mode, PositionPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JudgeItem:
    """One judgment to make. ``first`` is the side shown first ("A" = model_a's answer)."""

    mode: str
    question_id: str
    model_a: str
    answer_a_id: int
    model_b: Optional[str] = None
    answer_b_id: Optional[int] = None
    battle_id: Optional[int] = None
    first: Optional[str] = "A"
    turn: Optional[int] = None


class Judge(Protocol):
    """What the stage needs of a judge (dry-run, LLM, metric).

    Optional hooks, used when present: ``bind(store)`` (called first: the judge reads
    questions and answers), ``prepare(items)`` (bulk reads before cache keys are computed),
    ``mode`` (plan items of this mode instead of ``judge.mode``: metric judges are single),
    ``cache_extra`` (a string added to every cache key: the judge's model parameters) and
    ``summary()`` (a report printed after the run)."""

    kind: str
    judge_id: str

    def template_version(self, item: JudgeItem) -> Optional[str]: ...

    def judge(self, items: list[JudgeItem], emit: Callable[[dict[str, Any]], None]) -> None:
        """Judge every item, calling ``emit(row)`` with a Judgment row dict per item as it is
        ready (including failed ones, with parse_status 'failed' and the raw output)."""
        ...


def cache_key(judge: Judge, item: JudgeItem) -> str:
    parts: list[Any] = [judge.judge_id, judge.template_version(item), item.question_id,
                        item.answer_a_id, item.answer_b_id, item.first, item.turn, item.mode]
    # A judge whose output depends on more than its id (an LLM judge's model, endpoint and
    # generation parameters) says so in ``cache_extra``; judges without it keep their keys.
    extra = getattr(judge, "cache_extra", None)
    if extra:
        parts.append(extra)
    return sha256_hex(canonical_json(parts))[:40]


def orders_for(policy: PositionPolicy, seed: int, battle_key: str) -> list[str]:
    if policy == PositionPolicy.NONE:
        return ["A"]
    if policy == PositionPolicy.RANDOM_ORDER:
        return [random.Random(content_id(seed, battle_key, "order")).choice(["A", "B"])]
    return ["A", "B"]


def _turns_of(conn: Any, qids: list[str]) -> dict[str, int]:
    from arena.store.schema import Question

    out: dict[str, int] = {}
    for start in range(0, len(qids), 500):
        part = qids[start:start + 500]
        for qid, turns in conn.execute(select(Question.id, Question.turns)
                                       .where(Question.id.in_(part))):
            out[qid] = len(turns or [])
    return out


def _turn_list(per_turn: bool, n_turns: int) -> list[Optional[int]]:
    # per_turn: one item per turn of a multi-turn question (1-based); else the whole dialogue.
    if per_turn and n_turns > 1:
        return list(range(1, n_turns + 1))
    return [None]


def plan_items(store: Store, cfg: ArenaConfig, *, limit: Optional[int] = None,
               mode: Optional[Mode] = None) -> list[JudgeItem]:
    """Store the run's battles and return every judge work item, in a stable order.

    ``mode`` overrides ``cfg.judge.mode`` (metric judges always score single answers).
    With ``judge.per_turn`` a multi-turn question gives one item per turn."""
    mode = Mode(mode) if mode is not None else cfg.judge.mode
    per_turn = cfg.judge.per_turn
    with store.begin() as conn:
        qids = selected_questions(conn, cfg, limit=limit)
        turns = _turns_of(conn, qids) if per_turn else {}
        if mode == Mode.SINGLE:
            answers = answer_map(conn, cfg, qids)
            return [JudgeItem(mode=Mode.SINGLE.value, question_id=q, model_a=m, answer_a_id=aid,
                              first=None, turn=t)
                    for (q, m), aid in sorted(answers.items())
                    for t in _turn_list(per_turn, turns.get(q, 1))]
        battles = plan_battles(conn, cfg, qids)
    items = []
    for b in battles:
        key = f"{b.question_id}|{b.model_a}|{b.model_b}"
        for t in _turn_list(per_turn, turns.get(b.question_id, 1)):
            for first in orders_for(cfg.judge.position_policy, cfg.judge.seed, key):
                items.append(JudgeItem(mode=mode.value, question_id=b.question_id,
                                       model_a=b.model_a, answer_a_id=b.answer_a_id,
                                       model_b=b.model_b, answer_b_id=b.answer_b_id,
                                       battle_id=b.battle_id, first=first, turn=t))
    return items


@dataclass
class ReviewReport:
    judge_id: str
    planned: int = 0
    skipped: int = 0
    judged: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        s = (f"reviews by {self.judge_id}: {self.planned} items, {self.skipped} already stored, "
             f"{self.judged} judged now, {self.failed} failed")
        if self.failures:
            s += "\n  failed: " + "\n  failed: ".join(self.failures[:20])
            if len(self.failures) > 20:
                s += f"\n  ... and {len(self.failures) - 20} more"
        return s


def pending_items(store: Store, judge: Judge, items: list[JudgeItem], *,
                  retry_failed: bool = False) -> tuple[list[JudgeItem], dict[str, JudgeItem]]:
    """Drop items already judged (by cache key); keep failed ones only with retry_failed."""
    keys = {cache_key(judge, it): it for it in items}
    status: dict[str, set[str]] = {}
    with store.begin() as conn:
        rows = conn.execute(select(Judgment.cache_key, Judgment.parse_status).where(
            Judgment.judge_id == judge.judge_id, Judgment.cache_key.is_not(None)))
        for k, st in rows:
            if k in keys:
                status.setdefault(k, set()).add(st)
    todo = []
    for k, it in keys.items():
        st = status.get(k)
        if st is None or (retry_failed and "ok" not in st):
            todo.append(it)
    return todo, keys


class RowWriter:
    """Buffers judgment rows and commits them in small batches (a crash loses < one batch)."""

    def __init__(self, store: Store, batch: int = 50) -> None:
        self.store, self.batch, self.buf = store, batch, []  # type: ignore[var-annotated]
        self.count = 0
        self.failed: list[dict[str, Any]] = []

    def __call__(self, row: dict[str, Any]) -> None:
        self.buf.append(row)
        if row.get("parse_status") == "failed":
            self.failed.append(row)
        if len(self.buf) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.buf:
            return
        from arena.store.ingest import add_judgments

        with self.store.begin() as conn:
            add_judgments(conn, self.buf)
        self.count += len(self.buf)
        self.buf = []


def run_reviews(store: Store, cfg: ArenaConfig, judge: Judge, *, limit: Optional[int] = None,
                retry_failed: bool = False, run_id: Optional[str] = None,
                progress: bool = True) -> ReviewReport:
    """Judge every pending item with ``judge`` and store the rows as they arrive.

    A judge with a ``bind(store)`` method gets the store first (LLM and metric judges read
    questions and answers); a judge with a ``mode`` attribute plans items of that mode."""
    bind = getattr(judge, "bind", None)
    if callable(bind):
        bind(store)
    items = plan_items(store, cfg, limit=limit, mode=getattr(judge, "mode", None))
    prepare = getattr(judge, "prepare", None)
    if callable(prepare):
        prepare(items)  # bulk reads before cache keys are computed (one query per chunk)
    todo, _ = pending_items(store, judge, items, retry_failed=retry_failed)
    report = ReviewReport(judge_id=judge.judge_id, planned=len(items),
                          skipped=len(items) - len(todo))
    if not todo:
        return report
    writer = RowWriter(store)
    policy = cfg.judge.position_policy.value
    bar = _progress(len(todo), f"reviews ({judge.judge_id})", progress)

    def emit(row: dict[str, Any]) -> None:
        # The position policy belongs to pairwise rows only.
        row.setdefault("policy", policy if row.get("mode") != Mode.SINGLE.value else None)
        row.setdefault("run_id", run_id)
        writer(row)
        bar.update(1)

    try:
        judge.judge(todo, emit)
    finally:
        writer.flush()
        bar.close()
    report.judged = writer.count
    report.failed = len(writer.failed)
    report.failures = [f"{r['question_id']} {r['model_a']} vs {r.get('model_b')}: "
                       f"{(r.get('error') or 'no verdict')[:120]}" for r in writer.failed]
    return report


def base_row(judge: Judge, item: JudgeItem) -> dict[str, Any]:
    """The columns every judgment row of ``item`` shares (judges add the verdict)."""
    return {"mode": item.mode, "battle_id": item.battle_id,
            "answer_id": item.answer_a_id if item.mode == Mode.SINGLE.value else None,
            "question_id": item.question_id, "model_a": item.model_a, "model_b": item.model_b,
            "answer_a_id": item.answer_a_id, "answer_b_id": item.answer_b_id,
            "turn": item.turn, "first": item.first, "judge_kind": judge.kind,
            "judge_id": judge.judge_id, "template_version": judge.template_version(item),
            "cache_key": cache_key(judge, item)}


def _progress(total: int, desc: str, enabled: bool):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="item", disable=not enabled, dynamic_ncols=True)
