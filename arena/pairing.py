"""Which questions a run covers, which answer version stands for each model, and the battles.

- ``selected_questions``: the config's question sources, optionally filtered by category and
  cut to the first ``limit`` (in file order), so ``--limit N`` is a cheap first try.
- ``answer_map``: for each (question, model) the answer *version* the config selects
  (``arena.scope.model_versions``): a generating model's current parameter hash, a
  ``backend: file`` model's file as it is now. Other versions in the store are not used.
- ``plan_battles``: battles for pairwise-all (every pair, or a seeded sample of pairs per
  question) and pairwise-baseline (every model against the baseline). A battle is an
  unordered pair, stored once (``arena.store.ingest.ensure_battles``) and shared by every mode
  and config that meets the same two models on the same question. Single mode has no battles.
"""

from __future__ import annotations

import itertools
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional

from sqlalchemy import Connection, select

from arena.config import ArenaConfig, QuestionSource
from arena.errors import ConfigError
from arena.identity import battle_pair
from arena.ids import content_id
from arena.store.ingest import ensure_battles
from arena.store.schema import Answer, Question
from arena.types import Mode

log = logging.getLogger(__name__)


def source_name(q: QuestionSource) -> str:
    """The id namespace of a question file: its ``source`` or the file's stem."""
    if q.source:
        return q.source
    return Path(q.file).stem.replace("/", "_") or "questions"


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


def answer_map(conn: Connection, cfg: ArenaConfig, question_ids: list[str],
               versions: Mapping[str, Mapping[str, str]]) -> dict[tuple[str, str], int]:
    """(question_id, model) -> answer id of the version the config selects.

    ``versions`` is ``{model: {question id: version}}`` as ``arena.scope.model_versions``
    returns it; a (question, model) without a stored answer of that version is absent."""
    wanted = set(question_ids)
    out: dict[tuple[str, str], int] = {}
    for spec in cfg.enabled_models:
        per_q = versions.get(spec.name, {})
        if not per_q:
            continue
        hashes = set(per_q.values())
        stmt = select(Answer.question_id, Answer.id, Answer.params_hash).where(
            Answer.model == spec.name)
        if len(hashes) == 1:  # generated answers: one parameter hash, an indexed lookup
            stmt = stmt.where(Answer.params_hash == next(iter(hashes)))
        for qid, aid, ph in conn.execute(stmt):
            if qid in wanted and per_q.get(qid) == ph:
                out[(qid, spec.name)] = aid
    return out


@dataclass(frozen=True)
class PlannedBattle:
    """A battle of this run: the models in stored (canonical) order, their selected answer
    versions, and ``lead``: the model shown first when only one order is judged ("A" =
    model_a; pairwise-baseline shows the candidate first, as before battles were unordered)."""

    battle_id: int
    question_id: str
    model_a: str
    model_b: str
    answer_a_id: int
    answer_b_id: int
    lead: str = "A"


def _pairs_for(cfg: ArenaConfig, qid: str, models: list[str]) -> list[tuple[str, str]]:
    """(shown-first model, other) pairs of one question, in a stable order."""
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


def plan_battles(conn: Connection, cfg: ArenaConfig, question_ids: list[str],
                 versions: Mapping[str, Mapping[str, str]], *,
                 create: bool = True) -> list[PlannedBattle]:
    """Create (once) and return the battles of this run, for questions where both models have
    an answer of the selected version. ``create=False`` writes nothing: a battle not stored
    yet gets ``battle_id`` -1 (readers only need its answers)."""
    if cfg.judge.mode == Mode.SINGLE:
        return []
    names = [m.name for m in cfg.enabled_models]
    if cfg.judge.mode == Mode.PAIRWISE_BASELINE and cfg.judge.baseline not in names:
        raise ConfigError(f"judge.baseline {cfg.judge.baseline!r} is not an enabled model "
                          f"(enabled: {', '.join(names) or 'none'})")
    answers = answer_map(conn, cfg, question_ids, versions)
    wanted: list[tuple[str, str, str]] = []
    for qid in question_ids:
        have = [m for m in names if (qid, m) in answers]
        for first, other in _pairs_for(cfg, qid, have):
            wanted.append((qid, first, other))
    ids = ensure_battles(conn, wanted, create=create)
    out = []
    for q, first, other in wanted:
        a, b = battle_pair(first, other)
        out.append(PlannedBattle(ids.get((q, first, other), -1), q, a, b, answers[(q, a)],
                                 answers[(q, b)], lead="A" if a == first else "B"))
    return out
