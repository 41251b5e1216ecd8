"""``arena import`` and ``arena export``.

``arena import FILE [--format NAME] [--as questions|answers|references|verdicts]
[--model NAME] [--source NAME] [--judge ID] [--baseline MODEL] [--db URL]`` detects (or
takes) the format, prints what it detected and what it stored; the whole file is one
transaction, so an error writes nothing.

``arena export WHAT --format NAME OUT [--source S] [--model M] [--judge J] [--db URL]``
writes questions, answers, references, verdicts, battles (a Chatbot-Arena-style log) or a
leaderboard. Errors are ``InputError`` (file, line, field); the ``arena`` entry point prints
them and exits 2.
"""

from __future__ import annotations

import argparse
import sys

from arena.formats.registry import EXPORT_KINDS, KINDS

EPILOG_IMPORT = "formats (canonical names; aliases such as fastchat, alpaca_eval work too):\n"


def _formats_text() -> str:
    from arena.formats import describe_formats

    return describe_formats()


def add_import_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "import", help="import questions, answers, references or verdicts from a file",
        description="Import a file into the store. The format and what the file holds are "
        "detected from its records unless --format / --as say so.",
        epilog=EPILOG_IMPORT + _formats_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", help="a .jsonl, .json or .csv file")
    p.add_argument("--format", default="auto", help="format name (default: detect)")
    p.add_argument("--as", dest="as_", choices=KINDS, help="what the file holds")
    p.add_argument("--model", help="model name for the answers (overrides the file's model id)")
    p.add_argument("--source", help="question namespace (default for questions: the file's "
                   "stem; for answers/verdicts: match stored questions in any source)")
    p.add_argument("--judge", help="judge id for imported verdicts (default: from the file)")
    p.add_argument("--baseline", help="baseline model of arena-hard judgment files whose "
                   "records do not name it")
    p.add_argument("--db", help="store URL (default: ARENA_DB, then sqlite:///outputs/arena.db)")
    p.set_defaults(func=run_import)


def add_export_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="export questions, answers, verdicts, battles or a leaderboard",
        description="Write stored rows in a named format.",
        epilog="formats:\n" + _formats_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=EXPORT_KINDS)
    p.add_argument("--format", required=True, help="format name")
    p.add_argument("out", help="output file")
    p.add_argument("--source", action="append", default=[], help="only this question source "
                   "(repeatable)")
    p.add_argument("--model", action="append", default=[], help="only this model (repeatable)")
    p.add_argument("--judge", action="append", default=[], help="only this judge id "
                   "(repeatable)")
    p.add_argument("--judge-kind", action="append", default=[],
                   help="only this judge kind: llm, human, metric, imported, dry-run")
    p.add_argument("--baseline", help="leaderboards: the fixed baseline model (L-Eval layout)")
    p.add_argument("--include-failed", action="store_true",
                   help="verdicts: also write failed verdicts (as the format's error value)")
    p.add_argument("-c", "--config", help="export only this config's run scope: its questions, "
                   "the answer versions it selects, the verdicts its leaderboard counts")
    p.add_argument("--db", help="store URL (default: ARENA_DB, then the config's store.url, "
                   "then sqlite:///outputs/arena.db)")
    p.set_defaults(func=run_export)


def run_import(args: argparse.Namespace) -> int:
    from arena.formats import import_file
    from arena.store import open_store

    store = open_store(args.db)
    try:
        with store.begin() as conn:
            summary = import_file(conn, args.file, args.format, args.as_, model=args.model,
                                  source=args.source, judge=args.judge,
                                  baseline=args.baseline)
    finally:
        store.close()
    for note in summary.notes:
        print(note)
    print(f"imported {args.file} into {store.describe()}: {summary}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from arena.formats import ExportFilter, export
    from arena.store import open_store

    flt = ExportFilter(sources=args.source, models=args.model, judges=args.judge,
                       judge_kinds=args.judge_kind, include_failed=args.include_failed,
                       baseline=args.baseline)
    cfg = None
    if getattr(args, "config", None):
        from arena.config import load_config

        cfg = load_config(args.config).config
    store = open_store(args.db, cfg.store.url if cfg else None)
    try:
        if cfg is not None:
            from arena.leaderboard import scope_judges
            from arena.scope import build_scope

            flt.scope = build_scope(store, cfg, scope_judges(cfg),
                                    categories=cfg.generation.categories or None)
        with store.begin() as conn:
            n = export(conn, args.what, args.format, args.out, flt)
    finally:
        store.close()
    print(f"wrote {n} {args.what} record(s) to {args.out} ({args.format})")
    if n == 0:
        print("nothing matched: check --source / --model / --judge", file=sys.stderr)
    return 0
