"""Read what a judge needs from the store: questions, documents, references and answer texts.

Bulk reads in chunks (one query per 500 ids), cached per judge instance: planning calls
``template_version`` for every item, so the question facts it needs (category, number of turns,
whether a reference exists) must not cost one query each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional

from sqlalchemy import select

from arena.store import Store
from arena.store.schema import Answer, Document, Question, Reference

CHUNK = 500


@dataclass
class QuestionInfo:
    """A question as judges see it. ``references`` holds every stored reference (per author),
    the first-stored one first; LLM prompts use the first, metrics take the best over all."""

    id: str
    turns: list[str]
    category: str = ""
    document_id: Optional[str] = None
    meta: dict = field(default_factory=dict)
    references: list[list[str]] = field(default_factory=list)

    @property
    def reference(self) -> Optional[list[str]]:
        return self.references[0] if self.references else None


def _chunks(ids: list, n: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(ids), n):
        yield ids[i:i + n]


class StoreContext:
    """Cached bulk reads for one judge run."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.questions: dict[str, QuestionInfo] = {}
        self.answers: dict[int, list[str]] = {}
        self.documents: dict[str, str] = {}

    def load_questions(self, qids: Iterable[str]) -> None:
        want = sorted({q for q in qids if q not in self.questions})
        if not want:
            return
        with self.store.begin() as conn:
            for part in _chunks(want):
                for qid, turns, cat, doc, meta in conn.execute(
                        select(Question.id, Question.turns, Question.category,
                               Question.document_id, Question.meta)
                        .where(Question.id.in_(part))):
                    self.questions[qid] = QuestionInfo(id=qid, turns=list(turns or []),
                                                       category=cat or "", document_id=doc,
                                                       meta=dict(meta or {}))
                for qid, turns in conn.execute(
                        select(Reference.question_id, Reference.turns)
                        .where(Reference.question_id.in_(part)).order_by(Reference.id)):
                    if qid in self.questions:
                        self.questions[qid].references.append(list(turns or []))

    def question(self, qid: str) -> QuestionInfo:
        if qid not in self.questions:
            self.load_questions([qid])
        try:
            return self.questions[qid]
        except KeyError:
            raise LookupError(f"question {qid!r} is not in the store") from None

    def load_answers(self, answer_ids: Iterable[Optional[int]]) -> None:
        want = sorted({a for a in answer_ids if a is not None and a not in self.answers})
        if not want:
            return
        with self.store.begin() as conn:
            for part in _chunks(want):
                for aid, turns in conn.execute(select(Answer.id, Answer.turns)
                                               .where(Answer.id.in_(part))):
                    self.answers[aid] = list(turns or [])

    def answer(self, answer_id: int) -> list[str]:
        if answer_id not in self.answers:
            self.load_answers([answer_id])
        try:
            return self.answers[answer_id]
        except KeyError:
            raise LookupError(f"answer {answer_id} is not in the store") from None

    def load_documents(self, doc_ids: Iterable[Optional[str]]) -> None:
        want = sorted({d for d in doc_ids if d and d not in self.documents})
        if not want:
            return
        with self.store.begin() as conn:
            for part in _chunks(want):
                for did, text in conn.execute(select(Document.id, Document.text)
                                              .where(Document.id.in_(part))):
                    self.documents[did] = text

    def document(self, doc_id: Optional[str]) -> Optional[str]:
        if not doc_id:
            return None
        if doc_id not in self.documents:
            self.load_documents([doc_id])
        return self.documents.get(doc_id)
