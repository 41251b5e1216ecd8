"""The answers stage with a local transformers model (tiny, random, loaded from a folder)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from arena.config import parse_config
from arena.generate import answer_params_hash, run_answers
from arena.store import Store
from arena.store.ingest import QuestionRecord, add_questions
from arena.store.schema import Answer
from tiny_models import build_tiny_model

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), chat=True, window=256)


def cfg_for(path: Path, **kw) -> object:
    m = {"name": "tiny", "backend": "transformers", "model": str(path), "device": "cpu",
         "dtype": "float32", "batch_size": 4, "generation": {"max_new_tokens": 12}}
    m.update(kw)
    return parse_config({"models": [m]}, base=path)


def test_local_model_answers_multi_turn_and_truncated_documents(store: Store, tiny: Path) -> None:
    doc = "START " + "the quick brown fox jumps over the lazy dog " * 60 + "FINISH"
    recs = [QuestionRecord(turns=[f"What is {i}?"], local_id=str(i)) for i in range(5)]
    recs.append(QuestionRecord(turns=["first turn", "second turn"], local_id="mt"))
    recs.append(QuestionRecord(turns=["Summarise."], local_id="doc", document=doc))
    with store.begin() as conn:
        add_questions(conn, recs, "loc")
    cfg = cfg_for(tiny, max_input_tokens=128)
    rep = run_answers(store, cfg, progress=False)
    assert rep.generated == 7 and rep.failed == 0, str(rep)
    assert rep.calls == 8  # the two-turn question takes two calls
    with store.session() as s:
        rows = {a.question_id: a for a in s.scalars(select(Answer))}
    assert all(all(t.strip() for t in a.turns) for a in rows.values())
    assert rows["loc/doc"].truncated is True
    assert len(rows["loc/mt"].turns) == 2 and rows["loc/mt"].completion_tokens
    for qid, a in rows.items():
        assert a.params_hash == answer_params_hash(cfg.models[0])
        assert a.origin == "generated" and a.meta["backend"] == "transformers"
        assert a.truncated is (qid == "loc/doc")
        assert a.prompt_tokens and a.prompt_tokens <= 128
    # Rerun: nothing is generated again.
    rep2 = run_answers(store, cfg, progress=False)
    assert rep2.generated == 0 and rep2.models[0].already == 7


def test_local_answers_match_one_at_a_time(store: Store, tiny: Path) -> None:
    recs = [QuestionRecord(turns=[f"Tell me about {w}."], local_id=w)
            for w in ["sea", "sky", "stars", "dogs", "foxes", "numbers"]]
    with store.begin() as conn:
        add_questions(conn, recs, "cmp")
    run_answers(store, cfg_for(tiny, name="b4", batch_size=4), progress=False)
    run_answers(store, cfg_for(tiny, name="b1", batch_size=1), progress=False)
    with store.begin() as conn:
        got = {(m, q): t for m, q, t in conn.execute(
            select(Answer.model, Answer.question_id, Answer.turns))}
    for w in ["sea", "sky", "stars", "dogs", "foxes", "numbers"]:
        assert got.get(("b4", f"cmp/{w}")) == got.get(("b1", f"cmp/{w}"))
