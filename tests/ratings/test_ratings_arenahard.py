"""arena-hard, exactly (issue 14.2): `arena leaderboard --format arena-hard` on imported
arena-hard-auto judgments against an independent implementation of upstream's documented
procedure (v0.1 show_result.py): a strong verdict is three rows, the rows are resampled with
replacement, BT per round, percentiles of the ratings turned into win rates vs the baseline."""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest

from arena.cli import main as arena_main
from arena.store import Store

pytestmark = pytest.mark.db

MODELS = {"m1": 0.9, "m2": 0.2, "m3": -0.4, "m4": -1.2}  # strength vs the baseline (logit)
LABELS = ["A>>B", "A>B", "A=B", "B>A", "B>>A"]
WEIGHT = 3
Q = 150


def _judgments(rng: np.random.Generator) -> list[dict]:
    out = []
    for m, z in MODELS.items():
        p = 1 / (1 + np.exp(-z))
        for q in range(Q):
            games = []
            for g in range(2):
                # the model is B in game 1 and A in game 2; strong verdicts are common
                u = rng.random()
                model_wins = u < p * 0.85
                tie = (not model_wins) and u < p * 0.85 + 0.15
                strong = rng.random() < 0.6
                if tie:
                    label = "A=B"
                elif model_wins == (g == 1):
                    label = "A>>B" if strong else "A>B"
                else:
                    label = "B>>A" if strong else "B>A"
                games.append({"user_prompt": "...", "judgment": f"[[{label}]]", "score": label})
            out.append({"uid": f"u{q}", "model": m, "baseline": "base", "judge": "gpt-4",
                        "games": games})
    return out


def _rows(judgments: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Upstream's battle rows: (model index, score of the model), a strong game WEIGHT rows."""
    names = list(MODELS)
    mi, sc = [], []
    for j in judgments:
        for g, game in enumerate(j["games"]):
            label = game["score"]
            weight = WEIGHT if ">>" in label else 1
            if label == "A=B":
                s = 0.5
            else:
                a_wins = label.startswith("A>")
                s = float(a_wins) if g == 1 else float(not a_wins)  # game 2: the model is A
            mi += [names.index(j["model"])] * weight
            sc += [s] * weight
    return np.array(mi), np.array(sc)


def _upstream(mi: np.ndarray, sc: np.ndarray, rounds: int, level: float, seed: int):
    """show_result.py's procedure: every model meets only the baseline (anchored at 1000), so
    each model's BT rating is 400 log10 of its odds over its rows; bootstrap = resample all
    rows with replacement; percentiles of the Elo ratings; win rate vs the baseline."""
    rng = np.random.default_rng(seed)
    M = len(MODELS)

    def elo(idx: np.ndarray) -> np.ndarray:
        pts = np.bincount(mi[idx], weights=sc[idx], minlength=M)
        n = np.bincount(mi[idx], minlength=M)
        p = pts / n
        return 400 * np.log10(p / (1 - p))

    point = elo(np.arange(len(mi)))
    boot = np.array([elo(rng.integers(0, len(mi), len(mi))) for _ in range(rounds)])
    alpha = (1 - level) / 2
    lo, hi = np.percentile(boot, [100 * alpha, 100 * (1 - alpha)], axis=0)
    wr = lambda d: 100 / (1 + 10 ** (-d / 400))  # noqa: E731
    return wr(point), wr(lo), wr(hi), boot.std(axis=0)


def _board(store_url: str, tmp_path, capsys, unit: str, level: float, rounds: int):
    cfg = tmp_path / f"cfg_{unit}.yaml"
    cfg.write_text("judge:\n  mode: pairwise-baseline\n  baseline: base\n"
                   "ratings:\n  position_policy: both_games\n  strong_weight: 3\n"
                   f"  resample_unit: {unit}\n  ci_level: {level}\n"
                   f"  bootstrap_rounds: {rounds}\n  seed: 3\n")
    capsys.readouterr()  # what the imports printed
    assert arena_main(["leaderboard", "-c", str(cfg), "--db", store_url,
                       "--format", "arena-hard"]) == 0
    out = capsys.readouterr()
    return list(csv.DictReader(io.StringIO(out.out))), out.err


@pytest.fixture
def imported(store: Store, tmp_path):
    rng = np.random.default_rng(11)
    judgments = _judgments(rng)
    qf = tmp_path / "question.jsonl"
    qf.write_text("".join(json.dumps({"uid": f"u{q}", "category": "hard_prompt", "cluster": "c",
                                      "prompt": f"Prompt {q}"}) + "\n" for q in range(Q)))
    jf = tmp_path / "judgment.jsonl"
    jf.write_text("".join(json.dumps(j) + "\n" for j in judgments))
    for f in (qf, jf):
        assert arena_main(["import", str(f), "--db", store.url, "--format", "arena-hard"]) == 0
    return judgments


@pytest.mark.parametrize("level", [0.95, 0.90])
def test_rows_bootstrap_matches_upstreams_procedure(store, tmp_path, capsys, imported, level):
    mi, sc = _rows(imported)
    score, lo, hi, sd = _upstream(mi, sc, 4000, level, seed=1)
    rows, err = _board(store.url, tmp_path, capsys, "rows", level, 4000)
    lo_key, hi_key = ("rating_q025", "rating_q975") if level == 0.95 else \
        ("rating_q05", "rating_q95")
    assert list(rows[0]) == ["model", "score", lo_key, hi_key, "CI", "n"]
    got = {r["model"]: r for r in rows}
    assert float(got["base"]["score"]) == 50.0 and got["base"]["CI"] == "(-0.00, +0.00)"
    for k, m in enumerate(MODELS):
        r = got[m]
        assert abs(float(r["score"]) - score[k]) <= 0.005 + 1e-9  # the point: exact (2 dp)
        # the interval: the same procedure, other random draws (Poisson vs multinomial
        # resampling): within Monte Carlo error, 0.3 bootstrap sd (in win-rate points)
        p = score[k] / 100
        tol = 0.3 * sd[k] * 100 * np.log(10) / 400 * p * (1 - p)
        assert abs(float(r[lo_key]) - lo[k]) < tol, m
        assert abs(float(r[hi_key]) - hi[k]) < tol, m
        minus, plus = re.fullmatch(r"\(-(\d+\.\d\d), \+(\d+\.\d\d)\)", r["CI"]).groups()
        assert float(minus) == pytest.approx(float(r["score"]) - float(r[lo_key]), abs=0.011)
        assert float(plus) == pytest.approx(float(r[hi_key]) - float(r["score"]), abs=0.011)
    assert "arena-hard-auto uses" not in err  # the settings are upstream's


def test_other_units_do_not_reproduce_upstream(store, tmp_path, capsys, imported):
    mi, sc = _rows(imported)
    _score, lo, hi, _sd = _upstream(mi, sc, 4000, 0.95, seed=1)
    width = hi - lo
    rows, err = _board(store.url, tmp_path, capsys, "battles", 0.95, 4000)
    got = {r["model"]: r for r in rows}
    w_battles = np.array([float(got[m]["rating_q975"]) - float(got[m]["rating_q025"])
                          for m in MODELS])
    assert (w_battles > 1.15 * width).all()  # a strong verdict resampled as one unit of 3
    assert "resample_unit is 'battles'; arena-hard-auto uses 'rows'" in err
