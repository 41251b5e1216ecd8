"""The Chatbot Arena category board: every model's rank in every category, the
style-controlled rank beside the raw one, compact ``+x / −y`` CIs, ratings to one decimal.

Built from per-category ``arena.leaderboard.compute_leaderboard`` boards (their ranks are
Chatbot Arena's rank (UB), ``arena.ratings.bt.rank_by_ci``; the style-controlled rank applies
the same function to the style-controlled ratings and CIs). ``category_rank_table`` is the one
place the viewer builds this table: when the ratings module's shared rank table across
categories (``arena leaderboard --by-category``) lands, this function becomes a call to it.
Pure, no Streamlit.
"""

from __future__ import annotations

import html
import math
from typing import Optional

import numpy as np
import pandas as pd

from arena.leaderboard import Leaderboard
from arena.ratings.bt import rank_by_ci

OVERALL = "overall"
RANK_RULE = ("Rank (UB) = 1 + the number of models whose lower CI bound is above this "
             "model's upper CI bound (Chatbot Arena's rule): models whose intervals overlap "
             "share a rank. SC = style-controlled (answer length held equal, style BT). "
             "A blank cell: fewer battles than the minimum in that category.")


def ci_text(value: Optional[float], low: Optional[float], high: Optional[float]) -> str:
    """``+x / −y`` to one decimal ("" without a CI)."""
    if value is None or low is None or high is None or not all(
            math.isfinite(v) for v in (value, low, high)):
        return ""
    return f"+{high - value:.1f} / −{value - low:.1f}"


def style_ranks(board: Leaderboard) -> dict[str, int]:
    """Rank (UB) of the style-controlled ratings, by model ({} without them)."""
    rows = [r for r in board.rows if r.style_bt is not None]
    if not rows:
        return {}
    f = lambda x: np.nan if x is None else float(x)  # noqa: E731
    rating = np.array([f(r.style_bt) for r in rows])
    ranks = rank_by_ci(rating, np.array([f(r.style_ci_low) for r in rows]),
                       np.array([f(r.style_ci_high) for r in rows]))
    return {r.model: int(k) for r, k in zip(rows, ranks)}


def category_rank_table(boards: dict[str, Leaderboard], *, min_battles: int = 0,
                        style: bool = True) -> pd.DataFrame:
    """One row per model of ``boards[OVERALL]`` with at least ``min_battles`` battles there:
    model, rating (one decimal), CI (``+x / −y``), battles, then per board (overall first, then
    the categories in the given order) the rank and, with ``style``, the style-controlled
    rank ``"<name> SC"``. Cells of a model with fewer than ``min_battles`` battles in a
    category are empty (None). Ranks are the boards' own."""
    top = boards[OVERALL]
    keep = [r for r in top.rows if r.n >= min_battles]
    out = pd.DataFrame({
        "model": [r.model for r in keep],
        "rating": [None if r.bt is None else round(r.bt, 1) for r in keep],
        "95% CI": [ci_text(r.bt, r.ci_low, r.ci_high) for r in keep],
        "battles": [r.n for r in keep],
    })
    for name, b in boards.items():
        by_model = {r.model: r for r in b.rows}
        sc = style_ranks(b) if style else {}
        ranks, style_col = [], []
        for r in keep:
            row = by_model.get(r.model)
            ok = row is not None and row.n >= min_battles
            ranks.append(row.rank if ok and row is not None else None)
            style_col.append(sc.get(r.model) if ok else None)
        out[name] = pd.array(ranks, dtype="Int64")
        if style:
            out[f"{name} SC"] = pd.array(style_col, dtype="Int64")
    return out


TABLE_CLASS = "arena-rank"
# Compact: two narrow columns per category under one header, so every column shows at
# 1400 px with the sidebar open (a grid of 18 named columns needs ~1500 px).
TABLE_STYLE = f"""<style>
.{TABLE_CLASS}-wrap {{ overflow-x: auto; max-width: 100%; }}
table.{TABLE_CLASS} {{ border-collapse: collapse; font-size: 0.85rem; width: auto; }}
table.{TABLE_CLASS} th, table.{TABLE_CLASS} td {{ padding: 3px 6px; border-bottom: 1px solid
  rgba(49, 51, 63, 0.1); white-space: nowrap; }}
table.{TABLE_CLASS} th.cat {{ white-space: normal; max-width: 6.5rem; text-align: center;
  border-left: 1px solid rgba(49, 51, 63, 0.15); }}
table.{TABLE_CLASS} td.num, table.{TABLE_CLASS} th.num {{ text-align: right; }}
table.{TABLE_CLASS} td.rank {{ border-left: 1px solid rgba(49, 51, 63, 0.15); }}
table.{TABLE_CLASS} td.sc {{ color: rgba(49, 51, 63, 0.6); }}
table.{TABLE_CLASS} td.top {{ font-weight: 600; }}
table.{TABLE_CLASS} td.model {{ max-width: 14rem; overflow: hidden; text-overflow: ellipsis; }}
</style>"""


def rank_table_html(table: pd.DataFrame, boards: list[str], *, ci_label: str = "95% CI",
                    style: bool = True) -> str:
    """``category_rank_table``'s frame as a compact HTML table: per board a header cell over
    its rank and (with ``style``) SC columns. Every name is escaped (plain text)."""
    e = html.escape
    span = 2 if style else 1
    head1 = ['<th rowspan="2">model</th>', '<th rowspan="2" class="num">rating</th>',
             f'<th rowspan="2" class="num">{e(ci_label)}</th>',
             '<th rowspan="2" class="num">battles</th>']
    head1 += [f'<th class="cat" colspan="{span}" title="{e(b)}">{e(b)}</th>' for b in boards]
    head2 = [("<th class=\"num\">rank</th><th class=\"num\" title=\"style-controlled\">SC</th>"
              if style else "<th class=\"num\">rank</th>") for _ in boards]
    rows = []
    for _, r in table.iterrows():
        cells = [f'<td class="model" title="{e(str(r["model"]))}">{e(str(r["model"]))}</td>',
                 f'<td class="num">{_fmt(r["rating"], ".1f")}</td>',
                 f'<td class="num">{e(str(r[ci_label] if ci_label in r else r["95% CI"]))}</td>',
                 f'<td class="num">{_fmt(r["battles"], "d")}</td>']
        for b in boards:
            rank = r[b]
            top = " top" if not pd.isna(rank) and int(rank) == 1 else ""
            cells.append(f'<td class="num rank{top}">{_fmt(rank, "d")}</td>')
            if style:
                cells.append(f'<td class="num sc">{_fmt(r[f"{b} SC"], "d")}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'{TABLE_STYLE}<div class="{TABLE_CLASS}-wrap"><table class="{TABLE_CLASS}">'
            f'<thead><tr>{"".join(head1)}</tr><tr>{"".join(head2)}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _fmt(v: object, spec: str) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return ""
    return format(int(v) if spec == "d" else float(v), spec)


__all__ = ["category_rank_table", "rank_table_html", "ci_text", "style_ranks", "RANK_RULE",
           "OVERALL"]
