"""Gold items: items with a known answer, each annotator's accuracy on them, and the
reversible rule that keeps an unreliable annotator's verdicts out of the leaderboards.

- ``mark_gold`` turns an item into a gold item with the accepted answers: outcomes relative
  to the battle's model_a (``["A"]``: model_a's answer is the right one) for pairwise tasks,
  a score range for 1-5 / 1-10 tasks. Rubric tasks have no gold items (InputError says so).
- ``add_broken_gold`` makes a new gold item from an answer and a deliberately broken copy of
  it (words shuffled, or a text the admin gives); the copy is stored as an answer of the
  pseudo-model ``gold:broken`` (origin ``gold``) and the intact answer is the accepted one.
- Verdicts on gold items are stored with ``judge_kind = "human-gold"``: quality checks, never
  ratings (no leaderboard reads that kind). Every annotator may get every gold item: the
  overlap k does not apply to them; the task setting ``gold_share`` (default 0.1) is the
  chance that a claim serves a gold item while normal items are left.
- ``gold_accuracy`` per annotator; ``apply_rule`` sets ``User.excluded`` for annotators with
  at least ``gold_min`` answered gold items and accuracy below ``gold_threshold`` (task
  settings); ``set_excluded`` sets or undoes it by hand. ``arena.ratings.selection`` leaves
  excluded annotators' human verdicts out of every leaderboard; undoing brings them back.
"""

from __future__ import annotations

import hashlib
import logging
import random

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from sqlalchemy import Connection, and_, exists, func, select, update

from arena.errors import InputError
from arena.store.annotation_schema import Assignment, Task, TaskItem, User
from arena.store.ingest import insert_ignore
from arena.store.schema import Answer, utcnow
from arena.types import Outcome

log = logging.getLogger(__name__)

GOLD_KIND = "human-gold"  # the judge kind of verdicts on gold items
BROKEN_MODEL = "gold:broken"
DEFAULT_SHARE = 0.1
DEFAULT_THRESHOLD = 0.7
DEFAULT_MIN = 3
OUTCOMES = tuple(o.value for o in Outcome)

def rule_of(settings: Optional[Mapping[str, Any]]) -> tuple[float, float, int]:
    """(gold_share, gold_threshold, gold_min) from a task's settings."""
    s = settings or {}
    return (min(max(float(s.get("gold_share", DEFAULT_SHARE)), 0.0), 1.0),
            float(s.get("gold_threshold", DEFAULT_THRESHOLD)), int(s.get("gold_min", DEFAULT_MIN)))

def take_gold(conn: Connection, task_id: int, user_id: int) -> Optional[int]:
    """Hold the next gold item this user has not had (task order); return its id or None."""
    not_mine = ~exists().where(and_(Assignment.item_id == TaskItem.id,
                                    Assignment.annotator_id == user_id,
                                    Assignment.round == 1, Assignment.status != "expired"))
    got = conn.execute(select(TaskItem.id).where(
        TaskItem.task_id == task_id, TaskItem.kind == "gold", not_mine)
        .order_by(TaskItem.seq, TaskItem.id).limit(1)).scalar()
    if got is None:
        return None
    conn.execute(update(TaskItem).where(TaskItem.id == got)
                 .values(held_count=TaskItem.held_count + 1))
    return int(got)

def _check_expect(scale: str, expect: Mapping[str, Any]) -> dict[str, Any]:
    if scale == "pairwise":
        accept = [str(x).upper() for x in (expect.get("accept") or [])]
        if not accept or any(a not in OUTCOMES for a in accept):
            raise InputError(f"accepted outcomes must be among {', '.join(OUTCOMES)}",
                             field="accept")
        return {"accept": sorted(set(accept))}
    if scale in ("1-5", "1-10"):
        top = 5 if scale == "1-5" else 10
        try:
            lo, hi = int(expect["min"]), int(expect["max"])
        except (KeyError, TypeError, ValueError):
            raise InputError("give the accepted score range (min and max)", field="min") \
                from None
        if not 1 <= lo <= hi <= top:
            raise InputError(f"score range must lie within 1-{top}", field="max")
        return {"min": lo, "max": hi}
    raise InputError("gold items need a pairwise or a 1-5 / 1-10 task (rubric tasks have "
                     "no single right answer)", field="scale")

def _bump_gold_count(conn: Connection, task_id: int) -> None:
    n = conn.execute(select(func.count()).select_from(TaskItem).where(
        TaskItem.task_id == task_id, TaskItem.kind == "gold")).scalar_one()
    settings = dict(conn.execute(select(Task.settings).where(Task.id == task_id)).scalar()
                    or {})
    settings["gold_items"] = int(n)
    conn.execute(update(Task).where(Task.id == task_id).values(settings=settings))

def mark_gold(conn: Connection, item_id: int, expect: Mapping[str, Any]) -> None:
    """Make an item a gold item (or change its answer). Raises LookupError for an unknown
    item, InputError for a bad expectation."""
    row = conn.execute(select(TaskItem.task_id, Task.scale).join(Task, Task.id == TaskItem.task_id)
                       .where(TaskItem.id == item_id)).first()
    if row is None:
        raise LookupError(item_id)
    gold = _check_expect(row.scale, expect)
    conn.execute(update(TaskItem).where(TaskItem.id == item_id).values(kind="gold", gold=gold))
    _bump_gold_count(conn, row.task_id)

def unmark_gold(conn: Connection, item_id: int) -> None:
    """Make a gold item a normal item again (its past verdicts stay gold checks)."""
    tid = conn.execute(update(TaskItem).where(TaskItem.id == item_id).values(
        kind="normal", gold=None).returning(TaskItem.task_id)).scalar()
    if tid is None:
        raise LookupError(item_id)
    _bump_gold_count(conn, tid)

def break_text(text: str, seed: int) -> str:
    """A deliberately broken copy: the words of each line shuffled (characters, for text
    without spaces such as Chinese). Seeded, so the same answer breaks the same way."""
    rng = random.Random(seed)
    out = []
    for line in text.split("\n"):
        parts = line.split() if len(line.split()) > 1 else list(line.strip())
        rng.shuffle(parts)
        out.append((" " if len(line.split()) > 1 else "").join(parts))
    broken = "\n".join(out)
    return broken if broken != text else text[::-1]

def add_broken_gold(conn: Connection, task_id: int, answer_id: int,
                    broken_text: Optional[str] = None) -> int:
    """A new gold item: ``answer_id`` against a broken copy of it; return the item id.

    Raises LookupError for an unknown task or answer, InputError when the task is not
    pairwise or the answer is empty.
    """
    task = conn.execute(select(Task.scale).where(Task.id == task_id)).first()
    ans = conn.execute(select(Answer.id, Answer.question_id, Answer.model, Answer.turns)
                       .where(Answer.id == answer_id)).first()
    if task is None or ans is None:
        raise LookupError(answer_id if ans is None else task_id)
    if task.scale != "pairwise":
        raise InputError("a broken-answer gold item needs a pairwise task", field="scale")
    turns = [str(t or "") for t in (ans.turns or [])]
    if not any(t.strip() for t in turns):
        raise InputError("the answer is empty: nothing to break", field="answer_id")
    if broken_text is not None and broken_text.strip():
        broken = [broken_text] + [break_text(t, answer_id + i) for i, t in enumerate(turns[1:], 1)]
    else:
        broken = [break_text(t, answer_id + i) for i, t in enumerate(turns)]
    digest = hashlib.sha256("\x1f".join(broken).encode()).hexdigest()[:32]
    insert_ignore(conn, Answer.__table__, [dict(
        question_id=ans.question_id, model=BROKEN_MODEL, params_hash=f"gold-{digest}",
        turns=broken, origin="gold", meta={"broken_from": answer_id}, truncated=False,
        created_at=utcnow())], ["question_id", "model", "params_hash"])
    bid = conn.execute(select(Answer.id).where(
        Answer.question_id == ans.question_id, Answer.model == BROKEN_MODEL,
        Answer.params_hash == f"gold-{digest}")).scalar_one()
    if conn.execute(select(TaskItem.id).where(TaskItem.task_id == task_id,
                                              TaskItem.answer_a_id == answer_id,
                                              TaskItem.answer_b_id == bid)).first():
        raise InputError("this task already has that gold item", field="answer_id")
    seq = conn.execute(select(func.coalesce(func.max(TaskItem.seq), -1))
                       .where(TaskItem.task_id == task_id)).scalar_one() + 1
    iid = conn.execute(TaskItem.__table__.insert().values(
        task_id=task_id, question_id=ans.question_id, battle_id=None, answer_a_id=answer_id,
        answer_b_id=bid, model_a=ans.model, model_b=BROKEN_MODEL, kind="gold",
        gold={"accept": ["A"]}, held_count=0, seq=seq)
        .returning(TaskItem.id)).scalar_one()
    _bump_gold_count(conn, task_id)
    return int(iid)

def is_correct(gold: Mapping[str, Any], outcome: Optional[str], score: Optional[float]) -> bool:
    if "accept" in gold:
        return outcome in gold["accept"]
    return score is not None and gold["min"] <= score <= gold["max"]

@dataclass
class GoldScore:
    annotator_id: int
    n: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else float("nan")

def gold_accuracy(conn: Connection, task_id: int) -> dict[int, GoldScore]:
    """Per annotator: gold items answered (current verdict of each assignment) and right."""
    from arena.store.schema import Judgment

    rows = conn.execute(
        select(Assignment.annotator_id, TaskItem.gold, Judgment.outcome, Judgment.score_a)
        .join(TaskItem, TaskItem.id == Assignment.item_id)
        .join(Judgment, Judgment.id == Assignment.judgment_id)
        .where(Assignment.task_id == task_id, TaskItem.kind == "gold",
               Assignment.status == "done")).all()
    out: dict[int, GoldScore] = {}
    for uid, gold, outcome, score in rows:
        if not gold:
            continue
        s = out.setdefault(int(uid), GoldScore(int(uid), 0, 0))
        s.n += 1
        s.correct += int(is_correct(gold, outcome, score))
    return out

def set_excluded(conn: Connection, user_id: int, excluded: bool, note: Optional[str] = None
                 ) -> None:
    """Exclude an annotator's verdicts from the leaderboards, or undo it (LookupError if the
    user is unknown). The verdicts themselves are never touched."""
    got = conn.execute(update(User).where(User.id == user_id).values(
        excluded=excluded, excluded_note=(note or "")[:300] if excluded else None)
        .returning(User.id)).scalar()
    if got is None:
        raise LookupError(user_id)
    log.info("annotator %d %s", user_id, "excluded" if excluded else "included again")

def apply_rule(conn: Connection, task_id: int) -> list[int]:
    """Exclude the annotators that fail the task's gold rule; return their ids."""
    settings = conn.execute(select(Task.settings).where(Task.id == task_id)).scalar()
    _share, threshold, minimum = rule_of(settings)
    failed = []
    for uid, s in sorted(gold_accuracy(conn, task_id).items()):
        if s.n >= minimum and s.accuracy < threshold:
            set_excluded(conn, uid, True, f"gold accuracy {s.correct}/{s.n} on task {task_id} "
                                          f"is below {threshold:.0%}")
            failed.append(uid)
    return failed

