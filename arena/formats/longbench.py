"""LongBench and LongBench-Write (LongWriter).

LongBench:
- questions ``{input, context, answers[], length, dataset, language, all_classes, _id}``: the
  context is stored once as a document; ``answers`` (all accepted answers) stay in the
  question's meta and the first is the reference answer; ``length``, ``language``,
  ``all_classes`` and ``dataset`` are kept in meta;
- answers (pred jsonl) ``{pred, answers, all_classes, length, _id?}``: matched on ``_id``
  when present, else line by line to the stored questions of the dataset (``--source``,
  default the file stem) in file order, checking that ``answers`` agree. Pred files carry no
  model name: ``--model`` is required.

LongBench-Write:
- questions ``{prompt, type, length}``: ``length`` is the required output length in words
  (meta ``required_length``), ``type`` the category;
- answers ``{prompt, type, length, response_length?, response}`` matched on the prompt text;
  ``--model`` is required.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from arena import ids
from arena.formats import query
from arena.formats.records import write_jsonl
from arena.formats.registry import Ctx, Reader, Writer, register_reader, register_writer
from arena.formats.resolve import resolve_ids, resolve_texts, store_answers
from arena.store.ingest import AnswerRecord, ImportSummary, QuestionRecord, add_questions
from arena.store.schema import Question

LB, LBW = "longbench", "longbench-write"
LB_META = ("length", "language", "all_classes", "dataset", "answers")


def _is_lb_question(d: dict[str, Any]) -> bool:
    return "context" in d and "answers" in d and "input" in d and "pred" not in d


def _is_lb_pred(d: dict[str, Any]) -> bool:
    return "pred" in d and "answers" in d


def _is_lbw_question(d: dict[str, Any]) -> bool:
    return isinstance(d.get("prompt"), str) and "length" in d and "type" in d \
        and "response" not in d


def _is_lbw_answer(d: dict[str, Any]) -> bool:
    return isinstance(d.get("prompt"), str) and "response" in d


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


def load_lbw_questions(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    recs = []
    for rec in f:
        length = f.req(rec, "length", (int, float))
        kind = str(f.req(rec, "type", (str, int)))
        meta = {"required_length": length, "type": kind}
        recs.append(QuestionRecord(turns=[f.req(rec, "prompt")], category=kind, meta=meta,
                                   local_id=str(rec.data["id"]) if "id" in rec.data else None,
                                   line=rec.line))
    return add_questions(ctx.conn, recs, ctx.default_source(), file=ctx.path)


def load_lbw_answers(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    model = _need_model(ctx)
    wanted = [(rec, [f.req(rec, "prompt")]) for rec in f]
    found = resolve_texts(ctx, wanted, field="prompt")
    out = []
    for rec, turns in wanted:
        qid = found.get(ids.question_content_hash(turns, None))
        if qid is not None:
            out.append(AnswerRecord(question_id=qid, model=model,
                                    turns=[f.req(rec, "response")]))
    store_answers(ctx, out)
    return ctx.summary


# ---- exports ----------------------------------------------------------------------------

def write_lb_questions(conn, out, flt) -> int:  # type: ignore[no-untyped-def]
    rows = []
    for q in query.questions(conn, flt):
        meta = q["meta"] or {}
        rows.append({"input": q["turns"][0], "context": q["document"] or "",
                     "answers": meta.get("answers", q["references"].get("reference", [])),
                     "length": meta.get("length"), "dataset": meta.get("dataset", q["category"]),
                     "language": meta.get("language"), "all_classes": meta.get("all_classes"),
                     "_id": q["local_id"]})
    return write_jsonl(out, rows)


def write_lb_preds(conn, out, flt) -> int:  # type: ignore[no-untyped-def]
    rows = []
    for a in query.answers(conn, flt):
        meta = a["question_meta"] or {}
        rows.append({"pred": a["turns"][0], "answers": meta.get("answers", []),
                     "all_classes": meta.get("all_classes"), "length": meta.get("length"),
                     "_id": a["local_id"]})
    return write_jsonl(out, rows)


def write_lbw_questions(conn, out, flt) -> int:  # type: ignore[no-untyped-def]
    return write_jsonl(out, ({"prompt": q["turns"][0], "type": (q["meta"] or {}).get(
        "type", q["category"]), "length": (q["meta"] or {}).get("required_length")}
        for q in query.questions(conn, flt)))


def write_lbw_answers(conn, out, flt) -> int:  # type: ignore[no-untyped-def]
    rows = []
    for a in query.answers(conn, flt):
        meta = a["question_meta"] or {}
        rows.append({"prompt": a["question_turns"][0], "type": meta.get("type", a["category"]),
                     "length": meta.get("required_length"),
                     "response_length": len(a["turns"][0].split()), "response": a["turns"][0]})
    return write_jsonl(out, rows)


register_reader(Reader(LB, "questions", "{input, context, answers[], length, dataset, language, "
                       "all_classes, _id}", _is_lb_question, load_lb_questions))
register_reader(Reader(LB, "answers", "pred jsonl {pred, answers, all_classes, length, _id?} "
                       "(needs --model)", _is_lb_pred, load_lb_preds))
register_reader(Reader(LBW, "questions", "{prompt, type, length}", _is_lbw_question,
                       load_lbw_questions))
register_reader(Reader(LBW, "answers", "{prompt, type, length, response} (needs --model)",
                       _is_lbw_answer, load_lbw_answers))
register_writer(Writer(LB, "questions", "LongBench jsonl", write_lb_questions))
register_writer(Writer(LB, "answers", "pred jsonl with _id", write_lb_preds))
register_writer(Writer(LBW, "questions", "{prompt, type, length} jsonl", write_lbw_questions))
register_writer(Writer(LBW, "answers", "{prompt, type, length, response_length, response} jsonl",
                       write_lbw_answers))
