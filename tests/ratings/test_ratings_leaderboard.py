"""The ratings stage and `arena leaderboard` over a real store: text, report files, manifest,
dry-run isolation, categories, single mode."""

from __future__ import annotations

import csv
import io
import json
import random

import pytest

from arena.cli import main as arena_main
from arena.config import ArenaConfig
from arena.leaderboard import (DRY_RUN_LABEL, LeaderboardSettings, compute_leaderboard,
                               load_verdicts, run_ratings_stage)
from arena.ratings.selection import Selection
from ratings_fixtures import Verdicts, all_pairs, seed_questions

pytestmark = pytest.mark.db

MODELS = ["alpha", "beta", "gamma"]
STRENGTH = {"alpha": 0.8, "beta": 0.5, "gamma": 0.2}  # chance the stronger side is preferred


def _cfg(tmp_path, **ratings):
    return ArenaConfig.model_validate({
        "report": {"dir": str(tmp_path / "reports")},
        "judge": {"mode": "pairwise-baseline", "baseline": "gamma",
                  "position_policy": "both_games"},
        "ratings": {"bootstrap_rounds": 100, **ratings}})


@pytest.fixture
def arena_store(store):
    qs = {f"q{i}": ("math" if i % 2 else "writing") for i in range(12)}
    answers = seed_questions(store, qs, {m: {q: m * (k + 1) for k, q in enumerate(qs)}
                                         for m in MODELS})
    v = Verdicts(store, answers)
    rng = random.Random(4)
    for q in qs:
        for a, b in all_pairs(MODELS):
            for first in "AB":
                p = STRENGTH[a] / (STRENGTH[a] + STRENGTH[b])
                v.pair(f"qs/{q}", a, b, rng.choices(["A", "B", "TIE"], [p, 1 - p, 0.2])[0],
                       first=first)
    v.pair("qs/q0", "alpha", "beta", None, status="failed")
    for q in qs:  # dry-run verdicts say the opposite of the real ones
        v.pair(f"qs/{q}", "gamma", "alpha", "A", kind="dry-run", judge="dry-run")
    v.flush()
    return store


def test_empty_store_says_so_and_writes_nothing(store, tmp_path):
    text = run_ratings_stage(store, _cfg(tmp_path))
    assert "No leaderboard: no verdicts yet." in text
    assert not (tmp_path / "reports").exists()


def test_stage_prints_and_writes_reports_with_manifest(arena_store, tmp_path):
    cfg = _cfg(tmp_path, methods=["bt", "elo", "winrate", "length_controlled", "style_bt"])
    text = run_ratings_stage(arena_store, cfg)
    assert "Leaderboard - all" in text and "Leaderboard - math" in text
    assert "position policy: both_games" in text and "anchor: mean 1000" in text
    assert "95% percentile bootstrap, 100 rounds, resampling questions, seed 0" in text
    assert "excluded: failed 1, dry run 12" in text and DRY_RUN_LABEL not in text
    lines = text.splitlines()
    first_row = lines[lines.index(next(l for l in lines if l.startswith("----"))) + 1]
    assert "alpha" in first_row  # the strongest model leads
    rep = tmp_path / "reports"
    names = sorted(p.name for p in rep.iterdir())
    assert names == ["leaderboard.csv", "leaderboard.json", "leaderboard.manifest.json",
                     "leaderboard.md"]
    manifest = json.loads((rep / "leaderboard.manifest.json").read_text())
    assert manifest["config_hash"] == cfg.config_hash()
    assert manifest["project_version"]
    assert manifest["judges"] == ["llm:judge-1"] and manifest["template_versions"] == ["v1"]
    assert manifest["seeds"]["bootstrap"] == 0
    assert manifest["counts"]["included"] == 72
    assert manifest["counts"]["excluded"]["failed"] == 1
    assert manifest["counts"]["excluded"]["dry_run"] == 12
    rows = list(csv.DictReader(io.StringIO((rep / "leaderboard.csv").read_text())))
    cats = {r["category"] for r in rows}
    assert cats == {"all", "math", "writing"}
    top = [r for r in rows if r["category"] == "all"]
    assert {r["position_policy"] for r in top} == {"both_games"}
    beta = next(r for r in top if r["model"] == "beta")
    assert int(beta["n_wins"]) + int(beta["n_draws"]) + int(beta["n_losses"]) == 24
    assert beta["lc_win_rate"] and beta["style_bt"]
    data = json.loads((rep / "leaderboard.json").read_text())
    board = data["boards"][0]
    assert board["category"] == "all" and len(board["count_matrix"]) == 3
    assert "# Arena leaderboard" in (rep / "leaderboard.md").read_text()


def test_dry_run_board_only_reads_dry_run_verdicts(arena_store, tmp_path):
    text = run_ratings_stage(arena_store, _cfg(tmp_path, bootstrap_rounds=20), dry_run=True)
    assert text.startswith(DRY_RUN_LABEL)
    assert "counted: 12 verdicts" in text
    rep = tmp_path / "reports"
    assert (rep / "leaderboard-dry-run.md").read_text().startswith(f"# {DRY_RUN_LABEL}")
    assert not (rep / "leaderboard.md").exists()
    manifest = json.loads((rep / "leaderboard-dry-run.manifest.json").read_text())
    assert manifest["label"] == DRY_RUN_LABEL and manifest["judges"] == ["dry-run:dry-run"]


def test_anchor_and_api_for_viewers(arena_store, tmp_path):
    cfg = _cfg(tmp_path, anchor={"model": "gamma", "value": 800})
    frame = load_verdicts(arena_store, Selection.from_config(cfg.ratings))
    board = compute_leaderboard(frame, LeaderboardSettings.from_config(cfg), category="math")
    by = {r.model: r for r in board.rows}
    assert by["gamma"].bt == pytest.approx(800)
    assert by["alpha"].ci_low <= by["alpha"].bt <= by["alpha"].ci_high
    assert board.n_verdicts == 36 and board.category == "math"
    assert board.predicted.shape == (3, 3)
    missing = _cfg(tmp_path, anchor={"model": "nobody"})
    board2 = compute_leaderboard(frame, LeaderboardSettings.from_config(missing))
    assert any("anchor model 'nobody'" in w for w in board2.warnings)


def test_single_mode_board(store, tmp_path):
    answers = seed_questions(store, {"1": "", "2": ""}, {"x": {"1": "a", "2": "b"},
                                                         "y": {"1": "c", "2": "d"}})
    v = Verdicts(store, answers)
    for q, sx, sy in (("qs/1", 8, 3), ("qs/2", 9, 4)):
        v.single(q, "x", sx, scores={"accuracy": sx})
        v.single(q, "y", sy, scores={"accuracy": sy})
    v.flush()
    cfg = ArenaConfig.model_validate({"report": {"dir": str(tmp_path / "r")},
                                      "judge": {"mode": "single"}})
    text = run_ratings_stage(store, cfg, fmt="md")
    assert "mean score with Student t CI" in text and "accuracy" in text
    assert "| 1 | x | 8.50 |" in text


def test_cli_leaderboard_formats(arena_store, tmp_path, capsys, store_url):
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text("judge:\n  mode: pairwise-baseline\n  baseline: gamma\n"
                        "ratings:\n  bootstrap_rounds: 30\nreport:\n  dir: out\n")
    assert arena_main(["leaderboard", "-c", str(cfg_file), "--db", store_url,
                       "--format", "csv", "--no-files"]) == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["model"] for r in rows} == set(MODELS)
    assert not (tmp_path / "out").exists()
    assert arena_main(["leaderboard", "-c", str(cfg_file), "--db", store_url,
                       "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "30 rounds" in data["boards"][0]["ci"]
    assert data["boards"][0]["rows"][0]["model"] == "alpha"
    assert (tmp_path / "out" / "leaderboard.manifest.json").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("ratings:\n  ci_level: 95\n")
    assert arena_main(["leaderboard", "-c", str(bad), "--db", store_url]) == 2
    assert "ci_level" in capsys.readouterr().err
