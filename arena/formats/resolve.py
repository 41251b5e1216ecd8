"""Matching what answer and verdict files name (a local id, or a question's text) to stored
questions, and storing answers once their questions are known.

- With ``--source`` the local id is looked up in that namespace only.
- Without it, the local id is looked up in every source; one id stored under two sources is
  an error naming both (pass ``--source``).
- Files that carry no id (AlpacaEval) are matched on the question text through the stored
  content hash, which is what ``add_questions`` derives ids from.
Records whose question is not stored are skipped and reported (line and id); a file none of
whose records match raises InputError, since that is a wrong file or a wrong ``--source``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Optional, Sequence

from sqlalchemy import select

from arena import ids
from arena.formats.records import Rec
from arena.formats.registry import Ctx
from arena.formats.bulk import bulk_insert, count
from arena.identity import is_content_version
from arena.store.ingest import CHUNK, AnswerRecord, answer_rows, ensure_models
from arena.store.schema import Answer, Question


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def resolve_ids(ctx: Ctx, wanted: Sequence[tuple[Rec, str]], *, field: str = "question_id",
                source: Optional[str] = None, allow_missing: bool = False) -> dict[str, str]:
    """Map local ids to stored question ids. Returns {local id: full id} for those found.

    ``source`` (or ctx.source) limits the search to one namespace. Raises InputError for an id
    stored under several sources, and (unless ``allow_missing``) when none of the ids is
    stored; some missing are skipped and noted.
    """
    source = source if source is not None else ctx.source
    locals_ = list(dict.fromkeys(local for _, local in wanted))
    found: dict[str, set[str]] = defaultdict(set)
    for part in _chunks(locals_):
        q = select(Question.local_id, Question.id).where(Question.local_id.in_(part))
        if source:
            q = q.where(Question.source == source)
        for local, qid in ctx.conn.execute(q):
            found[local].add(qid)
    first_line = {}
    for rec, local in wanted:
        first_line.setdefault(local, rec.line)
    for local, qids in found.items():
        if len(qids) > 1:
            raise ctx.file.error(f"question id {local!r} is stored under several sources "
                                 f"({', '.join(sorted(q.rsplit('/', 1)[0] for q in qids))}); "
                                 f"pass --source", _line(first_line[local]), field)
    out = {local: next(iter(qids)) for local, qids in found.items()}
    if not allow_missing:
        _check_missing(ctx, wanted, out, field, source, what="id")
    return out


def resolve_texts(ctx: Ctx, wanted: Sequence[tuple[Rec, list[str]]], *, field: str,
                  source: Optional[str] = None) -> dict[str, str]:
    """Map question turns (no document) to stored ids via the content hash.

    Returns {content hash: full id}. The same text stored under two sources is an error
    unless ``source`` picks one.
    """
    source = source if source is not None else ctx.source
    hashes = [(rec, ids.question_content_hash(turns, None)) for rec, turns in wanted]
    uniq = list(dict.fromkeys(h for _, h in hashes))
    found: dict[str, set[str]] = defaultdict(set)
    for part in _chunks(uniq):
        q = select(Question.content_hash, Question.id).where(Question.content_hash.in_(part))
        if source:
            q = q.where(Question.source == source)
        for h, qid in ctx.conn.execute(q):
            found[h].add(qid)
    for rec, h in hashes:
        if len(found.get(h, ())) > 1:
            raise ctx.file.error("this question text is stored under several sources ("
                                 + ", ".join(sorted(q.rsplit("/", 1)[0] for q in found[h]))
                                 + "); pass --source", rec, field)
    out = {h: next(iter(q)) for h, q in found.items()}
    _check_missing(ctx, hashes, out, field, source, what="text")
    return out


def _line(line: int) -> Rec:
    return Rec(line, {})


def _check_missing(ctx: Ctx, wanted: Sequence[tuple[Rec, str]], found: dict[str, str],
                   field: str, source: Optional[str], *, what: str) -> None:
    missing = [(rec, key) for rec, key in wanted if key not in found]
    if not missing:
        return
    where = f"source {source!r}" if source else "any source"
    if len(missing) == len(wanted):
        rec, key = missing[0]
        shown = key if what == "id" else "(by text)"
        raise ctx.file.error(f"no record matches a stored question ({len(missing)} tried; "
                             f"first {shown} not found in {where}); import the questions "
                             f"first or pass --source", rec, field)
    ctx.summary.skipped += len(missing)
    lines = ", ".join(str(rec.line) for rec, _ in missing[:10])
    more = " ..." if len(missing) > 10 else ""
    ctx.summary.notes.append(f"{len(missing)} record(s) name a question not stored in {where} "
                             f"and were skipped (lines {lines}{more})")


def check_single_model(ctx: Ctx, names: Sequence[tuple[Rec, str]], field: str, *,
                       multi: bool = False) -> Optional[str]:
    """Apply ``--model`` to a file's model ids.

    Returns the model id to keep (a name to select, for multi-model formats) or None for all.
    Raises InputError when ``--model`` is given for a file that holds several models and the
    format cannot select one by name.
    """
    distinct = list(dict.fromkeys(n for _, n in names))
    if ctx.model is None or len(distinct) <= 1:
        return None
    if multi and ctx.model in distinct:
        return ctx.model
    rec = names[0][0]
    raise ctx.file.error(f"--model {ctx.model!r} given but the file holds answers of several "
                         f"models ({', '.join(distinct[:8])}); split the file"
                         + (" or name one of them" if multi else ""), rec, field)


def store_answers(ctx: Ctx, records: list[AnswerRecord], backend_spec: Optional[dict] = None
                  ) -> None:
    """Register the models and store answers, each under its version (imported answers: the
    hash of their text). Counts go to the summary: new, already stored, and ``changed`` (a new
    version of a (question, model) that had another imported one). The version each
    (question, model) of the file has is recorded in ``summary.answer_versions``.

    Raises InputError when a record carries question text that differs from the stored
    question (an answer file cannot silently change a question), naming the record's line."""
    if not records:
        return
    check_question_texts(ctx, records)
    if ctx.dry:  # versions only: nothing is written
        for r in records:
            ctx.summary.answer_versions[(r.question_id, r.model)] = r.version
        return
    names = {r.model for r in records}
    ensure_models(ctx.conn, {n: {"backend": "file", "spec": backend_spec or
                                 {"file": ctx.path, "format": ctx.fmt}} for n in names})
    rows = answer_rows(records)
    stored = _stored_versions(ctx, names)
    changed = 0
    for row in rows:
        key = (row["question_id"], row["model"])
        ctx.summary.answer_versions[key] = row["params_hash"]
        have = stored.get(key, ())
        if row["params_hash"] not in have and any(is_content_version(v) for v in have):
            changed += 1
    before = count(ctx.conn, Answer.__table__)
    # Same rule as ingest.add_answers (one answer per question, model and version; a stored
    # one is kept), through the bulk path: an answer file can hold 100,000 rows.
    bulk_insert(ctx.conn, Answer.__table__, rows,
                ignore_conflicts=["question_id", "model", "params_hash"])
    inserted = count(ctx.conn, Answer.__table__) - before
    ctx.summary.inserted += inserted
    ctx.summary.unchanged += len(rows) - inserted
    ctx.summary.changed += changed


def _stored_versions(ctx: Ctx, models: Iterable[str]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for part in _chunks(sorted(models)):
        for qid, model, ph in ctx.conn.execute(select(
                Answer.question_id, Answer.model, Answer.params_hash).where(
                Answer.model.in_(part))):
            out[(qid, model)].add(ph)
    return out


def check_question_texts(ctx: Ctx, records: Sequence[AnswerRecord]) -> None:
    """Records that carry their question's text must carry the stored text."""
    carried = [r for r in records if r.question_turns is not None]
    if not carried:
        return
    stored: dict[str, str] = {}
    qids = sorted({r.question_id for r in carried})
    for part in _chunks(qids):
        for qid, h, doc in ctx.conn.execute(select(Question.id, Question.content_hash,
                                                   Question.document_id)
                                            .where(Question.id.in_(part))):
            stored[qid] = h if doc is None else ""
    for r in carried:
        want = stored.get(r.question_id)
        if want and ids.question_content_hash(list(r.question_turns or []), None) != want:
            raise ctx.file.error(
                f"the question text here differs from stored question {r.question_id!r}; an "
                f"answer file cannot change a question (import the changed questions under "
                f"another source, or fix the file)", _line(r.line) if r.line else None,
                "question text")


def answer_ids(ctx: Ctx, pairs: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], int]:
    """Stored answer ids for ``(question id, model)`` or ``(question id, model, version)``.

    With a version (the hash of the text a verdict file carried) the answer is that version.
    Without one: the only imported version when there is exactly one, else the only answer;
    when several versions could be meant the key is left out (the judgment then names no
    answer id, and a config's leaderboard cannot count it)."""
    wanted = set(pairs)
    if not wanted:
        return {}
    models = sorted({w[1] for w in wanted})
    cands: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    qm = {(w[0], w[1]) for w in wanted}
    for part in _chunks(models):
        rows = ctx.conn.execute(select(Answer.id, Answer.question_id, Answer.model,
                                       Answer.params_hash).where(Answer.model.in_(part))).all()
        for aid, qid, model, ph in rows:
            if (qid, model) in qm:
                cands[(qid, model)].append((aid, ph))
    out: dict[tuple[str, ...], int] = {}
    for key in wanted:
        lst = cands.get((key[0], key[1]), [])
        if len(key) > 2:
            exact = [aid for aid, ph in lst if ph == key[2]]
            if exact:
                out[key] = exact[0]
            continue
        imported = [aid for aid, ph in lst if is_content_version(ph)]
        if len(imported) == 1:
            out[key] = imported[0]
        elif not imported and len(lst) == 1:
            out[key] = lst[0][0]
    return out
