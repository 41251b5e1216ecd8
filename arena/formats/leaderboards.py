"""Leaderboard and battle-log exports in the anchors' layouts.

Figures are tallies over stored verdicts (failed, dry-run and superseded rows and
self-battles never count): wins, losses and draws (TIE and BOTH_BAD are draws,
``arena.rules.outcomes``), each counted from the model's side (a fractional verdict by its
nearest outcome), and a win rate that is the mean of the model's scores - 1 / 0.5 / 0, or the
fraction of a weighted verdict (``arena.rules.preference``); single-answer scores are averaged.
These are the published layouts of the anchors, not the project's rating (Bradley-Terry lives
with the ratings). Figures are written at full precision.

Layouts:
- ``csv`` / ``json`` / ``markdown``: model, n, wins, losses, draws, win_rate, mean_score;
- ``evalscope``: its report CSV (pairwise metric): model, win, loss, tie, win_rate, loss_rate,
  tie_rate (rates as fractions);
- ``leval``: model, n_wins, n_draws, n_losses, n_total, win % against ``--baseline``
  (both orders counted), the baseline itself left out;
- ``alpaca-eval``: its leaderboard CSV: name, win_rate, standard_error, n_wins, n_wins_base,
  n_draws, n_total, discrete_win_rate, avg_length, against ``--baseline``, by AlpacaEval's
  formulas on the preferences (``arena.ratings.winrate.alpaca_winrate``): win_rate = mean
  (preference - 1) x 100, SE = sample sd / sqrt(n) x 100, n_wins / n_wins_base / n_draws by
  preference >, <, = 1.5, discrete_win_rate = (n_wins + n_draws / 2) / n x 100; avg_length =
  int(mean characters of the model's outputs), truncated as AlpacaEval does.
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
from arena.rules.answer_length import judged_length, turn_lengths
from arena.rules.outcomes import OUTCOME_CODES, is_draw, verdict_score


def _outcome_for(model_is_a: bool, outcome: str) -> str:
    if is_draw(outcome):
        return "draw"
    return "win" if (outcome == "A") == model_is_a else "loss"


def _score_for(model_is_a: bool, v: dict[str, Any]) -> float:
    """The model's score in one verdict: 1 / 0.5 / 0, or the fraction of a weighted one."""
    s = float(verdict_score([OUTCOME_CODES[v["outcome"]]], [v.get("preference")
                                                            if v.get("preference") is not None
                                                            else float("nan")])[0])
    return s if model_is_a else 1.0 - s


def tallies(conn: Connection, flt: ExportFilter, baseline: Optional[str] = None
            ) -> list[dict[str, Any]]:
    """Per-model counts; with ``baseline`` only battles against it, the baseline left out."""
    t: dict[str, dict[str, Any]] = defaultdict(lambda: {"wins": 0, "losses": 0, "draws": 0,
                                                        "scores": [], "lengths": [],
                                                        "outcomes": [], "preferences": []})
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
            score = _score_for(is_a, v)
            t[model]["outcomes"].append(score)
            t[model]["preferences"].append(1.0 + score)  # AlpacaEval's, from the model's side
            length = judged_length(turn_lengths(answer), v.get("turn"))
            if math.isfinite(length):
                t[model]["lengths"].append(length)
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
                     "win_rate": sum(outs) / n * 100 if n else None,
                     "standard_error": se * 100 if se is not None else None,
                     "mean_score": sum(c["scores"]) / len(c["scores"])
                     if c["scores"] else None, "n_scores": len(c["scores"]),
                     "preferences": c["preferences"],
                     # AlpacaEval: int(mean length) - truncated, not rounded
                     "avg_length": int(sum(c["lengths"]) / len(c["lengths"]))
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


ALPACA_COLUMNS = ["name", "win_rate", "standard_error", "n_wins", "n_wins_base", "n_draws",
                  "n_total", "discrete_win_rate", "avg_length"]


def write_alpaca(conn: Connection, out: Path, flt: ExportFilter) -> int:
    from arena.ratings.winrate import alpaca_winrate

    base = _need_baseline(flt, "AlpacaEval")
    scored = []
    for r in tallies(conn, flt, base):
        if r["n"]:
            scored.append((alpaca_winrate(r["preferences"]), r))
    scored.sort(key=lambda x: (-x[0]["win_rate"], x[1]["model"]))
    rows = [[r["model"], _full(ae["win_rate"]), _full(ae["standard_error"]), ae["n_wins"],
             ae["n_wins_base"], ae["n_draws"], ae["n_total"], _full(ae["discrete_win_rate"]),
             r["avg_length"]] for ae, r in scored]
    return _csv(out, ALPACA_COLUMNS, rows)


def _full(x: float) -> Any:
    """A float at full precision (repr), or empty for NaN."""
    return "" if x is None or not math.isfinite(x) else repr(float(x))


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
