"""Leaderboards as text: a terminal table, Markdown, CSV and JSON.

Every format states what the numbers are: method, position policy, anchor, CI level and
rounds, the rank's definition (rank (UB), Chatbot Arena's), which length-controlled win rate is
shown, and what was counted and excluded; a dry-run board carries its label in every format.
An empty board says why it is empty instead of printing an empty table. The terminal table and
Markdown show CIs compactly as ``+x / -y`` around the rating (Chatbot Arena's layout); CSV and
JSON keep the bounds.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, is_dataclass
from enum import Enum
from typing import Any, Sequence, Union

import numpy as np

CSV_FIELDS = ["category", "rank", "model", "n", "bt", "ci_low", "ci_high", "elo", "win_rate",
              "bt_expected", "n_wins", "n_draws", "n_losses", "baseline_win_rate", "baseline_se",
              "lc_win_rate", "style_bt", "style_ci_low", "style_ci_high", "score",
              "score_ci_low", "score_ci_high", "criteria", "label", "method", "position_policy",
              "anchor", "ci_level", "bootstrap_rounds", "resample_unit", "seed", "baseline",
              "style_rank", "discrete_win_rate", "avg_length", "lc_method"]


def to_jsonable(x: Any) -> Any:
    """Plain JSON values: NaN/inf -> None, numpy -> lists/numbers, enums -> values."""
    if isinstance(x, dict):
        return {str(k): to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return to_jsonable(x.tolist())
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, Enum):
        return x.value
    if is_dataclass(x) and not isinstance(x, type):
        return to_jsonable(asdict(x))
    return x


def _f(x: Any, nd: int = 1) -> str:
    return "" if x is None else f"{x:.{nd}f}"


def compact_ci(value: Any, low: Any, high: Any, nd: int = 1) -> str:
    """``+x / -y``: how far the CI reaches above and below ``value`` (empty without a CI)."""
    if value is None or low is None or high is None:
        return ""
    return f"+{high - value:.{nd}f} / -{value - low:.{nd}f}"


def _header(board: Any) -> list[str]:
    d = board.describe()
    lines = []
    title = f"Leaderboard - {d['category']}"
    if d["label"]:
        title = f"{d['label']} | " + title
    lines.append(title)
    if d.get("scope"):
        outside = d.get("out_of_scope") or 0
        lines.append(f"scope: {d['scope']}" + (f" ({outside} stored verdicts are outside it)"
                                                if outside else ""))
    lines.append(f"method: {d['method']}; anchor: {d['anchor']}; CI: {d['ci']}")
    if d["mode"] == "pairwise":
        lines.append(f"position policy: {d['position_policy']}; ties count 0.5; both-bad: "
                     f"{d['both_bad']}; strong verdict weight: {d['strong_weight']}; online Elo "
                     f"K = {d['elo_k']:g}" + (f"; baseline: {d['baseline']}" if d["baseline"]
                                              else ""))
    counted = f"counted: {d['verdicts_used']} verdicts"
    if d["mode"] == "pairwise":
        counted += f" -> {d['battles']} battles"
    if d["excluded"]:
        counted += "; excluded: " + ", ".join(f"{k.replace('_', ' ')} {v}"
                                              for k, v in d["excluded"].items())
    if d["battle_notes"]:
        notes = {k: v for k, v in d["battle_notes"].items() if k != "verdicts"}
        if notes:
            counted += "; " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in notes.items())
    lines.append(counted)
    if d["judges"]:
        lines.append("judges: " + ", ".join(d["judges"]) + "; template versions: " +
                     ", ".join(d["template_versions"]))
    if d.get("rank"):
        lines.append(d["rank"])
    if d.get("length_controlled"):
        lines.append(f"LC win %: {d['length_controlled']}")
    for w in d["warnings"]:
        lines.append(f"warning: {w}")
    return lines


def _columns(board: Any) -> list[tuple[str, Any]]:
    rows = board.rows
    has = lambda attr: any(getattr(r, attr) is not None for r in rows)  # noqa: E731
    level = f"{board.settings.ci_level:.0%}"
    if board.settings.mode == "single":
        cols = [("rank", lambda r: str(r.rank)), ("model", lambda r: r.model),
                ("score", lambda r: _f(r.score, 2)),
                (f"{level} CI", lambda r: f"[{_f(r.score_ci_low, 2)}, {_f(r.score_ci_high, 2)}]"
                 if r.score_ci_low is not None else ""),
                ("n", lambda r: str(r.n))]
        crit = sorted({k for r in rows for k in r.criteria})
        for c in crit:
            cols.append((c, lambda r, c=c: _f(r.criteria.get(c), 2)))
        return cols
    cols = [("rank (UB)", lambda r: str(r.rank)), ("model", lambda r: r.model),
            ("BT", lambda r: _f(r.bt)),
            (f"{level} CI", lambda r: compact_ci(r.bt, r.ci_low, r.ci_high))]
    if has("elo"):
        cols.append(("Elo", lambda r: _f(r.elo)))
    cols += [("win %", lambda r: _f(r.win_rate)), ("n", lambda r: str(r.n))]
    if has("n_wins"):
        cols += [("W/D/L vs baseline", lambda r: "" if r.n_wins is None
                  else f"{r.n_wins}/{r.n_draws}/{r.n_losses}"),
                 ("win % vs baseline", lambda r: "" if r.baseline_win_rate is None
                  else _f(r.baseline_win_rate) + (f" ± {_f(r.baseline_se)}"
                                                  if r.baseline_se is not None else ""))]
    if has("lc_win_rate"):
        cols.append(("LC win %", lambda r: _f(r.lc_win_rate)))
    if has("style_bt"):
        cols.append(("style BT", lambda r: "" if r.style_bt is None else
                     f"{_f(r.style_bt)} ({compact_ci(r.style_bt, r.style_ci_low, r.style_ci_high)})"))
        cols.append(("rank (UB), style", lambda r: "" if r.style_rank is None
                     else str(r.style_rank)))
    return cols


def _table(board: Any) -> str:
    lines = _header(board)
    if board.empty_reason:
        lines.append(f"No leaderboard: {board.empty_reason}.")
        return "\n".join(lines) + "\n"
    cols = _columns(board)
    cells = [[name for name, _ in cols]] + [[fn(r) for _, fn in cols] for r in board.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    for k, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 1 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def _md(board: Any) -> str:
    d = board.describe()
    out = [f"## {d['label'] + ' | ' if d['label'] else ''}Leaderboard: {d['category']}", ""]
    out += [f"- {line}" for line in _header(board)[1:]]
    out.append("")
    if board.empty_reason:
        out.append(f"No leaderboard: {board.empty_reason}.")
        return "\n".join(out) + "\n"
    cols = _columns(board)
    out.append("| " + " | ".join(n for n, _ in cols) + " |")
    out.append("|" + "|".join("---" for _ in cols) + "|")
    for r in board.rows:
        out.append("| " + " | ".join(fn(r).replace("|", "\\|") for _, fn in cols) + " |")
    return "\n".join(out) + "\n"


def _csv_rows(board: Any) -> list[dict[str, Any]]:
    d = board.describe()
    s = board.settings
    meta = {"label": d["label"], "method": d["method"], "position_policy": s.policy,
            "anchor": d["anchor"], "ci_level": s.ci_level, "bootstrap_rounds": s.rounds,
            "resample_unit": s.resample_unit, "seed": s.seed, "baseline": s.baseline or "",
            "lc_method": d.get("length_controlled") or ""}
    out = []
    for r in board.rows:
        row = {k: v for k, v in asdict(r).items()}
        row["criteria"] = json.dumps(row["criteria"], sort_keys=True) if row["criteria"] else ""
        out.append({"category": board.category, **row, **meta})
    return out


def format_board(boards: Union[Any, Sequence[Any]], fmt: str = "table") -> str:
    """Text of one board or several (all categories) in ``fmt``: table | md | csv | json.
    Raises ValueError for another format."""
    items = list(boards) if isinstance(boards, (list, tuple)) else [boards]
    if fmt == "table":
        return "\n".join(_table(b) for b in items)
    if fmt == "md":
        label = items[0].label if items else ""
        head = f"# {label + ' | ' if label else ''}Arena leaderboard\n\n"
        return head + "\n".join(_md(b) for b in items)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
        w.writeheader()
        for b in items:
            for row in _csv_rows(b):
                w.writerow({k: ("" if v is None else v) for k, v in row.items()})
        return buf.getvalue()
    if fmt == "json":
        data = {"label": items[0].label if items else "", "boards": [
            {**b.describe(), "empty_reason": b.empty_reason, "models": b.models,
             "rows": [asdict(r) for r in b.rows], "win_rate_matrix": b.win_rate,
             "count_matrix": b.count, "predicted_matrix": b.predicted,
             "style_length_coef": b.style_length_coef}
            for b in items]}
        return json.dumps(to_jsonable(data), indent=2) + "\n"
    raise ValueError(f"unknown format {fmt!r} (table, md, csv or json)")


__all__ = ["format_board", "to_jsonable", "CSV_FIELDS"]
