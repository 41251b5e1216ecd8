"""The leaderboard command's other layouts: ``--format arena-hard``, the per-dataset score
tables (``leval-exam``, ``leval-f1``, ``leval-rouge``, ``longbench``) and ``--by-category``.

Each reads the store through the same entry points as the default leaderboard
(``arena.leaderboard.board_set`` for boards, ``Selection.from_config`` with the config's
run scope for the metric judges' single-mode verdicts), so the same verdicts count, and returns text; notes that are
not part of a CSV layout are returned separately so the CLI can print them to stderr.
Raises ValueError with a message for a layout that cannot be built (no baseline, no CIs).
"""

from __future__ import annotations

from typing import Any

from arena.ratings.arenahard_board import format_arena_hard, settings_note
from arena.ratings.rank_table import format_rank_table, rank_table
from arena.ratings.score_tables import FORMATS as SCORE_FORMATS, format_score_table, score_table
from arena.ratings.selection import Selection, load_verdicts

VIEW_FORMATS = ("arena-hard", *SCORE_FORMATS)


def render(store: Any, cfg: Any, fmt: str, *, by_category: bool = False,
           dry_run: bool = False) -> tuple[str, list[str]]:
    """(text for stdout, notes for stderr) of one layout."""
    from arena.leaderboard import board_set, scope_judges  # leaderboard imports ratings

    if fmt in SCORE_FORMATS:
        if by_category:
            raise ValueError(f"--by-category does not apply to --format {fmt} (its columns "
                             f"are already the tasks)")
        sel = Selection.from_config(cfg.ratings, dry_run=dry_run, mode="single")
        if cfg.models:  # a config's run scope, as its leaderboard counts it
            from dataclasses import replace

            from arena.scope import build_scope

            sel = replace(sel, scope=build_scope(store, cfg, scope_judges(cfg, dry_run=dry_run),
                                                 categories=cfg.generation.categories or None))
        frame = load_verdicts(store, sel)
        table = score_table(frame, fmt)
        return format_score_table(table, "csv"), list(table.notes)
    if by_category:
        if fmt == "arena-hard":
            raise ValueError("--by-category prints the rank table: use --format table, csv, "
                             "md or json with it")
        cfg = cfg.model_copy(deep=True)
        cfg.ratings.per_category = True  # the table's columns
        boards, _frame, _scope = board_set(store, cfg, dry_run=dry_run)
        return format_rank_table(rank_table(boards), fmt), []
    if fmt == "arena-hard":
        cfg = cfg.model_copy(deep=True)
        cfg.ratings.per_category = False
        boards, _frame, _scope = board_set(store, cfg, dry_run=dry_run)
        board = next(iter(boards.values()))
        return format_arena_hard(board), settings_note(board) + list(board.warnings)
    raise ValueError(f"unknown layout {fmt!r}")


__all__ = ["render", "VIEW_FORMATS"]
