"""Command-line options of the battle browser, parsed leniently.

``streamlit run viz.py -- [-c CONFIG] [--db URL] [--review-file FILE] [--category-file FILE]``

Streamlit passes what follows ``--`` to the script as ``sys.argv[1:]``; under
``streamlit.testing.v1.AppTest`` the script sees the test runner's own argv instead, so
unknown arguments are ignored rather than fatal. The store URL follows the project's one
resolver (``--db`` > ``ARENA_DB`` > config ``store.url`` > default); the config file may also
come from ``ARENA_CONFIG`` as in the annotation app.

Errors: a config that cannot be read or validated raises ``arena.errors.ConfigError`` (the app
shows it and stops); a missing review or category file raises ``InputError`` naming it.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from arena.config import ArenaConfig, RatingsConfig, load_config
from arena.errors import InputError
from arena.store.db import resolve_db_url


@dataclass(frozen=True)
class ViewerOptions:
    """What the viewer shows: a store URL, or an original-viewer review file."""

    db_url: str
    config_path: Optional[Path] = None
    review_file: Optional[Path] = None
    category_file: Optional[Path] = None
    config: ArenaConfig = field(default_factory=ArenaConfig)  # defaults without -c
    legacy_notes: tuple[str, ...] = ()

    @property
    def ratings(self) -> RatingsConfig:
        return self.config.ratings

    @property
    def baseline(self) -> Optional[str]:
        """The model "win rate vs baseline" is measured against by default (may be None)."""
        return self.config.ratings.baseline or self.config.judge.baseline


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="viz.py", add_help=False)
    p.add_argument("-c", "--config", default=None)
    p.add_argument("--db", default=None)
    p.add_argument("--review-file", "--review_file", dest="review_file", default=None)
    p.add_argument("--category-file", "--category_file", dest="category_file", default=None)
    return p


def parse_options(argv: Sequence[str] | None = None,
                  environ: dict[str, str] | None = None) -> ViewerOptions:
    """Parse ``argv`` (default ``sys.argv[1:]``), ignoring arguments that are not ours."""
    import sys

    env = os.environ if environ is None else environ
    args, _unknown = _parser().parse_known_args(list(sys.argv[1:] if argv is None else argv))
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
                         config=cfg or ArenaConfig(), legacy_notes=notes)


def _existing(path: str | None, flag: str) -> Optional[Path]:
    if not path:
        return None
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"{flag}: no such file", file=p)
    return p.resolve()
