"""L-Eval: long-document records, per-question predictions, and records with model outputs.

Shapes:
- questions: one record per document ``{input, instructions[], outputs[], source,
  evaluation}``: each instruction becomes a question sharing the one stored document; its
  ``outputs`` entry becomes the reference answer (author 'reference'). Ids derive from the
  instruction and the document, namespaced by the task (``--source``, default the file stem);
- answers, per question (``*.pred.jsonl``) ``{query, gt, <model>_pred, evaluation}``: no
  document and no id. The same instruction recurs across documents of one task, so records are
  matched within the task (``--source``, else the source named like the file,
  ``<task>.pred.jsonl``) in file order to the stored questions with that instruction (the
  first unused one whose reference equals ``gt`` when that decides); what cannot be matched
  is reported;
- answers, per document: the question record with ``<model>_outputs`` lists beside
  ``instructions`` (several models in one file: ``--model`` picks one by name).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import Connection, select

from arena import ids
from arena.formats import query
from arena.formats.query import ExportFilter
from arena.formats.records import Rec, write_jsonl
from arena.formats.registry import Ctx, Reader, Writer, register_reader, register_writer
from arena.formats.resolve import check_single_model, store_answers
from arena.store.ingest import AnswerRecord, ImportSummary, QuestionRecord, add_questions
from arena.store.schema import Question, Reference

FMT = "leval"
QUESTION_KEYS = ("input", "instructions", "outputs", "source", "evaluation")


def _model_keys(d: dict[str, Any], suffix: str) -> list[str]:
    return [k for k in d if k.endswith(suffix) and k != suffix.lstrip("_")
            and len(k) > len(suffix)]


def _is_document(d: dict[str, Any]) -> bool:
    return isinstance(d.get("instructions"), list) and isinstance(d.get("input"), str)


def _is_doc_answers(d: dict[str, Any]) -> bool:
    return isinstance(d.get("instructions"), list) and bool(_model_keys(d, "_outputs"))


def _is_pred(d: dict[str, Any]) -> bool:
    return isinstance(d.get("query"), str) and bool(_model_keys(d, "_pred"))


def _is_answers(d: dict[str, Any]) -> bool:
    return _is_pred(d) or _is_doc_answers(d)


def _question_records(ctx: Ctx) -> list[tuple[Rec, list[QuestionRecord]]]:
    f = ctx.file
    out = []
    for rec in f:
        doc = f.req(rec, "input")
        insts = f.str_list(rec, "instructions")
        outs = f.str_list(rec, "outputs", required=False)
        if outs and len(outs) != len(insts):
            raise f.error(f"{len(outs)} outputs for {len(insts)} instructions", rec, "outputs")
        task = str(rec.data.get("source") or ctx.default_source())
        qs = []
        for i, inst in enumerate(insts):
            meta = {"task": task, "index": i}
            if rec.data.get("evaluation") is not None:
                meta["evaluation"] = rec.data["evaluation"]
            qs.append(QuestionRecord(turns=[inst], category=task, document=doc, meta=meta,
                                     references={"reference": [outs[i]]} if outs else {},
                                     line=rec.line))
        out.append((rec, qs))
    return out


def load_questions(ctx: Ctx) -> ImportSummary:
    recs = [q for _, qs in _question_records(ctx) for q in qs]
    s = add_questions(ctx.conn, recs, ctx.default_source(), file=ctx.path)
    models = {k for r in ctx.file for k in _model_keys(r.data, "_outputs")}
    if models:
        s.notes.append(f"the records also carry answers of {', '.join(sorted(models))}; "
                       f"import them with --as answers")
    return s


def load_answers(ctx: Ctx) -> ImportSummary:
    if _is_pred(ctx.file.records[0].data):
        return _load_preds(ctx)
    return _load_doc_answers(ctx)


def _load_doc_answers(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    source = ctx.default_source()
    per_rec = _question_records(ctx)
    qs = add_questions(ctx.conn, [q for _, qs in per_rec for q in qs], source, file=ctx.path,
                       dry=ctx.dry)
    if qs.inserted:
        ctx.summary.notes.append(f"{qs.inserted} question(s) created in source {source!r}")
    names = [(rec, k[: -len("_outputs")]) for rec, _ in per_rec
             for k in _model_keys(rec.data, "_outputs")]
    pick = check_single_model(ctx, names, "<model>_outputs", multi=True)
    out = []
    for rec, questions in per_rec:
        for key in _model_keys(rec.data, "_outputs"):
            model = key[: -len("_outputs")]
            if pick is not None and model != pick:
                continue
            outputs = f.str_list(rec, key)
            if len(outputs) != len(questions):
                raise f.error(f"{len(outputs)} outputs for {len(questions)} instructions", rec,
                              key)
            for q, text in zip(questions, outputs):
                qid = ids.question_id(source, ids.content_id(q.turns, ids.document_id(
                    q.document or "")))
                out.append(AnswerRecord(question_id=qid, model=ctx.model or model,
                                        turns=[text]))
    store_answers(ctx, out)
    return ctx.summary


def _norm(text: str) -> str:
    return " ".join(text.split())


def _task_from_name(ctx: Ctx) -> Optional[str]:
    stem = ctx.default_source()
    task = stem[: -len(".pred")] if stem.endswith(".pred") else stem
    found = ctx.conn.execute(select(Question.id).where(Question.source == task).limit(1)).first()
    return task if found else None


def _load_preds(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    names = []
    for rec in f:
        keys = _model_keys(rec.data, "_pred")
        if not keys:
            raise f.error("no <model>_pred field", rec, "<model>_pred")
        names.extend((rec, k[: -len("_pred")]) for k in keys)
    pick = check_single_model(ctx, names, "<model>_pred", multi=True)
    # Stored long-document questions of the task in file order, by instruction. The task is
    # --source, else the file's name (L-Eval writes <task>.pred.jsonl) when such a source is
    # stored, else every source.
    source = ctx.source or _task_from_name(ctx)
    q = (select(Question.id, Question.source, Question.turns, Question.seq)
         .where(Question.document_id.is_not(None)))
    if source:
        q = q.where(Question.source == source)
        ctx.summary.notes.append(f"matched within source {source!r}")
    by_text: dict[str, list[str]] = defaultdict(list)
    for qid, _src, turns, _seq in ctx.conn.execute(q.order_by(Question.source, Question.seq)):
        if turns:
            by_text[_norm(turns[0])].append(qid)
    refs = dict(ctx.conn.execute(select(Reference.question_id, Reference.turns)
                                 .where(Reference.author == "reference")).all())
    used: dict[str, set[str]] = defaultdict(set)  # per model
    out, unmatched = [], []
    for rec in f:
        text = _norm(f.req(rec, "query"))
        gt = rec.data.get("gt")
        for key in _model_keys(rec.data, "_pred"):
            model = key[: -len("_pred")]
            if pick is not None and model != pick:
                continue
            free = [qid for qid in by_text.get(text, []) if qid not in used[model]]
            if isinstance(gt, str) and len(free) > 1:
                same = [qid for qid in free if _norm((refs.get(qid) or [""])[0]) == _norm(gt)]
                free = same or free
            if not free:
                unmatched.append(rec.line)
                continue
            used[model].add(free[0])
            pred = rec.data.get(key)
            if not isinstance(pred, str):
                raise f.error("expected the prediction text", rec, key)
            out.append(AnswerRecord(question_id=free[0], model=ctx.model or model, turns=[pred]))
    if unmatched and not out:
        raise f.error("no prediction matches a stored L-Eval question (import the task's "
                      "data file first, or pass --source)", f.records[0], "query")
    if unmatched:
        ctx.summary.skipped += len(unmatched)
        ctx.summary.notes.append(f"{len(unmatched)} prediction(s) matched no unused stored "
                                 f"question and were skipped (lines "
                                 f"{', '.join(map(str, unmatched[:10]))}"
                                 f"{' ...' if len(unmatched) > 10 else ''})")
    store_answers(ctx, out)
    return ctx.summary


# ---- exports ----------------------------------------------------------------------------

def _documents(conn: Connection, flt: ExportFilter) -> list[dict[str, Any]]:
    """Questions grouped back into document records, in stored order."""
    docs: dict[tuple[str, Optional[str]], dict[str, Any]] = {}
    for q in query.questions(conn, flt):
        key = (q["source"], q["document_id"])
        meta = q["meta"] or {}
        d = docs.setdefault(key, {"instructions": [], "outputs": [], "input": q["document"] or "",
                                  "source": meta.get("task", q["category"] or q["source"]),
                                  "evaluation": meta.get("evaluation"), "_qids": []})
        d["instructions"].append(q["turns"][0])
        d["outputs"].append((q["references"].get("reference") or [""])[0])
        d["_qids"].append(q["id"])
    return list(docs.values())


def write_questions(conn: Connection, out: Path, flt: ExportFilter) -> int:
    rows = []
    for d in _documents(conn, flt):
        d.pop("_qids")
        rows.append(d)
    return write_jsonl(out, rows)


def write_preds(conn: Connection, out: Path, flt: ExportFilter) -> int:
    refs = {}
    for q in query.questions(conn, flt):
        refs[q["id"]] = ((q["references"].get("reference") or [None])[0],
                         (q["meta"] or {}).get("evaluation"))
    rows = []
    for a in query.answers(conn, flt):
        gt, evaluation = refs.get(a["question_id"], (None, None))
        rows.append({"query": a["question_turns"][0], "gt": gt, f"{a['model']}_pred":
                     a["turns"][0], "evaluation": evaluation})
    return write_jsonl(out, rows)


register_reader(Reader(FMT, "questions", "document record {input, instructions[], outputs[], "
                       "source, evaluation}", _is_document, load_questions))
register_reader(Reader(FMT, "answers", "pred.jsonl {query, gt, <model>_pred} or document "
                       "records with <model>_outputs", _is_answers, load_answers))
register_writer(Writer(FMT, "questions", "document records", write_questions))
register_writer(Writer(FMT, "answers", "pred.jsonl {query, gt, <model>_pred, evaluation}",
                       write_preds))
