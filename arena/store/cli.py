"""``arena db``: upgrade the store's schema and show where it stands."""

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
    if args.action == "upgrade":
        engine = make_engine(url)
        applied = migrations.upgrade(engine)
        engine.dispose()
        print(f"{describe(url)}: " + (f"applied migrations {applied}" if applied
                                      else f"up to date (version {migrations.head()})"))
        return 0
    engine = make_engine(url)
    have = migrations.current_version(engine)
    engine.dispose()
    print(f"{describe(url)}: schema version {have}, code version {migrations.head()}"
          + ("" if have == migrations.head() else " (run: arena db upgrade)"))
    return 0


__all__ = ["add_parser", "Store"]
