"""run scope and workers: answer versions, unordered battles, unique judgment keys, claims

New tables: ``judge_failures`` (judge calls that failed in transport: not judgments),
``claims`` (work held by a worker under a lease) and ``budget_rounds`` (caps shared by
concurrent workers). ``judgments`` gets the unique index ``uq_judgments_key_ok`` on
``cache_key`` among usable rows.

Rows stored before, all kept:
- imported answers stored under the version ``imported`` get their content version (the hash
  of their turns, ``arena.identity.answer_content_hash``, computed here with the same
  formula), so a later import of the same text finds them and a changed text is a new version;
- battles become unordered pairs: a battle stored as (question, b, a) with a < b is renamed to
  (question, a, b), or, when that battle exists too, merged into it (its judgments and task
  items point at the survivor); judgments and task items keep their own model_a / model_b;
- imported AlpacaEval verdicts that kept their fractional preference in ``scores`` get it in
  the ``preference`` column, where the ratings read it (``scores`` is left as it was);
- usable judgments with the same key (stored twice by concurrent runs before keys were
  unique) keep the first; the later copies become ``parse_status = 'duplicate'`` (kept for
  the record, never counted) so the unique index can be built.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_answers = sa.table("answers", sa.column("id", sa.Integer()), sa.column("turns", sa.JSON()),
                    sa.column("params_hash", sa.String(64)))
_battles = sa.table("battles", sa.column("id", sa.Integer()),
                    sa.column("question_id", sa.String(255)),
                    sa.column("model_a", sa.String(200)), sa.column("model_b", sa.String(200)))
_judgments = sa.table("judgments", sa.column("id", sa.Integer()),
                      sa.column("battle_id", sa.Integer()),
                      sa.column("cache_key", sa.String(64)),
                      sa.column("parse_status", sa.String(10)),
                      sa.column("judge_kind", sa.String(20)), sa.column("scores", sa.JSON()),
                      sa.column("model_b", sa.String(200)),
                      sa.column("preference", sa.Float()))
_items = sa.table("task_items", sa.column("id", sa.Integer()),
                  sa.column("battle_id", sa.Integer()))


def _content_version(turns: Any) -> str:
    # frozen copy of arena.identity.answer_content_hash (a revision never imports the code)
    if isinstance(turns, str):
        turns = json.loads(turns)
    h = hashlib.sha256()
    for t in turns or []:
        b = str(t).encode("utf-8")
        h.update(b"%d:" % len(b))
        h.update(b)
    return "c-" + h.hexdigest()[:32]


def upgrade() -> None:
    op.create_table(
        "judge_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cache_key", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("judge_id", sa.String(length=200), nullable=False),
        sa.Column("question_id", sa.String(length=255), nullable=False),
        sa.Column("model_a", sa.String(length=200), nullable=False),
        sa.Column("model_b", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_judge_failures_cache_key", "judge_failures", ["cache_key"])
    op.create_table(
        "claims",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"))
    op.create_table(
        "budget_rounds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", "generation", name="uq_budget_round"))

    conn = op.get_bind()
    # imported answers: their content version
    rows = conn.execute(sa.select(_answers.c.id, _answers.c.turns).where(
        _answers.c.params_hash == "imported")).all()
    for aid, turns in rows:
        conn.execute(_answers.update().where(_answers.c.id == aid).values(
            params_hash=_content_version(turns)))

    # battles: unordered pairs in (smaller name, larger name) order
    have = {(q, a, b): bid for bid, q, a, b in conn.execute(sa.select(
        _battles.c.id, _battles.c.question_id, _battles.c.model_a, _battles.c.model_b))}
    for (q, a, b), bid in sorted(have.items(), key=lambda kv: kv[1]):
        if a <= b:
            continue
        survivor = have.get((q, b, a))
        if survivor is None:
            conn.execute(_battles.update().where(_battles.c.id == bid).values(
                model_a=b, model_b=a))
            have[(q, b, a)] = bid
        else:
            conn.execute(_judgments.update().where(_judgments.c.battle_id == bid).values(
                battle_id=survivor))
            if sa.inspect(conn).has_table("task_items"):
                conn.execute(_items.update().where(_items.c.battle_id == bid).values(
                    battle_id=survivor))
            conn.execute(_battles.delete().where(_battles.c.id == bid))

    # AlpacaEval fractions: from scores.preference into the column
    for jid, scores in conn.execute(sa.select(_judgments.c.id, _judgments.c.scores).where(
            _judgments.c.judge_kind == "imported", _judgments.c.model_b.is_not(None),
            _judgments.c.scores.is_not(None), _judgments.c.preference.is_(None))).all():
        if isinstance(scores, str):
            scores = json.loads(scores)
        p = scores.get("preference") if isinstance(scores, dict) else None
        if isinstance(p, (int, float)) and not isinstance(p, bool) and 1.0 <= p <= 2.0:
            conn.execute(_judgments.update().where(_judgments.c.id == jid).values(
                preference=float(p)))

    # usable judgments: one per key
    dup = conn.execute(sa.select(_judgments.c.cache_key, sa.func.min(_judgments.c.id)).where(
        _judgments.c.cache_key.is_not(None), _judgments.c.parse_status == "ok").group_by(
        _judgments.c.cache_key).having(sa.func.count() > 1)).all()
    for key, first in dup:
        conn.execute(_judgments.update().where(
            _judgments.c.cache_key == key, _judgments.c.parse_status == "ok",
            _judgments.c.id != first).values(parse_status="duplicate"))
    with op.batch_alter_table("judgments") as batch:
        batch.create_index("uq_judgments_key_ok", ["cache_key"], unique=True,
                           sqlite_where=sa.text("parse_status = 'ok'"),
                           postgresql_where=sa.text("parse_status = 'ok'"))


def downgrade() -> None:
    # Versions, battle names and duplicate marks are data, not schema: they stay as they are
    # (older code, which selects imported answers by the version "imported", re-imports them).
    with op.batch_alter_table("judgments") as batch:
        batch.drop_index("uq_judgments_key_ok")
    op.drop_table("budget_rounds")
    op.drop_table("claims")
    op.drop_index("ix_judge_failures_cache_key", table_name="judge_failures")
    op.drop_table("judge_failures")
