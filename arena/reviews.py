"""The reviews stage: battles (or answers) -> judge work items -> Judgment rows.

Work items follow the position policy (DESIGN.md section 5):
- ``none``: one judgment per battle, the first model of the pair shown first (pairwise-all:
  the pair's first name; pairwise-baseline: the candidate, the baseline second);
- ``random_order``: one judgment, the order drawn from the seed and the battle (stable);
- ``tie_if_inconsistent`` and ``both_games``: both orders judged (they differ only in how the
  ratings combine the two rows).
Single mode makes one item per answer. With ``judge.per_turn`` a multi-turn question gives
one item per turn (``turn`` = 1..n); otherwise one item judges the whole dialogue.

Resume and reuse: every item has a judgment key (``arena.identity.judgment_key``: the judge's
fingerprint, the template version, the answer versions in the order shown, the turn; not the
mode), so pairwise-all and pairwise-baseline share the judgments they have in common. An item
whose key already has a row is skipped; with ``retry_failed`` an item whose rows are all failed
(unparsable verdicts) is judged again (a new row; the failed one stays for the record). A judge
call that failed in transport (connection refused, timeout after retries) is not a judgment:
it is stored in ``judge_failures`` and a plain rerun judges the item again. Rows are stored as
they arrive, so an interrupted run keeps what it finished.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol

from sqlalchemy import select

from arena.config import ArenaConfig
from arena.identity import judgment_key
from arena.ids import content_id
from arena.pairing import answer_map, plan_battles, selected_questions
from arena.store import Store
from arena.store.schema import JudgeFailure, Judgment, utcnow
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

    ``judge_id`` is the judge's name (a label); ``fingerprint`` its identity
    (``arena.identity.fingerprint`` of everything that changes its output). Optional hooks,
    used when present: ``bind(store)`` (called first: the judge reads questions and answers),
    ``prepare(items)`` (bulk reads before keys are computed), ``mode`` (plan items of this mode
    instead of ``judge.mode``: metric judges are single) and ``summary()`` (a report printed
    after the run)."""

    kind: str
    judge_id: str
    fingerprint: str

    def template_version(self, item: JudgeItem) -> Optional[str]: ...

    def judge(self, items: list[JudgeItem], emit: Callable[[dict[str, Any]], None]) -> None:
        """Judge every item, calling ``emit(row)`` with a Judgment row dict per item as it is
        ready (including failed ones, with parse_status 'failed' and the raw output). A call
        that failed in transport is emitted with ``call_failed=True`` (stored apart, not a
        judgment)."""
        ...


def shown_answers(item: JudgeItem) -> list[Optional[int]]:
    """The answer versions of ``item`` in the order the judge sees them."""
    if item.answer_b_id is None:
        return [item.answer_a_id]
    if item.first == "B":
        return [item.answer_b_id, item.answer_a_id]
    return [item.answer_a_id, item.answer_b_id]


def cache_key(judge: Judge, item: JudgeItem) -> str:
    """The judgment key of ``item`` under ``judge`` (see ``arena.identity.judgment_key``)."""
    return judgment_key(judge.fingerprint, judge.template_version(item), shown_answers(item),
                        item.turn)


def orders_for(policy: PositionPolicy, seed: int, battle_key: str, lead: str = "A") -> list[str]:
    """Display orders to judge for one battle ("A" = model_a shown first). ``lead`` is the
    side shown first when the policy judges one fixed order."""
    if policy == PositionPolicy.NONE:
        return [lead]
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
               mode: Optional[Mode] = None, versions: Optional[dict[str, dict[str, str]]] = None,
               question_ids: Optional[list[str]] = None, create: bool = True) -> list[JudgeItem]:
    """Store the run's battles and return every judge work item, in a stable order.

    ``mode`` overrides ``cfg.judge.mode`` (metric judges always score single answers).
    ``versions`` is the answer version each model selects (``arena.scope.model_versions``;
    default: read now, without writing). ``question_ids`` (default: the config's selection,
    cut to ``limit``). ``create=False`` stores no battles (readers). With ``judge.per_turn`` a
    multi-turn question gives one item per turn."""
    from arena.scope import read_only_versions

    mode = Mode(mode) if mode is not None else cfg.judge.mode
    per_turn = cfg.judge.per_turn
    if question_ids is None:
        with store.begin() as conn:
            question_ids = selected_questions(conn, cfg, limit=limit)
    qids = list(question_ids)
    if versions is None:
        versions = read_only_versions(store, cfg, qids)
    with store.begin() as conn:
        turns = _turns_of(conn, qids) if per_turn else {}
        if mode == Mode.SINGLE:
            answers = answer_map(conn, cfg, qids, versions)
            return [JudgeItem(mode=Mode.SINGLE.value, question_id=q, model_a=m, answer_a_id=aid,
                              first=None, turn=t)
                    for (q, m), aid in sorted(answers.items())
                    for t in _turn_list(per_turn, turns.get(q, 1))]
        battles = plan_battles(conn, cfg, qids, versions, create=create)
    items = []
    for b in battles:
        key = f"{b.question_id}|{b.model_a}|{b.model_b}"
        for t in _turn_list(per_turn, turns.get(b.question_id, 1)):
            for first in orders_for(cfg.judge.position_policy, cfg.judge.seed, key, b.lead):
                items.append(JudgeItem(mode=mode.value, question_id=b.question_id,
                                       model_a=b.model_a, answer_a_id=b.answer_a_id,
                                       model_b=b.model_b, answer_b_id=b.answer_b_id,
                                       battle_id=b.battle_id if b.battle_id >= 0 else None,
                                       first=first, turn=t))
    return items


@dataclass
class ReviewReport:
    """What one judge did in this run. ``judged``: usable judgments stored now; ``failed``:
    unparsable verdicts stored as failed judgments; ``call_failures``: calls that failed in
    transport (not judgments; a plain rerun retries them)."""

    judge_id: str
    fingerprint: str = ""
    planned: int = 0
    skipped: int = 0
    judged: int = 0
    failed: int = 0
    call_failures: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.judged + self.failed + self.call_failures

    def __str__(self) -> str:
        from arena.identity import judge_label

        s = (f"reviews by {judge_label(self.judge_id, self.fingerprint)}: {self.planned} items, "
             f"{self.skipped} already stored, {self.judged} judged now, {self.failed} failed")
        if self.failed:
            s += " (unparsable: stored as failed; --retry-failed judges them again)"
        if self.call_failures:
            s += f", {self.call_failures} calls failed (not judged; a rerun retries them)"
        if self.failures:
            s += "\n  failed: " + "\n  failed: ".join(self.failures[:20])
            if len(self.failures) > 20:
                s += f"\n  ... and {len(self.failures) - 20} more"
        return s

    def nothing_usable(self) -> Optional[str]:
        """The one-line summary when this run attempted items and none gave a verdict."""
        if self.attempted == 0 or self.judged > 0:
            return None
        first = self.failures[0].split(": ", 1)[-1] if self.failures else "no verdict"
        return (f"judge {self.judge_id} failed on {self.attempted} of {self.attempted} items: "
                f"{first}")


def pending_items(store: Store, judge: Judge, items: list[JudgeItem], *,
                  retry_failed: bool = False) -> tuple[list[JudgeItem], dict[str, JudgeItem]]:
    """Drop items already judged (by judgment key); keep items with only failed rows when
    ``retry_failed``. Items whose calls failed in transport have no row: they are pending."""
    keys = {cache_key(judge, it): it for it in items}
    status: dict[str, set[str]] = {}
    with store.begin() as conn:
        rows = conn.execute(select(Judgment.cache_key, Judgment.parse_status).where(
            Judgment.fingerprint == judge.fingerprint, Judgment.cache_key.is_not(None)))
        for k, st in rows:
            if k in keys:
                status.setdefault(k, set()).add(st)
    todo = []
    for k, it in keys.items():
        st = status.get(k)
        if st is None or (retry_failed and "ok" not in st):
            todo.append(it)
    return todo, keys


def failure_row(row: dict[str, Any]) -> dict[str, Any]:
    """The ``judge_failures`` row of an emitted row marked ``call_failed``."""
    meta = row.get("meta") or {}
    return {"cache_key": row["cache_key"], "fingerprint": row["fingerprint"],
            "judge_id": row["judge_id"], "question_id": row["question_id"],
            "model_a": row["model_a"], "model_b": row.get("model_b"),
            "error": row.get("error") or "call failed",
            "attempts": int(meta.get("attempts") or 1), "run_id": row.get("run_id"),
            "created_at": utcnow()}


def judgments_done(fingerprint: str, retry_failed: bool, since: Any
                   ) -> Callable[[Any, list[str]], set[str]]:
    """The claim ``done`` check of one judge's items (keys are judgment keys): a usable row
    is stored; or a failed one (without ``retry_failed``); or, for this round of workers, a
    failed row or a failed call recorded since ``since`` (a sibling tried it)."""
    J, F = Judgment, JudgeFailure

    def done(conn: Any, keys: list[str]) -> set[str]:
        out: set[str] = set()
        for k, st, created in conn.execute(select(J.cache_key, J.parse_status, J.created_at)
                                           .where(J.fingerprint == fingerprint,
                                                  J.cache_key.in_(keys))):
            if st == "ok" or not retry_failed or _since(created, since):
                out.add(k)
        out |= set(conn.execute(select(F.cache_key).where(
            F.fingerprint == fingerprint, F.cache_key.in_(keys),
            F.created_at >= since)).scalars())
        return out

    return done


def _since(created: Any, since: Any) -> bool:
    from datetime import timezone

    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return bool(created >= since)


def run_reviews(store: Store, cfg: ArenaConfig, judge: Judge, *, limit: Optional[int] = None,
                retry_failed: bool = False, run_id: Optional[str] = None,
                progress: bool = True, versions: Optional[dict[str, dict[str, str]]] = None
                ) -> ReviewReport:
    """Judge every pending item with ``judge`` and store the rows as they arrive.

    A judge with a ``bind(store)`` method gets the store first (LLM and metric judges read
    questions and answers); a judge with a ``mode`` attribute plans items of that mode.
    ``versions``: the answer versions the config selects (default: read now). Paid judges
    (LLM) claim their items chunk by chunk (``arena.claims``), so several processes running
    this stage on one store split the work; every row goes through the one result writer
    (``arena.llm.writer``), durable as it arrives."""
    from arena.claims import ClaimBook, ClaimedSource
    from arena.llm.writer import ResultWriter

    bind = getattr(judge, "bind", None)
    if callable(bind):
        bind(store)
    items = plan_items(store, cfg, limit=limit, mode=getattr(judge, "mode", None),
                       versions=versions)
    prepare = getattr(judge, "prepare", None)
    if callable(prepare):
        prepare(items)  # bulk reads before cache keys are computed (one query per chunk)
    todo, keys = pending_items(store, judge, items, retry_failed=retry_failed)
    report = ReviewReport(judge_id=judge.judge_id, fingerprint=judge.fingerprint,
                          planned=len(items), skipped=len(items) - len(todo))
    if not todo:
        return report
    paid = judge.kind == "llm"
    book = ClaimBook(store, lease_s=cfg.generation.lease_s) if paid else None
    budget = getattr(judge, "budget", None)
    if paid and budget is not None and (budget.max_calls is not None or
                                        budget.max_cost is not None):
        from arena.llm.shared_budget import make_budget

        # the caps hold across every worker judging this config
        judge.budget = make_budget(store, f"{cfg.name}/reviews/{judge.fingerprint}",  # type: ignore[attr-defined]
                                   budget.max_calls, budget.max_cost,
                                   lease_s=cfg.generation.lease_s)
    writer = ResultWriter(store, release=book.release if book else None)
    policy = cfg.judge.position_policy.value
    bar = _progress(len(todo), f"reviews ({judge.judge_id})", progress)
    failed: list[dict[str, Any]] = []
    call_failed: list[dict[str, Any]] = []

    def emit(row: dict[str, Any]) -> None:
        # The position policy belongs to pairwise rows only.
        row.setdefault("policy", policy if row.get("mode") != Mode.SINGLE.value else None)
        row.setdefault("run_id", run_id)
        key = row.get("cache_key") if paid else None
        if row.pop("call_failed", False):
            call_failed.append(row)
            writer.put("judge_failure", failure_row(row), key)
        else:
            if row.get("parse_status") == "failed":
                failed.append(row)
            else:
                report.judged += 1
            writer.put("judgment", row, key)
        bar.update(1)

    source = None
    try:
        if book is not None:
            key_of = {it: k for k, it in keys.items()}  # computed once, in pending_items
            in_flight = getattr(getattr(judge, "runner_settings", None), "concurrency", 64)
            source = ClaimedSource(book, todo, key=key_of.__getitem__,
                                   done=judgments_done(judge.fingerprint, retry_failed,
                                                       book.started),
                                   chunk=max(64, in_flight),
                                   stop=lambda: getattr(getattr(judge, "budget", None),
                                                        "stopped", None) is not None,
                                   writer=writer, backlog=in_flight)
            judge.judge(todo, emit, source)  # type: ignore[call-arg]
        else:
            judge.judge(todo, emit)
    finally:
        try:
            writer.close()
        finally:
            bar.close()
            if book is not None:
                book.close()
            if budget is not None and getattr(judge, "budget", None) is not budget:
                judge.budget.close()  # type: ignore[attr-defined]
                judge.budget = budget  # type: ignore[attr-defined]
    if source is not None:
        report.skipped += source.done_elsewhere
    report.failed = len(failed)
    report.call_failures = len(call_failed)
    report.failures = [f"{r['question_id']} {r['model_a']} vs {r.get('model_b')}: "
                       f"{(r.get('error') or 'no verdict')[:120]}"
                       for r in call_failed + failed]
    return report


def base_row(judge: Judge, item: JudgeItem) -> dict[str, Any]:
    """The columns every judgment row of ``item`` shares (judges add the verdict)."""
    return {"mode": item.mode, "battle_id": item.battle_id,
            "answer_id": item.answer_a_id if item.mode == Mode.SINGLE.value else None,
            "question_id": item.question_id, "model_a": item.model_a, "model_b": item.model_b,
            "answer_a_id": item.answer_a_id, "answer_b_id": item.answer_b_id,
            "turn": item.turn, "first": item.first, "judge_kind": judge.kind,
            "judge_id": judge.judge_id, "fingerprint": judge.fingerprint,
            "template_version": judge.template_version(item),
            "cache_key": cache_key(judge, item)}


def _progress(total: int, desc: str, enabled: bool):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="item", disable=not enabled, dynamic_ncols=True)
