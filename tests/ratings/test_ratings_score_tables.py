"""Per-dataset score tables (issue 14.6): L-Eval's exam / f1 / rouge leaderboards and
LongBench's per-category averages, from metric judges' verdicts on small fixtures, through
`arena leaderboard --format ...`."""

from __future__ import annotations

import csv
import io
import json

import pytest

from arena.cli import main as arena_main
from arena.ratings.score_tables import format_score_table, score_table
from arena.ratings.selection import Selection, load_verdicts
from ratings_fixtures import Verdicts, seed_questions

pytestmark = pytest.mark.db

# task -> [(model, metric, score)] per question; two questions per task
SCORES = {
    "coursera": [("m1", "exact_match", [100, 0]), ("m2", "exact_match", [100, 100])],
    "quality": [("m1", "exact_match", [100, 100]), ("m2", "exact_match", [0, 0])],
    "tpo": [("m1", "exact_match", [0, 100])],  # m2 has no tpo verdicts
    "financial_qa": [("m1", "token_f1", [40, 60]), ("m2", "token_f1", [30, 10]),
                     ("m1", "rouge_l", [1, 1])],  # rouge on a QA task: another L-Eval table
    "news_summ": [("m1", "rouge_l", [20, 30]), ("m2", "rouge_l", [50, 40])],
    "narrativeqa": [("m1", "token_f1", [10, 30]), ("m2", "token_f1", [20, 20])],
    "hotpotqa": [("m1", "token_f1", [50, 50]), ("m2", "token_f1", [0, 40])],
    "gov_report": [("m1", "rouge_l", [30, 30]), ("m2", "rouge_l", [10, 30])],
    "trec": [("m1", "exact_match", [100, 0]), ("m2", "exact_match", [100, 100])],
    "passage_count": [("m1", "exact_match", [0, 0]), ("m2", "exact_match", [100, 0])],
    "lcc": [("m1", "rouge_l", [60, 80]), ("m2", "rouge_l", [70, 70])],
}


@pytest.fixture
def metric_store(store):
    qs = {f"{t}-{k}": t for t in SCORES for k in range(2)}
    answers = seed_questions(store, qs, {m: {q: "answer" for q in qs} for m in ("m1", "m2")})
    v = Verdicts(store, answers)
    for task, entries in SCORES.items():
        for model, metric, values in entries:
            for k, value in enumerate(values):
                v.single(f"qs/{task}-{k}", model, float(value), kind="metric",
                         judge=f"metric:{metric}")
    v.single("qs/coursera-0", "m2", 0.0, kind="llm", judge="metric:exact_match")  # not metric
    v.flush()
    return store


def _cli(store, tmp_path, capsys, fmt):
    capsys.readouterr()
    assert arena_main(["leaderboard", "--db", store.url, "--format", fmt]) == 0
    out = capsys.readouterr()
    return list(csv.reader(io.StringIO(out.out))), out.err


def test_leval_exam_f1_rouge(metric_store, tmp_path, capsys):
    rows, err = _cli(metric_store, tmp_path, capsys, "leval-exam")
    assert rows[0] == ["Model", "coursera", "quality", "tpo", "Avg"]
    got = {r[0]: r[1:] for r in rows[1:]}
    assert got["m1"] == ["50.00", "100.00", "50.00", f"{(50 + 100 + 50) / 3:.2f}"]
    assert got["m2"] == ["100.00", "0.00", "", "50.00"]  # Avg over the tasks it has
    assert "m2: Avg over the tasks it has" in err
    rows, _ = _cli(metric_store, tmp_path, capsys, "leval-f1")
    assert rows[0] == ["Model", "financial_qa", "F1 avg"]
    assert {r[0]: r[1:] for r in rows[1:]} == {"m1": ["50.00", "50.00"],
                                                "m2": ["20.00", "20.00"]}
    rows, err = _cli(metric_store, tmp_path, capsys, "leval-rouge")
    assert rows[0] == ["Model", "news_summ", "ROUGE-L avg"]
    assert [r[0] for r in rows[1:]] == ["m2", "m1"]  # best average first
    assert "financial_qa belong to another L-Eval table" in err and "ROUGE-L" in err


def test_longbench_categories(metric_store, tmp_path, capsys):
    rows, err = _cli(metric_store, tmp_path, capsys, "longbench")
    assert rows[0] == ["Model", "Avg", "Single-Doc QA", "Multi-Doc QA", "Summarization",
                       "Few-shot Learning", "Synthetic", "Code"]
    got = {r[0]: [float(x) for x in r[1:]] for r in rows[1:]}
    m1 = [20.0, 50.0, 30.0, 50.0, 0.0, 70.0]
    m2 = [20.0, 20.0, 20.0, 100.0, 50.0, 70.0]
    assert got["m1"] == pytest.approx([sum(m1) / 6, *m1], abs=0.005)  # two decimals
    assert got["m2"] == pytest.approx([sum(m2) / 6, *m2], abs=0.005)
    assert "lcc: scored with rouge_l (LongBench uses edit similarity)" in err
    frame = load_verdicts(metric_store, Selection(mode="single"))
    table = score_table(frame, "longbench")
    data = json.loads(format_score_table(table, "json"))
    assert data["columns"][0] == "Model" and data["rows"][0]["Model"] == "m2"
    assert "| Model | Avg |" in format_score_table(table, "md")


def test_empty_and_bad_layouts(store, tmp_path, capsys):
    rows, err = _cli(store, tmp_path, capsys, "leval-exam")
    assert rows == [["Model", "Avg"]] and "no exact_match verdicts" in err
    with pytest.raises(ValueError, match="unknown score table"):
        score_table(load_verdicts(store, Selection(mode="single")), "mmlu")
