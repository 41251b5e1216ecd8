"""arena-hard-auto: question.jsonl, model_answer files and judgment files.

Shapes:
- questions ``{uid, category, cluster, prompt}`` (v0.1 files; v2 has ``subcategory``) or the
  older ``{question_id, category, cluster, turns[{content}]}``;
- answers ``{uid, ans_id, model, messages[{role, content}], tstamp}`` where an assistant
  ``content`` is ``{answer}`` (optionally ``reasoning``) or plain text; the older files are
  FastChat-shaped with ``choices[{index, turns[{content, token_len}]}]``;
- judgments ``{uid|question_id, model, baseline?, judge, games[{user_prompt, judgment,
  score}]}``: game 1 shows the baseline as A, game 2 shows the model as A; a score is a label
  such as ``A>>B``, ``A>B``, ``A=B``, ``B>A``, ``B>>A``; a null score is a failed verdict.
  A record without ``baseline`` takes ``--baseline``; with neither it is an error naming the
  field: the baseline is never guessed (v0.1 files name it only in their config, e.g.
  gpt-4-0314). A null game is a game not played (skipped).
Both games are stored (policy ``both_games``), model_a = the model, model_b = the baseline.
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
from arena.formats.resolve import check_single_model, resolve_ids, store_answers
from arena.formats.verdicts import CarriedQuestion, ensure_questions, store_verdicts, tstamp, \
    verdict_key
from arena.store.ingest import AnswerRecord, ImportSummary, QuestionRecord, add_questions

FMT = "arena-hard"
LABEL = re.compile(r"^\s*([AB])\s*(>>|>|=|<<|<)\s*([AB])\s*$")


def _content_turns(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(t, dict) and "content" in t for t in value)


def _is_question(d: dict[str, Any]) -> bool:
    return ("uid" in d and isinstance(d.get("prompt"), str) and "messages" not in d) or \
        ("question_id" in d and _content_turns(d.get("turns")))


def _is_answer(d: dict[str, Any]) -> bool:
    if isinstance(d.get("messages"), list) and ("uid" in d or "question_id" in d):
        return "model" in d or "model_id" in d
    ch = d.get("choices")
    return "question_id" in d and isinstance(ch, list) and bool(ch) and isinstance(ch[0], dict) \
        and _content_turns(ch[0].get("turns"))


def _is_judgment(d: dict[str, Any]) -> bool:
    return isinstance(d.get("games"), list) and "model" in d


def _qid(ctx: Ctx, rec: Rec) -> str:
    return ctx.file.req_id(rec, "uid" if "uid" in rec.data else "question_id")


def load_questions(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    recs = []
    for rec in f:
        if "prompt" in rec.data:
            turns = [f.req(rec, "prompt")]
        else:
            raw = f.req(rec, "turns", list)
            turns = []
            for t in raw:
                if not isinstance(t, dict) or not isinstance(t.get("content"), str):
                    raise f.error("expected turns[{content: text}]", rec, "turns")
                turns.append(t["content"])
        meta = {k: v for k, v in rec.data.items()
                if k not in ("uid", "question_id", "category", "prompt", "turns")}
        meta["shape"] = "prompt" if "prompt" in rec.data else "turns"
        recs.append(QuestionRecord(turns=turns, local_id=_qid(ctx, rec),
                                   category=str(f.opt(rec, "category", (str, int), "")),
                                   meta=meta, line=rec.line))
    return add_questions(ctx.conn, recs, ctx.default_source(), file=ctx.path)


def _answer_turns(ctx: Ctx, rec: Rec) -> tuple[list[str], Optional[list[Optional[str]]]]:
    f = ctx.file
    if "messages" in rec.data:
        turns, reasoning = [], []
        for m in f.req(rec, "messages", list):
            if not isinstance(m, dict) or "role" not in m:
                raise f.error("expected messages[{role, content}]", rec, "messages")
            if m["role"] != "assistant":
                continue
            c = m.get("content")
            if isinstance(c, dict) and isinstance(c.get("answer"), str):
                turns.append(c["answer"])
                reasoning.append(c.get("reasoning") if isinstance(c.get("reasoning"), str)
                                 else None)
            elif isinstance(c, str):
                turns.append(c)
                reasoning.append(None)
            else:
                raise f.error("assistant content must be {answer: text} or text", rec,
                              "messages")
        if not turns:
            raise f.error("no assistant message", rec, "messages")
        return turns, reasoning if any(r is not None for r in reasoning) else None
    choices = f.req(rec, "choices", list)
    return [t["content"] for t in choices[0]["turns"]], None


def _user_turns(rec: Rec) -> Optional[list[str]]:
    """The question text an answer record carries (its user messages), when it carries it."""
    msgs = rec.data.get("messages")
    if not isinstance(msgs, list):
        return None
    turns = [m["content"] for m in msgs if isinstance(m, dict) and m.get("role") == "user"
             and isinstance(m.get("content"), str)]
    return turns or None


def load_answers(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    key = "model" if "model" in f.records[0].data else "model_id"
    names = [(rec, str(f.req(rec, key, (str, int)))) for rec in f]
    check_single_model(ctx, names, key)
    wanted = [(rec, _qid(ctx, rec)) for rec in f]
    found = resolve_ids(ctx, wanted, field="uid" if "uid" in f.records[0].data else
                        "question_id")
    out = []
    for (rec, local), (_, name) in zip(wanted, names):
        if local not in found:
            continue
        turns, reasoning = _answer_turns(ctx, rec)
        out.append(AnswerRecord(question_id=found[local], model=ctx.model or name, turns=turns,
                                reasoning=reasoning, question_turns=_user_turns(rec),
                                line=rec.line))
    store_answers(ctx, out)
    return ctx.summary


def parse_label(label: Any) -> tuple[Optional[str], Optional[int]]:
    """('A' | 'B' | 'TIE', strength) relative to the displayed A/B; (None, None) if unreadable."""
    if not isinstance(label, str):
        return None, None
    m = LABEL.match(label)
    if not m:
        return None, None
    left, op, right = m.groups()
    if op == "=":
        return "TIE", None
    better = left if op.startswith(">") else right
    if left == right:
        return None, None
    return better, 2 if len(op) == 2 else 1


def load_judgments(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    items = [CarriedQuestion(rec, _qid(ctx, rec), None) for rec in f]
    qids = ensure_questions(ctx, items, field_name="uid")
    rows: list[dict[str, Any]] = []
    for i, rec in enumerate(f):
        if i not in qids:
            continue
        d, qid = rec.data, qids[i]
        model = str(f.req(rec, "model", (str, int)))
        baseline = d.get("baseline") or ctx.baseline
        if not isinstance(baseline, str) or not baseline:
            raise f.error("missing the baseline model (arena-hard v0.1 files name it only in "
                          "their config): pass --baseline MODEL", rec, "baseline")
        judge = ctx.judge or str(d.get("judge") or "")
        if not judge:
            raise f.error("missing judge (or pass --judge)", rec, "judge")
        for n, game in enumerate(f.req(rec, "games", list)):
            if game is None:
                continue
            if not isinstance(game, dict):
                raise f.error("expected games[{judgment, score}]", rec, "games")
            shown, strength = parse_label(game.get("score"))
            # Game 1 shows the baseline as A; game 2 shows the model as A.
            first = "B" if n == 0 else "A"
            outcome = None
            if shown == "TIE":
                outcome = "TIE"
            elif shown is not None:
                outcome = ("B" if shown == "A" else "A") if n == 0 else shown
            raw = game.get("judgment")
            if isinstance(raw, dict):  # newer files keep the judge's whole reply
                raw = raw.get("answer") if isinstance(raw.get("answer"), str) else str(raw)
            rows.append({"question_id": qid, "judge_id": judge, "mode": "pairwise-baseline",
                         "model_a": model, "model_b": baseline, "first": first,
                         "policy": "both_games", "outcome": outcome, "strength": strength,
                         "raw_output": raw, "parse_status": "ok" if outcome else "failed",
                         "error": None if outcome else f"score={game.get('score')!r}",
                         "scores": {"label": game.get("score")},
                         "created_at": tstamp(d.get("tstamp")),
                         "cache_key": verdict_key(ctx, judge, qid, model, baseline, n,
                                                  game.get("score"), raw)})
    store_verdicts(ctx, rows)
    return ctx.summary


# ---- exports ----------------------------------------------------------------------------

def write_questions(conn: Connection, out: Path, flt: ExportFilter) -> int:
    rows = []
    for q in query.questions(conn, flt):
        meta = {k: v for k, v in (q["meta"] or {}).items() if k != "shape"}
        if len(q["turns"]) == 1 and (q["meta"] or {}).get("shape") != "turns":
            rows.append({"uid": q["local_id"], "category": q["category"], **meta,
                         "prompt": q["turns"][0]})
        else:
            rows.append({"question_id": q["local_id"], "category": q["category"], **meta,
                         "turns": [{"content": t} for t in q["turns"]]})
    return write_jsonl(out, rows)


def write_answers(conn: Connection, out: Path, flt: ExportFilter) -> int:
    rows = []
    for a in query.answers(conn, flt):
        msgs: list[dict[str, Any]] = []
        for qt, at in zip(a["question_turns"], a["turns"]):
            msgs.append({"role": "user", "content": qt})
            msgs.append({"role": "assistant", "content": {"answer": at}})
        rows.append({"uid": a["local_id"], "ans_id": ids.content_id(a["model"], a["local_id"],
                                                                    a["turns"], length=22),
                     "model": a["model"], "messages": msgs,
                     "tstamp": query.epoch(a["created_at"])})
    return write_jsonl(out, rows)


def _label(outcome: Optional[str], strength: Optional[int], shown_first_is_a: bool) -> Any:
    if outcome is None:
        return None
    if outcome in ("TIE", "BOTH_BAD"):
        return "A=B"
    op = ">>" if strength == 2 else ">"
    # Displayed A is model_a when model_a was shown first.
    winner_shown = ("A" if outcome == "A" else "B") if shown_first_is_a else \
        ("B" if outcome == "A" else "A")
    return f"{winner_shown}{op}{'B' if winner_shown == 'A' else 'A'}"


def write_judgments(conn: Connection, out: Path, flt: ExportFilter) -> int:
    recs: dict[tuple, dict[str, Any]] = {}
    for v in query.verdicts(conn, flt, mode="pair"):
        key = (v["battle_id"], v["judge_id"], v["turn"])
        rec = recs.setdefault(key, {"uid": v["local_id"], "model": v["model_a"],
                                    "baseline": v["model_b"], "judge": v["judge_id"],
                                    "games": [None, None], "tstamp": query.epoch(v["created_at"])})
        game = {"user_prompt": None, "judgment": v["raw_output"],
                "score": _label(v["outcome"], v["strength"], v["first"] == "A")}
        slot = 0 if v["first"] == "B" else 1
        rec["games"][slot] = game
    # A game not played stays a null in its slot: the slot says which order it was.
    return write_jsonl(out, recs.values())


register_reader(Reader(FMT, "questions", "{uid, category, cluster, prompt} or {question_id, "
                       "turns[{content}]}", _is_question, load_questions))
register_reader(Reader(FMT, "answers", "{uid, ans_id, model, messages[{role, content: "
                       "{answer}}]} or FastChat-shaped with turns[{content}]", _is_answer,
                       load_answers))
register_reader(Reader(FMT, "verdicts", "judgment {uid, model, baseline, judge, games[{score, "
                       "judgment}]}", _is_judgment, load_judgments))
register_writer(Writer(FMT, "questions", "question.jsonl", write_questions))
register_writer(Writer(FMT, "answers", "model_answer jsonl (messages shape)", write_answers))
register_writer(Writer(FMT, "verdicts", "judgment jsonl (two games per question)",
                       write_judgments))
