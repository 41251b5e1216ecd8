"""Creating annotation tasks from stored questions and answers, or from stored battles.

``create_task`` builds one task and its items in the caller's transaction:
- ``pairwise-all``: every pair of the chosen models on every chosen question where both
  answered; ``pairwise-baseline``: the baseline against each other model; ``single``: one
  item per answer. A battle row is ensured for every pair so human verdicts join the
  pipeline's battles.
- ``from_battles``: one item per stored battle (optionally only battles among the chosen
  models / questions) whose two answers exist.
The newest answer of a (question, model) is used when several parameter sets answered.
Invalid specs raise InputError naming the field; a task with no items is refused.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import Connection, func, select

from arena.errors import InputError
from arena.store.annotation_schema import Task, TaskItem
from arena.identity import battle_pair
from arena.store.ingest import ensure_battles
from arena.store.schema import Answer, Battle, Question, utcnow
from arena.types import Mode
from annotate.validate import check_text

log = logging.getLogger(__name__)

SCALES = {"pairwise": "A / B / tie / both bad", "1-5": "score 1-5", "1-10": "score 1-10",
          "rubric": "per-criterion scores"}
MAX_ITEMS = 200_000


@dataclass
class TaskSpec:
    name: str
    mode: str = Mode.PAIRWISE_ALL.value
    scale: str = "pairwise"
    models: list[str] = field(default_factory=list)
    baseline: Optional[str] = None
    sources: list[str] = field(default_factory=list)  # empty = all
    categories: list[str] = field(default_factory=list)  # empty = all
    question_limit: Optional[int] = None
    from_battles: bool = False
    overlap: int = 1
    lease_seconds: int = 900
    criteria: list[str] = field(default_factory=list)
    criteria_max: int = 5
    show_references: bool = False
    public_title: Optional[str] = None  # what annotators see (None: "Task <id>")
    guidelines: str = ""
    swap_share: float = 0.0  # annotate.probes
    swap_gap: int = 3
    gold_share: float = 0.1  # annotate.gold
    gold_threshold: float = 0.7
    gold_min: int = 3
    adjudication: str = "final"  # annotate.adjudicate.MODES
    adaptive: bool = False  # annotate.adaptive: next pair by expected information, stop rule
    adaptive_ci: float = 0.95
    adaptive_cap: int = 50


def validate_research(spec: TaskSpec) -> None:
    """Check the swap-probe, gold and adjudication settings (also when an admin changes them
    later)."""
    from annotate.adjudicate import check_mode

    check_mode(spec.adjudication)
    if spec.adaptive and spec.mode == Mode.SINGLE.value:
        raise InputError("adaptive pair selection needs a pairwise task", field="adaptive")
    if not 0.5 <= spec.adaptive_ci <= 0.999:
        raise InputError("the stop rule's CI level must be from 0.5 to 0.999",
                         field="adaptive_ci")
    if not 1 <= spec.adaptive_cap <= 100_000:
        raise InputError("the per-pair cap must be from 1 to 100000 verdicts",
                         field="adaptive_cap")
    if not 0.0 <= spec.swap_share <= 1.0:
        raise InputError("swap-probe share must be from 0 to 1", field="swap_share")
    if not 0 <= spec.swap_gap <= 1000:
        raise InputError("swap-probe gap must be from 0 to 1000 items", field="swap_gap")
    if spec.swap_share > 0 and spec.mode == Mode.SINGLE.value:
        raise InputError("swap probes need a pairwise task", field="swap_share")
    if not 0.0 <= spec.gold_share <= 1.0:
        raise InputError("gold share must be from 0 to 1", field="gold_share")
    if not 0.0 <= spec.gold_threshold <= 1.0:
        raise InputError("gold threshold must be from 0 to 1", field="gold_threshold")
    if not 1 <= spec.gold_min <= 1000:
        raise InputError("gold minimum must be from 1 to 1000 items", field="gold_min")


MAX_NAME = 200  # Task.name, Task.public_title
MAX_MODEL = 200  # TaskItem.model_a / model_b
MAX_CRITERIA = 20
MAX_GUIDELINES = 100_000
MAX_QUESTIONS = 1_000_000


def _check_names(values: list[str], field_name: str, max_len: int) -> None:
    for v in values:
        if not isinstance(v, str):
            raise InputError("expected text", field=field_name)
        check_text(v, field_name, max_len)


def validate(spec: TaskSpec) -> None:
    """Raise InputError (naming the field) for an inconsistent spec."""
    check_text(spec.name, "name", MAX_NAME)
    if not spec.name.strip():
        raise InputError("give the task a name", field="name")
    if spec.public_title is not None:
        check_text(spec.public_title, "public_title", MAX_NAME)
    _check_names(spec.models, "models", MAX_MODEL)
    _check_names([spec.baseline] if spec.baseline else [], "baseline", MAX_MODEL)
    _check_names(spec.sources, "sources", 200)
    _check_names(spec.categories, "categories", 200)
    _check_names(spec.criteria, "criteria", 100)
    check_text(spec.guidelines, "guidelines", MAX_GUIDELINES)
    if len(spec.criteria) > MAX_CRITERIA:
        raise InputError(f"at most {MAX_CRITERIA} criteria", field="criteria")
    if spec.question_limit is not None and not 1 <= spec.question_limit <= MAX_QUESTIONS:
        raise InputError(f"the question limit must be from 1 to {MAX_QUESTIONS} (or empty: "
                         "all questions)", field="question_limit")
    if spec.mode not in {m.value for m in Mode}:
        raise InputError(f"unknown mode {spec.mode!r}", field="mode")
    if spec.scale not in SCALES:
        raise InputError(f"unknown scale {spec.scale!r}", field="scale")
    pairwise = spec.mode != Mode.SINGLE.value
    if pairwise != (spec.scale == "pairwise"):
        raise InputError("pairwise modes use the pairwise scale; single mode uses 1-5, 1-10 "
                         "or rubric", field="scale")
    if not 1 <= spec.overlap <= 100:
        raise InputError("overlap must be from 1 to 100 annotators", field="overlap")
    if not 30 <= spec.lease_seconds <= 7 * 86400:
        raise InputError("lease must be from 30 seconds to 7 days", field="lease_seconds")
    validate_research(spec)
    if spec.scale == "rubric":
        if not spec.criteria:
            raise InputError("rubric tasks need at least one criterion", field="criteria")
        if len(set(spec.criteria)) != len(spec.criteria):
            raise InputError("criteria must be distinct", field="criteria")
        if not 2 <= spec.criteria_max <= 10:
            raise InputError("criteria scale must be 1-2 to 1-10", field="criteria_max")
    if spec.from_battles:
        if spec.mode == Mode.SINGLE.value:
            raise InputError("a task from battles is pairwise", field="mode")
        return
    if spec.mode == Mode.PAIRWISE_BASELINE.value:
        if not spec.baseline:
            raise InputError("pairwise-baseline needs a baseline model", field="baseline")
        if not [m for m in spec.models if m != spec.baseline]:
            raise InputError("choose at least one model besides the baseline", field="models")
    elif spec.mode == Mode.PAIRWISE_ALL.value and len(set(spec.models)) < 2:
        raise InputError("choose at least two models", field="models")
    elif spec.mode == Mode.SINGLE.value and not spec.models:
        raise InputError("choose at least one model", field="models")


def _questions(conn: Connection, spec: TaskSpec) -> list[str]:
    from annotate.authoring import superseded_questions

    # Old versions of authored pairs stay stored (append-only) but are never asked again.
    q = (select(Question.id).where(Question.id.not_in(superseded_questions()))
         .order_by(Question.source, Question.seq, Question.id))
    if spec.sources:
        q = q.where(Question.source.in_(spec.sources))
    if spec.categories:
        q = q.where(Question.category.in_(spec.categories))
    if spec.question_limit:
        q = q.limit(spec.question_limit)
    return list(conn.execute(q).scalars())


def _latest_answers(conn: Connection, models: list[str],
                    qids: Optional[list[str]]) -> dict[tuple[str, str], int]:
    q = select(Answer.question_id, Answer.model, func.max(Answer.id)).group_by(
        Answer.question_id, Answer.model)
    if models:
        q = q.where(Answer.model.in_(models))
    out = {(qid, m): int(aid) for qid, m, aid in conn.execute(q)}
    if qids is not None:
        keep = set(qids)
        out = {k: v for k, v in out.items() if k[0] in keep}
    return out


def _pairs(spec: TaskSpec) -> list[tuple[str, str]]:
    models = list(dict.fromkeys(spec.models))
    if spec.mode == Mode.PAIRWISE_BASELINE.value:
        return [(spec.baseline, m) for m in models if m != spec.baseline]  # type: ignore[misc]
    return list(itertools.combinations(models, 2))


def _ensure_battles(conn: Connection, triples: list[tuple[str, str, str]]
                    ) -> dict[tuple[str, str, str], tuple[int, str, str]]:
    """Map each wanted (question, a, b) to its battle (id, model_a, model_b).

    A battle is one unordered pair stored in ``arena.identity.battle_pair`` order (the rule
    lives in ``arena.store.ingest.ensure_battles``, shared with the pipeline), so a pair is one
    battle whichever task or stage created it; missing ones are inserted.
    """
    ids = ensure_battles(conn, triples)
    out: dict[tuple[str, str, str], tuple[int, str, str]] = {}
    for q, a, b in triples:
        ma, mb = battle_pair(a, b)
        out[(q, a, b)] = (ids[(q, a, b)], ma, mb)
    return out


def plan_items(conn: Connection, spec: TaskSpec) -> tuple[list[dict[str, Any]], int]:
    """The items a spec would create (without task id) and how many were left out for a
    missing answer."""
    qids = _questions(conn, spec)
    items: list[dict[str, Any]] = []
    missing = 0
    if spec.from_battles:
        bq = select(Battle.id, Battle.question_id, Battle.model_a, Battle.model_b).order_by(
            Battle.question_id, Battle.id)
        if spec.models:
            bq = bq.where(Battle.model_a.in_(spec.models), Battle.model_b.in_(spec.models))
        wanted = set(qids)
        battles = [b for b in conn.execute(bq).all() if b.question_id in wanted]
        ans = _latest_answers(conn, spec.models, qids)
        for b in battles:
            a, bb = ans.get((b.question_id, b.model_a)), ans.get((b.question_id, b.model_b))
            if a is None or bb is None:
                missing += 1
                continue
            items.append(dict(question_id=b.question_id, battle_id=b.id, answer_a_id=a,
                              answer_b_id=bb, model_a=b.model_a, model_b=b.model_b))
        return items, missing
    ans = _latest_answers(conn, spec.models, qids)
    if spec.mode == Mode.SINGLE.value:
        for q in qids:
            for m in dict.fromkeys(spec.models):
                if (q, m) in ans:
                    items.append(dict(question_id=q, battle_id=None, answer_a_id=ans[(q, m)],
                                      answer_b_id=None, model_a=m, model_b=None))
                else:
                    missing += 1
        return items, missing
    triples = []
    for q in qids:
        for a, b in _pairs(spec):
            if (q, a) in ans and (q, b) in ans:
                triples.append((q, a, b))
            else:
                missing += 1
    battles = _ensure_battles(conn, triples) if triples else {}
    for q, a, b in triples:
        bid, ma, mb = battles[(q, a, b)]  # the stored battle's orientation wins
        items.append(dict(question_id=q, battle_id=bid, answer_a_id=ans[(q, ma)],
                          answer_b_id=ans[(q, mb)], model_a=ma, model_b=mb))
    return items, missing


def create_task(conn: Connection, spec: TaskSpec, created_by: Optional[int] = None
                ) -> tuple[int, int, int]:
    """Create the task and its items; return (task id, items, left out for missing answers).

    Raises InputError when the spec is invalid or yields no item (nothing is written when the
    caller's transaction rolls back).
    """
    validate(spec)
    items, missing = plan_items(conn, spec)
    if not items:
        raise InputError("no item matches: no stored answers (or battles) for these "
                         "questions and models", field="models")
    if len(items) > MAX_ITEMS:
        raise InputError(f"{len(items)} items is more than {MAX_ITEMS}; narrow the questions",
                         field="question_limit")
    settings: dict[str, Any] = {"baseline": spec.baseline, "models": spec.models,
                                "sources": spec.sources, "categories": spec.categories,
                                "from_battles": spec.from_battles,
                                "swap_share": spec.swap_share, "swap_gap": spec.swap_gap,
                                "gold_share": spec.gold_share,
                                "gold_threshold": spec.gold_threshold, "gold_min": spec.gold_min,
                                "gold_items": 0, "adjudication": spec.adjudication,
                                "adaptive": spec.adaptive, "adaptive_ci": spec.adaptive_ci,
                                "adaptive_cap": spec.adaptive_cap}
    if spec.scale == "rubric":
        settings["criteria_max"] = spec.criteria_max
    tid = conn.execute(Task.__table__.insert().values(
        name=spec.name.strip(), public_title=(spec.public_title or "").strip() or None,
        mode=spec.mode, scale=spec.scale, criteria=spec.criteria,
        overlap=spec.overlap, status="active", guidelines=spec.guidelines,
        show_references=spec.show_references, lease_seconds=spec.lease_seconds,
        settings=settings, created_by=created_by, created_at=utcnow())
        .returning(Task.id)).scalar_one()
    rows = [{**it, "task_id": tid, "kind": "normal", "gold": None, "held_count": 0,
             "seq": i} for i, it in enumerate(items)]
    for start in range(0, len(rows), 5000):
        conn.execute(TaskItem.__table__.insert(), rows[start:start + 5000])
    log.info("created task %d %r: %d items (%d left out for missing answers)", tid, spec.name,
             len(rows), missing)
    return int(tid), len(rows), missing


def catalogue(conn: Connection) -> dict[str, list[str]]:
    """Choices for the task form: sources, categories and models with stored answers."""
    return {
        "sources": list(conn.execute(select(Question.source).distinct()
                                     .order_by(Question.source)).scalars()),
        "categories": [c for c in conn.execute(select(Question.category).distinct()
                                               .order_by(Question.category)).scalars() if c],
        "models": [m for m in conn.execute(select(Answer.model).distinct()
                                           .order_by(Answer.model)).scalars()
                   if not m.startswith("gold:")],  # annotate.gold's broken copies
        "battles": [str(conn.execute(select(func.count()).select_from(Battle)).scalar_one())],
    }
