"""Stores made before Alembic: recognised, checked, then stamped at revision 0001.

Arena up to release a8040fd kept its own migration history: table ``arena_schema_version``
with version 1 (pipeline tables) and version 2 (annotation tables), and no ``alembic_version``.
Its schema is exactly revision 0001's, so such a store is stamped at 0001 (nothing is run)
and then upgraded like any other. Before stamping, its tables and columns are checked against
0001's: a store from an earlier development build (missing a column that 0001 has) would
otherwise be called up to date and fail at query time, so it is refused with what is missing.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect

from arena.errors import ArenaError

LEGACY_VERSIONS = frozenset({1, 2})
STAMP_REVISION = "0001"

# Revision 0001's tables and columns (tests check this against what 0001 creates).
A8040FD_COLUMNS: dict[str, tuple[str, ...]] = {
    "arena_schema_version": ("version", "applied_at"),
    "documents": ("id", "source", "text", "meta"),
    "questions": ("id", "source", "local_id", "category", "turns", "document_id", "meta",
                  "content_hash", "seq", "created_at"),
    "references": ("id", "question_id", "author", "turns", "created_at"),
    "models": ("name", "backend", "spec", "created_at"),
    "answers": ("id", "question_id", "model", "params_hash", "turns", "reasoning",
                "finish_reason", "prompt_tokens", "completion_tokens", "latency_s", "truncated",
                "origin", "meta", "created_at"),
    "answer_failures": ("id", "question_id", "model", "params_hash", "error", "attempts",
                        "created_at"),
    "battles": ("id", "question_id", "model_a", "model_b", "created_at"),
    "judgments": ("id", "mode", "battle_id", "answer_id", "question_id", "model_a", "model_b",
                  "answer_a_id", "answer_b_id", "turn", "first", "judge_kind", "judge_id",
                  "template_version", "policy", "outcome", "strength", "score_a", "score_b",
                  "scores", "rationale", "raw_output", "parse_status", "error", "cache_key",
                  "run_id", "annotator_id", "task_id", "round", "submission_id",
                  "time_on_task_s", "comment", "supersedes_id", "meta", "created_at"),
    "users": ("id", "username", "password_hash", "role", "pseudonym", "invite_token",
              "invite_expires_at", "active", "excluded", "excluded_note", "created_at"),
    "tasks": ("id", "name", "mode", "scale", "criteria", "overlap", "status", "guidelines",
              "show_references", "lease_seconds", "settings", "created_by", "created_at"),
    "task_items": ("id", "task_id", "question_id", "battle_id", "answer_a_id", "answer_b_id",
                   "model_a", "model_b", "kind", "gold", "held_count", "done_count", "seq"),
    "assignments": ("id", "item_id", "task_id", "annotator_id", "round", "status", "first",
                    "leased_at", "expires_at", "finished_at", "judgment_id", "skip_reason",
                    "time_on_task_s"),
}


class LegacyStoreError(ArenaError):
    """A pre-Alembic store that cannot be stamped: the message says what does not match."""


def check(conn: Connection, where: str, versions: tuple[int, ...],
          tables: frozenset[str]) -> None:
    """Raise LegacyStoreError unless the store on ``conn`` is a complete a8040fd store.

    ``versions`` are its ``arena_schema_version`` rows and ``tables`` its table names;
    ``where`` names the store in the message.
    """
    unknown = sorted(set(versions) - LEGACY_VERSIONS)
    if unknown:
        raise LegacyStoreError(
            f"the store {where} records schema version(s) {unknown} in arena_schema_version, "
            f"which this code does not know: it was made by a newer arena; upgrade the arena "
            f"package")
    missing_tables = sorted(set(A8040FD_COLUMNS) - tables)
    missing_columns: list[str] = []
    insp = inspect(conn)
    for table, columns in A8040FD_COLUMNS.items():
        if table in missing_tables:
            continue
        have = {c["name"] for c in insp.get_columns(table)}
        missing_columns += [f"{table}.{c}" for c in columns if c not in have]
    if missing_tables or missing_columns:
        parts = []
        if missing_tables:
            parts.append("tables " + ", ".join(missing_tables))
        if missing_columns:
            parts.append("columns " + ", ".join(missing_columns))
        raise LegacyStoreError(
            f"the store {where} has a pre-Alembic schema (arena_schema_version "
            f"{list(versions) or 'empty'}) that is not the one this code can upgrade: missing "
            f"{'; '.join(parts)}. It was made by an early development build; export its "
            f"verdicts (arena export) and import them into a new store")
