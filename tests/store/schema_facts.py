"""Everything the database itself records about a store's schema, as comparable text.

SQLite: the exact DDL text SQLite keeps in ``sqlite_master`` for each table and index (the
column order, types, NOT NULL, defaults, keys and constraint names are all in it).
PostgreSQL: from the catalogs, per column its type, nullability and default; every
constraint's definition; every index's definition; every sequence.
Plus, for both, SQLAlchemy's reflection (types, nullability, server defaults, indexes with
their sort order, unique constraints, foreign keys) as a second, dialect-neutral view.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

IGNORED = {"alembic_version"}


def catalog(conn: Connection) -> list[str]:
    """One line per schema object, sorted."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        return sorted(f"{t} {n}: {' '.join((sql or '').split())}" for t, n, sql in rows
                      if n not in IGNORED and not n.endswith("alembic_version_pkc"))
    out = []
    for r in conn.exec_driver_sql(
            """SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
                      a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
               WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0
                 AND NOT a.attisdropped"""):
        if r[0] not in IGNORED:
            out.append("column " + " | ".join(map(str, r)))
    for r in conn.exec_driver_sql(
            """SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
               FROM pg_constraint WHERE connamespace = current_schema()::regnamespace"""):
        if r[0] not in IGNORED:
            out.append("constraint " + " | ".join(map(str, r)))
    for name, table, indexdef in conn.exec_driver_sql(
            "SELECT indexname, tablename, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema()"):
        if table not in IGNORED:
            out.append(f"index {name} | " + re.sub(r" ON \S+?\.", " ON ", indexdef))
    for r in conn.exec_driver_sql(
            "SELECT sequencename, data_type, start_value, increment_by, max_value "
            "FROM pg_sequences WHERE schemaname = current_schema()"):
        out.append("sequence " + " | ".join(map(str, r)))
    return sorted(out)


def reflected(conn: Connection) -> dict[str, Any]:
    """SQLAlchemy's reflection of every table, in plain comparable values."""
    insp = sa.inspect(conn)
    out: dict[str, Any] = {}
    for table in sorted(set(insp.get_table_names()) - IGNORED):
        out[table] = {
            "columns": [(c["name"], str(c["type"].compile(conn.dialect)), c["nullable"],
                         _default(c.get("default")), c.get("autoincrement"))
                        for c in insp.get_columns(table)],
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"],
                           tuple(f["referred_columns"])) for f in insp.get_foreign_keys(table)),
            "indexes": sorted((i["name"], tuple(map(str, i["column_names"])),
                               tuple(map(str, i.get("expressions") or ())), i["unique"],
                               str(sorted((i.get("column_sorting") or {}).items())))
                              for i in insp.get_indexes(table)),
            "uniques": sorted((u["name"], tuple(u["column_names"]))
                              for u in insp.get_unique_constraints(table)),
        }
    return out


def _default(value: Any) -> Any:
    # PostgreSQL's serial defaults name the sequence, which is the same on both sides.
    return None if value is None else str(value)
