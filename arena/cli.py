"""The ``arena`` console script: run, import, export, leaderboard, annotate, db, config.

Each capability registers its own sub-command from the module that owns it (a function
``add_parser(subparsers)`` that sets ``func``); this file only wires them and turns
``ArenaError`` into a one-line message and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Callable, Optional, Sequence

from arena import __version__
from arena.errors import ArenaError

log = logging.getLogger(__name__)

# (module, function) pairs; each function adds one or more sub-parsers.
SUBCOMMANDS: list[tuple[str, str]] = [
    ("arena.pipeline", "add_parser"),          # run
    ("arena.formats.cli", "add_import_parser"),  # import
    ("arena.formats.cli", "add_export_parser"),  # export
    ("arena.leaderboard", "add_parser"),       # leaderboard
    ("annotate.cli", "add_parser"),            # annotate
    ("arena.store.cli", "add_parser"),         # db
    ("arena.legacy_config", "add_parser"),     # config
    ("arena.llm.batch_cli", "add_parser"),     # batches
]


def setup_logging(verbose: int = 0) -> None:
    """Configure logging once, in entry points only."""
    level = logging.WARNING if verbose < 0 else logging.INFO if verbose == 0 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "httpcore", "httpx2", "httpcore2", "openai", "urllib3", "filelock",
                  "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arena", description="LLM arena: answers, verdicts, "
                                     "ratings, human annotation, one store.")
    parser.add_argument("--version", action="version", version=f"arena {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    parser.add_argument("-q", "--quiet", action="store_true")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module, fn in SUBCOMMANDS:
        _register(sub, module, fn)
    return parser


def _register(sub: argparse._SubParsersAction, module: str, fn: str) -> None:
    try:
        mod = importlib.import_module(module)
        add: Callable[[argparse._SubParsersAction], None] = getattr(mod, fn)
    except ModuleNotFoundError as exc:
        if exc.name and not module.startswith(exc.name):
            raise  # a missing dependency, not a missing capability
        name = {"arena.formats.cli": "import/export", "annotate.cli": "annotate"}.get(module, module)
        p = sub.add_parser(name.split("/")[0] if fn != "add_export_parser" else "export",
                           help="(not built yet)")
        p.set_defaults(func=lambda _a: _not_built(module))
        return
    add(sub)


def _not_built(module: str) -> int:
    print(f"arena: this command's module ({module}) is not built yet", file=sys.stderr)
    return 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    setup_logging(-1 if args.quiet else args.verbose)
    return run_command(args.func, args)


def run_command(func: Callable[[argparse.Namespace], Optional[int]],
                args: argparse.Namespace) -> int:
    """Run an entry point's command: an ArenaError becomes one line on stderr and its exit
    code (2; 1 for a stage that produced nothing usable)."""
    try:
        return int(func(args) or 0)
    except ArenaError as err:
        print(f"error: {err}", file=sys.stderr)
        return int(getattr(err, "exit_code", 2))
    except KeyboardInterrupt:
        print("interrupted; stored work is kept and a rerun resumes", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
