"""Which questions a run covers, which answer stands for each model, and the battles.

- ``selected_questions``: the config's question sources, optionally filtered by category and
  cut to the first ``limit`` (in file order), so ``--limit N`` is a cheap first try.
- ``answer_map``: for each (question, model) the answer produced by the model's *current*
  spec (its params hash), so a changed generation setting never mixes old and new answers.
- ``plan_battles``: battles for pairwise-all (every pair, or a seeded sample of pairs per
  question) and pairwise-baseline (every model against the baseline); stored once (unique on
  question + model_a + model_b) and reused by every later run. Single mode has no battles.
"""

from __future__ import annotations

import itertools
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from sqlalchemy import Connection, select

from arena.config import ArenaConfig, FileModel, QuestionSource
from arena.errors import ConfigError
from arena.ids import content_id
from arena.store.ingest import insert_ignore
from arena.store.schema import Answer, Battle, Question
from arena.types import Mode

log = logging.getLogger(__name__)

IMPORTED_HASH = "imported"


def source_name(q: QuestionSource) -> str:
    """The id namespace of a question file: its ``source`` or the file's stem."""
    if q.source:
        return q.source
    return Path(q.file).stem.replace("/", "_") or "questions"


def model_params_hash(spec: object) -> str:
    """The params hash whose answers stand for ``spec`` (file models: their imported answers)."""
    if isinstance(spec, FileModel):
        return IMPORTED_HASH
    from arena.generate import answer_params_hash  # the generators own the hash definition

    return answer_params_hash(spec)


def selected_questions(conn: Connection, cfg: ArenaConfig, *, limit: Optional[int] = None,
                       categories: Optional[Iterable[str]] = None) -> list[str]:
    """Question ids of the config's sources in file order, filtered and limited."""
    sources = [source_name(q) for q in cfg.questions]
    stmt = select(Question.id, Question.category).order_by(Question.source, Question.seq,
                                                          Question.id)
    if sources:
        stmt = stmt.where(Question.source.in_(sources))
    cats = set(categories or cfg.generation.categories or [])
    out = []
    for qid, cat in conn.execute(stmt):
        if cats and cat not in cats:
            continue
        out.append(qid)
        if limit is not None and len(out) >= limit:
            break
    return out


def answer_map(conn: Connection, cfg: ArenaConfig,
               question_ids: list[str]) -> dict[tuple[str, str], int]:
    """(question_id, model) -> answer id for the enabled models' current specs."""
    wanted = set(question_ids)
    out: dict[tuple[str, str], int] = {}
    for spec in cfg.enabled_models:
        h = model_params_hash(spec)
        rows = conn.execute(select(Answer.question_id, Answer.id).where(
            Answer.model == spec.name, Answer.params_hash == h))
        for qid, aid in rows:
            if qid in wanted:
                out[(qid, spec.name)] = aid
    return out


@dataclass(frozen=True)
class PlannedBattle:
    battle_id: int
    question_id: str
    model_a: str
    model_b: str
    answer_a_id: int
    answer_b_id: int


def _pairs_for(cfg: ArenaConfig, qid: str, models: list[str]) -> list[tuple[str, str]]:
    judge = cfg.judge
    if judge.mode == Mode.PAIRWISE_BASELINE:
        base = judge.baseline
        return [(m, base) for m in models if m != base and base in models]  # type: ignore[misc]
    pairs = list(itertools.combinations(sorted(models), 2))
    k = judge.pairs_per_question
    if k is not None and k < len(pairs):
        # Seeded per question: the same config samples the same pairs on every run.
        rng = random.Random(content_id(judge.seed, qid, "pairs"))
        pairs = sorted(rng.sample(pairs, k))
    return pairs


def plan_battles(conn: Connection, cfg: ArenaConfig, question_ids: list[str]) -> list[PlannedBattle]:
    """Create (once) and return the battles of this run, for questions where both have answers."""
    if cfg.judge.mode == Mode.SINGLE:
        return []
    names = [m.name for m in cfg.enabled_models]
    if cfg.judge.mode == Mode.PAIRWISE_BASELINE and cfg.judge.baseline not in names:
        raise ConfigError(f"judge.baseline {cfg.judge.baseline!r} is not an enabled model "
                          f"(enabled: {', '.join(names) or 'none'})")
    answers = answer_map(conn, cfg, question_ids)
    wanted: list[tuple[str, str, str]] = []
    for qid in question_ids:
        have = [m for m in names if (qid, m) in answers]
        for a, b in _pairs_for(cfg, qid, have):
            wanted.append((qid, a, b))
    insert_ignore(conn, Battle.__table__,
                  [{"question_id": q, "model_a": a, "model_b": b} for q, a, b in wanted],
                  ["question_id", "model_a", "model_b"])
    ids: dict[tuple[str, str, str], int] = {}
    qset = set(question_ids)
    for bid, q, a, b in conn.execute(select(Battle.id, Battle.question_id, Battle.model_a,
                                            Battle.model_b)):
        if q in qset:
            ids[(q, a, b)] = bid
    return [PlannedBattle(ids[(q, a, b)], q, a, b, answers[(q, a)], answers[(q, b)])
            for q, a, b in wanted]
