"""LongBench: question files and prediction files.

- questions ``{input, context, answers[], length, dataset, language, all_classes, _id}``: the
  context is stored once as a document; ``answers`` (all accepted answers) stay in the
  question's meta and the first is the reference answer; ``length``, ``language``,
  ``all_classes`` and ``dataset`` are kept in meta;
- answers (pred jsonl) ``{pred, answers, all_classes, length, _id?}``: matched on ``_id``
  when present, else line by line to the stored questions of the dataset (``--source``,
  default the file stem) in file order, checking that ``answers`` agree. Pred files carry no
  model name: ``--model`` is required.
LongBench-Write lives in ``longbench_write``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from arena.formats import query
from arena.formats.query import ExportFilter
from arena.formats.records import write_jsonl
from arena.formats.registry import Ctx, Reader, Writer, register_reader, register_writer
from arena.formats.resolve import resolve_ids, store_answers
from arena.store.ingest import AnswerRecord, ImportSummary, QuestionRecord, add_questions
from arena.store.schema import Question

LB = "longbench"
LB_META = ("length", "language", "all_classes", "dataset", "answers")


def _is_lb_question(d: dict[str, Any]) -> bool:
    return "context" in d and "answers" in d and "input" in d and "pred" not in d


def _is_lb_pred(d: dict[str, Any]) -> bool:
    return "pred" in d and "answers" in d


def _need_model(ctx: Ctx) -> str:
    if not ctx.model:
        raise ctx.file.error("this file names no model: pass --model NAME", ctx.file.records[0],
                             "model")
    return ctx.model


def load_lb_questions(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    recs = []
    for rec in f:
        answers = f.str_list(rec, "answers")
        context = f.opt(rec, "context", str, "")
        meta = {k: rec.data[k] for k in LB_META if k in rec.data}
        dataset = str(rec.data.get("dataset") or "")
        recs.append(QuestionRecord(turns=[f.req(rec, "input")], local_id=f.req_id(rec, "_id"),
                                   category=dataset, document=context or None, meta=meta,
                                   references={"reference": [answers[0]]} if answers else {},
                                   line=rec.line))
    return add_questions(ctx.conn, recs, ctx.default_source(), file=ctx.path)


def load_lb_preds(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    model = _need_model(ctx)
    out = []
    if all("_id" in r.data for r in f):
        wanted = [(rec, f.req_id(rec, "_id")) for rec in f]
        found = resolve_ids(ctx, wanted, field="_id")
        for rec, local in wanted:
            if local in found:
                out.append(AnswerRecord(question_id=found[local], model=model,
                                        turns=[str(f.req(rec, "pred"))]))
    else:
        source = ctx.default_source()
        stored = ctx.conn.execute(select(Question.id, Question.meta).where(
            Question.source == source).order_by(Question.seq)).all()
        if len(stored) != len(f):
            raise f.error(f"{len(f)} predictions without _id, but source {source!r} holds "
                          f"{len(stored)} questions; pass --source (the dataset's questions)",
                          f.records[0], "_id")
        for rec, (qid, meta) in zip(f, stored):
            if f.str_list(rec, "answers") != (meta or {}).get("answers"):
                raise f.error(f"answers differ from those of stored question {qid} at the "
                              f"same position", rec, "answers")
            out.append(AnswerRecord(question_id=qid, model=model, turns=[str(f.req(rec, "pred"))]))
    store_answers(ctx, out)
    return ctx.summary


# ---- exports ----------------------------------------------------------------------------

def write_lb_questions(conn: Connection, out: Path, flt: ExportFilter) -> int:
    rows = []
    for q in query.questions(conn, flt):
        meta = q["meta"] or {}
        rows.append({"input": q["turns"][0], "context": q["document"] or "",
                     "answers": meta.get("answers", q["references"].get("reference", [])),
                     "length": meta.get("length"), "dataset": meta.get("dataset", q["category"]),
                     "language": meta.get("language"), "all_classes": meta.get("all_classes"),
                     "_id": q["local_id"]})
    return write_jsonl(out, rows)


def write_lb_preds(conn: Connection, out: Path, flt: ExportFilter) -> int:
    rows = []
    for a in query.answers(conn, flt):
        meta = a["question_meta"] or {}
        rows.append({"pred": a["turns"][0], "answers": meta.get("answers", []),
                     "all_classes": meta.get("all_classes"), "length": meta.get("length"),
                     "_id": a["local_id"]})
    return write_jsonl(out, rows)


register_reader(Reader(LB, "questions", "{input, context, answers[], length, dataset, language, "
                       "all_classes, _id}", _is_lb_question, load_lb_questions))
register_reader(Reader(LB, "answers", "pred jsonl {pred, answers, all_classes, length, _id?} "
                       "(needs --model)", _is_lb_pred, load_lb_preds))
register_writer(Writer(LB, "questions", "LongBench jsonl", write_lb_questions))
register_writer(Writer(LB, "answers", "pred jsonl with _id", write_lb_preds))
