"""Round trips: import a fixture into one store, export it, import the export into an empty
store: both stores hold the same rows, and exporting again gives the same records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import formats_kit as kit
from arena import formats
from arena.formats import ExportFilter

pytestmark = pytest.mark.db

# (file name, rows, kind, import kwargs)
Step = tuple[str, list[dict[str, Any]], str, dict[str, Any]]
# (what, format, out file, import kind, import kwargs, export filter kwargs)
Out = tuple[str, str, str, str, dict[str, Any], dict[str, Any]]

CASES: dict[str, tuple[list[Step], list[Out]]] = {
    "evalscope": (
        [("q.jsonl", kit.EVAL_Q, "questions", {"source": "set"}),
         ("a.jsonl", kit.eval_answers("alpha"), "answers", {}),
         ("b.jsonl", kit.eval_answers("beta"), "answers", {}),
         ("review.jsonl", kit.EVAL_REVIEW, "verdicts", {})],
        [("questions", "evalscope", "q_out.jsonl", "questions", {"source": "set"}, {}),
         ("answers", "evalscope", "a_out.jsonl", "answers", {}, {}),
         ("verdicts", "evalscope", "v_out.jsonl", "verdicts", {}, {"include_failed": True})]),
    "evalscope-battle": (
        [("battle.jsonl", kit.EVAL_BATTLE, "verdicts", {"source": "set"})],
        [("questions", "evalscope", "q_out.jsonl", "questions", {"source": "set"}, {}),
         ("answers", "evalscope", "a_out.jsonl", "answers", {}, {}),
         ("verdicts", "evalscope", "v_out.jsonl", "verdicts", {"source": "set"}, {})]),
    "mtbench": (
        [("question.jsonl", kit.MT_Q, "questions", {"source": "mt"}),
         ("alpha.jsonl", kit.mt_answers("alpha"), "answers", {}),
         ("beta.jsonl", kit.mt_answers("beta"), "answers", {}),
         ("reference_answer.jsonl", kit.MT_REF, "references", {}),
         ("judgment.jsonl", kit.MT_JUDGMENT, "verdicts", {})],
        [("questions", "mtbench", "q_out.jsonl", "questions", {"source": "mt"}, {}),
         ("answers", "mtbench", "a_out.jsonl", "answers", {}, {}),
         ("references", "mtbench", "r_out.jsonl", "references", {}, {}),
         ("verdicts", "mtbench", "v_out.jsonl", "verdicts", {}, {"include_failed": True})]),
    "arena-hard": (
        [("question.jsonl", kit.AH_Q, "questions", {"source": "ah"}),
         ("turns.jsonl", kit.AH_Q_TURNS, "questions", {"source": "ah2"}),
         ("alpha.jsonl", kit.ah_answers("alpha"), "answers", {}),
         ("base.jsonl", kit.ah_answers("base"), "answers", {}),
         ("judgment.jsonl", kit.AH_JUDGMENT, "verdicts", {})],
        [("questions", "arena-hard", "q_out.jsonl", "questions", {"source": "ah"},
          {"sources": ["ah"]}),
         ("questions", "arena-hard", "q2_out.jsonl", "questions", {"source": "ah2"},
          {"sources": ["ah2"]}),
         ("answers", "arena-hard", "a_out.jsonl", "answers", {}, {}),
         ("verdicts", "arena-hard", "v_out.jsonl", "verdicts", {}, {"include_failed": True})]),
    "alpaca-eval": (
        [("eval.json", kit.AE_Q, "questions", {"source": "ae"}),
         ("model_outputs.json", kit.ae_outputs("alpha"), "answers", {}),
         ("annotations.json", kit.AE_ANN, "verdicts", {})],
        [("questions", "alpaca-eval", "q_out.json", "questions", {"source": "ae"}, {}),
         ("answers", "alpaca-eval", "a_out.json", "answers", {}, {}),
         ("verdicts", "alpaca-eval", "v_out.json", "verdicts", {}, {"include_failed": True})]),
    "leval": (
        [("movie_qa.jsonl", kit.LEVAL_DOCS, "questions", {}),
         ("m100k.pred.jsonl", kit.LEVAL_PRED, "answers", {"source": "movie_qa"})],
        [("questions", "leval", "q_out.jsonl", "questions", {"source": "movie_qa"}, {}),
         ("answers", "leval", "a_out.jsonl", "answers", {"source": "movie_qa"}, {})]),
    "longbench": (
        [("hotpotqa.jsonl", kit.LB_Q, "questions", {}),
         ("pred.jsonl", kit.LB_PRED, "answers", {"model": "m1", "source": "hotpotqa"})],
        [("questions", "longbench", "q_out.jsonl", "questions", {"source": "hotpotqa"}, {}),
         ("answers", "longbench", "a_out.jsonl", "answers", {"model": "m1"}, {})]),
    "longbench-write": (
        [("lbw.jsonl", kit.LBW_Q, "questions", {}),
         ("out.jsonl", [{**q, "response_length": 3, "response": f"text {i}"}
                        for i, q in enumerate(kit.LBW_Q)], "answers", {"model": "w1"})],
        [("questions", "longbench-write", "q_out.jsonl", "questions", {"source": "lbw"}, {}),
         ("answers", "longbench-write", "a_out.jsonl", "answers", {"model": "w1"}, {})]),
    "longbench-write-judged": (
        [("lbw.jsonl", kit.LBW_Q, "questions", {}),
         ("judge.jsonl", kit.LBW_JUDGED, "verdicts", {"model": "w1"})],
        [("questions", "longbench-write", "q_out.jsonl", "questions", {"source": "lbw"}, {}),
         ("verdicts", "longbench-write", "v_out.jsonl", "verdicts", {"model": "w1"},
          {"include_failed": True})]),
    "chatbot-arena": (
        [("q.jsonl", kit.EVAL_Q, "questions", {"source": "set"}),
         ("battles.json", [
             {"question_id": "1", "model_a": "x", "model_b": "y", "winner": "model_a",
              "judge": "human", "turn": 1, "anony": True, "tstamp": 1700000000.0},
             {"question_id": "2", "model_a": "y", "model_b": "x", "winner": "tie (bothbad)",
              "judge": "human", "turn": 1, "anony": True, "tstamp": 1700000001.0},
             {"question_id": "3", "model_a": "x", "model_b": "z", "winner": "tie",
              "judge": "human", "turn": 1, "anony": True, "tstamp": 1700000002.0}],
          "verdicts", {})],
        [("questions", "evalscope", "q_out.jsonl", "questions", {"source": "set"}, {}),
         ("battles", "chatbot-arena", "b_out.json", "verdicts", {}, {})]),
}


def _load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    rows = json.loads(text) if path.suffix == ".json" else [json.loads(x) for x in
                                                            text.splitlines()]
    for r in rows:
        r.pop("tstamp", None)  # an answer's export time is not part of its content
    return rows


@pytest.mark.parametrize("case", sorted(CASES))
def test_export_then_import_gives_the_same_rows(case: str, store, other_store,
                                                 tmp_path: Path) -> None:
    steps, outs = CASES[case]
    with store.begin() as conn:
        for name, rows, kind, kw in steps:
            formats.import_file(conn, kit.write(tmp_path, name, rows), as_=kind, **kw)
    first = tmp_path / "first"
    again = tmp_path / "again"
    first.mkdir()
    again.mkdir()
    with store.begin() as conn:
        for what, fmt, out, _kind, _kw, flt in outs:
            assert formats.export(conn, what, fmt, first / out, ExportFilter(**flt)) > 0
    with other_store.begin() as conn:
        for what, fmt, out, kind, kw, _flt in outs:
            formats.import_file(conn, first / out, fmt, as_=kind, **kw)
    before, after = kit.snapshot(store), kit.snapshot(other_store)
    assert after == before
    assert before["questions"]  # the comparison is not between two empty stores
    with other_store.begin() as conn:
        for what, fmt, out, _kind, _kw, flt in outs:
            formats.export(conn, what, fmt, again / out, ExportFilter(**flt))
    for *_, out, _kind, _kw, _flt in outs:
        assert _load(again / out) == _load(first / out), out


def test_reimporting_the_same_files_adds_nothing(store, tmp_path: Path) -> None:
    for case in ("evalscope", "mtbench", "alpaca-eval", "arena-hard"):
        steps, _ = CASES[case]
        paths = [(kit.write(tmp_path, f"{case}-{n}", rows), kind, kw)
                 for n, rows, kind, kw in steps]
        with store.begin() as conn:
            for p, kind, kw in paths:
                formats.import_file(conn, p, as_=kind, **kw)
        snap = kit.snapshot(store)
        with store.begin() as conn:
            for p, kind, kw in paths:
                s = formats.import_file(conn, p, as_=kind, **kw)
                assert s.inserted == 0, (case, p.name, str(s))
        assert kit.snapshot(store) == snap
