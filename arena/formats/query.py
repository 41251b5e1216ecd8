"""Reading stored rows for the exporters: questions, answers, references and verdicts as plain
dicts, filtered by source, model and judge, in a stable order (source, file order, model).

Verdict queries leave out superseded rows (a correction replaces what it supersedes) and, unless
asked, dry-run verdicts, which are never results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import Connection, select
from sqlalchemy.orm import aliased

from arena.store.schema import Answer, Document, Judgment, Question, Reference


@dataclass
class ExportFilter:
    """What to export. Empty lists mean everything."""

    sources: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    judges: list[str] = field(default_factory=list)  # judge ids
    judge_kinds: list[str] = field(default_factory=list)
    include_failed: bool = False
    include_dry_run: bool = False
    baseline: Optional[str] = None  # leaderboards against one model (L-Eval layout)
    # a config's run scope (arena.scope.VerdictScope): only its questions, the answer versions
    # it selects and the verdicts its leaderboard counts
    scope: Optional[Any] = None


def questions(conn: Connection, f: ExportFilter) -> list[dict[str, Any]]:
    q = (select(Question.id, Question.source, Question.local_id, Question.category,
                Question.turns, Question.meta, Question.seq, Question.document_id,
                Document.text.label("document"))
         .join(Document, Document.id == Question.document_id, isouter=True))
    if f.sources:
        q = q.where(Question.source.in_(f.sources))
    q = q.order_by(Question.source, Question.seq, Question.id)
    rows = [dict(r._mapping) for r in conn.execute(q)]
    if f.scope is not None:
        wanted = set(f.scope.question_ids)
        rows = [r for r in rows if r["id"] in wanted]
    refs = references_by_question(conn, [r["id"] for r in rows])
    for r in rows:
        r["references"] = refs.get(r["id"], {})
    return rows


def references_by_question(conn: Connection, qids: list[str]) -> dict[str, dict[str, list]]:
    out: dict[str, dict[str, list]] = {}
    wanted = set(qids)
    for qid, author, turns in conn.execute(select(Reference.question_id, Reference.author,
                                                  Reference.turns).order_by(Reference.id)):
        if qid in wanted:
            out.setdefault(qid, {})[author] = turns
    return out


def answers(conn: Connection, f: ExportFilter) -> list[dict[str, Any]]:
    q = (select(Answer.id, Answer.model, Answer.turns, Answer.meta, Answer.params_hash,
                Answer.created_at, Answer.question_id, Question.local_id, Question.source,
                Question.category, Question.turns.label("question_turns"),
                Question.meta.label("question_meta"), Question.seq)
         .join(Question, Question.id == Answer.question_id))
    if f.sources:
        q = q.where(Question.source.in_(f.sources))
    if f.models:
        q = q.where(Answer.model.in_(f.models))
    q = q.order_by(Answer.model, Question.source, Question.seq, Answer.id)
    rows = [dict(r._mapping) for r in conn.execute(q)]
    if f.scope is not None:
        chosen = set(f.scope.answer_ids.values())
        rows = [r for r in rows if r["id"] in chosen]
    return rows


def verdicts(conn: Connection, f: ExportFilter, *, mode: str = "pair") -> list[dict[str, Any]]:
    """Judgments with question and answer texts. ``mode``: 'pair' or 'single'."""
    aa = aliased(Answer)
    ab = aliased(Answer)
    q = (select(*Judgment.__table__.columns, Question.local_id, Question.source, Question.category,
                Question.turns.label("question_turns"), Question.seq,
                aa.turns.label("answer_a"), ab.turns.label("answer_b"))
         .join(Question, Question.id == Judgment.question_id)
         .join(aa, aa.id == Judgment.answer_a_id, isouter=True)
         .join(ab, ab.id == Judgment.answer_b_id, isouter=True))
    if mode == "single":
        q = q.where(Judgment.model_b.is_(None))
    else:
        q = q.where(Judgment.model_b.is_not(None))
    if f.sources:
        q = q.where(Question.source.in_(f.sources))
    if f.models:
        q = q.where(Judgment.model_a.in_(f.models) | Judgment.model_b.in_(f.models))
    if f.judges:
        q = q.where(Judgment.judge_id.in_(f.judges))
    if f.judge_kinds:
        q = q.where(Judgment.judge_kind.in_(f.judge_kinds))
    elif not f.include_dry_run:
        q = q.where(Judgment.judge_kind != "dry-run")
    if not f.include_failed:
        q = q.where(Judgment.parse_status == "ok")
    q = q.order_by(Question.source, Question.seq, Judgment.id)
    superseded = set(conn.execute(select(Judgment.supersedes_id).where(
        Judgment.supersedes_id.is_not(None))).scalars())
    out = []
    for row in conn.execute(q):
        d = dict(row._mapping)
        if d["id"] in superseded:
            continue
        out.append(d)
    if f.scope is not None and out:
        keep = f.scope.mask([d["judge_kind"] for d in out], [d["cache_key"] for d in out],
                            [d["answer_a_id"] for d in out],
                            None if mode == "single" else [d["answer_b_id"] for d in out])
        out = [d for d, k in zip(out, keep.tolist()) if k]
    return out


def local_id_value(local_id: str) -> Any:
    """Ids the anchors write as integers (evalscope, MT-bench) go back out as integers."""
    return int(local_id) if local_id.isdigit() and not local_id.startswith("0") or local_id == "0" \
        else local_id


def epoch(dt: Any) -> Optional[float]:
    if dt is None:
        return None
    from datetime import timezone

    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return round(dt.timestamp(), 6)
