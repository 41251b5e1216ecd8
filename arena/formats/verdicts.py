"""Storing imported verdicts: questions and answers they carry, battles, judgments.

Verdict files of some anchors carry the question text and both outputs (AlpacaEval
annotations, evalscope battle.jsonl); those rows are created here (questions in the given or
default source, answers with params_hash 'imported'). Every judgment is stored with
``judge_kind='imported'`` and a content-derived ``cache_key``, so importing the same file
twice stores each verdict once. A verdict whose preference is missing or unreadable is stored
with ``parse_status='failed'`` and its raw text: never as a tie or a win. A fractional verdict
is stored in ``Judgment.preference`` only (``arena.rules.preference``), never in ``scores``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional, Sequence

from sqlalchemy import select

from arena import ids
from arena.formats.records import Rec
from arena.formats.registry import Ctx
from arena.formats.resolve import _chunks, answer_ids, resolve_ids, store_answers
from arena.formats.bulk import bulk_insert
from arena.store.ingest import AnswerRecord, QuestionRecord, add_questions, ensure_models
from arena.store.schema import Battle, Judgment, Question

IMPORTED = "imported"
# Every stored row carries the same keys: a Core executemany takes its columns from row one.
COLUMNS = ("mode", "battle_id", "answer_id", "question_id", "model_a", "model_b", "answer_a_id",
           "answer_b_id", "turn", "first", "judge_kind", "judge_id", "template_version",
           "policy", "outcome", "strength", "preference", "score_a", "score_b", "scores",
           "rationale",
           "raw_output", "parse_status", "error", "cache_key", "meta", "created_at")


@dataclass
class CarriedQuestion:
    """A question as a verdict file names it: a local id (or None) and maybe its text."""

    rec: Rec
    local_id: Optional[str]
    turns: Optional[list[str]]
    category: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


def ensure_questions(ctx: Ctx, items: Sequence[CarriedQuestion], *, field_name: str
                     ) -> dict[int, str]:
    """Return {index in items: full question id}, creating questions the file carries.

    With ``--source`` everything lives in that namespace (text clashes are errors). Without it,
    local ids are first matched against stored questions in any source; the rest are created
    under the file's default source. Records that have neither a stored match nor text are
    skipped and noted.
    """
    out: dict[int, str] = {}
    with_text: list[tuple[int, CarriedQuestion]] = []
    if ctx.source is None:
        cands = _stored_by_local_id(ctx, [it.local_id for it in items if it.local_id])
        own = ctx.default_source()
        for i, it in enumerate(items):
            lst = cands.get(it.local_id or "", [])
            if it.turns is not None:
                # The same local id with other text is another question set: create it.
                lst = [(q, t) for q, t in lst if t == it.turns]
                if not lst:
                    with_text.append((i, it))
                    continue
            if not lst:
                continue
            mine = [q for q, _ in lst if q == ids.question_id(own, str(it.local_id))]
            if mine or len(lst) == 1:
                out[i] = mine[0] if mine else lst[0][0]
                continue
            raise ctx.file.error(f"question id {it.local_id!r} is stored under several sources "
                                 f"({', '.join(sorted(q.rsplit('/', 1)[0] for q, _ in lst))}); "
                                 f"pass --source", it.rec, field_name)
    else:
        with_text = [(i, it) for i, it in enumerate(items) if it.turns is not None]
        missing = [(it.rec, it.local_id) for it in items
                   if it.turns is None and it.local_id is not None]
        if missing:
            found = resolve_ids(ctx, missing, field=field_name, allow_missing=True)
            for i, it in enumerate(items):
                if it.turns is None and it.local_id in found:
                    out[i] = found[it.local_id]
    if with_text and ctx.source is None:
        with_text = _match_text_only(ctx, with_text, out)
    if with_text:
        source = ctx.default_source()
        recs = [QuestionRecord(turns=it.turns or [], local_id=it.local_id, category=it.category,
                               meta=it.meta, line=it.rec.line) for _, it in with_text]
        s = add_questions(ctx.conn, recs, source, file=ctx.path, dry=ctx.dry)
        if s.inserted:
            ctx.summary.notes.append(f"{s.inserted} question(s) created in source {source!r}")
        for (i, it), r in zip(with_text, recs):
            local = it.local_id if it.local_id else ids.content_id(r.turns, None)
            out[i] = ids.question_id(source, str(local))
    skipped = [it for i, it in enumerate(items) if i not in out]
    if skipped and len(skipped) == len(items):
        raise ctx.file.error("no record names a stored question and none carries its text; "
                             "import the questions first or pass --source", skipped[0].rec,
                             field_name)
    if skipped:
        ctx.summary.skipped += len(skipped)
        lines = ", ".join(str(s.rec.line) for s in skipped[:10])
        more = " ..." if len(skipped) > 10 else ""
        ctx.summary.notes.append(f"{len(skipped)} verdict(s) name a question not stored and "
                                 f"were skipped (lines {lines}{more})")
    return out


def _match_text_only(ctx: Ctx, items: list[tuple[int, CarriedQuestion]], out: dict[int, str]
                     ) -> list[tuple[int, CarriedQuestion]]:
    """Match records that carry text but no id (AlpacaEval) on the stored content hash, in
    any source (the file's own source first). Returns the items still to be created."""
    todo = [(i, it) for i, it in items if it.local_id is None]
    if not todo:
        return items
    hashes = {i: ids.question_content_hash(it.turns or [], None) for i, it in todo}
    found: dict[str, list[str]] = {}
    uniq = list(dict.fromkeys(hashes.values()))
    for part in _chunks(uniq):
        for h, qid in ctx.conn.execute(select(Question.content_hash, Question.id)
                                       .where(Question.content_hash.in_(part))):
            found.setdefault(h, []).append(qid)
    own = ctx.default_source() + "/"
    rest = []
    for i, it in items:
        lst = found.get(hashes.get(i, ""), []) if it.local_id is None else []
        mine = [q for q in lst if q.startswith(own)]
        if mine or len(lst) == 1:
            out[i] = mine[0] if mine else lst[0]
        elif len(lst) > 1:
            raise ctx.file.error("this question text is stored under several sources ("
                                 + ", ".join(sorted(q.rsplit("/", 1)[0] for q in lst))
                                 + "); pass --source", it.rec, "instruction")
        else:
            rest.append((i, it))
    return rest


def _stored_by_local_id(ctx: Ctx, locals_: list[str]) -> dict[str, list[tuple[str, list]]]:
    """Stored questions by local id, across sources: {local id: [(full id, turns)]}."""
    out: dict[str, list[tuple[str, list]]] = {}
    uniq = list(dict.fromkeys(locals_))
    for part in _chunks(uniq):
        for local, qid, turns in ctx.conn.execute(
                select(Question.local_id, Question.id, Question.turns)
                .where(Question.local_id.in_(part))):
            out.setdefault(local, []).append((qid, turns))
    return out


def carried_answers(ctx: Ctx, answers: list[AnswerRecord]) -> None:
    """Store the outputs a verdict file carries (deduplicated); counts go to the notes."""
    if not answers:
        return
    names = {a.model for a in answers}
    ensure_models(ctx.conn, {n: {"backend": "file", "spec": {"file": ctx.path,
                                                             "format": ctx.fmt}} for n in names})
    before = ctx.summary.inserted, ctx.summary.unchanged
    store_answers(ctx, answers)
    new = ctx.summary.inserted - before[0]
    ctx.summary.inserted, ctx.summary.unchanged = before
    if new:
        ctx.summary.notes.append(f"{new} answer(s) stored from the verdicts' outputs")


def tstamp(value: Any) -> Optional[datetime]:
    """An epoch-seconds timestamp as an aware datetime; None when absent or unreadable."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        try:
            return datetime.fromtimestamp(float(value), tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def verdict_key(ctx: Ctx, *parts: Any) -> str:
    """The idempotency key of one imported verdict (format, judge, content of the record).

    ``repr`` of plain values (text, numbers, None, lists) is stable across runs and much
    cheaper than canonical JSON for 100,000 records."""
    return "imp-" + hashlib.sha256(repr((ctx.fmt, parts)).encode("utf-8")).hexdigest()[:40]


def drop_stored(ctx: Ctx, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows whose cache_key is not stored yet (duplicates within the file dropped too);
    the others are counted as unchanged. Call before storing what the new rows carry, so a
    re-import does no other work."""
    # Look up by (kind, judge) - a file has one or a few judges - rather than by a long IN
    # list of keys: on a freshly filled PostgreSQL table without statistics the planner
    # walked the kind index and tested every row against 5,000 keys (minutes at 100,000).
    have: set[str] = set()
    judges = sorted({r["judge_id"] for r in rows})
    for part in _chunks(judges):
        have |= set(ctx.conn.execute(select(Judgment.cache_key).where(
            Judgment.judge_kind == IMPORTED, Judgment.judge_id.in_(part))).scalars().all())
    out, seen = [], set(have)
    for r in rows:
        if r["cache_key"] not in seen:
            seen.add(r["cache_key"])
            out.append(r)
    ctx.summary.unchanged += len(rows) - len(out)
    return out


def store_verdicts(ctx: Ctx, rows: list[dict[str, Any]], *, checked: bool = False) -> None:
    """Store judgment rows (dicts of Judgment columns plus ``cache_key``).

    Pairwise rows get their battle (created when new) and answer ids; single rows their
    answer id. Rows whose cache_key is already stored are counted as unchanged (``checked``:
    the caller already dropped them with ``drop_stored``).
    """
    if not checked:
        rows = drop_stored(ctx, rows)
    if not rows:
        return
    conn = ctx.conn
    models: set[str] = set()
    for r in rows:
        models.add(r["model_a"])
        if r.get("model_b"):
            models.add(r["model_b"])
    ensure_models(conn, {m: {"backend": "file", "spec": {}} for m in models})
    pair_rows = [r for r in rows if r.get("model_b") is not None]
    if pair_rows:
        keys = {(r["question_id"], r["model_a"], r["model_b"]) for r in pair_rows}
        now = datetime.now(timezone.utc)
        bulk_insert(conn, Battle.__table__,
                    [{"question_id": q, "model_a": a, "model_b": b, "created_at": now}
                     for q, a, b in sorted(keys)],
                    ignore_conflicts=["question_id", "model_a", "model_b"])
        qids = sorted({k[0] for k in keys})
        battle_ids: dict[tuple[str, str, str], int] = {}
        for part in _chunks(qids):
            for bid, q, a, b in conn.execute(select(Battle.id, Battle.question_id,
                                                    Battle.model_a, Battle.model_b)
                                             .where(Battle.question_id.in_(part))).all():
                battle_ids[(q, a, b)] = bid
        for r in pair_rows:
            r["battle_id"] = battle_ids[(r["question_id"], r["model_a"], r["model_b"])]
    # A row whose file carried the judged texts names their versions (``_version_a`` /
    # ``_version_b``): the verdict then points at exactly the answer it judged.
    def want(r: dict[str, Any], side: str) -> tuple[str, ...]:
        v = r.get(f"_version_{side}")
        base = (r["question_id"], r[f"model_{side}"])
        return (*base, v) if v else base

    wanted = set()
    for r in rows:
        wanted.add(want(r, "a"))
        if r.get("model_b"):
            wanted.add(want(r, "b"))
    aids = answer_ids(ctx, wanted)
    for r in rows:
        r["answer_a_id"] = aids.get(want(r, "a"))
        if r.get("model_b") is not None:
            r["answer_b_id"] = aids.get(want(r, "b"))
        else:
            r["answer_id"] = r["answer_a_id"]
        r.pop("_version_a", None)
        r.pop("_version_b", None)
        r.setdefault("judge_kind", IMPORTED)
    new_rows = rows
    if new_rows:
        now = datetime.now(timezone.utc)
        full = []
        template = dict.fromkeys(COLUMNS)
        for r in new_rows:
            row = {**template, **r}
            row["meta"] = row["meta"] or {}
            row["parse_status"] = row["parse_status"] or "ok"
            row["created_at"] = row["created_at"] or now
            full.append(row)
        bulk_insert(conn, Judgment.__table__, full)  # imports carry no submission ids
    failed = sum(1 for r in new_rows if r.get("parse_status") == "failed")
    ctx.summary.inserted += len(new_rows)
    if failed:
        ctx.summary.notes.append(f"{failed} verdict(s) stored as failed (no readable "
                                 f"preference); they never count as a tie or a win")
