"""Reading the store for the battle browser: plain functions, no Streamlit (see ``cache``).

The viewer never writes the store: it opens it without migrating (``Store.open(url,
upgrade=False, readonly=True)``) and refuses, with a message that says what to run, a store
that has no arena tables yet or a SQLite file that does not exist.

What counts is never decided here: the rating pages and the battle list read the verdicts
through ``arena.ratings.selection.load_verdicts`` (see ``ratings_view``). This module reads
what that frame leaves out but a reader wants to see (``left_out_rows``: failed verdicts,
corrected ones, those of excluded annotators), the sidebar's small facts, question and answer
text for previews and search, and one battle (or one single-mode verdict) in full.

``change_marker`` is the cheap query (counts and max ids) whose value keys the caches, so a
rerun re-reads nothing unless a row was appended since.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pandas as pd
from sqlalchemy import Engine, and_, case, func, inspect, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from arena.errors import ArenaError
from arena.identity import judge_label
from arena.ratings.selection import OUTCOME_NAMES
from arena.store import Store
from arena.store.db import read_transaction
from arena.store.annotation_schema import User
from arena.store.schema import (Answer, Battle, Document, Judgment, ModelRow, Question,
                                Reference)

log = logging.getLogger(__name__)

LEFT_OUT_COLUMNS = [
    "id", "mode", "battle_id", "answer_id", "question_id", "model_a", "model_b",
    "answer_a_id", "answer_b_id", "turn", "first", "judge_kind", "judge_id", "fingerprint",
    "template_version", "outcome", "parse_status", "annotator_id", "cache_key", "score_a",
    "category", "superseded", "excluded",
]


class StoreNotReady(ArenaError):
    """The store cannot be shown: missing file or no arena tables. The message says why."""


def open_readonly(url: str) -> Store:
    """Open ``url`` for reading only; raises StoreNotReady rather than creating anything."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database or ""
        if db and db != ":memory:" and not db.startswith("file:") and \
                not Path(db).expanduser().exists():
            raise StoreNotReady(f"no store at {db}: run the arena first "
                                f"(python run_arena.py -c CONFIG) or pass --db URL")
    store = Store.open(url, upgrade=False, readonly=True)
    try:
        ready = inspect(store.engine).has_table(Judgment.__tablename__)
    except DBAPIError as exc:  # server down, wrong credentials, unreadable file
        store.close()
        raise StoreNotReady(f"cannot open the store {store.describe()}: "
                            f"{str(exc.orig).strip() or type(exc.orig).__name__}") from None
    if not ready:
        store.close()
        raise StoreNotReady(f"the store {store.describe()} has no arena tables yet: run "
                            f"`arena db upgrade` or the arena first")
    return store


def change_marker(engine: Engine) -> tuple[int, ...]:
    """(judgment count, max judgment id, answer count, max answer id, annotators, excluded
    annotators, question count): changes on any append, and when an admin excludes or
    re-admits an annotator (which changes what the leaderboard counts)."""
    with read_transaction(engine) as conn:
        jc, jm = conn.execute(select(func.count(Judgment.id), func.max(Judgment.id))).one()
        ac, am = conn.execute(select(func.count(Answer.id), func.max(Answer.id))).one()
        qc = conn.execute(select(func.count()).select_from(Question.__table__)).scalar()
        uc = ux = 0
        if _has_users(conn):
            excluded = func.sum(case((User.excluded.is_(True), 1), else_=0))
            uc, ux = conn.execute(select(func.count(User.id), excluded)).one()
    return (int(jc or 0), int(jm or 0), int(ac or 0), int(am or 0), int(uc or 0), int(ux or 0),
            int(qc or 0))


def _has_users(conn: Any) -> bool:
    return bool(inspect(conn).has_table(User.__tablename__))


def store_summary(engine: Engine) -> dict[str, Any]:
    """Small facts for the sidebar: categories, judges, models, counts by kind and status.

    ``judges`` is a list of (kind, label) with labels as the ratings name them
    (``kind:id#fingerprint``, humans ``kind:id``). One grouped pass over the judgments, so the
    first page drawn does not wait for a full verdict load.
    """
    J = Judgment
    single = J.model_b.is_(None)
    with read_transaction(engine) as conn:
        cats = sorted({c or "" for c in conn.execute(select(Question.category).distinct())
                       .scalars()})
        groups = conn.execute(select(J.judge_kind, J.judge_id, J.fingerprint, J.parse_status,
                                     single, func.count(), func.count(J.supersedes_id))
                              .group_by(J.judge_kind, J.judge_id, J.fingerprint,
                                        J.parse_status, single)).all()
        # the models table names every model the ingest API stored (cheap); judgments are
        # read only when it is empty (a store filled some other way)
        models = sorted(conn.execute(select(ModelRow.name)).scalars()) or sorted(
            set(conn.execute(select(J.model_a).distinct()).scalars()) |
            {m for m in conn.execute(select(J.model_b).distinct()).scalars() if m})
    counts: dict[tuple[str, str], int] = {}
    judges: set[tuple[str, str]] = set()
    for kind, jid, fp, status, _single, n, _sup in groups:
        counts[(str(kind), str(status))] = counts.get((str(kind), str(status)), 0) + int(n)
        judges.add((str(kind), judge_label(f"{kind}:{jid}", fp)))
    return {"categories": cats, "judges": sorted(judges),
            "counts": [(k, st, n) for (k, st), n in sorted(counts.items())],
            "superseded": sum(int(g[6]) for g in groups),
            "single": sum(int(g[5]) for g in groups if g[4]),
            "pairwise": sum(int(g[5]) for g in groups if not g[4]), "models": models,
            "dry_run": sum(n for (k, _s), n in counts.items() if k == "dry-run")}


def left_out_rows(engine: Engine) -> pd.DataFrame:
    """Judgments a reader wants listed although they may not count: failed ones (unparsed, no
    outcome, an outcome outside the vocabulary, a single verdict without a score), corrected
    ones (a later row supersedes them) and those of excluded annotators. A superset: callers
    drop the rows the ratings frame holds, which alone decides what counts."""
    J = Judgment.__table__.c
    superseded = select(J.supersedes_id).where(J.supersedes_id.is_not(None))
    pair = J.model_b.is_not(None)
    failed = or_(J.parse_status != "ok",
                 and_(pair, or_(J.outcome.is_(None), J.outcome.not_in(OUTCOME_NAMES))),
                 and_(~pair, J.score_a.is_(None)))
    with read_transaction(engine) as conn:
        excluded_ids: set[int] = set()
        if _has_users(conn):
            excluded_ids = set(conn.execute(select(User.id).where(User.excluded.is_(True)))
                               .scalars())
        conds = [failed, J.id.in_(superseded)]
        if excluded_ids:
            conds.append(J.annotator_id.in_(sorted(excluded_ids)))
        cols = [getattr(J, c) for c in LEFT_OUT_COLUMNS[:-3]]
        stmt = (select(*cols, Question.category)
                .select_from(Judgment.__table__.outerjoin(Question.__table__,
                                                          Question.id == J.question_id))
                .where(or_(*conds)).order_by(J.id))
        rows = conn.execute(stmt).all()
        sup = set(conn.execute(superseded).scalars())
    df = pd.DataFrame.from_records([tuple(r) for r in rows], columns=LEFT_OUT_COLUMNS[:-2])
    df["category"] = df["category"].fillna("").astype(str)
    df["superseded"] = df["id"].isin(sup)
    df["excluded"] = df["annotator_id"].isin(excluded_ids)
    return df


def annotators(engine: Engine) -> dict[int, str]:
    """Annotator id -> pseudonym (empty without the annotation tables)."""
    with read_transaction(engine) as conn:
        return _annotators(conn)


def _annotators(conn: Any) -> dict[int, str]:
    if not _has_users(conn):
        return {}
    return {int(i): str(p) for i, p in conn.execute(select(User.id, User.pseudonym)).all()}


def question_texts(engine: Engine) -> dict[str, str]:
    """Question id -> all its turns as one text (previews and search)."""
    with read_transaction(engine) as conn:
        rows = conn.execute(select(Question.id, Question.turns)).all()
    return {str(q): "\n".join(_turn_strings(t)) for q, t in rows}


def answer_texts(engine: Engine) -> list[tuple[str, str, str]]:
    """(question id, model, text of all turns) of every stored answer (search)."""
    with read_transaction(engine) as conn:
        rows = conn.execute(select(Answer.question_id, Answer.model, Answer.turns)).all()
    return [(str(q), str(m), "\n".join(_turn_strings(t))) for q, m, t in rows]


def _turn_strings(turns: Any) -> list[str]:
    if isinstance(turns, str):
        return [turns]
    return ["" if t is None else str(t) for t in (turns or [])]


@dataclass
class BattleDetail:
    """Everything shown for one battle: a question and an unordered pair of models.

    ``model_a``/``model_b`` are the pair in its canonical order (``arena.identity.battle_pair``);
    ``judgments`` holds every judgment on the pair in either orientation (oldest first), each a
    dict of its columns plus ``annotator`` (pseudonym)."""

    question_id: str
    category: str
    question_turns: list[Any]
    document: Optional[str]
    model_a: str
    model_b: str
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # model -> versions
    references: list[dict[str, Any]] = field(default_factory=list)
    judgments: list[dict[str, Any]] = field(default_factory=list)
    battle_ids: list[int] = field(default_factory=list)


def load_battle(engine: Engine, question_id: str, model_a: str, model_b: str
                ) -> Optional[BattleDetail]:
    """The battle of ``question_id`` between the two models (either order), with its
    question, every stored answer version of both models, references and every judgment.
    Returns None when the question is not stored."""
    J = Judgment
    pair = or_(and_(J.model_a == model_a, J.model_b == model_b),
               and_(J.model_a == model_b, J.model_b == model_a))
    with read_transaction(engine) as conn:
        q = conn.execute(select(Question.__table__).where(
            Question.id == question_id)).mappings().first()
        if q is None:
            return None
        judgments = [dict(r) for r in conn.execute(
            select(J.__table__).where(J.question_id == question_id, pair)
            .order_by(J.id)).mappings()]
        users = _annotators(conn)
        answers: dict[str, list[dict[str, Any]]] = {model_a: [], model_b: []}
        for r in conn.execute(select(Answer.__table__).where(
                Answer.question_id == question_id, Answer.model.in_([model_a, model_b]))
                .order_by(Answer.id)).mappings():
            answers[r["model"]].append(dict(r))
        refs = [dict(r) for r in conn.execute(select(Reference.author, Reference.turns).where(
            Reference.question_id == question_id)).mappings()]
        document = _document(conn, q["document_id"])
        bids = sorted(conn.execute(select(Battle.id).where(
            Battle.question_id == question_id,
            or_(and_(Battle.model_a == model_a, Battle.model_b == model_b),
                and_(Battle.model_a == model_b, Battle.model_b == model_a)))).scalars())
    for j in judgments:
        j["annotator"] = users.get(j["annotator_id"]) if j.get("annotator_id") else None
    return BattleDetail(question_id=q["id"], category=q["category"] or "",
                        question_turns=list(q["turns"] or []), document=document,
                        model_a=model_a, model_b=model_b, answers=answers, references=refs,
                        judgments=judgments, battle_ids=[int(b) for b in bids])


@dataclass
class SingleDetail:
    """One single-mode judgment with the answer it scored and the question."""

    judgment: dict[str, Any]
    question_id: str
    category: str
    question_turns: list[Any]
    answer: Optional[dict[str, Any]]
    references: list[dict[str, Any]] = field(default_factory=list)


def load_single(engine: Engine, judgment_id: int) -> Optional[SingleDetail]:
    """A single-mode judgment (``model_b`` empty) in full, or None when there is none."""
    with read_transaction(engine) as conn:
        j = conn.execute(select(Judgment.__table__).where(
            Judgment.id == judgment_id, Judgment.model_b.is_(None))).mappings().first()
        if j is None:
            return None
        j = dict(j)
        q = conn.execute(select(Question.__table__).where(
            Question.id == j["question_id"])).mappings().one()
        aid = j.get("answer_id") or j.get("answer_a_id")
        stmt = select(Answer.__table__)
        stmt = stmt.where(Answer.id == aid) if aid else stmt.where(
            Answer.question_id == j["question_id"], Answer.model == j["model_a"]
        ).order_by(Answer.id.desc())
        answer = conn.execute(stmt).mappings().first()
        refs = [dict(r) for r in conn.execute(select(Reference.author, Reference.turns).where(
            Reference.question_id == j["question_id"])).mappings()]
        users = _annotators(conn)
    j["annotator"] = users.get(j["annotator_id"]) if j.get("annotator_id") else None
    return SingleDetail(judgment=j, question_id=q["id"], category=q["category"] or "",
                        question_turns=list(q["turns"] or []),
                        answer=dict(answer) if answer else None, references=refs)


def _document(conn: Any, document_id: Optional[str]) -> Optional[str]:
    if not document_id:
        return None
    return conn.execute(select(Document.text).where(Document.id == document_id)).scalar()
