"""Command-line options of the battle browser.

``streamlit run viz.py -- [-c CONFIG] [--db URL] [--review-file FILE] [--category-file FILE]``

Streamlit hands what follows ``--`` to the script as ``sys.argv[1:]``. Every argument must be
one of ours: an unknown one (a typo such as ``--dbb``, or a Streamlit flag put after ``--``)
raises ``UsageError`` naming it, and the app shows that instead of silently reading another
store. The store URL follows the project's one resolver (``--db`` > ``ARENA_DB`` > config
``store.url`` > default); the config file may also come from ``ARENA_CONFIG`` as in the
annotation app.

Errors: a config that cannot be read or validated raises ``arena.errors.ConfigError`` (the app
shows it and stops); a missing review or category file raises ``InputError`` naming it.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, Optional, Sequence

from arena.config import ArenaConfig, FileModel, RatingsConfig, load_config
from arena.errors import ArenaError, InputError
from arena.store.db import resolve_db_url

USAGE = ("streamlit run viz.py -- [-c CONFIG] [--db URL] [--review-file FILE] "
         "[--category-file FILE]")


class UsageError(ArenaError):
    """Arguments after ``--`` that the viewer does not know, or a flag without its value."""


@dataclass(frozen=True)
class ViewerOptions:
    """What the viewer shows: a store URL, or an original-viewer review file."""

    db_url: str
    config_path: Optional[Path] = None
    review_file: Optional[Path] = None
    category_file: Optional[Path] = None
    config: ArenaConfig = field(default_factory=ArenaConfig)  # defaults without -c
    legacy_notes: tuple[str, ...] = ()
    # Identity of the config and of the answer files its scope reads (path, mtime, size):
    # the cache key of everything computed from them.
    key: tuple = ()

    @property
    def ratings(self) -> RatingsConfig:
        return self.config.ratings

    @property
    def baseline(self) -> Optional[str]:
        """The model "win rate vs baseline" is measured against by default (may be None)."""
        return self.config.ratings.baseline or self.config.judge.baseline


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would print and exit the server
        raise UsageError(f"viz.py: {message} (usage: {USAGE})")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="viz.py", add_help=False, allow_abbrev=False)
    p.add_argument("-c", "--config", default=None)
    p.add_argument("--db", default=None)
    p.add_argument("--review-file", "--review_file", dest="review_file", default=None)
    p.add_argument("--category-file", "--category_file", dest="category_file", default=None)
    return p


def parse_options(argv: Sequence[str] | None = None,
                  environ: dict[str, str] | None = None) -> ViewerOptions:
    """Parse ``argv`` (default ``sys.argv[1:]``). Raises UsageError for an argument that is
    not ours (naming it), ConfigError / InputError for a bad config or a missing file."""
    import sys

    env = os.environ if environ is None else environ
    args, unknown = _parser().parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if unknown:
        raise UsageError(f"unknown argument{'s' if len(unknown) > 1 else ''} after --: "
                         f"{' '.join(unknown)} (usage: {USAGE}; Streamlit's own flags such "
                         f"as --server.port go before viz.py)")
    config_path = args.config or env.get("ARENA_CONFIG") or None
    cfg: Optional[ArenaConfig] = None
    notes: tuple[str, ...] = ()
    if config_path:
        loaded = load_config(config_path)  # raises ConfigError naming file and key
        cfg = loaded.config
        notes = tuple(loaded.legacy_notes)
    url = resolve_db_url(args.db, cfg.store.url if cfg else None, environ=dict(env))
    review = _existing(args.review_file, "--review-file")
    category = _existing(args.category_file, "--category-file")
    return ViewerOptions(db_url=url, config_path=Path(config_path) if config_path else None,
                         review_file=review, category_file=category,
                         config=cfg or ArenaConfig(), legacy_notes=notes,
                         key=_key(Path(config_path) if config_path else None, cfg))


def _stat(path: Path) -> tuple[str, int, int]:
    try:
        s = path.stat()
        return str(path), s.st_mtime_ns, s.st_size
    except OSError:
        return str(path), 0, 0


def _key(path: Optional[Path], cfg: Optional[ArenaConfig]) -> tuple:
    if path is None or cfg is None:
        return ()
    files = [m.path for m in cfg.enabled_models if isinstance(m, FileModel)]
    return (_stat(path), *[_stat(Path(f)) for f in files])


def _existing(path: str | None, flag: str) -> Optional[Path]:
    if not path:
        return None
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"{flag}: no such file", file=p)
    return p.resolve()
