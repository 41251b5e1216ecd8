"""Reading the store for the battle browser: plain functions, no Streamlit (see ``cache``).

The viewer never writes the store: it opens it without migrating (``Store.open(url,
upgrade=False, readonly=True)``) and refuses, with a message that says what to run, a store
that has no arena tables yet or a SQLite file that does not exist.

Two kinds of reads:
- *frames* for whole-store views (leaderboard, matrices, battle list, judges, length): one row
  per judgment with the small columns only (no rationale, raw output or answer text), plus
  the question's category and each answer's length;
- *details* for one battle: the question, both answers, references and every judgment with its
  rationale and raw output, loaded on demand.

``change_marker`` is the cheap query (counts and max ids) whose value keys the caches, so a
rerun re-reads nothing unless a row was appended since.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pandas as pd
from sqlalchemy import Engine, case, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from arena.errors import ArenaError
from arena.store import Store
from arena.store.db import read_transaction
from arena.store.annotation_schema import User
from arena.store.schema import Answer, Battle, Judgment, Question, Reference

log = logging.getLogger(__name__)

VERDICT_COLUMNS = [
    "id", "mode", "battle_id", "answer_id", "question_id", "model_a", "model_b",
    "answer_a_id", "answer_b_id", "turn", "first", "judge_kind", "judge_id",
    "template_version", "policy", "outcome", "strength", "preference", "score_a", "score_b",
    "parse_status",
    "annotator_id", "round", "supersedes_id",
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
    annotators): changes on any append, and when an admin excludes or re-admits an annotator
    (which changes what the leaderboard counts)."""
    with read_transaction(engine) as conn:
        jc, jm = conn.execute(select(func.count(Judgment.id), func.max(Judgment.id))).one()
        ac, am = conn.execute(select(func.count(Answer.id), func.max(Answer.id))).one()
        uc = ux = 0
        if inspect(conn).has_table(User.__tablename__):
            excluded = func.sum(case((User.excluded.is_(True), 1), else_=0))
            uc, ux = conn.execute(select(func.count(User.id), excluded)).one()
    return (int(jc or 0), int(jm or 0), int(ac or 0), int(am or 0), int(uc or 0), int(ux or 0))


def store_summary(engine: Engine) -> dict[str, Any]:
    """Small facts for the sidebar: categories, judges (kind, id), models, counts by status.

    Cheap (distinct values and grouped counts), so the first page drawn does not wait for the
    full verdict frame.
    """
    J = Judgment
    single = J.model_b.is_(None)
    with read_transaction(engine) as conn:
        cats = sorted({c or "" for c in conn.execute(select(Question.category).distinct())
                       .scalars()})
        # one pass over the judgments for every count the sidebar shows
        groups = conn.execute(select(J.judge_kind, J.judge_id, J.parse_status, single,
                                     func.count(), func.count(J.supersedes_id))
                              .group_by(J.judge_kind, J.judge_id, J.parse_status, single)).all()
        models = sorted(set(conn.execute(select(Battle.model_a).distinct()).scalars()) |
                        set(conn.execute(select(Battle.model_b).distinct()).scalars()))
    counts: dict[tuple[str, str], int] = {}
    for kind, _jid, status, _single, n, _sup in groups:
        counts[(str(kind), str(status))] = counts.get((str(kind), str(status)), 0) + int(n)
    return {"categories": cats,
            "judges": sorted({(str(k), str(i)) for k, i, *_ in groups}),
            "counts": [(k, st, n) for (k, st), n in sorted(counts.items())],
            "superseded": sum(int(g[5]) for g in groups),
            "single": sum(int(g[4]) for g in groups if g[3]),
            "pairwise": sum(int(g[4]) for g in groups if not g[3]), "models": models}


def load_verdicts(engine: Engine) -> pd.DataFrame:
    """Every judgment's small columns, with ``category``, ``len_a``/``len_b`` (characters of
    the answers judged) and ``annotator`` (pseudonym) added. Ordered by id.

    Nothing is filtered here: failed, dry-run and superseded rows are kept so the viewer can
    count and show them; the leaderboard applies the ratings module's selection instead.
    """
    cols = ", ".join(f"j.{c}" for c in VERDICT_COLUMNS)
    sql = (f"SELECT {cols}, q.category FROM judgments j "
           f"JOIN questions q ON q.id = j.question_id ORDER BY j.id")
    with read_transaction(engine) as conn:
        rows = _fetch(conn, sql)
        users = _annotators(conn)
        df = pd.DataFrame.from_records(rows, columns=[*VERDICT_COLUMNS, "category"])
        df["len_a"], df["len_b"] = _judged_lengths(conn, df)
    df["category"] = df["category"].fillna("").astype(str)
    df["annotator"] = df["annotator_id"].map(users) if users else None
    superseded = set(df["supersedes_id"].dropna().astype(int))
    df["superseded"] = df["id"].isin(superseded)
    return df


def _fetch(conn: Any, sql: str) -> list[tuple]:
    # Plain DB-API tuples: SQLAlchemy Row objects cost ~10x more to turn into a DataFrame,
    # which matters at 100,000 verdicts. ``sql`` is a constant without user input.
    cur = conn.connection.cursor()
    try:
        cur.execute(sql)
        return cur.fetchall()
    finally:
        cur.close()


def _judged_lengths(conn: Any, df: pd.DataFrame) -> list[Any]:
    # The ratings' own measurement (arena.rules.answer_length): the answers each judgment
    # names, the turn it judged; NaN where a judgment names no answer.
    import numpy as np

    from arena.ratings.answer_lengths import answer_lengths

    ids = lambda col: df[col].fillna(-1).to_numpy(dtype=np.int64)  # noqa: E731
    side_a = np.where(ids("answer_a_id") >= 0, ids("answer_a_id"), ids("answer_id"))
    turn = df["turn"].fillna(-1).to_numpy(dtype=np.int64)
    return answer_lengths(conn, [side_a, ids("answer_b_id")], turn)


def _annotators(conn: Any) -> dict[int, str]:
    if not inspect(conn).has_table(User.__tablename__):
        return {}
    return dict(conn.execute(select(User.id, User.pseudonym)).all())


@dataclass
class BattleDetail:
    """Everything shown for one battle (or one single-mode answer)."""

    battle_id: Optional[int]
    question_id: str
    category: str
    question_turns: list[Any]
    document: Optional[str]
    model_a: str
    model_b: Optional[str]
    answer_a: Optional[dict[str, Any]]
    answer_b: Optional[dict[str, Any]]
    references: list[dict[str, Any]] = field(default_factory=list)
    judgments: list[dict[str, Any]] = field(default_factory=list)


def load_battle(engine: Engine, battle_id: int) -> Optional[BattleDetail]:
    """The battle with its question, answers, references and every judgment (oldest first).

    Returns None when no such battle is stored.
    """
    with read_transaction(engine) as conn:
        b = conn.execute(select(Battle.__table__).where(Battle.id == battle_id)).mappings().first()
        if b is None:
            return None
        q = conn.execute(select(Question.__table__).where(
            Question.id == b["question_id"])).mappings().one()
        judgments = [dict(r) for r in conn.execute(
            select(Judgment.__table__).where(Judgment.battle_id == battle_id)
            .order_by(Judgment.id)).mappings()]
        users = _annotators(conn)
        answers = _answers_for(conn, b["question_id"], [b["model_a"], b["model_b"]], judgments)
        refs = [dict(r) for r in conn.execute(select(Reference.author, Reference.turns).where(
            Reference.question_id == b["question_id"])).mappings()]
        document = _document(conn, q["document_id"])
    for j in judgments:
        j["annotator"] = users.get(j["annotator_id"]) if j.get("annotator_id") else None
    return BattleDetail(battle_id=battle_id, question_id=q["id"], category=q["category"] or "",
                        question_turns=list(q["turns"] or []), document=document,
                        model_a=b["model_a"], model_b=b["model_b"],
                        answer_a=answers.get(b["model_a"]), answer_b=answers.get(b["model_b"]),
                        references=refs, judgments=judgments)


def _answers_for(conn: Any, question_id: str, models: list[str],
                 judgments: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    # Prefer the exact answers a judgment names; else the latest answer of each model.
    named: dict[str, int] = {}
    for j in judgments:
        if j.get("answer_a_id"):
            named.setdefault(j["model_a"], j["answer_a_id"])
        if j.get("answer_b_id") and j.get("model_b"):
            named.setdefault(j["model_b"], j["answer_b_id"])
    rows = conn.execute(select(Answer.__table__).where(
        Answer.question_id == question_id, Answer.model.in_(models))
        .order_by(Answer.id)).mappings().all()
    out: dict[str, dict[str, Any]] = {r["model"]: dict(r) for r in rows}  # latest wins
    by_id = {r["id"]: dict(r) for r in rows}
    for model, aid in named.items():
        if aid in by_id:
            out[model] = by_id[aid]
    return out


def _document(conn: Any, document_id: Optional[str]) -> Optional[str]:
    if not document_id:
        return None
    from arena.store.schema import Document

    return conn.execute(select(Document.text).where(Document.id == document_id)).scalar()

