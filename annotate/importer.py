"""Create an annotation task from files: a question file and answer files, in any format the
project reads (``arena.formats``: FastChat, arena-hard, AlpacaEval, evalscope, L-Eval, ...).

``import_task`` runs in the caller's transaction: the questions are imported under a source
name (default: the question file's stem), each answer file's answers are matched to them,
then ``annotate.tasks.create_task`` builds the task over that source. When the spec names no
models, every model that answered these questions is used. Any bad record raises InputError
naming the file, line and field; the caller's rollback then leaves nothing behind (no
questions, no answers, no task).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from sqlalchemy import Connection, select

from arena.errors import InputError
from arena.formats import import_answers, import_questions, source_from_path
from arena.store.schema import Answer, Question
from annotate.gold import BROKEN_MODEL
from annotate.tasks import TaskSpec, create_task

log = logging.getLogger(__name__)


@dataclass
class ImportedTask:
    task_id: int
    items: int
    missing: int
    source: str
    models: list[str]
    notes: list[str] = field(default_factory=list)


def import_task(conn: Connection, spec: TaskSpec, questions: str | Path,
                answers: Sequence[str | Path], *, source: str | None = None,
                fmt: str = "auto", created_by: int | None = None) -> ImportedTask:
    """Import the files and create the task (see module docstring)."""
    if not answers:
        raise InputError("give at least one answer file", field="answers")
    src = source or source_from_path(questions)
    notes = [f"{Path(questions).name}: {import_questions(conn, questions, fmt, source=src)}"]
    for path in answers:
        notes.append(f"{Path(path).name}: {import_answers(conn, path, fmt, source=src)}")
    models = list(spec.models)
    if not models:
        models = [m for m in conn.execute(
            select(Answer.model).distinct().join(Question, Question.id == Answer.question_id)
            .where(Question.source == src).order_by(Answer.model)).scalars()
            if m != BROKEN_MODEL]
    if not models:
        raise InputError("the answer files hold no answer to these questions", file=answers[0],
                         field="question_id")
    spec = replace(spec, sources=[src], models=models)
    if spec.mode == "pairwise-baseline" and not spec.baseline:
        spec.baseline = models[0]
    tid, n, missing = create_task(conn, spec, created_by)
    log.info("imported task %d from %s (+%d answer files)", tid, questions, len(answers))
    return ImportedTask(tid, n, missing, src, models, notes)
