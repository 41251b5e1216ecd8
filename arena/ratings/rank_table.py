"""A rank table across categories (Chatbot Arena's "arena overview"): one row per model, one
column per category, each cell the model's rank (UB) on that category's board.

``rank_table`` is a pure function of the boards (``arena.leaderboard.compute_leaderboards``); it
returns a ``RankTable`` whose ``records()`` are plain dicts (a viewer turns them into a
DataFrame), and ``format_rank_table`` writes CSV, Markdown, JSON or a terminal table.

Rank (UB) = 1 + the number of models whose lower CI bound is above this model's upper bound
(``arena.ratings.bt.RANK_UB``); a model absent from a category (no battles there, or left out
by the minimum-battles filter) has an empty cell. Rows are ordered by the first column's rank
(``all``), then rating, then name.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from arena.ratings.bt import RANK_UB


@dataclass
class RankCell:
    rank: int
    rating: Optional[float]
    ci_low: Optional[float]
    ci_high: Optional[float]
    n: int


@dataclass
class RankTable:
    models: list[str]
    categories: list[str]
    cells: dict[tuple[str, str], RankCell] = field(default_factory=dict)
    definition: str = RANK_UB
    label: str = ""  # "DRY RUN - random verdicts" on a dry-run board
    notes: list[str] = field(default_factory=list)

    def rank(self, model: str, category: str) -> Optional[int]:
        cell = self.cells.get((model, category))
        return None if cell is None else cell.rank

    def records(self) -> list[dict[str, Any]]:
        """One dict per model: ``model`` then one key per category (its rank or None)."""
        return [{"model": m, **{c: self.rank(m, c) for c in self.categories}}
                for m in self.models]


def rank_table(boards: Any) -> RankTable:
    """The table over ``boards`` ({category: Leaderboard} or a list of boards; pairwise boards
    only - a single-mode board's rank is by score CI and is tabled the same way)."""
    items = list(boards.values()) if isinstance(boards, dict) else list(boards)
    cats = [b.category for b in items]
    table = RankTable(models=[], categories=cats, label=items[0].label if items else "")
    order: dict[str, tuple] = {}
    for col, b in enumerate(items):
        if b.empty_reason:
            table.notes.append(f"{b.category}: {b.empty_reason}")
        for r in b.rows:
            value = r.bt if r.bt is not None else r.score
            table.cells[(r.model, b.category)] = RankCell(
                r.rank, value, r.ci_low if r.bt is not None else r.score_ci_low,
                r.ci_high if r.bt is not None else r.score_ci_high, r.n)
            key = (col, r.rank, -(value if value is not None else -math.inf), r.model)
            if r.model not in order or key < order[r.model]:
                order[r.model] = key
    table.models = sorted(order, key=lambda m: order[m])
    return table


def format_rank_table(table: RankTable, fmt: str = "table") -> str:
    """CSV (model, one column per category), Markdown, JSON (the definition, the categories,
    each cell's rank, rating, CI and battles) or a terminal table. Raises ValueError for
    another format."""
    head = ["model", *table.categories]
    rows = [[m, *["" if table.rank(m, c) is None else str(table.rank(m, c))
                  for c in table.categories]] for m in table.models]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(head)
        w.writerows(rows)
        return buf.getvalue()
    if fmt == "json":
        data = {"label": table.label, "definition": table.definition,
                "categories": table.categories, "notes": table.notes,
                "models": [{"model": m, "ranks": {c: _cell(table, m, c)
                                                  for c in table.categories}}
                           for m in table.models]}
        return json.dumps(data, indent=2) + "\n"
    title = (f"{table.label} | " if table.label else "") + "Rank (UB) by category"
    if fmt in ("md", "markdown"):
        out = [f"## {title}", "", f"- {table.definition}", *[f"- {n}" for n in table.notes],
               "", "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
        return "\n".join(out) + "\n"
    if fmt == "table":
        cells = [head] + rows
        widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
        lines = [title, table.definition, *table.notes]
        for k, r in enumerate(cells):
            lines.append("  ".join(c.ljust(wd) if i == 0 else c.rjust(wd)
                                   for i, (c, wd) in enumerate(zip(r, widths))).rstrip())
            if k == 0:
                lines.append("  ".join("-" * wd for wd in widths))
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown format {fmt!r} (table, md, csv or json)")


def _cell(table: RankTable, model: str, category: str) -> Optional[dict[str, Any]]:
    c = table.cells.get((model, category))
    if c is None:
        return None
    fin = lambda x: x if x is not None and math.isfinite(x) else None  # noqa: E731
    return {"rank": c.rank, "rating": fin(c.rating), "ci_low": fin(c.ci_low),
            "ci_high": fin(c.ci_high), "n": c.n}


__all__ = ["RankTable", "RankCell", "rank_table", "format_rank_table"]
