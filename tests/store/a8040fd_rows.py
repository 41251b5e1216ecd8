"""A few rows in every table of a8040fd's schema, as a user's store holds them.

Every column of every table gets a value in at least one row (and NULL in another where it is
nullable): JSON with nested and non-ASCII values, time zones, booleans, floats, a superseded
human verdict, a gold item, a live and a finished lease. ``fill`` writes them with the frozen
tables (a8040fd_schema), ``read_all`` reads every row of every frozen table back.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from a8040fd_schema import METADATA

T0 = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=timezone.utc)


def _t(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


ROWS: dict[str, list[dict[str, Any]]] = {
    "documents": [
        {"id": "d" * 64, "source": "leval/coursera", "text": "Chapter 1.\nUne très longue…",
         "meta": {"pages": 3, "lang": ["en", "fr"]}},
    ],
    "questions": [
        {"id": "mt/81", "source": "mt", "local_id": "81", "category": "writing",
         "turns": ["Compose a blog post.", "Rewrite it, every sentence starting with A."],
         "document_id": None, "meta": {"reference_needed": False}, "content_hash": "a" * 64,
         "seq": 0, "created_at": _t(0)},
        {"id": "leval/7", "source": "leval", "local_id": "7", "category": "",
         "turns": ["Summarise the document."], "document_id": "d" * 64, "meta": {},
         "content_hash": "b" * 64, "seq": 1, "created_at": _t(1)},
    ],
    "references": [
        {"id": 1, "question_id": "mt/81", "author": "gpt-4", "turns": ["A post.", "A rewrite."],
         "created_at": _t(2)},
    ],
    "models": [
        {"name": "alpha", "backend": "openai", "spec": {"model": "alpha-1", "temperature": 0.0},
         "created_at": _t(3)},
        {"name": "beta", "backend": "file", "spec": {}, "created_at": _t(3)},
    ],
    "answers": [
        {"id": 1, "question_id": "mt/81", "model": "alpha", "params_hash": "1" * 64,
         "turns": ["Post by alpha.", "A rewrite by alpha."], "reasoning": ["think", None],
         "finish_reason": "stop", "prompt_tokens": 31, "completion_tokens": 402,
         "latency_s": 1.25, "truncated": False, "origin": "generated",
         "meta": {"usage": {"total": 433}}, "created_at": _t(4)},
        {"id": 2, "question_id": "mt/81", "model": "beta", "params_hash": "2" * 64,
         "turns": ["Post by beta.", "Beta's rewrite: 中文"], "reasoning": None,
         "finish_reason": None, "prompt_tokens": None, "completion_tokens": None,
         "latency_s": None, "truncated": True, "origin": "imported", "meta": {},
         "created_at": _t(5)},
        {"id": 3, "question_id": "leval/7", "model": "alpha", "params_hash": "1" * 64,
         "turns": ["A summary."], "reasoning": None, "finish_reason": "length",
         "prompt_tokens": 9000, "completion_tokens": 12, "latency_s": 0.5, "truncated": False,
         "origin": "generated", "meta": {}, "created_at": _t(6)},
    ],
    "answer_failures": [
        {"id": 1, "question_id": "leval/7", "model": "beta", "params_hash": "3" * 64,
         "error": "429 Too Many Requests after 5 attempts", "attempts": 5, "created_at": _t(7)},
    ],
    "battles": [
        {"id": 1, "question_id": "mt/81", "model_a": "alpha", "model_b": "beta",
         "created_at": _t(8)},
    ],
    "users": [
        {"id": 1, "username": "admin", "password_hash": "scrypt:32768:8:1$salt$hash",
         "role": "admin", "pseudonym": "ann-0001", "invite_token": None,
         "invite_expires_at": None, "active": True, "excluded": False, "excluded_note": None,
         "created_at": _t(9)},
        {"id": 2, "username": "rater", "password_hash": None, "role": "annotator",
         "pseudonym": "ann-0002", "invite_token": "tok-" + "x" * 40,
         "invite_expires_at": _t(60 * 24), "active": False, "excluded": True,
         "excluded_note": "gold accuracy 0.40 < 0.60 (5 items)", "created_at": _t(10)},
    ],
    "tasks": [
        {"id": 1, "name": "writing pairs", "mode": "pairwise-all", "scale": "pairwise",
         "criteria": ["helpfulness", "accuracy"], "overlap": 2, "status": "active",
         "guidelines": "Prefer the **accurate** answer.", "show_references": True,
         "lease_seconds": 600, "settings": {"swap_probe": 0.1}, "created_by": 1,
         "created_at": _t(11)},
    ],
    "judgments": [
        {"id": 1, "mode": "pairwise-all", "battle_id": 1, "answer_id": None,
         "question_id": "mt/81", "model_a": "alpha", "model_b": "beta", "answer_a_id": 1,
         "answer_b_id": 2, "turn": None, "first": "A", "judge_kind": "llm",
         "judge_id": "gpt-4-judge", "template_version": "pair-v2", "policy": "both_games",
         "outcome": "A", "strength": 2, "score_a": None, "score_b": None, "scores": None,
         "rationale": "A is more complete.", "raw_output": "[[A>>B]]", "parse_status": "ok",
         "error": None, "cache_key": "c" * 64, "run_id": "run-1", "annotator_id": None,
         "task_id": None, "round": None, "submission_id": None, "time_on_task_s": None,
         "comment": None, "supersedes_id": None, "meta": {"usage": {"prompt": 800}},
         "created_at": _t(12)},
        {"id": 2, "mode": "pairwise-all", "battle_id": 1, "answer_id": None,
         "question_id": "mt/81", "model_a": "alpha", "model_b": "beta", "answer_a_id": 1,
         "answer_b_id": 2, "turn": 2, "first": "B", "judge_kind": "human", "judge_id": "rater",
         "template_version": None, "policy": None, "outcome": "TIE", "strength": 1,
         "score_a": None, "score_b": None, "scores": {"helpfulness": "A", "accuracy": "tie"},
         "rationale": None, "raw_output": None, "parse_status": "ok", "error": None,
         "cache_key": None, "run_id": None, "annotator_id": 2, "task_id": 1, "round": 1,
         "submission_id": "sub-" + "1" * 32, "time_on_task_s": 42.5,
         "comment": "close call", "supersedes_id": None, "meta": {}, "created_at": _t(13)},
        {"id": 3, "mode": "pairwise-all", "battle_id": 1, "answer_id": None,
         "question_id": "mt/81", "model_a": "alpha", "model_b": "beta", "answer_a_id": 1,
         "answer_b_id": 2, "turn": 2, "first": "B", "judge_kind": "human", "judge_id": "rater",
         "template_version": None, "policy": None, "outcome": "B", "strength": 1,
         "score_a": None, "score_b": None, "scores": None, "rationale": None,
         "raw_output": None, "parse_status": "ok", "error": None, "cache_key": None,
         "run_id": None, "annotator_id": 2, "task_id": 1, "round": 1,
         "submission_id": "sub-" + "2" * 32, "time_on_task_s": 8.0, "comment": None,
         "supersedes_id": 2, "meta": {}, "created_at": _t(14)},
        {"id": 4, "mode": "single", "battle_id": None, "answer_id": 3,
         "question_id": "leval/7", "model_a": "alpha", "model_b": None, "answer_a_id": 3,
         "answer_b_id": None, "turn": 1, "first": None, "judge_kind": "llm",
         "judge_id": "scorer", "template_version": "single-v1", "policy": "none",
         "outcome": None, "strength": None, "score_a": None, "score_b": None, "scores": None,
         "rationale": None, "raw_output": "I'd give it a solid... hmm", "parse_status": "failed",
         "error": "no rating found", "cache_key": "e" * 64, "run_id": "run-1",
         "annotator_id": None, "task_id": None, "round": None, "submission_id": None,
         "time_on_task_s": None, "comment": None, "supersedes_id": None, "meta": {},
         "created_at": _t(15)},
        {"id": 5, "mode": "single", "battle_id": None, "answer_id": 3,
         "question_id": "leval/7", "model_a": "alpha", "model_b": None, "answer_a_id": 3,
         "answer_b_id": None, "turn": None, "first": None, "judge_kind": "metric",
         "judge_id": "rouge-l", "template_version": None, "policy": None, "outcome": None,
         "strength": None, "score_a": 0.3125, "score_b": -1.5, "scores": {"p": 0.5, "r": 0.25},
         "rationale": None, "raw_output": None, "parse_status": "ok", "error": None,
         "cache_key": None, "run_id": None, "annotator_id": None, "task_id": None,
         "round": None, "submission_id": None, "time_on_task_s": None, "comment": None,
         "supersedes_id": None, "meta": {"n": 1}, "created_at": _t(16)},
    ],
    "task_items": [
        {"id": 1, "task_id": 1, "question_id": "mt/81", "battle_id": 1, "answer_a_id": 1,
         "answer_b_id": 2, "model_a": "alpha", "model_b": "beta", "kind": "normal",
         "gold": None, "held_count": 1, "done_count": 1, "seq": 0},
        {"id": 2, "task_id": 1, "question_id": "leval/7", "battle_id": None, "answer_a_id": 3,
         "answer_b_id": None, "model_a": "alpha", "model_b": None, "kind": "gold",
         "gold": {"min": 3, "max": 5}, "held_count": 1, "done_count": 0, "seq": 1},
    ],
    "assignments": [
        {"id": 1, "item_id": 1, "task_id": 1, "annotator_id": 2, "round": 1, "status": "done",
         "first": "B", "leased_at": _t(12), "expires_at": _t(22), "finished_at": _t(13),
         "judgment_id": 2, "skip_reason": None, "time_on_task_s": 42.5},
        {"id": 2, "item_id": 2, "task_id": 1, "annotator_id": 2, "round": 1,
         "status": "skipped", "first": None, "leased_at": _t(17), "expires_at": None,
         "finished_at": None, "judgment_id": None, "skip_reason": "the document is cut off",
         "time_on_task_s": None},
    ],
}

# Parents before children (foreign keys are checked on PostgreSQL).
INSERT_ORDER = ["documents", "questions", "references", "models", "answers", "answer_failures",
                "battles", "users", "tasks", "judgments", "task_items", "assignments"]


def fill(conn: Connection) -> None:
    """Insert ROWS; on PostgreSQL move each id sequence past the ids given, as a store whose
    rows were inserted one by one has it."""
    assert set(INSERT_ORDER) | {"arena_schema_version"} == set(METADATA.tables)
    for name in INSERT_ORDER:
        conn.execute(METADATA.tables[name].insert(), ROWS[name])
    if conn.dialect.name == "postgresql":
        for name in INSERT_ORDER:
            table = METADATA.tables[name]
            if "id" in table.c and isinstance(table.c.id.type, sa.Integer):
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('\"{name}\"', "
                                     f"'id'), (SELECT max(id) FROM \"{name}\"))"))


def read_all(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Every row of every a8040fd table (those of its columns the store still has), ordered by
    primary key, with datetimes as naive UTC (SQLite keeps no offset; PostgreSQL returns the
    session's)."""
    out = {}
    insp = sa.inspect(conn)
    for name, table in METADATA.tables.items():
        have = {c["name"] for c in insp.get_columns(name)}
        cols = [c for c in table.columns if c.name in have]
        rows = conn.execute(sa.select(*cols).order_by(*table.primary_key.columns)).mappings()
        out[name] = [{k: _naive_utc(v) for k, v in row.items()} for row in rows]
    return out


def expected() -> dict[str, list[dict[str, Any]]]:
    """ROWS as ``read_all`` returns them."""
    return {name: [{k: _naive_utc(v) for k, v in row.items()}
                   for row in sorted(rows, key=lambda r: r.get("id", r.get("name")))]
            for name, rows in ROWS.items()}


def _naive_utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def expected_upgraded() -> dict[str, list[dict[str, Any]]]:
    """``expected()`` after the documented data changes of the revisions since a8040fd:
    0004 stores invite tokens as their sha256 (the links keep working); 0006 drops
    ``task_items.done_count`` (counted from the assignments instead)."""
    import hashlib

    out = expected()
    for row in out["users"]:
        if row["invite_token"] is not None:
            row["invite_token"] = hashlib.sha256(row["invite_token"].encode()).hexdigest()
    for row in out["task_items"]:
        del row["done_count"]
    return out
