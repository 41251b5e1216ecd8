"""Chatbot-Arena-style boards (issue 14.5): rank (UB) defined in the output, the rank table by
category (CSV / Markdown / JSON), the minimum-battles filter, rank under style control, compact
CIs, and the no-MLE warning naming the models that never won or never lost."""

from __future__ import annotations

import csv
import io
import json
import random

import numpy as np
import pytest

from arena.cli import main as arena_main
from arena.leaderboard import LeaderboardSettings, compute_leaderboard, compute_leaderboards
from arena.ratings.bt import RANK_UB, fit_bt
from arena.ratings.rank_table import format_rank_table, rank_table
from arena.ratings.report import compact_ci, format_board
from arena.ratings.selection import Selection, load_verdicts
from ratings_fixtures import Verdicts, all_pairs, seed_questions

pytestmark = pytest.mark.db

MODELS = ["alpha", "beta", "gamma", "delta"]
STRENGTH = {"alpha": 0.8, "beta": 0.55, "gamma": 0.5, "delta": 0.2}


@pytest.fixture
def cats(store):
    """Three categories; delta only appears on two writing questions (few battles)."""
    qs = {f"q{i}": ("math", "writing", "coding")[i % 3] for i in range(18)}
    answers = seed_questions(store, qs, {m: {q: m * (3 + k % 5) for k, q in enumerate(qs)}
                                         for m in MODELS})
    v = Verdicts(store, answers)
    rng = random.Random(2)
    for q, cat in qs.items():
        for a, b in all_pairs(MODELS):
            if "delta" in (a, b) and q not in ("q1", "q4"):
                continue
            p = STRENGTH[a] / (STRENGTH[a] + STRENGTH[b])
            v.pair(f"qs/{q}", a, b, rng.choices(["A", "B", "TIE"], [p, 1 - p, 0.15])[0])
    v.flush()
    return store


def _settings(**kw):
    return LeaderboardSettings(policy="none", rounds=200, seed=1, **kw)


def test_rank_table_by_category_is_the_boards_ranks(cats, tmp_path, capsys):
    frame = load_verdicts(cats, Selection())
    boards = compute_leaderboards(frame, _settings())
    table = rank_table(boards)
    assert table.categories == ["all", "coding", "math", "writing"]
    for cat, board in boards.items():
        for r in board.rows:
            assert table.rank(r.model, cat) == r.rank
    assert table.rank("delta", "math") is None  # no battles there
    assert table.models[0] == "alpha"
    recs = table.records()
    assert recs[0]["model"] == "alpha" and set(recs[0]) == {"model", *table.categories}
    md = format_rank_table(table, "md")
    assert RANK_UB in md and "| model | all | coding | math | writing |" in md
    data = json.loads(format_rank_table(table, "json"))
    assert data["definition"] == RANK_UB
    assert data["models"][0]["ranks"]["all"]["rank"] == table.rank("alpha", "all")
    # the CLI, with the minimum-battles filter
    cfg = tmp_path / "c.yaml"
    cfg.write_text("judge:\n  position_policy: none\nratings:\n  bootstrap_rounds: 200\n"
                   "  seed: 1\n")
    assert arena_main(["leaderboard", "-c", str(cfg), "--db", cats.url, "--by-category",
                       "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["model"] for r in rows] == table.models
    assert {r["model"]: r["all"] for r in rows}["alpha"] == str(table.rank("alpha", "all"))
    assert arena_main(["leaderboard", "-c", str(cfg), "--db", cats.url, "--by-category",
                       "--format", "csv", "--min-battles", "10"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert "delta" not in {r["model"] for r in rows}


def test_min_battles_leaves_models_out_before_fitting(cats):
    frame = load_verdicts(cats, Selection())
    full = compute_leaderboard(frame, _settings())
    n = {r.model: r.n for r in full.rows}
    assert n["delta"] == 6 and min(v for m, v in n.items() if m != "delta") > 6
    board = compute_leaderboard(frame, _settings(min_battles=7))
    assert {r.model for r in board.rows} == {"alpha", "beta", "gamma"}
    assert board.left_out_models == {"delta": 6}
    assert any("fewer than 7 battles" in w and "delta (6)" in w for w in board.warnings)
    assert board.describe()["min_battles"] == 7
    # the same as rating the data without delta's battles
    sub = frame.subset(~np.isin(frame.model_a, [frame.models.index("delta")]) &
                       ~np.isin(frame.model_b, [frame.models.index("delta")]))
    alone = compute_leaderboard(sub, _settings())
    assert [r.bt for r in board.rows] == pytest.approx([r.bt for r in alone.rows], abs=1e-9)


def test_text_defines_rank_ub_and_prints_compact_cis_and_style_rank(cats):
    frame = load_verdicts(cats, Selection())
    board = compute_leaderboard(frame, _settings(methods=("bt", "winrate", "style_bt")))
    text = format_board(board, "table")
    assert RANK_UB in text and "rank (UB)" in text.splitlines()[
        next(i for i, l in enumerate(text.splitlines()) if l.startswith("---")) - 1]
    top = board.rows[0]
    assert compact_ci(top.bt, top.ci_low, top.ci_high) in text
    assert compact_ci(100.0, 90.0, 112.5) == "+12.5 / -10.0"
    assert all(r.style_rank is not None for r in board.rows)
    assert "rank (UB), style" in text
    md = format_board(board, "md")
    assert RANK_UB in md and "| rank (UB) |" in md
    row = next(r for r in csv.DictReader(io.StringIO(format_board(board, "csv"))))
    assert row["style_rank"] and row["ci_low"] and row["ci_high"]


def test_no_mle_warning_names_who_never_won_and_who_never_lost():
    # z never wins, w never loses, x and y beat each other
    a = np.array([0, 1, 0, 1, 3, 3, 0])
    b = np.array([1, 0, 2, 2, 0, 2, 3])
    s = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    res = fit_bt(a, b, s, ["x", "y", "z", "w"], rounds=0)
    assert res.regularized and res.never_won == ["z"] and res.never_lost == ["w"]
    msg = res.warnings[0]
    assert "never won: z" in msg and "never lost: w" in msg
    # every model wins and loses, but two groups never meet: the cut-off ones are named
    a2 = np.array([0, 1, 2, 3])
    b2 = np.array([1, 0, 3, 2])
    res2 = fit_bt(a2, b2, np.ones(4), ["x", "y", "z", "w"], rounds=0)
    assert res2.regularized and res2.never_won == [] and "not connected" in res2.warnings[0]
