"""AlpacaEval, exactly (issue 14.1): fractional preferences imported into Judgment.preference
and used by every win rate, AlpacaEval's formulas to 1e-9, the legacy draw code 0, and
model_outputs.json into a fresh store."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

import formats_kit as kit
from arena import formats
from arena.leaderboard import LeaderboardSettings, compute_leaderboard
from arena.ratings.battles import build_battles
from arena.ratings.selection import Selection, load_verdicts
from arena.store.schema import Answer, Judgment, Question

pytestmark = pytest.mark.db

# AlpacaEval 2's weighted annotator: generator_1 is the baseline, preference 1 + P(output_2)
PREFS = {"alpha": [1.0695417419, 1.5926666, 1.9990302482, 1.5, 1.25],
         "beta": [1.0, 1.0000001, 1.4999, 1.9, 2.0]}
# output lengths of the models (characters): alpha's mean is 10.8 -> AlpacaEval writes 10
LENGTHS = {"alpha": [7, 9, 11, 13, 14], "beta": [5, 5, 5, 5, 6]}
INSTR = [f"Instruction number {i}?" for i in range(5)]


def _annotations() -> list[dict]:
    rows = []
    for model, prefs in PREFS.items():
        for i, p in enumerate(prefs):
            rows.append({"instruction": INSTR[i], "output_1": f"base {i}",
                         "generator_1": "base", "dataset": "helpful_base",
                         "output_2": "o" * LENGTHS[model][i], "generator_2": model,
                         "annotator": "weighted_alpaca_eval_gpt4_turbo", "preference": p,
                         "raw_completion": {"logprobs": i}})
    return rows


def _alpaca(prefs: list[float]) -> dict[str, float]:
    """AlpacaEval's published formulas, written out."""
    x = [p - 1 for p in prefs]
    n = len(x)
    mean = sum(x) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / (n - 1))
    wins = sum(p > 1.5 for p in prefs)
    draws = sum(p == 1.5 for p in prefs)
    return {"win_rate": mean * 100, "standard_error": sd / math.sqrt(n) * 100,
            "n_wins": wins, "n_wins_base": sum(p < 1.5 for p in prefs), "n_draws": draws,
            "n_total": n, "discrete_win_rate": (wins + draws / 2) / n * 100}


def test_fractional_preferences_give_alpacaevals_numbers(store, tmp_path: Path) -> None:
    with store.begin() as conn:
        formats.import_file(conn, kit.write(tmp_path, "annotations.json", _annotations()))
        stored = conn.execute(select(Judgment.model_b, Judgment.preference, Judgment.outcome,
                                     Judgment.scores).order_by(Judgment.id)).all()
    assert [p for _, p, _, _ in stored] == PREFS["alpha"] + PREFS["beta"]  # exactly
    assert [o for _, _, o, _ in stored][:5] == ["A", "B", "B", "TIE", "A"]  # nearest outcome
    assert all(sc is None for *_, sc in stored)
    # the exported leaderboard: AlpacaEval's formulas on the fractions, at full precision
    out = tmp_path / "lb.csv"
    with store.begin() as conn:
        formats.export(conn, "leaderboard", "alpaca-eval", out,
                       formats.ExportFilter(baseline="base"))
    got = {r["name"]: r for r in csv.DictReader(out.open())}
    assert list(got["alpha"]) == ["name", "win_rate", "standard_error", "n_wins", "n_wins_base",
                                  "n_draws", "n_total", "discrete_win_rate", "avg_length"]
    for model, prefs in PREFS.items():
        want = _alpaca(prefs)
        for key in ("win_rate", "standard_error", "discrete_win_rate"):
            assert abs(float(got[model][key]) - want[key]) < 1e-9, (model, key)
        for key in ("n_wins", "n_wins_base", "n_draws", "n_total"):
            assert int(got[model][key]) == want[key], (model, key)
    assert got["alpha"]["avg_length"] == "10" and got["beta"]["avg_length"] == "5"
    assert float(got["alpha"]["win_rate"]) == pytest.approx(_alpaca(PREFS["alpha"])["win_rate"],
                                                            abs=0, rel=1e-15)
    # the leaderboard's own win rate vs the baseline uses the same fractions
    frame = load_verdicts(store, Selection())
    assert np.nansum(frame.preference) == pytest.approx(sum(sum(p) for p in PREFS.values()))
    board = compute_leaderboard(frame, LeaderboardSettings(policy="none", baseline="base",
                                                           rounds=0, methods=("bt", "winrate")))
    rows = {r.model: r for r in board.rows}
    for model, prefs in PREFS.items():
        want = _alpaca(prefs)
        assert rows[model].baseline_win_rate == pytest.approx(want["win_rate"], abs=1e-9)
        assert rows[model].baseline_se == pytest.approx(want["standard_error"], abs=1e-9)
        assert rows[model].discrete_win_rate == pytest.approx(want["discrete_win_rate"],
                                                              abs=1e-9)
        assert (rows[model].n_wins, rows[model].n_losses, rows[model].n_draws) == \
            (want["n_wins"], want["n_wins_base"], want["n_draws"])
        assert rows[model].avg_length == int(sum(LENGTHS[model]) / 5)
    # every policy scores a battle 2 - preference (model_a is the baseline here)
    for policy in ("none", "both_games", "random_order", "tie_if_inconsistent"):
        b = build_battles(frame, policy)
        assert b.score.tolist() == pytest.approx([2 - p for p in PREFS["alpha"] + PREFS["beta"]],
                                                 abs=1e-15), policy
    # the exported annotations keep the fraction exactly
    ann = tmp_path / "ann_out.json"
    with store.begin() as conn:
        formats.export(conn, "verdicts", "alpaca-eval", ann)
    exported = {(r["generator_2"], r["instruction"]): r["preference"]
                for r in json.loads(ann.read_text())}
    assert exported == {(m, INSTR[i]): p for m, ps in PREFS.items() for i, p in enumerate(ps)}


def test_alpacaeval1_legacy_draw_code_imports_as_a_draw(store, tmp_path: Path) -> None:
    rows = [kit.ae_annotation(0, "base", "alpha", 0.0), kit.ae_annotation(1, "base", "alpha", 2),
            kit.ae_annotation(0, "base", "beta", 0)]
    with store.begin() as conn:
        s = formats.import_file(conn, kit.write(tmp_path, "annotations_v1.json", rows))
        got = conn.execute(select(Judgment.preference, Judgment.outcome)
                           .order_by(Judgment.id)).all()
    assert [tuple(r) for r in got] == [(1.5, "TIE"), (2.0, "B"), (1.5, "TIE")]
    assert any("2 preference(s) 0" in n and "draws (1.5)" in n for n in s.notes)
    # still bad input: anything else outside [1, 2]
    with pytest.raises(formats.InputError, match="outside"):
        with store.begin() as conn:
            formats.import_file(conn, kit.write(tmp_path, "bad.json",
                                                [kit.ae_annotation(0, "b", "a", 2.5)]))


def test_model_outputs_into_a_fresh_store_create_their_questions(store, tmp_path: Path) -> None:
    p = kit.write(tmp_path, "model_outputs.json", kit.ae_outputs("alpha"))
    with store.begin() as conn:
        s = formats.import_file(conn, p)
        qs = conn.execute(select(Question.source, Question.category, Question.turns)
                          .order_by(Question.seq)).all()
        n_answers = conn.execute(select(func.count()).select_from(Answer)).scalar_one()
    assert [tuple(q) for q in qs] == [("alpaca_eval", "helpful_base", [kit.AE_Q[0]["instruction"]]),
                                      ("alpaca_eval", "koala", [kit.AE_Q[1]["instruction"]])]
    assert n_answers == 2 and s.inserted == 2
    assert any("2 question(s) created in source 'alpaca_eval'" in n for n in s.notes)
    # another model's outputs and the annotations find the same questions by text
    with store.begin() as conn:
        formats.import_file(conn, kit.write(tmp_path, "beta_outputs.json",
                                            kit.ae_outputs("beta")))
        formats.import_file(conn, kit.write(tmp_path, "annotations.json", kit.AE_ANN))
        n_q = conn.execute(select(func.count()).select_from(Question)).scalar_one()
        again = formats.import_file(conn, p)
    assert n_q == 2 and again.inserted == 0 and again.unchanged == 2
    # with --source the questions live there
    with store.begin() as conn:
        formats.import_file(conn, kit.write(tmp_path, "model_outputs.json",
                                            kit.ae_outputs("gamma")), source="ae2")
        assert conn.execute(select(func.count()).select_from(Question)
                            .where(Question.source == "ae2")).scalar_one() == 2


def test_two_files_with_different_texts_are_two_versions_each_verdict_on_its_own(
        store, tmp_path: Path) -> None:
    """The same generator answered one instruction differently in two result files: two
    answer versions, and each verdict points at the text it judged."""
    def annotation(text: str, p: float) -> dict:
        return {"instruction": "Name a colour.", "output_1": "Blue.", "generator_1": "base",
                "output_2": text, "generator_2": "model-x", "annotator": "a", "preference": p,
                "raw_completion": text}

    first = tmp_path / "run1.json"
    first.write_text(json.dumps([annotation("Red.", 1.9)]))
    second = tmp_path / "run2.json"
    second.write_text(json.dumps([annotation("Green, or perhaps teal.", 1.2)]))
    for path in (first, second):
        with store.begin() as conn:
            formats.import_file(conn, path)
    with store.begin() as conn:
        texts = dict(conn.execute(select(Answer.id, Answer.turns).where(
            Answer.model == "model-x")).all())
        judged = conn.execute(select(Judgment.answer_b_id, Judgment.preference)
                              .order_by(Judgment.id)).all()
    assert sorted(t[0] for t in texts.values()) == ["Green, or perhaps teal.", "Red."]
    assert [(texts[aid][0], p) for aid, p in judged] == [("Red.", 1.9),
                                                         ("Green, or perhaps teal.", 1.2)]
