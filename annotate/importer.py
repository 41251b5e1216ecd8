"""Create an annotation task from files: a question file, answer files and optional reference
files, in any format the project reads (``arena.formats``: FastChat, arena-hard, AlpacaEval,
evalscope, L-Eval, ...).

``import_task`` runs in the caller's transaction: the questions are imported under a source
name (default: the question file's stem), each answer file's answers are matched to them, the
reference files' answers are stored as references, then ``annotate.tasks.create_task`` builds
the task over that source. The task's models are the spec's, else exactly the models whose
answers are in the answer files given: never every model that ever answered those questions
(an earlier import of the same questions must not add its models). Every file is checked for
NUL characters first (no database stores them). Any bad record raises InputError naming the
file, line and field; the caller's rollback then leaves nothing behind (no questions, no
answers, no task).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from sqlalchemy import Connection, select

from arena.errors import InputError
from arena.formats import import_answers, import_questions, import_references, source_from_path
from arena.store import Store
from arena.store.schema import Answer
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


def check_file(path: str | Path) -> None:
    """Raise InputError (file and line) for a NUL character, raw or as a JSON ``\\u0000``."""
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if b"\x00" in line or b"\\u0000" in line:
                raise InputError("contains a NUL character; no database can store it",
                                 file=path, line=n)


def models_in_files(questions: str | Path, answers: Sequence[str | Path], source: str,
                    fmt: str = "auto") -> list[str]:
    """The models whose answers the answer files hold, read by the same importers into a
    scratch store (so every format's own rules for naming and matching apply)."""
    with tempfile.TemporaryDirectory(prefix="arena-import-models-") as tmp:
        scratch = Store.open(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        try:
            with scratch.begin() as conn:
                import_questions(conn, questions, fmt, source=source)
                for path in answers:
                    import_answers(conn, path, fmt, source=source)
                return [m for m in conn.execute(select(Answer.model).distinct()
                                                .order_by(Answer.model)).scalars()
                        if m != BROKEN_MODEL]
        finally:
            scratch.close()


def import_task(conn: Connection, spec: TaskSpec, questions: str | Path,
                answers: Sequence[str | Path], *, source: str | None = None,
                fmt: str = "auto", created_by: int | None = None,
                references: Sequence[str | Path] = ()) -> ImportedTask:
    """Import the files and create the task (see module docstring)."""
    if not answers:
        raise InputError("give at least one answer file", field="answers")
    for path in [questions, *answers, *references]:
        check_file(path)
    src = source or source_from_path(questions)
    notes = [f"{Path(questions).name}: {import_questions(conn, questions, fmt, source=src)}"]
    for path in answers:
        notes.append(f"{Path(path).name}: {import_answers(conn, path, fmt, source=src)}")
    for path in references:
        notes.append(f"{Path(path).name} (references): "
                     f"{import_references(conn, path, fmt, source=src)}")
    models = list(spec.models) or models_in_files(questions, answers, src, fmt)
    if not models:
        raise InputError("the answer files hold no answer to these questions", file=answers[0],
                         field="question_id")
    spec = replace(spec, sources=[src], models=models)
    if spec.mode == "pairwise-baseline" and not spec.baseline:
        spec.baseline = models[0]
    tid, n, missing = create_task(conn, spec, created_by)
    log.info("imported task %d from %s (+%d answer files)", tid, questions, len(answers))
    return ImportedTask(tid, n, missing, src, models, notes)
