"""Authoring instruction / reference pairs for long documents (L-Eval's ``web_annotate_jsonl``).

- ``open_set`` opens a long-document set: an L-Eval question file (records ``{input,
  instructions[], outputs[], source, evaluation}``; ``instructions`` may be empty or missing,
  for documents that have no pairs yet) imported under a source, or a source already in the
  store. Its documents get an order; the pairs they already have become version 1.
- ``save_pairs`` stores an author's edits of one document: a pair whose text changed gets a
  new version, a new question and its reference (author ``reference``); a pair emptied is a
  new, ``deleted`` version; new pairs (the set's ``new_pairs_num`` empty ones offered per
  page) get the next positions. Nothing is overwritten: old questions and references stay, and
  ``superseded_questions`` names them so tasks leave them out (``annotate.tasks``).
- ``begin`` / ``next_open`` give the first document, or the first one not marked done.
- ``export_leval`` writes the set's current pairs as L-Eval jsonl (one record per document).
Bad input raises InputError naming the file and line, or the pair and field; nothing is
written then (the caller's transaction rolls back).
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from sqlalchemy import Connection, and_, func, select, update
from sqlalchemy.orm import aliased

from arena import ids
from arena.errors import InputError
from arena.formats import import_questions
from arena.store.annotation_schema import AuthoredPair, AuthoringDocument, AuthoringSet
from arena.store.ingest import QuestionRecord, add_questions, insert_ignore
from arena.store.schema import Document, Question, Reference, utcnow
from annotate.validate import check_text

log = logging.getLogger(__name__)

MAX_NEW_PAIRS = 20
MAX_INSTRUCTION = 20_000
MAX_REFERENCE = 100_000
REFERENCE_AUTHOR = "reference"


@dataclass(frozen=True)
class Pair:
    position: int
    version: int
    question_id: Optional[str]
    instruction: str
    reference: str


def _records(path: str | Path) -> list[dict[str, Any]]:
    """The L-Eval records of ``path``, checked: every line an object with a text ``input``."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise InputError(f"not JSON: {exc}", file=path, line=n) from None
            if not isinstance(rec, dict):
                raise InputError("expected a JSON object", file=path, line=n)
            if not isinstance(rec.get("input"), str) or not rec["input"].strip():
                raise InputError("expected the document's text", file=path, line=n,
                                 field="input")
            for key in ("instructions", "outputs"):
                v = rec.get(key)
                if v is not None and (not isinstance(v, list)
                                      or not all(isinstance(x, str) for x in v)):
                    raise InputError("expected a list of strings", file=path, line=n, field=key)
            check_text(rec["input"], "input", 10_000_000)
            rec["_line"] = n
            out.append(rec)
    if not out:
        raise InputError("no document in the file", file=path)
    return out


def _import_pairs(conn: Connection, path: Path, recs: list[dict[str, Any]], source: str) -> None:
    """The file's existing pairs, through the project's L-Eval importer (its ids and rules).
    That importer needs ``instructions`` in every record; documents without pairs get empty
    lists in a copy with the same name and line numbers, so its messages still fit."""
    if all(isinstance(r.get("instructions"), list) for r in recs):
        import_questions(conn, path, "leval", source=source)
        return
    with tempfile.TemporaryDirectory(prefix="arena-authoring-") as tmp:
        copy = Path(tmp) / path.name
        lines = path.read_text(encoding="utf-8").split("\n")
        for r in recs:
            if not isinstance(r.get("instructions"), list):
                fixed = {k: v for k, v in r.items() if k != "_line"}
                fixed.update(instructions=[], outputs=[])
                lines[r["_line"] - 1] = json.dumps(fixed, ensure_ascii=False)
        copy.write_text("\n".join(lines), encoding="utf-8")
        import_questions(conn, copy, "leval", source=source)


def _add_documents(conn: Connection, set_id: int, docs: list[tuple[str, str, Optional[str]]],
                   source: str) -> None:
    """Store (text, task, evaluation) documents (once per text) and give them the set's
    order; each document's stored questions of the source become version-1 pairs."""
    seen: set[str] = set()
    seq = 0
    for text, task, evaluation in docs:
        doc_id = ids.document_id(text)
        if doc_id in seen:
            continue
        seen.add(doc_id)
        insert_ignore(conn, Document.__table__, [{"id": doc_id, "source": source, "text": text,
                                                  "meta": {}}], ["id"])
        row_id = conn.execute(AuthoringDocument.__table__.insert().values(
            set_id=set_id, document_id=doc_id, seq=seq, task=task[:200],
            evaluation=(evaluation or None) and str(evaluation)[:80])
            .returning(AuthoringDocument.id)).scalar_one()
        seq += 1
        qids = conn.execute(select(Question.id).where(
            Question.source == source, Question.document_id == doc_id,
            Question.id.not_in(superseded_questions()))
            .order_by(Question.seq, Question.id)).scalars().all()
        if qids:
            conn.execute(AuthoredPair.__table__.insert(), [
                {"doc_id": row_id, "position": i, "version": 1, "question_id": q,
                 "deleted": False, "created_at": utcnow()} for i, q in enumerate(qids)])


def open_set(conn: Connection, name: str, *, source: str, path: str | Path | None = None,
             new_pairs_num: int = 1, created_by: Optional[int] = None) -> int:
    """Open a set from an L-Eval file (imported under ``source``) or, without ``path``, from
    the documents already stored under ``source``; return its id."""
    check_text(name, "name", 200)
    if not name.strip():
        raise InputError("give the set a name", field="name")
    check_text(source, "source", 200)
    if not source or "/" in source:
        raise InputError("a source name without '/'", field="source")
    if not 0 <= int(new_pairs_num) <= MAX_NEW_PAIRS:
        raise InputError(f"new pairs per document must be from 0 to {MAX_NEW_PAIRS}",
                         field="new_pairs_num")
    set_id = conn.execute(AuthoringSet.__table__.insert().values(
        name=name.strip(), source=source, new_pairs_num=int(new_pairs_num),
        created_by=created_by, created_at=utcnow()).returning(AuthoringSet.id)).scalar_one()
    if path is not None:
        recs = _records(path)
        if any(r.get("instructions") for r in recs):
            _import_pairs(conn, Path(path), recs, source)
        docs = [(r["input"], str(r.get("source") or source), r.get("evaluation")) for r in recs]
    else:
        first: dict[str, dict[str, Any]] = {}  # document id -> the meta of its first question
        for doc_id, meta in conn.execute(select(Question.document_id, Question.meta).where(
                Question.source == source, Question.document_id.is_not(None))
                .order_by(Question.seq, Question.id)):
            first.setdefault(doc_id, meta or {})
        texts = dict(conn.execute(select(Document.id, Document.text)
                                  .where(Document.id.in_(list(first)))).all()) if first else {}
        docs = [(texts[d], str(m.get("task") or source), m.get("evaluation"))
                for d, m in first.items()]
        if not docs:
            raise InputError(f"source {source!r} has no questions with a document",
                             field="source")
    _add_documents(conn, int(set_id), docs, source)
    log.info("opened authoring set %d %r over source %r", set_id, name, source)
    return int(set_id)


def _latest():  # type: ignore[no-untyped-def]
    """AuthoredPair rows that are the highest version of their (document, position)."""
    newer = aliased(AuthoredPair)
    return ~select(newer.id).where(newer.doc_id == AuthoredPair.doc_id,
                                   newer.position == AuthoredPair.position,
                                   newer.version > AuthoredPair.version).exists()


def superseded_questions():  # type: ignore[no-untyped-def]
    """A select of the question ids of authored pairs that a later version replaced."""
    return select(AuthoredPair.question_id).where(AuthoredPair.question_id.is_not(None),
                                                  ~_latest())


def current_pairs(conn: Connection, doc_row: int) -> list[Pair]:
    """The document's current pairs (not deleted), by position."""
    rows = conn.execute(
        select(AuthoredPair.position, AuthoredPair.version, AuthoredPair.question_id,
               Question.turns, Reference.turns.label("ref"))
        .outerjoin(Question, Question.id == AuthoredPair.question_id)
        .outerjoin(Reference, and_(Reference.question_id == AuthoredPair.question_id,
                                   Reference.author == REFERENCE_AUTHOR))
        .where(AuthoredPair.doc_id == doc_row, AuthoredPair.deleted.is_(False), _latest())
        .order_by(AuthoredPair.position)).all()
    return [Pair(int(p), int(v), q, str((t or [""])[0]), str((r or [""])[0]))
            for p, v, q, t, r in rows]


def document(conn: Connection, set_id: int, seq: int) -> Any:
    """The set's document ``seq`` (row with text), or LookupError."""
    row = conn.execute(
        select(AuthoringDocument, Document.text, AuthoringSet.name.label("set_name"),
               AuthoringSet.source, AuthoringSet.new_pairs_num)
        .join(Document, Document.id == AuthoringDocument.document_id)
        .join(AuthoringSet, AuthoringSet.id == AuthoringDocument.set_id)
        .where(AuthoringDocument.set_id == set_id, AuthoringDocument.seq == seq)).first()
    if row is None:
        raise LookupError((set_id, seq))
    return row


def documents(conn: Connection, set_id: int) -> list[Any]:
    """The set's documents in order, with their number of current pairs and a snippet."""
    counts = (select(AuthoredPair.doc_id, func.count().label("pairs"))
              .where(AuthoredPair.deleted.is_(False), _latest())
              .group_by(AuthoredPair.doc_id).subquery())
    return list(conn.execute(
        select(AuthoringDocument.id, AuthoringDocument.seq, AuthoringDocument.task,
               AuthoringDocument.done_at, func.substr(Document.text, 1, 160).label("start"),
               func.length(Document.text).label("chars"),
               func.coalesce(counts.c.pairs, 0).label("pairs"))
        .join(Document, Document.id == AuthoringDocument.document_id)
        .outerjoin(counts, counts.c.doc_id == AuthoringDocument.id)
        .where(AuthoringDocument.set_id == set_id).order_by(AuthoringDocument.seq)).all())


def next_open(conn: Connection, set_id: int) -> Optional[int]:
    """``continue``: the first document not marked done (None when all are)."""
    got = conn.execute(select(func.min(AuthoringDocument.seq)).where(
        AuthoringDocument.set_id == set_id, AuthoringDocument.done_at.is_(None))).scalar()
    return int(got) if got is not None else None


def _new_question(conn: Connection, st: Any, doc: Any, position: int, version: int,
                  instruction: str, reference: str) -> str:
    local = f"authored-{st.id}-{doc.seq}-{position}-v{version}"
    meta = {"task": doc.task or st.source, "index": position, "authoring_set": st.id,
            "version": version}
    if doc.evaluation:
        meta["evaluation"] = doc.evaluation
    add_questions(conn, [QuestionRecord(
        turns=[instruction], local_id=local, category=doc.task or st.source,
        document=doc.text, meta=meta,
        references={REFERENCE_AUTHOR: [reference]} if reference else {})], st.source)
    return ids.question_id(st.source, local)


def save_pairs(conn: Connection, set_id: int, seq: int, pairs: Sequence[tuple[str, str]],
               author_id: Optional[int], *, done: bool = False) -> dict[str, int]:
    """Save one document's pairs, given in page order (existing positions first, then the
    new ones); return counts of ``changed``, ``added``, ``deleted`` pairs."""
    st = conn.execute(select(AuthoringSet).where(AuthoringSet.id == set_id)).first()
    if st is None:
        raise LookupError(set_id)
    doc = document(conn, set_id, seq)
    cur = {p.position: p for p in current_pairs(conn, doc.id)}
    positions = sorted(cur)
    top = conn.execute(select(func.max(AuthoredPair.position))
                       .where(AuthoredPair.doc_id == doc.id)).scalar()
    next_pos = (int(top) + 1) if top is not None else 0
    counts = {"changed": 0, "added": 0, "deleted": 0}
    rows: list[dict[str, Any]] = []
    for k, (instruction, reference) in enumerate(pairs):
        check_text(instruction, f"pair {k + 1} instruction", MAX_INSTRUCTION)
        check_text(reference, f"pair {k + 1} reference", MAX_REFERENCE)
        instruction, reference = instruction.replace("\r", "").strip(), \
            reference.replace("\r", "").strip()
        if reference and not instruction:
            raise InputError("a reference needs its instruction",
                             field=f"pair {k + 1} instruction")
        old = cur.get(positions[k]) if k < len(positions) else None
        if old is None:
            if not instruction:
                continue  # an empty new pair
            qid = _new_question(conn, st, doc, next_pos, 1, instruction, reference)
            rows.append({"doc_id": doc.id, "position": next_pos, "version": 1,
                         "question_id": qid, "deleted": False})
            next_pos += 1
            counts["added"] += 1
        elif not instruction:
            rows.append({"doc_id": doc.id, "position": old.position, "version": old.version + 1,
                         "question_id": None, "deleted": True})
            counts["deleted"] += 1
        elif (instruction, reference) != (old.instruction, old.reference):
            qid = _new_question(conn, st, doc, old.position, old.version + 1, instruction,
                                reference)
            rows.append({"doc_id": doc.id, "position": old.position, "version": old.version + 1,
                         "question_id": qid, "deleted": False})
            counts["changed"] += 1
    if rows:
        now = utcnow()
        conn.execute(AuthoredPair.__table__.insert(),
                     [{**r, "author_id": author_id, "created_at": now} for r in rows])
    if done:
        conn.execute(update(AuthoringDocument).where(AuthoringDocument.id == doc.id)
                     .values(done_at=utcnow(), done_by=author_id))
    return counts


def export_leval(conn: Connection, set_id: int) -> list[dict[str, Any]]:
    """The set as L-Eval records, one per document in order: ``{input, instructions,
    outputs, source, evaluation}`` from the current pairs. Raises LookupError."""
    st = conn.execute(select(AuthoringSet).where(AuthoringSet.id == set_id)).first()
    if st is None:
        raise LookupError(set_id)
    out = []
    for d in conn.execute(select(AuthoringDocument, Document.text)
                          .join(Document, Document.id == AuthoringDocument.document_id)
                          .where(AuthoringDocument.set_id == set_id)
                          .order_by(AuthoringDocument.seq)).all():
        pairs = current_pairs(conn, d.id)
        rec: dict[str, Any] = {"instructions": [p.instruction for p in pairs],
                               "outputs": [p.reference for p in pairs], "input": d.text,
                               "source": d.task or st.source}
        if d.evaluation:
            rec["evaluation"] = d.evaluation
        out.append(rec)
    return out


def export_text(conn: Connection, set_id: int) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in export_leval(conn, set_id))
