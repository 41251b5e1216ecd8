"""LongBench-Write (LongWriter): prompts with a required length, predictions, judged files.

Shapes:
- questions ``{prompt, type, length}``: ``length`` is the required output length in words
  (meta ``required_length``), ``type`` the category; no id, so the id derives from the text;
- answers (pred.jsonl) ``{prompt, type, length, response_length, response}`` matched on the
  prompt text; the file names no model, so ``--model`` is required;
- verdicts: the same records judged, with ``scores`` (the quality judge's six dimensions,
  1-5) and/or ``score_l`` / ``score_q``. Each becomes a single-answer verdict on the answer
  (stored from ``response``): quality ``score_q`` = mean over the dimensions of
  (score - 1) * 25, as LongWriter averages them; length ``score_l`` as given. A ``scores``
  object missing a dimension is a failed verdict. The summary line LongWriter appends (no
  ``prompt``) is skipped and reported.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import Connection

from arena import ids
from arena.formats import query
from arena.formats.query import ExportFilter
from arena.formats.records import Rec, write_jsonl
from arena.formats.registry import Ctx, Reader, Writer, register_reader, register_writer
from arena.formats.resolve import resolve_texts, store_answers
from arena.formats.verdicts import store_verdicts, verdict_key
from arena.store.ingest import AnswerRecord, ImportSummary, QuestionRecord, add_questions

FMT = "longbench-write"
DIMS = ("Relevance", "Accuracy", "Coherence", "Clarity", "Breadth and Depth",
        "Reading Experience")
QUALITY, LENGTH = "longbench-write-quality", "longbench-write-length"


def count_words(text: str) -> int:
    """LongWriter's length: Chinese characters plus English words."""
    return len(re.findall(r"[\u4e00-\u9fff]", text)) + len(re.findall(r"\b[a-zA-Z]+\b", text))


def length_score(required: float, words: float) -> float:
    """LongWriter's length score (100 = exactly the required length)."""
    if words <= 0:
        return 0.0
    if words > required:
        return 100 * max(0.0, 1 - (words / required - 1) / 3)
    return 100 * max(0.0, 1 - (required / words - 1) / 2)


def _judged(d: dict[str, Any]) -> bool:
    return isinstance(d.get("scores"), dict) or "score_l" in d or "score_q" in d


def _is_question(d: dict[str, Any]) -> bool:
    return isinstance(d.get("prompt"), str) and "length" in d and "type" in d \
        and "response" not in d


def _is_answer(d: dict[str, Any]) -> bool:
    return isinstance(d.get("prompt"), str) and "response" in d and not _judged(d)


def _is_verdict(d: dict[str, Any]) -> bool:
    return isinstance(d.get("prompt"), str) and "response" in d and _judged(d)


def _need_model(ctx: Ctx) -> str:
    if not ctx.model:
        raise ctx.file.error("this file names no model: pass --model NAME", ctx.file.records[0],
                             "model")
    return ctx.model


def load_questions(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    recs = []
    for rec in f:
        length = f.req(rec, "length", (int, float))
        kind = str(f.req(rec, "type", (str, int)))
        recs.append(QuestionRecord(turns=[f.req(rec, "prompt")], category=kind,
                                   meta={"required_length": length, "type": kind},
                                   local_id=str(rec.data["id"]) if "id" in rec.data else None,
                                   line=rec.line))
    return add_questions(ctx.conn, recs, ctx.default_source(), file=ctx.path)


def _answers(ctx: Ctx, recs: list[Rec]) -> list[tuple[Rec, str]]:
    """Store the responses of ``recs``; returns (record, question id) for the matched ones."""
    f = ctx.file
    model = _need_model(ctx)
    wanted = [(rec, [f.req(rec, "prompt")]) for rec in recs]
    found = resolve_texts(ctx, wanted, field="prompt")
    out, matched = [], []
    for rec, turns in wanted:
        qid = found.get(ids.question_content_hash(turns, None))
        if qid is not None:
            out.append(AnswerRecord(question_id=qid, model=model, turns=[f.req(rec, "response")]))
            matched.append((rec, qid))
    store_answers(ctx, out)
    return matched


def load_answers(ctx: Ctx) -> ImportSummary:
    _answers(ctx, list(ctx.file))
    return ctx.summary


def _quality(ctx: Ctx, rec: Rec) -> tuple[Optional[float], Optional[str]]:
    scores = rec.data.get("scores")
    if isinstance(scores, dict):
        vals = []
        for dim in DIMS:
            v = scores.get(dim)
            try:
                vals.append(float(v))
            except (TypeError, ValueError):
                return None, f"scores[{dim!r}] = {v!r} is not a score"
        return sum((v - 1) * 25 for v in vals) / len(vals), None
    q = rec.data.get("score_q")
    if isinstance(q, (int, float)) and not isinstance(q, bool):
        return float(q), None
    return None, f"score_q = {q!r} is not a score"


def load_verdicts(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    judged = [rec for rec in f if "prompt" in rec.data]
    summary_lines = [rec.line for rec in f if "prompt" not in rec.data]
    if summary_lines:
        ctx.summary.notes.append(f"skipped {len(summary_lines)} summary line(s) without a "
                                 f"prompt (line {', '.join(map(str, summary_lines))})")
    before = ctx.summary.inserted, ctx.summary.unchanged
    matched = _answers(ctx, judged)
    ctx.summary.inserted, ctx.summary.unchanged = before  # the summary counts verdicts
    model = _need_model(ctx)
    rows: list[dict[str, Any]] = []
    for rec, qid in matched:
        d = rec.data
        judges = d.get("judges") if isinstance(d.get("judges"), dict) else {}
        base = {"mode": "single", "question_id": qid, "model_a": model}
        if isinstance(d.get("scores"), dict) or "score_q" in d:
            judge = ctx.judge or str(judges.get("score_q") or QUALITY)
            score, err = _quality(ctx, rec)
            rows.append({**base, "judge_id": judge, "score_a": score,
                         "scores": d.get("scores") if isinstance(d.get("scores"), dict) else None,
                         "parse_status": "ok" if err is None else "failed", "error": err,
                         "meta": {"metric": "score_q"},
                         "cache_key": verdict_key(ctx, judge, qid, model, "q", d.get("scores"),
                                                  d.get("score_q"))})
        if "score_l" in d:
            judge = str(judges.get("score_l") or LENGTH)
            sl = d.get("score_l")
            ok = isinstance(sl, (int, float)) and not isinstance(sl, bool)
            rows.append({**base, "judge_id": judge, "score_a": float(sl) if ok else None,
                         "scores": {"required": d.get("length"),
                                    "words": d.get("response_length")},
                         "parse_status": "ok" if ok else "failed",
                         "error": None if ok else f"score_l = {sl!r} is not a score",
                         "meta": {"metric": "score_l"},
                         "cache_key": verdict_key(ctx, judge, qid, model, "l", sl)})
    store_verdicts(ctx, rows)
    return ctx.summary


# ---- exports ----------------------------------------------------------------------------

def write_questions(conn: Connection, out: Path, flt: ExportFilter) -> int:
    return write_jsonl(out, ({"prompt": q["turns"][0], "type": (q["meta"] or {}).get(
        "type", q["category"]), "length": (q["meta"] or {}).get("required_length")}
        for q in query.questions(conn, flt)))


def _pred(prompt: str, meta: dict[str, Any], category: str, response: str) -> dict[str, Any]:
    return {"prompt": prompt, "type": meta.get("type", category),
            "length": meta.get("required_length"), "response_length": count_words(response),
            "response": response}


def write_answers(conn: Connection, out: Path, flt: ExportFilter) -> int:
    return write_jsonl(out, (_pred(a["question_turns"][0], a["question_meta"] or {},
                                   a["category"], a["turns"][0])
                             for a in query.answers(conn, flt)))


def write_verdicts(conn: Connection, out: Path, flt: ExportFilter) -> int:
    """One judged record per answer: quality ``scores``/``score_q`` and length ``score_l``."""
    metas = {a["id"]: a for a in query.answers(conn, ExportFilter(sources=flt.sources,
                                                                   models=flt.models))}
    recs: dict[int, dict[str, Any]] = {}
    for v in query.verdicts(conn, flt, mode="single"):
        a = metas.get(v["answer_a_id"])
        if a is None:
            continue  # a verdict on an answer this filter leaves out
        rec = recs.setdefault(a["id"], _pred(a["question_turns"][0], a["question_meta"] or {},
                                             a["category"], a["turns"][0]))
        metric = (v["meta"] or {}).get("metric", "score_q")
        rec.setdefault("judges", {})[metric] = v["judge_id"]
        if metric == "score_l":
            rec["score_l"] = v["score_a"]
        else:
            if v["scores"]:
                rec["scores"] = v["scores"]
            rec["score_q"] = v["score_a"]
    return write_jsonl(out, recs.values())


register_reader(Reader(FMT, "questions", "{prompt, type, length}", _is_question,
                       load_questions))
register_reader(Reader(FMT, "answers", "pred.jsonl {prompt, type, length, response} (needs "
                       "--model)", _is_answer, load_answers))
register_reader(Reader(FMT, "verdicts", "judged records {prompt, response, scores{6 dims} | "
                       "score_q, score_l} (needs --model)", _is_verdict, load_verdicts))
register_writer(Writer(FMT, "questions", "{prompt, type, length} jsonl", write_questions))
register_writer(Writer(FMT, "answers", "{prompt, type, length, response_length, response} jsonl",
                       write_answers))
register_writer(Writer(FMT, "verdicts", "judged records with scores, score_q, score_l",
                       write_verdicts))
