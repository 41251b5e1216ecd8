"""Bulk writes into the store: questions (with documents and references), answers, judgments.

Importers and stages build plain records and hand them here; this module owns the rules:
- question ids are namespaced by source; an id re-imported with different text is an error
  naming both texts' origins, and nothing is written (callers pass one transaction);
- a long document is stored once and shared by its questions;
- answers are unique on (question, model, version): a second copy is skipped, not doubled; an
  imported answer's version is the hash of its text (``arena.identity``), so a changed text is
  a new version stored beside the old one (``ImportSummary.changed`` counts them);
- judgments are appended; a human ``submission_id`` is unique so a retried submit stores one row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

from sqlalchemy import Connection, Table, select, text
from sqlalchemy.dialects import postgresql, sqlite

from arena import ids
from arena.errors import InputError
from arena.identity import answer_content_hash
from arena.store.schema import (Answer, Battle, Document, Judgment, ModelRow, Question,
                                Reference, utcnow)

CHUNK = 5000


@dataclass
class QuestionRecord:
    """A question as read from a file. ``local_id`` None means: derive one from the content."""

    turns: list[str]
    local_id: Optional[str] = None
    category: str = ""
    document: Optional[str] = None  # long context text (stored once, shared)
    meta: dict[str, Any] = field(default_factory=dict)
    references: dict[str, list[str]] = field(default_factory=dict)  # author -> turns
    line: Optional[int] = None  # where it came from, for error messages


@dataclass
class AnswerRecord:
    """An answer to store. ``params_hash`` is its version: the generation parameter hash of a
    generated answer; None for imported ones, whose version is the hash of their turns.
    ``question_turns``: the question text a file carried beside the answer (checked against
    the stored question, so an answer file cannot silently change a question)."""

    question_id: str  # full, namespaced id
    model: str
    turns: list[str]
    params_hash: Optional[str] = None
    reasoning: Optional[list[Optional[str]]] = None
    finish_reason: Optional[str] = None
    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None
    latency_s: Optional[float] = None
    truncated: bool = False
    origin: str = "imported"
    meta: dict[str, Any] = field(default_factory=dict)
    question_turns: Optional[list[str]] = None
    line: Optional[int] = None  # where it came from, for error messages (not stored)

    @property
    def version(self) -> str:
        return self.params_hash or answer_content_hash(self.turns)


@dataclass
class ImportSummary:
    """What an import did. ``changed``: answers stored as a new version of a (question, model)
    that already had another imported version. ``answer_versions``: the version each
    (question id, model) of the file has now (what a ``backend: file`` model selects)."""

    inserted: int = 0
    unchanged: int = 0
    skipped: int = 0
    changed: int = 0
    notes: list[str] = field(default_factory=list)
    answer_versions: dict[tuple[str, str], str] = field(default_factory=dict)

    def __str__(self) -> str:
        s = f"{self.inserted} new, {self.unchanged} already stored"
        if self.skipped:
            s += f", {self.skipped} skipped"
        if self.changed:
            s += (f"; {self.changed} answers changed (new versions stored; the earlier versions "
                  f"and their verdicts stay in the store, outside this config's leaderboard)")
        return s


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]],
                  conflict_cols: Sequence[str], *, count: bool = False,
                  where: Any = None) -> int:
    """INSERT ... ON CONFLICT DO NOTHING, on SQLite and PostgreSQL.

    With ``count=True`` returns how many rows were actually inserted (via RETURNING, so it is
    exact under concurrent writers); otherwise returns 0 and skips the RETURNING round trip.
    ``where``: the predicate of a partial unique index the conflict target names.
    """
    if not rows:
        return 0
    dialect = conn.dialect.name
    mod = postgresql if dialect == "postgresql" else sqlite
    inserted = 0
    for start in range(0, len(rows), CHUNK):
        stmt = mod.insert(table).on_conflict_do_nothing(index_elements=list(conflict_cols),
                                                        index_where=where)
        batch = list(rows[start:start + CHUNK])
        if count:
            pk = list(table.primary_key.columns)[0]
            inserted += len(conn.execute(stmt.returning(pk), batch).all())
        else:
            conn.execute(stmt, batch)
    return inserted


def ensure_models(conn: Connection, models: dict[str, dict[str, Any]]) -> None:
    """Register model names (name -> {backend, spec}); existing rows are left as they are."""
    rows = [{"name": n, "backend": v.get("backend", "file"), "spec": v.get("spec", {}),
             "created_at": utcnow()} for n, v in models.items()]
    insert_ignore(conn, ModelRow.__table__, rows, ["name"])


def add_questions(conn: Connection, records: Iterable[QuestionRecord], source: str, *,
                  file: str = "<input>", dry: bool = False) -> ImportSummary:
    """Store questions of one source. Raises InputError on an id clash; caller rolls back.

    Returns counts of new and already-stored questions. Documents and references are stored
    alongside (documents once per text; references once per question and author). ``dry``:
    check and count, write nothing (``inserted`` then counts what would be new).
    """
    if not source or "/" in source:
        raise InputError(f"source name {source!r} must be non-empty and contain no '/'",
                         file=file, field="source")
    summary = ImportSummary()
    recs = list(records)
    docs: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    refs: list[dict[str, Any]] = []
    seen: dict[str, tuple[str, Optional[int]]] = {}
    now = utcnow()
    for seq, r in enumerate(recs):
        doc_id = None
        if r.document is not None:
            doc_id = ids.document_id(r.document)
            docs.setdefault(doc_id, r.document)
        chash = ids.question_content_hash(r.turns, doc_id)
        local = r.local_id if r.local_id not in (None, "") else ids.content_id(r.turns, doc_id)
        qid = ids.question_id(source, str(local))
        if qid in seen:
            if seen[qid][0] != chash:
                raise InputError(f"duplicate id {local!r} with different text (first at line "
                                 f"{seen[qid][1]})", file=file, line=r.line, field="id")
            summary.skipped += 1
            continue
        seen[qid] = (chash, r.line)
        rows.append({"id": qid, "source": source, "local_id": str(local), "category": r.category,
                     "turns": r.turns, "document_id": doc_id, "meta": r.meta,
                     "content_hash": chash, "seq": seq, "created_at": now})
        for author, turns in r.references.items():
            refs.append({"question_id": qid, "author": author, "turns": turns, "created_at": now})

    existing = _existing_hashes(conn, source)
    new_rows = []
    for row in rows:
        old = existing.get(row["id"])
        if old is None:
            new_rows.append(row)
        elif old != row["content_hash"]:
            line = seen[row["id"]][1]
            stored = conn.execute(select(Question.turns, Question.created_at).where(
                Question.id == row["id"])).first()
            raise InputError(
                f"question id {row['local_id']!r} is already stored (source {source!r}, imported "
                f"{stored[1]:%Y-%m-%d %H:%M}) as {_snippet(stored[0])} but this file has "
                f"{_snippet(row['turns'])}; re-import under another --source or fix the id",
                file=file, line=line, field="id")
        else:
            summary.unchanged += 1
    if dry:
        summary.inserted = len(new_rows)
        return summary
    if docs:
        have = set()
        keys = list(docs)
        for start in range(0, len(keys), CHUNK):
            have |= set(conn.execute(select(Document.id).where(
                Document.id.in_(keys[start:start + CHUNK]))).scalars())
        insert_ignore(conn, Document.__table__,
                      [{"id": k, "source": source, "text": v, "meta": {}}
                       for k, v in docs.items() if k not in have], ["id"])
    # Insert-if-absent: another process may import the same file at this moment (several
    # workers starting on one config). What it stored must then be the same text.
    inserted = insert_ignore(conn, Question.__table__, new_rows, ["id"], count=True)
    if inserted < len(new_rows):
        raced = _existing_hashes(conn, source)
        for row in new_rows:
            if raced.get(row["id"]) != row["content_hash"]:
                raise InputError(f"question id {row['local_id']!r} was stored with another "
                                 f"text by a concurrent import (source {source!r})", file=file,
                                 line=seen[row["id"]][1], field="id")
    summary.inserted = inserted
    summary.unchanged += len(new_rows) - inserted
    if refs:
        insert_ignore(conn, Reference.__table__, refs, ["question_id", "author"])
    return summary


def _snippet(turns: Any, n: int = 60) -> str:
    text = " / ".join(str(t) for t in (turns or []))
    return repr(text if len(text) <= n else text[:n] + "...")


def _existing_hashes(conn: Connection, source: str) -> dict[str, str]:
    # Plain driver cursor: 100k rows through the ORM row machinery costs ~0.4 s more.
    cur = conn.exec_driver_sql(
        "SELECT id, content_hash FROM questions WHERE source = " +
        ("%(s)s" if conn.dialect.name == "postgresql" else ":s"), {"s": source})
    return dict(cur.fetchall())


def add_references(conn: Connection, rows: Iterable[tuple[str, str, list[str]]]) -> int:
    """Store (question_id, author, turns) references; an existing pair is kept. Returns count."""
    now = utcnow()
    data = [{"question_id": q, "author": a, "turns": t, "created_at": now} for q, a, t in rows]
    return insert_ignore(conn, Reference.__table__, data, ["question_id", "author"], count=True)


def answer_rows(records: Iterable[AnswerRecord]) -> list[dict[str, Any]]:
    """Answer table rows of ``records`` (the version computed for imported ones)."""
    now = utcnow()
    rows = []
    for r in records:
        rows.append({"question_id": r.question_id, "model": r.model, "params_hash": r.version,
                     "turns": r.turns, "reasoning": r.reasoning, "finish_reason": r.finish_reason,
                     "prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens,
                     "latency_s": r.latency_s, "truncated": r.truncated, "origin": r.origin,
                     "meta": r.meta, "created_at": now})
    return rows


def add_answers(conn: Connection, records: Iterable[AnswerRecord]) -> ImportSummary:
    """Store answers; one already stored for (question, model, version) is kept as is."""
    rows = answer_rows(records)
    inserted = insert_ignore(conn, Answer.__table__, rows,
                             ["question_id", "model", "params_hash"], count=True)
    return ImportSummary(inserted=inserted, unchanged=len(rows) - inserted)


USABLE = text("parse_status = 'ok'")  # the predicate of the unique index on judgment keys


def add_judgments(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Append judgment rows (dicts of Judgment columns). A usable row whose judgment key is
    already stored is skipped, by the database (another worker judged it first); so is a row
    whose ``submission_id`` is stored (idempotent submit). Returns the number inserted."""
    now = utcnow()
    data = [{"meta": {}, "created_at": now, "parse_status": "ok", **r} for r in rows]
    # executemany needs one set of keys: rows that leave a nullable column out get NULL.
    keys = set().union(*(d.keys() for d in data)) if data else set()
    data = [d if len(d) == len(keys) else {k: d.get(k) for k in keys} for d in data]
    with_sub = [r for r in data if r.get("submission_id")]
    keyed = [r for r in data if not r.get("submission_id") and r.get("cache_key")
             and r.get("parse_status") == "ok"]
    plain = [r for r in data if not r.get("submission_id") and not (
        r.get("cache_key") and r.get("parse_status") == "ok")]
    for start in range(0, len(plain), CHUNK):
        conn.execute(Judgment.__table__.insert(), plain[start:start + CHUNK])
    return (len(plain) + insert_ignore(conn, Judgment.__table__, keyed, ["cache_key"],
                                       count=True, where=USABLE)
            + insert_ignore(conn, Judgment.__table__, with_sub, ["submission_id"], count=True))


def ensure_battles(conn: Connection, triples: Iterable[tuple[str, str, str]], *,
                   create: bool = True) -> dict[tuple[str, str, str], int]:
    """Battle ids for (question id, model, model) in either order, creating missing battles
    (``create=False``: only stored ones are returned; readers never write).

    A battle is an unordered pair: it is stored once, in ``arena.identity.battle_pair`` order,
    and both orders of the triple map to it. Judgments keep their own model_a / model_b and
    display order."""
    from arena.identity import battle_pair

    wanted = {t: (t[0], *battle_pair(t[1], t[2])) for t in triples}
    if not wanted:
        return {}
    canon = sorted(set(wanted.values()))
    if create:
        insert_ignore(conn, Battle.__table__,
                      [{"question_id": q, "model_a": a, "model_b": b, "created_at": utcnow()}
                       for q, a, b in canon], ["question_id", "model_a", "model_b"])
    ids_: dict[tuple[str, str, str], int] = {}
    qids = sorted({c[0] for c in canon})
    want = set(canon)
    for start in range(0, len(qids), CHUNK):
        for bid, q, a, b in conn.execute(select(Battle.id, Battle.question_id, Battle.model_a,
                                                Battle.model_b).where(
                Battle.question_id.in_(qids[start:start + CHUNK]))):
            if (q, a, b) in want:
                ids_[(q, a, b)] = bid
    return {t: ids_[c] for t, c in wanted.items() if c in ids_}


def existing_answer_keys(conn: Connection, model: str, params_hash: str) -> set[str]:
    """Question ids that already have an answer from (model, params_hash)."""
    return set(conn.execute(select(Answer.question_id).where(
        Answer.model == model, Answer.params_hash == params_hash)).scalars())


__all__ = ["QuestionRecord", "AnswerRecord", "ImportSummary", "add_questions", "add_answers",
           "add_references", "add_judgments", "ensure_models", "insert_ignore",
           "existing_answer_keys", "ensure_battles"]
