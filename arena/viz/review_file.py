"""The original viewer's input: a review / battle JSONL file shown without a store.

``streamlit run viz.py -- --review-file battle.jsonl --category-file category_mapping.yaml``

Each line is one judged battle::

    {"model_a": "m1", "model_b": "m2", "win": "model_b", "scores": [7.0, 9.0],
     "question_id": 2, "category": "translation", "question": "...",
     "output_a": "...", "output_b": "...", "review_text": "...", "win_1": ..., "win_2": ...}

``win`` is one of ``model_a``, ``model_b``, ``tie``, ``tie (bothbad)``. When ``win_1`` and
``win_2`` are both present they are the two position orders (model_a shown first, then
model_b shown first) and become two judgments; otherwise ``win`` is one judgment with model_a
shown first. A ``win`` that is none of the above is kept as a *failed* judgment with the raw
value, never as a tie. ``question`` / ``output_*`` are optional (review files without them show
"not in the file").

The file is loaded into a scratch SQLite store (in the temp folder, named by the file's
content hash, built once, read-only afterwards) with the project's own ingest API, so every
page of the viewer works on it unchanged. The user's arena store is not touched.

Errors: malformed JSON or a missing/ill-typed field raises ``InputError`` naming the file, the
line and the field; nothing is kept from a file that fails.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import select

from arena.errors import InputError
from arena.store import Store
from arena.store.ingest import (AnswerRecord, QuestionRecord, add_answers, add_judgments,
                                add_questions, ensure_models, insert_ignore)
from arena.store.schema import Answer, Battle

log = logging.getLogger(__name__)

SOURCE = "review"
JUDGE_ID = "review-file"
WIN_TO_OUTCOME = {"model_a": "A", "model_b": "B", "tie": "TIE", "tie (bothbad)": "BOTH_BAD",
                  "bothbad": "BOTH_BAD", "both_bad": "BOTH_BAD"}


@dataclass
class ReviewRecord:
    line: int
    model_a: str
    model_b: str
    question_id: str
    category: str
    question: Optional[str]
    output_a: Optional[str]
    output_b: Optional[str]
    wins: list[tuple[str, Any]]  # (first shown, raw win value)
    scores: Optional[list[Optional[float]]]
    review_text: Optional[str]


def read_review_file(path: Path) -> list[ReviewRecord]:
    """Parse every line; raises InputError (file, line, field) on the first bad one."""
    out: list[ReviewRecord] = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read review file: {exc.strerror or exc}", file=path) from None
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", file=path, line=n) from None
        if not isinstance(obj, dict):
            raise InputError("each line must be a JSON object", file=path, line=n)
        out.append(_record(obj, path, n))
    _check_outputs(out, path)
    if not out:
        raise InputError("the review file holds no battles", file=path)
    return out


def _check_outputs(records: list[ReviewRecord], path: Path) -> None:
    """One answer per (question, model): a second, different output is an error, not a guess."""
    seen: dict[tuple[str, str], tuple[str, int]] = {}
    for r in records:
        for model, out, field in ((r.model_a, r.output_a, "output_a"),
                                  (r.model_b, r.output_b, "output_b")):
            if out is None:
                continue
            first = seen.setdefault((r.question_id, model), (out, r.line))
            if first[0] != out:
                raise InputError(f"model {model!r} has a different answer to question "
                                 f"{r.question_id!r} than on line {first[1]}", file=path,
                                 line=r.line, field=field)


def _record(obj: dict[str, Any], path: Path, n: int) -> ReviewRecord:
    def text(key: str, required: bool = False) -> Optional[str]:
        v = obj.get(key)
        if v is None:
            if required:
                raise InputError("missing", file=path, line=n, field=key)
            return None
        if isinstance(v, (dict, list)):
            raise InputError(f"expected text, got {type(v).__name__}", file=path, line=n,
                             field=key)
        return str(v)

    model_a = text("model_a", True) or ""
    model_b = text("model_b", True) or ""
    if not model_a.strip() or not model_b.strip():
        raise InputError("model name is empty", file=path, line=n,
                         field="model_a" if not model_a.strip() else "model_b")
    qid = text("question_id") or hashlib.sha256(
        (text("question") or f"line {n}").encode()).hexdigest()[:16]
    if "win_1" in obj and "win_2" in obj:
        wins = [("A", obj["win_1"]), ("B", obj["win_2"])]
    elif "win" in obj:
        wins = [("A", obj["win"])]
    else:
        raise InputError("missing (need win, or win_1 and win_2)", file=path, line=n,
                         field="win")
    scores = obj.get("scores")
    if scores is not None:
        if not isinstance(scores, list) or len(scores) != 2 or not all(
                s is None or isinstance(s, (int, float)) for s in scores):
            raise InputError("expected [score_a, score_b]", file=path, line=n, field="scores")
    return ReviewRecord(line=n, model_a=model_a, model_b=model_b, question_id=qid,
                        category=text("category") or "", question=text("question"),
                        output_a=text("output_a"), output_b=text("output_b"), wins=wins,
                        scores=scores, review_text=text("review_text"))


def scratch_url(path: Path, folder: Optional[Path] = None) -> str:
    """Where the scratch store for this file's content lives (a SQLite URL)."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:24]
    base = folder or Path(tempfile.gettempdir()) / "arena-viz"
    return f"sqlite:///{base / f'review-{digest}.db'}"


def build_scratch_store(path: Path, folder: Optional[Path] = None) -> str:
    """Load ``path`` into its scratch store (once per content) and return the store URL.

    Built in a temporary file and renamed into place, so a half-built store is never shown.
    """
    url = scratch_url(path, folder)
    target = Path(url[len("sqlite:///"):])
    if target.exists():
        return url
    records = read_review_file(path)  # all validation before anything is written
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=target.stem, suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        store = Store.open(f"sqlite:///{tmp}")
        try:
            with store.begin() as conn:
                _write(conn, records, path)
        finally:
            store.close()
        for suffix in ("-wal", "-shm"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("review file %s loaded into %s", path, target)
    return url


def _write(conn: Any, records: list[ReviewRecord], path: Path) -> None:
    questions: dict[str, QuestionRecord] = {}
    for r in records:
        questions.setdefault(r.question_id, QuestionRecord(
            turns=[r.question if r.question is not None else ""], local_id=r.question_id,
            category=r.category, line=r.line,
            meta={} if r.question is not None else {"text_missing": True}))
    add_questions(conn, questions.values(), SOURCE, file=str(path))
    models = sorted({m for r in records for m in (r.model_a, r.model_b)})
    ensure_models(conn, {m: {"backend": "file"} for m in models})
    answers = []
    for r in records:
        qid = f"{SOURCE}/{r.question_id}"
        for model, out in ((r.model_a, r.output_a), (r.model_b, r.output_b)):
            if out is not None:
                answers.append(AnswerRecord(question_id=qid, model=model, turns=[out]))
    add_answers(conn, answers)
    insert_ignore(conn, Battle.__table__, [
        {"question_id": f"{SOURCE}/{r.question_id}", "model_a": r.model_a, "model_b": r.model_b}
        for r in records], ["question_id", "model_a", "model_b"])
    battle_ids = {(q, a, b): i for i, q, a, b in conn.execute(
        select(Battle.id, Battle.question_id, Battle.model_a, Battle.model_b))}
    answer_ids = {(q, m): i for i, q, m in conn.execute(
        select(Answer.id, Answer.question_id, Answer.model))}
    rows = []
    for r in records:
        qid = f"{SOURCE}/{r.question_id}"
        for first, win in r.wins:
            outcome = WIN_TO_OUTCOME.get(str(win).strip().lower()) if win is not None else None
            rows.append({
                "mode": "pairwise-all", "battle_id": battle_ids[(qid, r.model_a, r.model_b)],
                "question_id": qid, "model_a": r.model_a, "model_b": r.model_b,
                "answer_a_id": answer_ids.get((qid, r.model_a)),
                "answer_b_id": answer_ids.get((qid, r.model_b)),
                "first": first, "judge_kind": "imported", "judge_id": JUDGE_ID,
                "outcome": outcome, "parse_status": "ok" if outcome else "failed",
                "error": None if outcome else f"unrecognised win value {win!r}",
                "score_a": r.scores[0] if r.scores else None,
                "score_b": r.scores[1] if r.scores else None,
                "rationale": r.review_text, "raw_output": json.dumps(win, ensure_ascii=False),
                "meta": {"line": r.line},
            })
    add_judgments(conn, rows)
