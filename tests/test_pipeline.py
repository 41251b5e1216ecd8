"""The pipeline end to end: file answers, dry-run verdicts, leaderboard, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from arena.config import load_config
from arena.pipeline import run_pipeline
from arena.store import Store
from arena.store.schema import Answer, Battle, Judgment, Question

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.db


def write_evalscope(tmp: Path, n_questions: int, models: list[str]) -> None:
    """Questions and per-model answers in the original arena-mode shapes."""
    with open(tmp / "question.jsonl", "w") as f:
        for i in range(n_questions):
            f.write(json.dumps({"question_id": i + 1, "text": f"Question number {i + 1}?",
                                "category": ["generic", "math"][i % 2]}) + "\n")
    for m in models:
        with open(tmp / f"answer_{m}.jsonl", "w") as f:
            for i in range(n_questions):
                f.write(json.dumps({"question_id": i + 1, "text": f"Question number {i + 1}?",
                                    "category": ["generic", "math"][i % 2], "model_id": m,
                                    "metadata": {}, "answer": f"{m} says {i}" * (1 + i % 3)})
                        + "\n")


def write_config(tmp: Path, models: list[str], store_url: str, extra: str = "") -> Path:
    lines = ["name: test-arena", f"store: {{url: '{store_url}'}}", "questions:",
             "  - {file: question.jsonl, format: evalscope, source: qs}", "models:"]
    for m in models:
        lines.append(f"  - {{name: {m}, backend: file, path: answer_{m}.jsonl, format: evalscope}}")
    lines += ["judge: {mode: pairwise-all, position_policy: tie_if_inconsistent}",
              "ratings: {bootstrap_rounds: 50}", "report: {dir: reports}", extra]
    path = tmp / "cfg.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def counts(url: str) -> dict[str, int]:
    s = Store.open(url)
    with s.begin() as conn:
        out = {t.__tablename__: conn.execute(select(func.count()).select_from(t)).scalar_one()
               for t in (Question, Answer, Battle, Judgment)}
    s.close()
    return out


def test_two_file_models_dry_run_to_leaderboard(tmp_path: Path, store_url: str) -> None:
    write_evalscope(tmp_path, 6, ["alpha", "beta"])
    cfg = write_config(tmp_path, ["alpha", "beta"], store_url)
    result = run_pipeline(load_config(cfg), dry_run=True, progress=False)
    c = counts(store_url)
    assert c == {"questions": 6, "answers": 12, "battles": 6, "judgments": 12}
    assert result.leaderboard and "alpha" in result.leaderboard and "beta" in result.leaderboard
    assert "DRY RUN" in result.leaderboard.upper()
    reports = list((tmp_path / "reports").iterdir())
    assert reports, "a report file is written"
    # A second run does no work: same rows, nothing new.
    run_pipeline(load_config(cfg), dry_run=True, progress=False)
    assert counts(store_url) == c
    s = Store.open(store_url)
    with s.begin() as conn:
        kinds = set(conn.execute(select(Judgment.judge_kind)).scalars())
        firsts = conn.execute(select(Judgment.first, func.count()).group_by(Judgment.first)).all()
    s.close()
    assert kinds == {"dry-run"}
    assert dict(firsts) == {"A": 6, "B": 6}  # both orders under tie_if_inconsistent


def test_cli_entry_point_prints_leaderboard(tmp_path: Path, store_url: str) -> None:
    write_evalscope(tmp_path, 4, ["alpha", "beta"])
    cfg = write_config(tmp_path, ["alpha", "beta"], store_url)
    proc = subprocess.run([sys.executable, str(ROOT / "run_arena.py"), "-c", str(cfg),
                           "--dry-run", "--no-progress"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "alpha" in proc.stdout and "beta" in proc.stdout


def test_bad_question_file_names_file_line_field_and_writes_nothing(tmp_path: Path,
                                                                   store_url: str) -> None:
    write_evalscope(tmp_path, 3, ["alpha", "beta"])
    with open(tmp_path / "question.jsonl", "a") as f:
        f.write('{"question_id": 4, "category": "generic"}\n')  # no text
    cfg = write_config(tmp_path, ["alpha", "beta"], store_url)
    proc = subprocess.run([sys.executable, str(ROOT / "run_arena.py"), "-c", str(cfg),
                           "--dry-run", "--no-progress"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert "question.jsonl:4" in proc.stderr and "text" in proc.stderr
    assert counts(store_url)["questions"] == 0


def test_unknown_config_key_is_named(tmp_path: Path, store_url: str) -> None:
    write_evalscope(tmp_path, 2, ["alpha"])
    cfg = write_config(tmp_path, ["alpha"], store_url, extra="bogus_key: 1")
    proc = subprocess.run([sys.executable, str(ROOT / "run_arena.py"), "-c", str(cfg)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert "bogus_key" in proc.stderr and "cfg.yaml" in proc.stderr


def test_sigkill_mid_stage_then_rerun_has_no_duplicates(tmp_path: Path, store_url: str) -> None:
    models = ["m1", "m2", "m3", "m4"]
    n = 3000
    write_evalscope(tmp_path, n, models)
    cfg = write_config(tmp_path, models, store_url)
    expected = n * 6 * 2  # 6 pairs per question, both orders
    cmd = [sys.executable, str(ROOT / "run_arena.py"), "-c", str(cfg), "--dry-run",
           "--no-progress", "--stages", "answers,reviews"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    engine = create_engine(store_url)
    seen = 0
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            try:
                with engine.connect() as conn:
                    seen = conn.execute(text("SELECT COUNT(*) FROM judgments")).scalar_one()
            except Exception:
                seen = 0  # tables not created yet
            if seen > 0:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        engine.dispose()
    killed_at = counts(store_url)["judgments"]
    assert 0 < killed_at < expected, f"the kill landed mid-stage ({killed_at} of {expected})"
    rerun = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    c = counts(store_url)
    assert c["judgments"] == expected
    assert c["answers"] == n * len(models)
    s = Store.open(store_url)
    with s.begin() as conn:
        dupes = conn.execute(select(Judgment.cache_key).group_by(Judgment.cache_key)
                             .having(func.count() > 1)).all()
    s.close()
    assert dupes == []
