"""evalscope (llmuses) arena mode: question.jsonl, answer files, review files, battle.jsonl.

Shapes:
- questions ``{question_id, text, category}``;
- answers ``{question_id, text, category, model_id, metadata, answer}``;
- reviews (pairwise) ``{model_a, model_b, win, scores, review_text, question_id, category,
  question, tstamp, language, anony}``, with ``win_1``/``win_2``/``review_text_1``/
  ``review_text_2`` instead when both orders were judged (``win_2`` already relative to
  model_a/model_b); single ``{model, score, review_text, question_id, ...}``;
- battle.jsonl: a pairwise review plus ``output_a``/``output_b`` (both answers).

In a one-game review, model_a's answer was shown first. ``win`` 'error' or scores of -1 are
how evalscope writes an unreadable judge output: those become failed verdicts.
Exports add two keys evalscope ignores, ``judge`` and ``shown_first``, so a round trip keeps
the judge id and display order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from sqlalchemy import Connection

from arena.formats import query
from arena.formats.query import ExportFilter
from arena.formats.records import Rec, write_jsonl
from arena.formats.registry import Ctx, Reader, Writer, register_reader, register_writer
from arena.formats.resolve import check_single_model, resolve_ids, store_answers
from arena.formats.verdicts import (CarriedQuestion, carried_answers, ensure_questions,
                                    store_verdicts, tstamp, verdict_key)
from arena.store.ingest import AnswerRecord, ImportSummary, QuestionRecord, add_questions

FMT = "evalscope"
WIN = {"model_a": "A", "model_b": "B", "tie": "TIE"}
WIN_OUT = {"A": "model_a", "B": "model_b", "TIE": "tie", "BOTH_BAD": "tie"}


def _is_question(d: dict[str, Any]) -> bool:
    return "question_id" in d and isinstance(d.get("text"), str) and "answer" not in d \
        and "model_id" not in d and "question" not in d


def _is_answer(d: dict[str, Any]) -> bool:
    return "question_id" in d and "answer" in d and "model_id" in d


def _is_review(d: dict[str, Any]) -> bool:
    pair = "model_a" in d and "model_b" in d and ("win" in d or "win_1" in d)
    single = "model" in d and "score" in d and "question_id" in d and "review_text" in d
    return pair or single


def load_questions(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    recs = []
    for rec in f:
        text = f.req(rec, "text")
        meta = {k: v for k, v in rec.data.items() if k not in ("question_id", "text", "category",
                                                                "turns")}
        turns = [text]
        if "turns" in rec.data:  # a multi-turn question exported by this project
            turns = f.str_list(rec, "turns")
        recs.append(QuestionRecord(turns=turns, local_id=f.req_id(rec, "question_id"),
                                   category=str(f.opt(rec, "category", (str, int), "")),
                                   meta=meta, line=rec.line))
    return add_questions(ctx.conn, recs, ctx.default_source(), file=ctx.path)


def load_answers(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    names = [(rec, str(f.req(rec, "model_id", (str, int)))) for rec in f]
    check_single_model(ctx, names, "model_id")
    wanted = [(rec, f.req_id(rec, "question_id")) for rec in f]
    found = resolve_ids(ctx, wanted)
    out = []
    for (rec, local), (_, name) in zip(wanted, names):
        if local not in found:
            continue
        turns = [f.req(rec, "answer")]
        if "answer_turns" in rec.data:
            turns = f.str_list(rec, "answer_turns")
        meta = rec.data.get("metadata")
        text = rec.data.get("text")  # the question, carried beside the answer
        out.append(AnswerRecord(question_id=found[local], model=ctx.model or name, turns=turns,
                                meta={"metadata": meta} if meta else {},
                                question_turns=[text] if isinstance(text, str) and
                                "turns" not in rec.data else None, line=rec.line))
    store_answers(ctx, out)
    return ctx.summary


def _outcome(ctx: Ctx, rec: Rec, key: str) -> tuple[Optional[str], Optional[str]]:
    """(outcome, error): unreadable values are failed verdicts, not ties."""
    value = rec.data.get(key)
    if isinstance(value, str) and value in WIN:
        return WIN[value], None
    return None, f"{key}={value!r} is not model_a, model_b or tie"


def _scores(rec: Rec) -> tuple[Optional[float], Optional[float]]:
    s = rec.data.get("scores")
    if isinstance(s, list) and len(s) == 2 and all(isinstance(x, (int, float)) for x in s):
        if s[0] == -1 and s[1] == -1:  # evalscope's "could not parse"
            return None, None
        return float(s[0]), float(s[1])
    return None, None


def load_verdicts(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    items, answers = [], []
    for rec in f:
        d = rec.data
        q_text = d.get("question")
        items.append(CarriedQuestion(rec, f.req_id(rec, "question_id"),
                                     [q_text] if isinstance(q_text, str) else None,
                                     category=str(d.get("category") or "")))
    qids = ensure_questions(ctx, items, field_name="question_id")
    judge_default = ctx.judge or f"{FMT}:{ctx.default_source()}"
    rows: list[dict[str, Any]] = []
    for i, rec in enumerate(f):
        if i not in qids:
            continue
        d, qid = rec.data, qids[i]
        judge = ctx.judge or str(d.get("judge") or judge_default)
        meta = {k: d[k] for k in ("language", "anony") if k in d}
        base = {"question_id": qid, "judge_id": judge, "meta": meta,
                "created_at": tstamp(d.get("tstamp"))}
        if "model_a" not in d:  # single-answer review
            model = str(f.req(rec, "model", (str, int)))
            score = d.get("score")
            ok = isinstance(score, (int, float)) and not isinstance(score, bool) and score != -1
            rows.append({**base, "mode": "single", "model_a": model, "model_b": None,
                         "score_a": float(score) if ok else None,
                         "raw_output": d.get("review_text"),
                         "parse_status": "ok" if ok else "failed",
                         "error": None if ok else f"score={score!r} is not a score",
                         "cache_key": verdict_key(ctx, judge, qid, model, d.get("review_text"),
                                                  score)})
            continue
        a, b = str(f.req(rec, "model_a", (str, int))), str(f.req(rec, "model_b", (str, int)))
        for side, key in (("a", "output_a"), ("b", "output_b")):
            if isinstance(d.get(key), str):
                answers.append(AnswerRecord(question_id=qid, model=a if side == "a" else b,
                                            turns=[d[key]]))
        games = [("win", "review_text", "B" if d.get("shown_first") == "model_b" else "A")]
        policy = None
        if "win_1" in d:
            games = [("win_1", "review_text_1", "A"), ("win_2", "review_text_2", "B")]
            policy = "tie_if_inconsistent"
        sa, sb = _scores(rec)
        for n, (wkey, tkey, first) in enumerate(games):
            outcome, err = _outcome(ctx, rec, wkey)
            raw = d.get(tkey)
            rows.append({**base, "mode": "pairwise-all", "model_a": a, "model_b": b,
                         "first": first, "policy": policy, "outcome": outcome,
                         "score_a": sa if n == 0 and policy is None else None,
                         "score_b": sb if n == 0 and policy is None else None,
                         "raw_output": raw if isinstance(raw, str) else None,
                         "parse_status": "ok" if outcome else "failed", "error": err,
                         "cache_key": verdict_key(ctx, judge, qid, a, b, first, d.get(wkey),
                                                  raw, d.get("tstamp"))})
    carried_answers(ctx, answers)
    store_verdicts(ctx, rows)
    return ctx.summary


# ---- exports ----------------------------------------------------------------------------

def write_questions(conn: Connection, out: Path, flt: ExportFilter) -> int:
    rows = []
    for q in query.questions(conn, flt):
        row = {"question_id": query.local_id_value(q["local_id"]), "text": q["turns"][0],
               "category": q["category"]}
        if len(q["turns"]) > 1:
            row["turns"] = q["turns"]
        for k, v in (q["meta"] or {}).items():  # extra fields the file carried
            row.setdefault(k, v)
        rows.append(row)
    return write_jsonl(out, rows)


def write_answers(conn: Connection, out: Path, flt: ExportFilter) -> int:
    rows = []
    for a in query.answers(conn, flt):
        row = {"question_id": query.local_id_value(a["local_id"]),
               "text": a["question_turns"][0], "category": a["category"],
               "model_id": a["model"], "metadata": (a["meta"] or {}).get("metadata", {}),
               "answer": a["turns"][0]}
        if len(a["turns"]) > 1:
            row["answer_turns"] = a["turns"]
        rows.append(row)
    return write_jsonl(out, rows)


def review_rows(conn: Connection, flt: ExportFilter) -> list[dict[str, Any]]:
    """Pairwise verdicts in evalscope's review shape; both orders of one battle by one judge
    become one win_1/win_2 record, as evalscope's swap_position writes them."""
    rows: list[dict[str, Any]] = []
    pending: dict[tuple, dict[str, Any]] = {}
    for v in query.verdicts(conn, flt, mode="pair"):
        head = {"model_a": v["model_a"], "model_b": v["model_b"], "anony": True,
                "tstamp": query.epoch(v["created_at"]),
                "language": (v["meta"] or {}).get("language", "NA"),
                "question_id": query.local_id_value(v["local_id"]), "category": v["category"],
                "question": v["question_turns"][0], "judge": v["judge_id"]}
        if v["answer_a"] is not None:
            head["output_a"] = v["answer_a"][0]
        if v["answer_b"] is not None:
            head["output_b"] = v["answer_b"][0]
        win = WIN_OUT.get(v["outcome"] or "", "error")
        if v["policy"] == "tie_if_inconsistent":
            key = (v["battle_id"], v["judge_id"], v["turn"])
            game = "1" if v["first"] == "A" else "2"
            rec = pending.setdefault(key, head)
            rec[f"win_{game}"] = win
            rec[f"review_text_{game}"] = v["raw_output"]
            if "win_1" in rec and "win_2" in rec:
                rows.append(pending.pop(key))
            continue
        row = {**head, "scores": [v["score_a"] if v["score_a"] is not None else -1,
                                  v["score_b"] if v["score_b"] is not None else -1],
               "win": win, "review_text": v["raw_output"]}
        if v["first"] == "B":
            row["shown_first"] = "model_b"
        rows.append(row)
    for rec in pending.values():  # an unpaired game of a both-orders battle: keep it as is
        game = "1" if "win_1" in rec else "2"
        rec["win"] = rec.pop(f"win_{game}")
        rec["review_text"] = rec.pop(f"review_text_{game}")
        if game == "2":
            rec["shown_first"] = "model_b"
        rows.append(rec)
    for v in query.verdicts(conn, flt, mode="single"):
        rows.append({"model": v["model_a"], "score": v["score_a"] if v["score_a"] is not None
                     else -1, "anony": True, "tstamp": query.epoch(v["created_at"]),
                     "language": (v["meta"] or {}).get("language", "NA"),
                     "question_id": query.local_id_value(v["local_id"]),
                     "category": v["category"], "question": v["question_turns"][0],
                     "review_text": v["raw_output"], "judge": v["judge_id"]})
    return rows


def write_verdicts(conn: Connection, out: Path, flt: ExportFilter) -> int:
    return write_jsonl(out, review_rows(conn, flt))


register_reader(Reader(FMT, "questions", "question.jsonl {question_id, text, category}",
                       _is_question, load_questions))
register_reader(Reader(FMT, "answers", "{question_id, text, category, model_id, metadata, "
                       "answer}", _is_answer, load_answers))
register_reader(Reader(FMT, "verdicts", "review/battle jsonl {model_a, model_b, win | win_1, "
                       "win_2, scores, review_text, output_a?, output_b?}", _is_review,
                       load_verdicts))
register_writer(Writer(FMT, "questions", "question.jsonl", write_questions))
register_writer(Writer(FMT, "answers", "answer jsonl (one model per file is evalscope's habit)",
                       write_answers))
register_writer(Writer(FMT, "verdicts", "review jsonl with question and outputs (battle.jsonl "
                       "shape)", write_verdicts))
