"""``arena db``: upgrade the store's schema and show where it stands (docs/store.md).

``arena db upgrade`` applies the pending revisions (stamping a pre-Alembic store first) and
prints each one; ``arena db status`` prints the store's revision, the code's head and what is
pending, and writes nothing. A store this code cannot upgrade is a plain error (exit 2).
"""

from __future__ import annotations

import argparse

from arena.config import load_config
from arena.store import Store, migrations
from arena.store.db import describe, make_engine, resolve_db_url


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="store schema: upgrade, status")
    p.add_argument("action", choices=["upgrade", "status"])
    p.add_argument("--db", help="store URL (overrides ARENA_DB and the config)")
    p.add_argument("-c", "--config", help="config whose store.url to use")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg_url = load_config(args.config).config.store.url if args.config else None
    url = resolve_db_url(args.db, cfg_url)
    engine = make_engine(url)
    try:
        if args.action == "upgrade":
            print(_upgrade_report(describe(url), migrations.upgrade(engine)))
        else:
            print(_status_report(describe(url), migrations.status(engine)))
    finally:
        engine.dispose()
    return 0


def _upgrade_report(where: str, done: migrations.Upgraded) -> str:
    head = migrations.head()
    if not done:
        return f"{where}: up to date at revision {head} (head)"
    lines = [f"{where}:"]
    if done.stamped:
        lines.append(f"  stamped {done.stamped}  (a store made before Alembic: its schema is "
                     f"that revision's)")
    described = dict(migrations.runner.pending(None))
    lines += [f"  applied {rev}  {described.get(rev, '')}".rstrip() for rev in done.applied]
    lines.append(f"  now at revision {head} (head)")
    return "\n".join(lines)


def _status_report(where: str, st: migrations.Status) -> str:
    if st.legacy_versions is not None:
        current = (f"none: made before Alembic (arena_schema_version "
                   f"{', '.join(map(str, st.legacy_versions))}); upgrading stamps it at 0001")
    elif st.current is None:
        current = "none: an empty store"
    else:
        current = st.current
    lines = [f"{where}:", f"  revision: {current}", f"  head:     {st.head}"]
    if st.up_to_date:
        lines.append("  up to date")
        return "\n".join(lines)
    for i, (rev, doc) in enumerate(st.pending):
        lines.append(f"  {'pending: ' if i == 0 else '         '}{rev}  {doc}".rstrip())
    lines.append("  run: arena db upgrade (any arena command that opens the store does it too)")
    return "\n".join(lines)


__all__ = ["add_parser", "Store"]
