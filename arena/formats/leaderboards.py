"""Leaderboard and battle-log exports in the anchors' layouts.

Figures are tallies over stored verdicts (failed, dry-run and superseded rows and
self-battles never count):
wins, losses and draws (TIE and BOTH_BAD are draws), each counted from the model's side, and a
win rate with draws as half a win; single-answer scores are averaged. These are the published
layouts of the anchors, not the project's rating (Bradley-Terry lives with the ratings).

Layouts:
- ``csv`` / ``json`` / ``markdown``: model, n, wins, losses, draws, win_rate, mean_score;
- ``evalscope``: its report CSV (pairwise metric): model, win, loss, tie, win_rate, loss_rate,
  tie_rate (rates as fractions);
- ``leval``: model, n_wins, n_draws, n_losses, n_total, win % against ``--baseline``
  (both orders counted), the baseline itself left out;
- ``alpaca-eval``: its leaderboard CSV: name, win_rate, standard_error, n_wins, n_wins_base,
  n_draws, n_total, avg_length (against ``--baseline``; win_rate in percent, avg_length in
  characters of the last turn).
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import Connection

from arena.errors import InputError
from arena.formats import query
from arena.formats.query import ExportFilter
from arena.formats.records import write_json
from arena.formats.registry import Writer, register_writer


def _outcome_for(model_is_a: bool, outcome: str) -> str:
    if outcome in ("TIE", "BOTH_BAD"):
        return "draw"
    return "win" if (outcome == "A") == model_is_a else "loss"


def tallies(conn: Connection, flt: ExportFilter, baseline: Optional[str] = None
            ) -> list[dict[str, Any]]:
    """Per-model counts; with ``baseline`` only battles against it, the baseline left out."""
    t: dict[str, dict[str, Any]] = defaultdict(lambda: {"wins": 0, "losses": 0, "draws": 0,
                                                        "scores": [], "lengths": [],
                                                        "outcomes": []})
    for v in query.verdicts(conn, flt, mode="pair"):
        if v["outcome"] is None or v["model_a"] == v["model_b"]:
            continue  # failed verdicts and self-battles say nothing about a ranking
        sides = [(v["model_a"], True, v["answer_a"]), (v["model_b"], False, v["answer_b"])]
        if baseline is not None:
            if baseline not in (v["model_a"], v["model_b"]):
                continue
            sides = [s for s in sides if s[0] != baseline]
        for model, is_a, answer in sides:
            res = _outcome_for(is_a, v["outcome"])
            t[model][{"win": "wins", "loss": "losses", "draw": "draws"}[res]] += 1
            t[model]["outcomes"].append({"win": 1.0, "loss": 0.0, "draw": 0.5}[res])
            if answer:
                t[model]["lengths"].append(len(answer[-1]))
    if baseline is None:
        for v in query.verdicts(conn, flt, mode="single"):
            if v["score_a"] is not None:
                t[v["model_a"]]["scores"].append(v["score_a"])
    rows = []
    for model, c in t.items():
        n = c["wins"] + c["losses"] + c["draws"]
        outs = c["outcomes"]
        se = (math.sqrt(sum((o - sum(outs) / n) ** 2 for o in outs) / (n - 1)) / math.sqrt(n)
              if n > 1 else None)
        rows.append({"model": model, "n": n, "wins": c["wins"], "losses": c["losses"],
                     "draws": c["draws"],
                     "win_rate": round((c["wins"] + 0.5 * c["draws"]) / n * 100, 4) if n else None,
                     "standard_error": round(se * 100, 4) if se is not None else None,
                     "mean_score": round(sum(c["scores"]) / len(c["scores"]), 4)
                     if c["scores"] else None, "n_scores": len(c["scores"]),
                     "avg_length": round(sum(c["lengths"]) / len(c["lengths"]))
                     if c["lengths"] else None})
    rows.sort(key=lambda r: (-(r["win_rate"] if r["win_rate"] is not None else -1),
                             -(r["mean_score"] or 0), r["model"]))
    return rows


PLAIN = ("model", "n", "wins", "losses", "draws", "win_rate", "mean_score", "n_scores")


def _csv(out: Path, header: list[str], rows: list[list[Any]]) -> int:
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return len(rows)


def write_csv(conn: Connection, out: Path, flt: ExportFilter) -> int:
    rows = tallies(conn, flt, flt.baseline)
    return _csv(out, list(PLAIN), [[r[k] for k in PLAIN] for r in rows])


def write_json_board(conn: Connection, out: Path, flt: ExportFilter) -> int:
    return write_json(out, [{k: r[k] for k in PLAIN} for r in tallies(conn, flt, flt.baseline)])


def write_markdown(conn: Connection, out: Path, flt: ExportFilter) -> int:
    rows = tallies(conn, flt, flt.baseline)
    lines = ["| " + " | ".join(PLAIN) + " |", "|" + "---|" * len(PLAIN)]
    for r in rows:
        lines.append("| " + " | ".join("" if r[k] is None else str(r[k]) for k in PLAIN) + " |")
    Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(rows)


def write_evalscope(conn: Connection, out: Path, flt: ExportFilter) -> int:
    rows = []
    for r in tallies(conn, flt, flt.baseline):
        if not r["n"]:
            continue
        n = r["n"]
        rows.append([r["model"], r["wins"], r["losses"], r["draws"], r["wins"] / n,
                     r["losses"] / n, r["draws"] / n])
    rows.sort(key=lambda x: -x[4])
    return _csv(out, ["model", "win", "loss", "tie", "win_rate", "loss_rate", "tie_rate"], rows)


def _need_baseline(flt: ExportFilter, layout: str) -> str:
    if not flt.baseline:
        raise InputError(f"the {layout} leaderboard is against one baseline: pass --baseline "
                         f"MODEL", field="baseline")
    return flt.baseline


def write_leval(conn: Connection, out: Path, flt: ExportFilter) -> int:
    base = _need_baseline(flt, "L-Eval")
    rows = [[r["model"], r["wins"], r["draws"], r["losses"], r["n"], r["win_rate"]]
            for r in tallies(conn, flt, base) if r["n"]]
    return _csv(out, ["model", "n_wins", "n_draws", "n_losses", "n_total", "win %"], rows)


def write_alpaca(conn: Connection, out: Path, flt: ExportFilter) -> int:
    base = _need_baseline(flt, "AlpacaEval")
    rows = [[r["model"], r["win_rate"], r["standard_error"], r["wins"], r["losses"], r["draws"],
             r["n"], r["avg_length"]] for r in tallies(conn, flt, base) if r["n"]]
    return _csv(out, ["name", "win_rate", "standard_error", "n_wins", "n_wins_base", "n_draws",
                      "n_total", "avg_length"], rows)


register_writer(Writer("csv", "leaderboard", "model, n, wins, losses, draws, win_rate, "
                       "mean_score", write_csv))
register_writer(Writer("json", "leaderboard", "the same as a JSON list", write_json_board))
register_writer(Writer("markdown", "leaderboard", "the same as a markdown table", write_markdown))
register_writer(Writer("evalscope", "leaderboard", "report CSV (pairwise metric)",
                       write_evalscope))
register_writer(Writer("leval", "leaderboard", "n_wins, n_draws, win % vs --baseline",
                       write_leval))
register_writer(Writer("alpaca-eval", "leaderboard", "leaderboard CSV vs --baseline",
                       write_alpaca))
