"""Length control, named honestly (issue 14.3): without AlpacaEval's difficulties the board
says the difficulty is estimated from the other models; with ``ratings.instruction_difficulty``
it is AlpacaEval's GLM, equal to an independent implementation of AlpacaEval's procedure."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from arena import formats
from arena.config import load_config
from arena.errors import InputError
from arena.leaderboard import board_set, run_ratings_stage
from arena.ratings.alpaca_glm import LC_ALPACA, LC_OTHERS, read_instruction_difficulty

pytestmark = pytest.mark.db

N = 60


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0, 1, N)
    base_len = rng.integers(200, 800, N)  # the baseline's one output per instruction
    rows = []
    for model, (skill, verbose) in {"long": (0.2, 900), "short": (0.0, 300)}.items():
        for i in range(N):
            len_m = int(rng.integers(verbose // 2, verbose * 2))
            len_b = int(base_len[i])
            z = skill - 0.8 * difficulty[i] + 0.9 * np.tanh((len_m - len_b) / 500)
            p = 1 / (1 + np.exp(-z))
            pref = float(np.clip(1 + p + rng.normal(0, 0.15), 1, 2))
            rows.append({"instruction": f"Task {i}: do thing {i}.", "output_1": "b" * len_b,
                         "generator_1": "base", "dataset": "helpful_base",
                         "output_2": "m" * len_m, "generator_2": model,
                         "annotator": "weighted_alpaca_eval_gpt4_turbo", "preference": pref})
    return rows, difficulty


def _alpacaeval_lc(df: pd.DataFrame, difficulty: pd.Series) -> float:
    """AlpacaEval's get_length_controlled_winrate (length_controlled_v1), without the gamed
    baselines' rows, written from its documented procedure."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import GroupKFold
    import sklearn

    df = df.reset_index(drop=True).reset_index()  # "index" = the instruction's position
    delta = df["output_1"].str.len() - df["output_2"].str.len()
    X = pd.DataFrame({"np.tanh(std_delta_len)": np.tanh(delta / delta.std()),
                      "instruction_difficulty": df["index"].map(difficulty),
                      "not_gamed_baseline.astype(float)": 1.0})
    y = df["preference"].astype(float).replace({0.0: 1.5}) - 1
    n = len(X)
    Xd = pd.concat([X, X], ignore_index=True)
    yd = np.r_[np.ones(n), np.zeros(n)]
    prob = np.r_[y, 1 - y]

    def logloss_continuous(y_true, y_pred, true_prob, true_sample_weight=None):
        y_true = np.where(y_true == 1, true_prob, 1 - true_prob)
        y_pred = np.clip(y_pred, 1e-15, 1 - 1e-15)
        return -np.mean(y_true * np.log(y_pred) + (1 - y_true) * np.log(1 - y_pred))

    with sklearn.config_context(enable_metadata_routing=True), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scorer = make_scorer(logloss_continuous, response_method="predict_proba",
                             greater_is_better=False).set_score_request(
            true_sample_weight=True, true_prob=True)
        model = LogisticRegressionCV(cv=GroupKFold(n_splits=5), scoring=scorer,
                                     random_state=123, dual=False, penalty="l1",
                                     solver="liblinear", fit_intercept=False)
        model.set_fit_request(sample_weight=True)
        model.fit(Xd, yd, sample_weight=prob, groups=np.r_[np.arange(n), np.arange(n)],
                  true_sample_weight=None, true_prob=prob)
        X0 = X.copy()
        X0["np.tanh(std_delta_len)"] = 0.0
        return float(model.predict_proba(X0)[:, 1].mean() * 100)


def _config(tmp_path, store, difficulty_file=None):
    text = ("judge:\n  mode: pairwise-baseline\n  baseline: base\n  position_policy: none\n"
            "ratings:\n  bootstrap_rounds: 0\n  methods: [bt, winrate, length_controlled]\n")
    if difficulty_file:
        text += f"  instruction_difficulty: {difficulty_file.name}\n"
    text += f"report:\n  dir: reports\nstore:\n  url: {store.url}\n"
    (tmp_path / "cfg.yaml").write_text(text)
    return load_config(tmp_path / "cfg.yaml").config


def test_alpacaevals_glm_with_its_difficulties(store, tmp_path):
    rows, difficulty = _data()
    with store.begin() as conn:
        formats.import_file(conn, formats_kit_write(tmp_path, rows))
    csv_path = tmp_path / "instruction_difficulty.csv"
    csv_path.write_text(",instruction_difficulty\n" +
                        "".join(f"{i},{float(d)!r}\n" for i, d in enumerate(difficulty)))
    assert read_instruction_difficulty(csv_path)[3] == difficulty[3]
    cfg = _config(tmp_path, store, csv_path)
    boards, _frame, _scope = board_set(store, cfg)
    board = boards["all"]
    assert board.lc_method == LC_ALPACA
    by = {r.model: r for r in board.rows}
    df = pd.DataFrame(rows)
    for model in ("long", "short"):
        want = _alpacaeval_lc(df[df["generator_2"] == model], pd.Series(difficulty))
        assert by[model].lc_win_rate == pytest.approx(want, abs=1e-9), model
    # length-controlled pulls the verbose model down relative to its raw win rate
    assert by["long"].lc_win_rate < by["long"].baseline_win_rate
    text = run_ratings_stage(store, cfg, write_files=False)
    assert "AlpacaEval's GLM with its instruction_difficulty.csv" in text


def test_without_difficulties_the_board_says_how_it_estimated_them(store, tmp_path):
    rows, _difficulty = _data(1)
    with store.begin() as conn:
        formats.import_file(conn, formats_kit_write(tmp_path, rows))
    cfg = _config(tmp_path, store)
    text = run_ratings_stage(store, cfg, fmt="json", write_files=False)
    board = json.loads(text)["boards"][0]
    assert board["length_controlled"] == LC_OTHERS
    assert "difficulty estimated from the other models" in run_ratings_stage(
        store, cfg, write_files=False)


def test_bad_difficulty_file_names_file_line_and_field(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text(",instruction_difficulty\n0,0.5\n1,abc\n")
    with pytest.raises(InputError) as err:
        read_instruction_difficulty(p)
    assert err.value.line == 3 and err.value.field == "instruction_difficulty"
    p.write_text("index,other\n0,1\n")
    with pytest.raises(InputError, match="instruction_difficulty column"):
        read_instruction_difficulty(p)


def formats_kit_write(tmp_path, rows):
    p = tmp_path / "annotations.json"
    p.write_text(json.dumps(rows))
    return p
