"""The battle browser's pages; each module has ``render(ctx: Context) -> None``."""

from __future__ import annotations

import importlib

from arena.viz.context import Context

MODULES = {"leaderboard": "leaderboard", "matrices": "matrices", "battles": "battles",
           "judges": "judges", "length": "length"}


def render(page: str, ctx: Context) -> None:
    """Draw ``page`` (a key of MODULES). Raises KeyError for an unknown page name."""
    module = importlib.import_module(f"arena.viz.pages.{MODULES[page]}")
    module.render(ctx)
