"""Importing each anchor's files: what lands in the store, and how bad input is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

import formats_kit as kit
from arena import formats
from arena.errors import InputError
from arena.identity import answer_content_hash
from arena.store.schema import Answer, Battle, Document, Judgment, Question, Reference

pytestmark = pytest.mark.db


def _count(store, table) -> int:  # type: ignore[no-untyped-def]
    with store.begin() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _imp(store, path: Path, **kw):  # type: ignore[no-untyped-def]
    with store.begin() as conn:
        return formats.import_file(conn, path, **kw)


def test_evalscope_questions_answers_and_model_override(store, tmp_path: Path) -> None:
    s = _imp(store, kit.write(tmp_path, "question.jsonl", kit.EVAL_Q))
    assert s.inserted == 3 and "detected evalscope questions" in s.notes[0]
    with store.begin() as conn:
        s = formats.import_answers(conn, kit.write(tmp_path, "a.jsonl",
                                                   kit.eval_answers("org/model-7b")),
                                   model="mine")
    assert s.inserted == 3
    with store.begin() as conn:
        rows = conn.execute(select(Answer.question_id, Answer.model, Answer.params_hash,
                                   Answer.turns).order_by(Answer.question_id)).all()
    assert rows[0] == ("question/1", "mine", answer_content_hash(["org/model-7b on 1"]),
                       ["org/model-7b on 1"])


def test_two_models_in_one_answer_file_with_model_is_an_error(store, tmp_path: Path) -> None:
    _imp(store, kit.write(tmp_path, "question.jsonl", kit.EVAL_Q))
    mixed = kit.eval_answers("m1")[:2] + kit.eval_answers("m2")[2:]
    with pytest.raises(InputError) as err:
        with store.begin() as conn:
            formats.import_answers(conn, kit.write(tmp_path, "a.jsonl", mixed), model="x")
    assert "m1" in str(err.value) and "m2" in str(err.value) and "model_id" in str(err.value)
    assert _count(store, Answer.__table__) == 0


def test_ids_are_namespaced_and_clashing_text_is_refused(store, tmp_path: Path) -> None:
    _imp(store, kit.write(tmp_path, "set_a.jsonl", kit.EVAL_Q))
    _imp(store, kit.write(tmp_path, "set_b.jsonl", kit.EVAL_Q))  # same ids, other source
    assert _count(store, Question.__table__) == 6
    changed = [dict(kit.EVAL_Q[0], text="Another text")] + kit.EVAL_Q[1:]
    with pytest.raises(InputError) as err:
        _imp(store, kit.write(tmp_path, "set_a.jsonl", changed))
    assert "set_a.jsonl:1" in str(err.value) and "'1'" in str(err.value)
    # Answers naming id 1 without --source are ambiguous between the two sources.
    with pytest.raises(InputError, match="several sources"):
        _imp(store, kit.write(tmp_path, "a.jsonl", kit.eval_answers("m")), as_="answers")
    s = _imp(store, tmp_path / "a.jsonl", as_="answers", source="set_b")
    assert s.inserted == 3


def test_content_ids_are_stable(store, tmp_path: Path) -> None:
    p = kit.write(tmp_path, "lbw.jsonl", kit.LBW_Q)
    _imp(store, p)
    with store.begin() as conn:
        first = sorted(conn.execute(select(Question.id)).scalars())
    s = _imp(store, p)
    assert s.inserted == 0 and s.unchanged == 2
    assert all(len(q.split("/")[1]) == 16 for q in first)


@pytest.mark.parametrize("line,bad,field", [
    ('{"question_id": 1, "text": "ok", "category": "c"}\n{"question_id": 2, "text": 5}\n',
     2, "text"),
    ('{"question_id": 1, "text": "ok"}\n{"question_id": 2, "text": "x"\n', 2, None),
    ('{"question_id": 1, "text": "ok"}\n\n{"question_id": "", "text": "y"}\n', 3,
     "question_id"),
])
def test_bad_question_lines_name_file_line_field_and_write_nothing(
        store, tmp_path: Path, line: str, bad: int, field) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "q.jsonl"
    p.write_text(line, encoding="utf-8")
    with pytest.raises(InputError) as err:
        _imp(store, p, fmt="evalscope", as_="questions")
    assert err.value.line == bad and err.value.field == field
    assert str(p) in str(err.value)
    assert _count(store, Question.__table__) == 0


def test_bad_record_in_a_json_array_names_its_line(store, tmp_path: Path) -> None:
    rows = [kit.ae_annotation(0, "b", "a", 1.0), kit.ae_annotation(1, "b", "a", 7)]
    p = kit.write(tmp_path, "annotations.json", rows)
    with pytest.raises(InputError) as err:
        _imp(store, p)
    assert err.value.field == "preference" and err.value.line == 15  # where record 2 starts
    assert _count(store, Judgment.__table__) == 0 and _count(store, Question.__table__) == 0


def test_alpacaeval_annotations(store, tmp_path: Path) -> None:
    s = _imp(store, kit.write(tmp_path, "annotations.json", kit.AE_ANN))
    assert s.inserted == 6 and any("self-battle" in n for n in s.notes)
    with store.begin() as conn:
        rows = conn.execute(select(Judgment.model_a, Judgment.model_b, Judgment.outcome,
                                   Judgment.parse_status, Judgment.raw_output, Judgment.meta,
                                   Judgment.preference, Judgment.battle_id, Judgment.scores)
                            .order_by(Judgment.id)).all()
        n_answers = conn.execute(select(func.count()).select_from(Answer)).scalar_one()
    got = [(a, b, o, st, raw, meta, p) for a, b, o, st, raw, meta, p, _, _ in rows]
    assert got == [
        ("base", "alpha", "B", "ok", "m0", {}, 2.0),
        ("base", "alpha", "TIE", "ok", "m1", {}, 1.5),
        ("base", "beta", "A", "ok", "m0", {}, 1.0),
        ("base", "beta", None, "failed", "m1", {}, None),  # missing preference: not a tie
        ("base", "base", "TIE", "ok", "m1", {"self_battle": True}, 1.5),
        ("base", "gamma", "A", "ok", "m0", {}, 1.3),
    ]
    assert all(r[7] is not None for r in rows)
    assert all(r[8] is None for r in rows)  # the fraction lives in Judgment.preference only
    assert n_answers == 7  # base x2, alpha x2, beta x2, gamma x1 (one per question and model)


def test_alpacaeval_outputs_select_a_generator(store, tmp_path: Path) -> None:
    _imp(store, kit.write(tmp_path, "eval.json", kit.AE_Q))
    both = kit.ae_outputs("alpha") + kit.ae_outputs("beta")
    p = kit.write(tmp_path, "model_outputs.json", both)
    with store.begin() as conn:
        s = formats.import_answers(conn, p, model="beta")
    assert s.inserted == 2
    with store.begin() as conn:
        assert set(conn.execute(select(Answer.model)).scalars()) == {"beta"}
    with pytest.raises(InputError, match="several models"):
        with store.begin() as conn:
            formats.import_answers(conn, p, model="gamma")


def test_mtbench_reference_file_is_references_not_answers(store, tmp_path: Path) -> None:
    _imp(store, kit.write(tmp_path, "question.jsonl", kit.MT_Q))
    s = _imp(store, kit.write(tmp_path, "reference_answer.jsonl", kit.MT_REF))
    assert "references" in s.notes[0]
    assert _count(store, Answer.__table__) == 0
    with store.begin() as conn:
        refs = dict(conn.execute(select(Reference.author, Reference.turns)).all())
    assert refs == {"gpt-4": ["Second place.", "Cannot overtake the last."],
                    "reference": ["Second.", "That is impossible."]}


def test_mtbench_pair_judgment_games(store, tmp_path: Path) -> None:
    _imp(store, kit.write(tmp_path, "question.jsonl", kit.MT_Q))
    _imp(store, kit.write(tmp_path, "judgment.jsonl", kit.MT_JUDGMENT))
    with store.begin() as conn:
        rows = conn.execute(select(Judgment.question_id, Judgment.first, Judgment.outcome,
                                   Judgment.parse_status, Judgment.error, Judgment.score_a)
                            .where(Judgment.model_b.is_not(None))
                            .order_by(Judgment.question_id, Judgment.first)).all()
        singles = conn.execute(select(Judgment.model_a, Judgment.score_a, Judgment.parse_status)
                               .where(Judgment.mode == "single")
                               .order_by(Judgment.model_a)).all()
        battles = conn.execute(select(func.count()).select_from(Battle)).scalar_one()
    assert rows == [("question/101", "A", None, "failed", "g1_winner='error'", None),
                    ("question/101", "B", "TIE", "ok", None, None),
                    ("question/81", "A", "A", "ok", None, None),
                    ("question/81", "B", "B", "ok", None, None)]
    assert singles == [("alpha", 8.0, "ok"), ("beta", None, "failed")]
    assert battles == 2


def test_verdicts_for_unknown_questions_without_text_are_refused(store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no record names a stored question"):
        _imp(store, kit.write(tmp_path, "judgment.jsonl", kit.MT_JUDGMENT))
    assert _count(store, Judgment.__table__) == 0


def test_evalscope_battle_creates_questions_and_answers(store, tmp_path: Path) -> None:
    _imp(store, kit.write(tmp_path, "question.jsonl", kit.EVAL_Q))  # ids 1, 2 with other text
    s = _imp(store, kit.write(tmp_path, "battle.jsonl", kit.EVAL_BATTLE))
    assert any("2 question(s) created in source 'battle'" in n for n in s.notes)
    with store.begin() as conn:
        js = conn.execute(select(Judgment.question_id, Judgment.outcome, Judgment.score_b,
                                 Judgment.answer_b_id).order_by(Judgment.id)).all()
    assert [(q, o, sb) for q, o, sb, _ in js] == [("battle/1", "TIE", 10.0),
                                                  ("battle/2", "B", 9.0)]
    assert all(a is not None for *_, a in js)


def test_arena_hard_answers_and_old_shape(store, tmp_path: Path) -> None:
    _imp(store, kit.write(tmp_path, "question.jsonl", kit.AH_Q))
    _imp(store, kit.write(tmp_path, "alpha.jsonl", kit.ah_answers("alpha")))
    s = _imp(store, kit.write(tmp_path, "old.jsonl", kit.AH_OLD_ANSWER))
    assert "arena-hard answers" in s.notes[0]
    with store.begin() as conn:
        got = dict(conn.execute(select(Answer.model, Answer.turns)
                                .where(Answer.question_id == "question/u1")).all())
    assert got == {"alpha": ["alpha: u1"], "old-model": ["sorted()"]}


def test_arena_hard_judgment_needs_a_baseline(store, tmp_path: Path) -> None:
    _imp(store, kit.write(tmp_path, "question.jsonl", kit.AH_Q))
    rows = [{k: v for k, v in r.items() if k != "baseline"} for r in kit.AH_JUDGMENT]
    with pytest.raises(InputError) as err:
        _imp(store, kit.write(tmp_path, "j.jsonl", rows))
    assert err.value.field == "baseline" and err.value.line == 1
    assert _count(store, Judgment.__table__) == 0
    s = _imp(store, tmp_path / "j.jsonl", baseline="gpt-4-0314")
    assert s.inserted == 4
    with store.begin() as conn:
        assert set(conn.execute(select(Judgment.model_b)).scalars()) == {"gpt-4-0314"}


def test_leval_documents_are_shared_and_preds_match_in_order(store, tmp_path: Path) -> None:
    s = _imp(store, kit.write(tmp_path, "movie_qa.jsonl", kit.LEVAL_DOCS))
    assert s.inserted == 3
    assert _count(store, Document.__table__) == 2
    with store.begin() as conn:
        refs = conn.execute(select(func.count()).select_from(Reference)).scalar_one()
        shared = conn.execute(select(Question.document_id).where(
            Question.source == "movie_qa").order_by(Question.seq)).scalars().all()
    assert refs == 3
    assert shared[0] == shared[1] != shared[2]  # two questions share document one
    # Another task with the same instruction must not take these predictions.
    other = [dict(d, source="tv_qa", input=d["input"].upper()) for d in kit.LEVAL_DOCS]
    _imp(store, kit.write(tmp_path, "a_tv_qa.jsonl", other))
    s = _imp(store, kit.write(tmp_path, "movie_qa.pred.jsonl", kit.LEVAL_PRED))
    assert "matched within source 'movie_qa'" in s.notes
    assert s.inserted == 3 and s.skipped == 1
    assert any("lines 4" in n for n in s.notes)
    with store.begin() as conn:
        rows = conn.execute(select(Answer.turns, Document.text, Answer.model)
                            .join(Question, Question.id == Answer.question_id)
                            .join(Document, Document.id == Question.document_id)).all()
    got = {t[0]: (doc.split()[1], m) for t, doc, m in rows if doc.startswith("Document")}
    assert len(rows) == 3
    # "Who is Cara?" recurs in both documents: gt decides which answer goes where.
    assert got == {"She flies.": ("two.", "m100k"), "She sings.": ("one.", "m100k"),
                   "A story.": ("one.", "m100k")}


def test_leval_document_records_with_model_outputs(store, tmp_path: Path) -> None:
    docs = [dict(d, **{"turbo-16k_outputs": [f"t{i}" for i, _ in enumerate(d["instructions"])],
                       "claude_outputs": [f"c{i}" for i, _ in enumerate(d["instructions"])]})
            for d in kit.LEVAL_DOCS]
    p = kit.write(tmp_path, "movie_qa.jsonl", docs)
    with pytest.raises(InputError, match="pass --as"):
        _imp(store, p)
    with store.begin() as conn:
        s = formats.import_answers(conn, p, model="claude")
    assert s.inserted == 3
    with store.begin() as conn:
        assert set(conn.execute(select(Answer.model)).scalars()) == {"claude"}
        assert conn.execute(select(func.count()).select_from(Question)).scalar_one() == 3


def test_longbench_questions_and_preds_by_order(store, tmp_path: Path) -> None:
    _imp(store, kit.write(tmp_path, "hotpotqa.jsonl", kit.LB_Q))
    assert _count(store, Document.__table__) == 1  # one context shared by both questions
    with store.begin() as conn:
        meta = conn.execute(select(Question.meta).where(Question.id == "hotpotqa/lb2")).scalar_one()
    assert meta["all_classes"] == ["A", "B"] and meta["answers"] == ["B", "b"]
    p = kit.write(tmp_path, "hotpotqa_pred.jsonl", kit.LB_PRED)
    with pytest.raises(InputError) as err:
        _imp(store, p, source="hotpotqa")
    assert err.value.field == "model"
    bad = [kit.LB_PRED[0], dict(kit.LB_PRED[1], answers=["C"])]
    with pytest.raises(InputError) as err:
        _imp(store, kit.write(tmp_path, "bad.jsonl", bad), source="hotpotqa", model="m")
    assert err.value.line == 2 and err.value.field == "answers"
    s = _imp(store, p, source="hotpotqa", model="m")
    assert s.inserted == 2


def test_longbench_write_questions_keep_required_length(store, tmp_path: Path) -> None:
    _imp(store, kit.write(tmp_path, "lbw.jsonl", kit.LBW_Q))
    with store.begin() as conn:
        rows = conn.execute(select(Question.category, Question.meta).order_by(Question.seq)).all()
    assert rows[0] == ("Community Forum", {"required_length": 100, "type": "Community Forum"})


def test_evalscope_failed_reviews_are_failed_not_ties(store, tmp_path: Path) -> None:
    _imp(store, kit.write(tmp_path, "question.jsonl", kit.EVAL_Q))
    _imp(store, kit.write(tmp_path, "review.jsonl", kit.EVAL_REVIEW))
    with store.begin() as conn:
        rows = conn.execute(select(Judgment.question_id, Judgment.outcome, Judgment.parse_status,
                                   Judgment.raw_output, Judgment.score_a)
                            .where(Judgment.question_id == "question/2")).all()
    assert rows == [("question/2", None, "failed", "no idea", None)]


def test_longbench_write_judged_records(store, tmp_path: Path) -> None:
    _imp(store, kit.write(tmp_path, "lbw.jsonl", kit.LBW_Q))
    s = _imp(store, kit.write(tmp_path, "judge.jsonl", kit.LBW_JUDGED), model="w1")
    assert "longbench-write verdicts" in s.notes[0] and s.inserted == 3
    assert any("summary line" in n for n in s.notes)
    with store.begin() as conn:
        rows = conn.execute(select(Judgment.judge_id, Judgment.score_a, Judgment.parse_status,
                                   Judgment.answer_id.is_not(None))
                            .order_by(Judgment.id)).all()
    # quality: mean of (s - 1) * 25 over (5, 4, 3, 5, 2, 5) = 25 * 18 / 6 = 75
    assert rows == [("longbench-write-quality", 75.0, "ok", True),
                    ("longbench-write-length", 80.0, "ok", True),
                    ("longbench-write-quality", None, "failed", True)]


def test_longbench_write_length_score() -> None:
    from arena.formats.longbench_write import length_score

    assert length_score(100, 100) == 100
    assert length_score(100, 250) == 50  # 1 - (2.5 - 1) / 3
    assert length_score(100, 50) == 50  # 1 - (2 - 1) / 2
    assert length_score(100, 0) == 0
