"""A Chatbot-Arena-style battle log: one record per pairwise verdict.

Shape ``{question_id, model_a, model_b, winner, judge, turn, anony, tstamp}`` with winner
``model_a``, ``model_b``, ``tie`` or ``tie (bothbad)``, written as a JSON list (``.json``),
JSON Lines (``.jsonl``) or CSV (``.csv``, or ``--format csv``). Exported ``question_id``s are
the store's full ids (``source/local id``); on import a full id is matched first, then a
local id in any source (or ``--source``). Only verdicts with an outcome are written (failed
ones have no winner). The log names no display order, so imported rows leave ``first`` empty.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from arena.formats import query
from arena.formats.query import ExportFilter
from arena.formats.records import write_json, write_jsonl
from arena.formats.registry import Ctx, Reader, Writer, register_reader, register_writer
from arena.formats.verdicts import CarriedQuestion, ensure_questions, store_verdicts, tstamp, \
    verdict_key
from arena.store.ingest import ImportSummary
from arena.store.schema import Question

FMT = "chatbot-arena"
WINNER = {"A": "model_a", "B": "model_b", "TIE": "tie", "BOTH_BAD": "tie (bothbad)"}
OUTCOME = {v: k for k, v in WINNER.items()}
COLUMNS = ["question_id", "model_a", "model_b", "winner", "judge", "turn", "anony", "tstamp"]


def _is_battle(d: dict[str, Any]) -> bool:
    return "model_a" in d and "model_b" in d and "winner" in d and "question_id" in d


def battle_rows(conn: Connection, flt: ExportFilter) -> list[dict[str, Any]]:
    return [{"question_id": v["question_id"], "model_a": v["model_a"], "model_b": v["model_b"],
             "winner": WINNER[v["outcome"]], "judge": v["judge_id"], "turn": v["turn"],
             "anony": True, "tstamp": query.epoch(v["created_at"])}
            for v in query.verdicts(conn, flt, mode="pair") if v["outcome"] is not None]


def write_battles(conn: Connection, out: Path, flt: ExportFilter, *, as_csv: bool = False) -> int:
    rows = battle_rows(conn, flt)
    if as_csv or str(out).endswith(".csv"):
        with open(out, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows(rows)
        return len(rows)
    if str(out).endswith(".jsonl"):
        return write_jsonl(out, rows)
    return write_json(out, rows)


def load_battles(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    full_ids = set()
    wanted = [f.req_id(rec, "question_id") for rec in f]
    for part in range(0, len(wanted), 5000):
        full_ids |= set(ctx.conn.execute(select(Question.id).where(
            Question.id.in_(wanted[part:part + 5000]))).scalars())
    items = [CarriedQuestion(rec, w, None) for rec, w in zip(f, wanted) if w not in full_ids]
    by_local = ensure_questions(ctx, items, field_name="question_id") if items else {}
    local_map = {items[i].local_id: q for i, q in by_local.items()}
    rows = []
    for rec, w in zip(f, wanted):
        qid = w if w in full_ids else local_map.get(w)
        if qid is None:
            continue
        d = rec.data
        winner = d.get("winner")
        outcome = OUTCOME.get(winner) if isinstance(winner, str) else None
        a, b = str(f.req(rec, "model_a", (str, int))), str(f.req(rec, "model_b", (str, int)))
        judge = ctx.judge or str(d.get("judge") or "chatbot-arena")
        turn = d.get("turn")
        turn = int(turn) if isinstance(turn, int) or (isinstance(turn, str) and turn.isdigit()) \
            else None
        ts = d.get("tstamp")
        try:
            ts = float(ts) if ts not in (None, "") else None
        except (TypeError, ValueError):
            raise f.error(f"expected epoch seconds, got {ts!r}", rec, "tstamp") from None
        rows.append({"question_id": qid, "judge_id": judge, "mode": "pairwise-all",
                     "model_a": a, "model_b": b, "first": None, "turn": turn,
                     "outcome": outcome, "parse_status": "ok" if outcome else "failed",
                     "error": None if outcome else f"winner={winner!r}",
                     "created_at": tstamp(ts),
                     "cache_key": verdict_key(ctx, judge, qid, a, b, turn, winner, ts)})
    store_verdicts(ctx, rows)
    return ctx.summary


register_reader(Reader(FMT, "verdicts", "battle log {question_id, model_a, model_b, winner, "
                       "judge, tstamp}", _is_battle, load_battles))
register_writer(Writer(FMT, "battles", "battle log JSON (.jsonl / .csv by the file's suffix)",
                       write_battles))
register_writer(Writer("json", "battles", "battle log JSON", write_battles))
register_writer(Writer("csv", "battles", "battle log CSV",
                       lambda conn, out, flt: write_battles(conn, out, flt, as_csv=True)))
