"""Auto-detection, the ``arena import`` / ``arena export`` commands and leaderboard layouts."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

import formats_kit as kit
from arena import formats
from arena.cli import main
from arena.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name,rows,fmt,kind", [
    ("q.jsonl", kit.EVAL_Q, "evalscope", "questions"),
    ("a.jsonl", kit.eval_answers("m"), "evalscope", "answers"),
    ("r.jsonl", kit.EVAL_REVIEW, "evalscope", "verdicts"),
    ("s.jsonl", [dict(kit.EVAL_REVIEW[3], judge="gpt-4")], "evalscope", "verdicts"),
    ("b.jsonl", kit.EVAL_BATTLE, "evalscope", "verdicts"),
    ("q.jsonl", kit.MT_Q, "mtbench", "questions"),
    ("model_answer.jsonl", kit.mt_answers("m"), "mtbench", "answers"),
    ("reference_answer.jsonl", kit.MT_REF, "mtbench", "references"),
    ("j.jsonl", kit.MT_JUDGMENT, "mtbench", "verdicts"),
    ("q.jsonl", kit.AH_Q, "arena-hard", "questions"),
    ("q.jsonl", kit.AH_Q_TURNS, "arena-hard", "questions"),
    ("a.jsonl", kit.ah_answers("m"), "arena-hard", "answers"),
    ("a.jsonl", kit.AH_OLD_ANSWER, "arena-hard", "answers"),
    ("j.jsonl", kit.AH_JUDGMENT, "arena-hard", "verdicts"),
    ("q.json", kit.AE_Q, "alpaca-eval", "questions"),
    ("o.json", kit.ae_outputs("m"), "alpaca-eval", "answers"),
    ("ann.json", kit.AE_ANN, "alpaca-eval", "verdicts"),
    ("d.jsonl", kit.LEVAL_DOCS, "leval", "questions"),
    ("p.jsonl", kit.LEVAL_PRED, "leval", "answers"),
    ("lb.jsonl", kit.LB_Q, "longbench", "questions"),
    ("lbp.jsonl", kit.LB_PRED, "longbench", "answers"),
    ("w.jsonl", kit.LBW_Q, "longbench-write", "questions"),
    ("pred.jsonl", [dict(q, response="x") for q in kit.LBW_Q], "longbench-write", "answers"),
    ("judge.jsonl", kit.LBW_JUDGED, "longbench-write", "verdicts"),
])
def test_detects_each_shape(tmp_path: Path, name: str, rows: list, fmt: str, kind: str) -> None:
    r = formats.detect(kit.write(tmp_path, name, rows))
    assert (r.format, r.kind) == (fmt, kind)


def test_a_file_fitting_two_formats_asks_for_format(tmp_path: Path) -> None:
    both = [{"question_id": 1, "turns": ["hi"], "category": "x", "uid": "u", "prompt": "hi"}]
    p = kit.write(tmp_path, "both.jsonl", both)
    with pytest.raises(InputError, match=r"fits several formats \(arena-hard, mtbench\).*--format"):
        formats.detect(p)
    assert formats.detect(p, "fastchat").format == "mtbench"


def test_unknown_shape_and_unknown_format_are_clear(tmp_path: Path) -> None:
    p = kit.write(tmp_path, "x.jsonl", [{"foo": 1}])
    with pytest.raises(InputError, match="does not match any known shape.*foo"):
        formats.detect(p)
    with pytest.raises(InputError, match="unknown format 'nope'"):
        formats.detect(p, "nope")


@pytest.mark.db
def test_cli_import_and_export(store_url: str, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    q = kit.write(tmp_path, "question.jsonl", kit.EVAL_Q)
    assert main(["import", str(q), "--db", store_url]) == 0
    out = capsys.readouterr().out
    assert "detected evalscope questions" in out and "3 new" in out
    for m in ("alpha", "beta"):
        assert main(["import", str(kit.write(tmp_path, f"{m}.jsonl", kit.eval_answers(m))),
                     "--db", store_url]) == 0
    assert main(["import", str(kit.write(tmp_path, "review.jsonl", kit.EVAL_REVIEW)),
                 "--format", "evalscope", "--as", "verdicts", "--judge", "gpt-4",
                 "--db", store_url]) == 0
    out = capsys.readouterr().out
    assert "1 verdict(s) stored as failed" in out
    board = tmp_path / "board.csv"
    assert main(["export", "leaderboard", "--format", "csv", str(board), "--db", store_url]) == 0
    rows = list(csv.DictReader(board.open()))
    # q1: alpha won; q3: beta won game 1, game 2 a tie; q2 failed: not counted.
    assert {r["model"]: (r["wins"], r["losses"], r["draws"], r["win_rate"], r["mean_score"])
            for r in rows} == {"alpha": ("1", "1", "1", "50.0", "7.0"),
                               "beta": ("1", "1", "1", "50.0", "")}
    review = tmp_path / "review_out.jsonl"
    assert main(["export", "verdicts", "--format", "evalscope", str(review),
                 "--judge", "gpt-4", "--db", store_url]) == 0
    recs = [json.loads(x) for x in review.read_text().splitlines()]
    assert {r.get("win") or (r.get("win_1"), r.get("win_2")) for r in recs if "model_a" in r} \
        == {"model_a", ("model_b", "tie")}
    assert all(r["judge"] == "gpt-4" for r in recs)


@pytest.mark.db
def test_cli_error_exits_2_and_writes_nothing(store_url: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    rows = kit.EVAL_Q + [{"question_id": 9, "category": "x"}]
    p = kit.write(tmp_path, "question.jsonl", rows)
    assert main(["import", str(p), "--db", store_url]) == 2
    err = capsys.readouterr().err
    assert f"{p}:4, field 'text': missing required field" in err
    assert main(["export", "questions", "--format", "evalscope", str(tmp_path / "o.jsonl"),
                 "--db", store_url]) == 0
    assert (tmp_path / "o.jsonl").read_text() == ""


@pytest.mark.db
def test_leaderboard_layouts(store, tmp_path: Path) -> None:
    with store.begin() as conn:
        formats.import_file(conn, kit.write(tmp_path, "annotations.json", kit.AE_ANN))
    flt = formats.ExportFilter(baseline="base")
    with store.begin() as conn:
        formats.export(conn, "leaderboard", "leval", tmp_path / "leval.csv", flt)
        formats.export(conn, "leaderboard", "alpaca-eval", tmp_path / "ae.csv", flt)
        formats.export(conn, "leaderboard", "evalscope", tmp_path / "es.csv")
        formats.export(conn, "leaderboard", "markdown", tmp_path / "lb.md")
        formats.export(conn, "leaderboard", "json", tmp_path / "lb.json")
        formats.export(conn, "battles", "chatbot-arena", tmp_path / "battles.json")
        with pytest.raises(InputError, match="--baseline"):
            formats.export(conn, "leaderboard", "leval", tmp_path / "x.csv")
    leval = {r["model"]: r for r in csv.DictReader((tmp_path / "leval.csv").open())}
    # alpha: one win (2.0) and one draw (1.5); beta: one loss (the failed one is left out);
    # gamma: one loss (1.3 prefers the baseline's output_1).
    assert (leval["alpha"]["n_wins"], leval["alpha"]["n_draws"], leval["alpha"]["win %"]) == \
        ("1", "1", "75.0")
    assert (leval["beta"]["n_total"], leval["beta"]["win %"]) == ("1", "0.0")
    assert "base" not in leval
    ae = {r["name"]: r for r in csv.DictReader((tmp_path / "ae.csv").open())}
    assert ae["alpha"]["n_wins_base"] == "0" and ae["gamma"]["n_wins_base"] == "1"
    es = list(csv.DictReader((tmp_path / "es.csv").open()))
    assert es[0]["model"] == "alpha" and float(es[0]["win_rate"]) == 0.5
    md = (tmp_path / "lb.md").read_text().splitlines()
    assert md[0].startswith("| model | n | wins") and len(md) == 2 + 4
    assert {r["model"] for r in json.loads((tmp_path / "lb.json").read_text())} == \
        {"alpha", "base", "beta", "gamma"}
    battles = json.loads((tmp_path / "battles.json").read_text())
    assert len(battles) == 5 and {b["winner"] for b in battles} == {"model_a", "model_b", "tie"}


def test_console_script_help_lists_formats() -> None:
    res = subprocess.run([sys.executable, "-m", "arena.cli", "import", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    for name in formats.FORMAT_NAMES:
        assert name in res.stdout


def test_record_reading_and_default_source(tmp_path: Path) -> None:
    from arena.formats.records import read_records
    from arena.formats.registry import source_from_path

    p = tmp_path / "a.json"
    p.write_text('[\n {"x": 1},\n\n {"x": 2,\n  "y": [1,\n 2]},\n {"x": 3}\n]\n')
    assert [r.line for r in read_records(p)] == [2, 4, 7]
    p.write_text('[{"x": 1}, 5]')
    with pytest.raises(InputError, match="expected a JSON object"):
        read_records(p)
    p.write_text('[{"x": 1} {"x": 2}]')
    with pytest.raises(InputError, match="expected ',' or ']'"):
        read_records(p)
    with pytest.raises(InputError, match="file not found"):
        read_records(tmp_path / "missing.jsonl")
    assert source_from_path("/data/mt bench/question.jsonl") == "question"
    assert source_from_path("runs/m100k.pred.jsonl") == "m100k.pred"
    assert "/" not in source_from_path("a/b/ c d .json")


def test_docs_document_every_format_and_kind() -> None:
    from arena.formats.registry import EXPORT_ONLY, READERS

    section = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    for name in formats.FORMAT_NAMES + EXPORT_ONLY:
        assert f"`{name}`" in section, name
    for r in READERS:
        row = next(line for line in section.splitlines() if line.startswith(f"| `{r.format}`"))
        assert row.count("|") == 7, r.format  # six columns: the row is complete
