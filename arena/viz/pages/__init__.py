"""The battle browser's pages; each module has ``render(ctx: Context) -> None``."""

from __future__ import annotations

import importlib

from arena.viz.context import Context

PAGES = {"leaderboard": "Leaderboard", "categories": "Categories", "matrices": "Matrices",
         "battles": "Battles", "single": "Single", "judges": "Judges", "length": "Length"}


def render(page: str, ctx: Context) -> None:
    """Draw ``page`` (a key of PAGES). Raises KeyError for an unknown page name."""
    module = importlib.import_module(f"arena.viz.pages.{page}")
    module.render(ctx)
