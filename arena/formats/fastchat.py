"""FastChat / MT-bench: question.jsonl, model_answer, reference_answer and judgment files.

Shapes:
- questions ``{question_id, category, turns[], reference?[]}`` (multi-turn; ``reference`` is
  stored as a reference answer with author 'reference');
- answers and reference answers ``{question_id, answer_id, model_id, choices[{index, turns[]}],
  tstamp}`` (the first choice is the answer); a reference file is stored as references
  (author = its model_id), never as a competing model's answers;
- judgments, single ``{question_id, model, judge[name, prompt], judgment, score, turn, tstamp}``
  (score -1 is FastChat's "could not parse": a failed verdict) and pair ``{question_id,
  model_1, model_2, g1_winner, g2_winner, judge, g1_judgment, g2_judgment, turn, tstamp}``:
  game 1 showed model_1 first, game 2 model_2; winners are model_1 / model_2 / tie / error
  (error is a failed verdict). ``turn`` keeps FastChat's numbering (1 = first turn).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from arena import ids
from arena.formats import query
from arena.formats.query import ExportFilter
from arena.formats.records import Rec, write_jsonl
from arena.formats.registry import Ctx, Reader, Writer, register_reader, register_writer
from arena.formats.resolve import check_single_model, resolve_ids, store_answers
from arena.formats.verdicts import CarriedQuestion, ensure_questions, store_verdicts, tstamp, \
    verdict_key
from arena.store.ingest import (AnswerRecord, ImportSummary, QuestionRecord, add_questions,
                                add_references)

FMT = "mtbench"
WINNER = {"model_1": "A", "model_2": "B", "tie": "TIE"}
WINNER_OUT = {"A": "model_1", "B": "model_2", "TIE": "tie", "BOTH_BAD": "tie"}


def _str_turns(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(t, str) for t in value)


def _is_question(d: dict[str, Any]) -> bool:
    return "question_id" in d and _str_turns(d.get("turns")) and "choices" not in d \
        and "text" not in d


def _is_model_answer(d: dict[str, Any]) -> bool:
    ch = d.get("choices")
    return "question_id" in d and "model_id" in d and isinstance(ch, list) and bool(ch) \
        and _str_turns(ch[0].get("turns"))


def _is_judgment(d: dict[str, Any]) -> bool:
    pair = "model_1" in d and "model_2" in d and ("g1_winner" in d or "g2_winner" in d)
    single = "model" in d and "score" in d and "judge" in d and "question_id" in d \
        and "review_text" not in d  # evalscope's single reviews (as this project exports them)
    return pair or single


def load_questions(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    recs = []
    for rec in f:
        refs = {}
        if rec.data.get("reference") is not None:
            refs["reference"] = f.str_list(rec, "reference")
        meta = {k: v for k, v in rec.data.items()
                if k not in ("question_id", "category", "turns", "reference")}
        recs.append(QuestionRecord(turns=f.str_list(rec, "turns"),
                                   local_id=f.req_id(rec, "question_id"),
                                   category=str(f.opt(rec, "category", (str, int), "")),
                                   meta=meta, references=refs, line=rec.line))
    return add_questions(ctx.conn, recs, ctx.default_source(), file=ctx.path)


def _choice_turns(ctx: Ctx, rec: Rec) -> list[str]:
    choices = ctx.file.req(rec, "choices", list)
    if not choices or not isinstance(choices[0], dict) or not _str_turns(choices[0].get("turns")):
        raise ctx.file.error("expected choices[0].turns, a list of strings", rec, "choices")
    return choices[0]["turns"]


def load_answers(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    names = [(rec, str(f.req(rec, "model_id", (str, int)))) for rec in f]
    check_single_model(ctx, names, "model_id")
    wanted = [(rec, f.req_id(rec, "question_id")) for rec in f]
    found = resolve_ids(ctx, wanted)
    out = []
    for (rec, local), (_, name) in zip(wanted, names):
        if local in found:
            meta = {"answer_id": rec.data["answer_id"]} if rec.data.get("answer_id") else {}
            out.append(AnswerRecord(question_id=found[local], model=ctx.model or name,
                                    turns=_choice_turns(ctx, rec), meta=meta))
    store_answers(ctx, out)
    return ctx.summary


def load_references(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    wanted = [(rec, f.req_id(rec, "question_id")) for rec in f]
    found = resolve_ids(ctx, wanted)
    rows = []
    for rec, local in wanted:
        if local in found:
            author = ctx.model or str(f.req(rec, "model_id", (str, int)))
            rows.append((found[local], author, _choice_turns(ctx, rec)))
    n = add_references(ctx.conn, rows)
    ctx.summary.inserted += n
    ctx.summary.unchanged += len(rows) - n
    return ctx.summary


def _judge(ctx: Ctx, rec: Rec) -> tuple[str, Any]:
    j = rec.data.get("judge")
    if ctx.judge:
        return ctx.judge, j[1] if isinstance(j, list) and len(j) > 1 else None
    if isinstance(j, list) and j and isinstance(j[0], str):
        return j[0], (str(j[1]) if len(j) > 1 else None)
    if isinstance(j, str) and j:
        return j, None
    raise ctx.file.error("expected [judge model, prompt name] (or pass --judge)", rec, "judge")


def load_judgments(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    items = [CarriedQuestion(rec, f.req_id(rec, "question_id"), None) for rec in f]
    qids = ensure_questions(ctx, items, field_name="question_id")
    rows: list[dict[str, Any]] = []
    for i, rec in enumerate(f):
        if i not in qids:
            continue
        d, qid = rec.data, qids[i]
        judge, template = _judge(ctx, rec)
        turn = d.get("turn") if isinstance(d.get("turn"), int) else None
        base = {"question_id": qid, "judge_id": judge, "template_version": template,
                "turn": turn, "created_at": tstamp(d.get("tstamp"))}
        if "model_1" not in d:
            model = str(f.req(rec, "model", (str, int)))
            score = d.get("score")
            ok = isinstance(score, (int, float)) and not isinstance(score, bool) and score >= 0
            rows.append({**base, "mode": "single", "model_a": model, "score_a":
                         float(score) if ok else None, "raw_output": d.get("judgment"),
                         "parse_status": "ok" if ok else "failed",
                         "error": None if ok else f"score={score!r} (no rating in the output)",
                         "cache_key": verdict_key(ctx, judge, template, qid, model, turn,
                                                  d.get("judgment"), score)})
            continue
        a, b = str(f.req(rec, "model_1", (str, int))), str(f.req(rec, "model_2", (str, int)))
        for game, first in (("g1", "A"), ("g2", "B")):
            if f"{game}_winner" not in d:
                continue
            w = d.get(f"{game}_winner")
            outcome = WINNER.get(w) if isinstance(w, str) else None
            raw = d.get(f"{game}_judgment")
            rows.append({**base, "mode": "pairwise-all", "model_a": a, "model_b": b,
                         "first": first, "policy": "tie_if_inconsistent", "outcome": outcome,
                         "raw_output": raw if isinstance(raw, str) else None,
                         "parse_status": "ok" if outcome else "failed",
                         "error": None if outcome else f"{game}_winner={w!r}",
                         "cache_key": verdict_key(ctx, judge, template, qid, a, b, turn, game, w,
                                                  raw)})
    store_verdicts(ctx, rows)
    return ctx.summary


# ---- exports ----------------------------------------------------------------------------

def write_questions(conn: Connection, out: Path, flt: ExportFilter) -> int:
    rows = []
    for q in query.questions(conn, flt):
        row: dict[str, Any] = {"question_id": query.local_id_value(q["local_id"]),
                               "category": q["category"], "turns": q["turns"]}
        if "reference" in q["references"]:
            row["reference"] = q["references"]["reference"]
        for k, v in (q["meta"] or {}).items():  # extra fields the file carried
            row.setdefault(k, v)
        rows.append(row)
    return write_jsonl(out, rows)


def _model_answer(local_id: str, model: str, turns: list[str], created: Any) -> dict[str, Any]:
    return {"question_id": query.local_id_value(local_id),
            "answer_id": ids.content_id(model, local_id, turns, length=22),
            "model_id": model, "choices": [{"index": 0, "turns": turns}],
            "tstamp": query.epoch(created)}


def write_answers(conn: Connection, out: Path, flt: ExportFilter) -> int:
    return write_jsonl(out, (_model_answer(a["local_id"], a["model"], a["turns"],
                                           a["created_at"]) for a in query.answers(conn, flt)))


def write_references(conn: Connection, out: Path, flt: ExportFilter) -> int:
    rows = []
    for q in query.questions(conn, flt):
        for author, turns in q["references"].items():
            rows.append(_model_answer(q["local_id"], author, turns, None))
    return write_jsonl(out, rows)


def judgment_rows(conn: Connection, flt: ExportFilter) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    pending: dict[tuple, dict[str, Any]] = {}
    for v in query.verdicts(conn, flt, mode="pair"):
        key = (v["battle_id"], v["judge_id"], v["template_version"], v["turn"])
        game = "g1" if v["first"] != "B" else "g2"
        rec = pending.get(key)
        if rec is None or f"{game}_winner" in rec:
            if rec is not None:
                rows.append(pending.pop(key))
            rec = pending[key] = {
                "question_id": query.local_id_value(v["local_id"]), "model_1": v["model_a"],
                "model_2": v["model_b"], "judge": [v["judge_id"], v["template_version"]],
                "turn": v["turn"], "tstamp": query.epoch(v["created_at"])}
        rec[f"{game}_winner"] = WINNER_OUT.get(v["outcome"] or "", "error")
        rec[f"{game}_judgment"] = v["raw_output"]
        if "g1_winner" in rec and "g2_winner" in rec:
            rows.append(pending.pop(key))
    rows.extend(pending.values())
    for v in query.verdicts(conn, flt, mode="single"):
        rows.append({"question_id": query.local_id_value(v["local_id"]), "model": v["model_a"],
                     "judge": [v["judge_id"], v["template_version"]], "judgment": v["raw_output"],
                     "score": v["score_a"] if v["score_a"] is not None else -1,
                     "turn": v["turn"], "tstamp": query.epoch(v["created_at"])})
    return rows


def write_judgments(conn: Connection, out: Path, flt: ExportFilter) -> int:
    return write_jsonl(out, judgment_rows(conn, flt))


register_reader(Reader(FMT, "questions", "question.jsonl {question_id, category, turns[], "
                       "reference?}", _is_question, load_questions))
register_reader(Reader(FMT, "answers", "model_answer {question_id, answer_id, model_id, "
                       "choices[{index, turns[]}], tstamp}", _is_model_answer, load_answers))
register_reader(Reader(FMT, "references", "reference_answer (model_answer shape)",
                       _is_model_answer, load_references))
register_reader(Reader(FMT, "verdicts", "judgment jsonl, single {model, score, judge} or pair "
                       "{model_1, model_2, g1_winner, g2_winner}", _is_judgment, load_judgments))
register_writer(Writer(FMT, "questions", "question.jsonl", write_questions))
register_writer(Writer(FMT, "answers", "model_answer jsonl", write_answers))
register_writer(Writer(FMT, "references", "reference_answer jsonl", write_references))
register_writer(Writer(FMT, "verdicts", "judgment jsonl (pair and single records)",
                       write_judgments))
