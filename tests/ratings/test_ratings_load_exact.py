"""The column-wise store load and the vectorised order pairing keep the exact definitions:
answer lengths are Python's ``len`` per turn whatever the JSON holds, times are the stored
instants, and the k-th verdict of one order pairs with the k-th of the other."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from sqlalchemy import text

from arena.ratings.battles import build_battles
from arena.ratings.selection import Selection, empty_frame, load_verdicts
from ratings_fixtures import T0, Verdicts, seed_questions

TRICKY = {
    "plain": ["short answer"],
    "escapes": ["line\nbreak \"quoted\" back\\slash\ttab"],
    "cjk": ["中文回答 é"],  # stored as \u escapes by the JSON serializer
    "emoji": ["smile 😀 twice 😀"],  # surrogate pairs in the stored JSON
    "nul": ["a\x00b"],
    "two turns": ["first turn", "the second, longer turn"],
    "null turn": [None, "only the second"],
    "literal": ["\\u0041 is not an escape here"],
}


@pytest.mark.db
def test_answer_lengths_are_python_len_per_turn(store):
    names = list(TRICKY)
    models = {"x": {str(i): "placeholder" for i in range(len(names))},
              "y": {str(i): "y answer" for i in range(len(names))}}
    answers = seed_questions(store, {str(i): "c" for i in range(len(names))}, models)
    with store.begin() as conn:
        for i, name in enumerate(names):
            conn.execute(text("UPDATE answers SET turns = :t WHERE id = :id"),
                         {"t": _json(TRICKY[name]), "id": answers[(f"qs/{i}", "x")]})
        # raw UTF-8 in the stored text (another serializer), and non-array values
        conn.execute(text("UPDATE answers SET turns = :t WHERE id = :id"),
                     {"t": '["raw é 中文", "x\\ny"]', "id": answers[("qs/0", "y")]})
        conn.execute(text("UPDATE answers SET turns = 'null' WHERE id = :id"),
                     {"id": answers[("qs/1", "y")]})
        conn.execute(text("UPDATE answers SET turns = '[\"ab\", 0]' WHERE id = :id"),
                     {"id": answers[("qs/2", "y")]})
    v = Verdicts(store, answers)
    expect = []
    for i, name in enumerate(names):
        turns = TRICKY[name]
        for turn in (None, 1, 2, 8):  # judgments number turns from 1
            v.pair(f"qs/{i}", "x", "y", "A", turn=turn)
            per = [len(t) if isinstance(t, str) else 0 for t in turns]
            expect.append(per[turn - 1] if turn is not None and turn <= len(per) else sum(per))
    v.flush()
    frame = load_verdicts(store, Selection())
    assert frame.len_a.tolist() == expect
    got_b = frame.len_b.reshape(len(names), 4)  # turn None, 1, 2, 8 per question
    raw = len("raw é 中文")
    assert got_b[0].tolist() == [raw + 3, raw, 3, raw + 3]
    assert np.isnan(got_b[1]).all()  # JSON null: no turns, unknown length
    assert got_b[2].tolist() == [2, 2, 0, 2]  # a turn that is not text counts 0
    assert got_b[3].tolist() == [len("y answer")] * 4


def _json(turns):
    import json

    return json.dumps(turns)


@pytest.mark.db
def test_created_is_the_stored_instant_and_rows_keep_time_order(store):
    answers = seed_questions(store, {"1": "c"}, {"x": {"1": "a"}, "y": {"1": "b"}})
    v = Verdicts(store, answers)
    for _ in range(3):
        v.pair("qs/1", "x", "y", "A")
    v.flush()
    with store.begin() as conn:  # a whole-second time sorts first
        conn.execute(text("UPDATE judgments SET created_at = :t WHERE id = 3"),
                     {"t": datetime(2025, 12, 31, 23, 59, 59, tzinfo=timezone.utc)})
    frame = load_verdicts(store, Selection())
    assert frame.id.tolist() == [3, 1, 2]
    assert frame.created.tolist() == [
        datetime(2025, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp(),
        T0.timestamp() + 1, T0.timestamp() + 2]


def _frame(model_a, model_b, first, outcome, strength=None):
    n = len(model_a)
    f = empty_frame()
    from dataclasses import replace

    z32 = np.zeros(n, dtype=np.int32)
    return replace(f, models=["m0", "m1", "m2"], scores=[None] * n,
                   id=np.arange(n, dtype=np.int64), question=z32, category=z32,
                   model_a=np.array(model_a, np.int32), model_b=np.array(model_b, np.int32),
                   outcome=np.array(outcome, np.int8),
                   strength=np.array(strength or [0] * n, np.int8),
                   first=np.array(first, np.int8), judge=z32, template=z32,
                   annotator=np.full(n, -1, np.int64), battle=np.zeros(n, np.int64),
                   turn=np.full(n, -1, np.int32), created=np.zeros(n), score_a=np.zeros(n),
                   score_b=np.zeros(n), len_a=np.arange(n, dtype=float), len_b=np.zeros(n))


def test_orders_pair_kth_with_kth_and_unknown_order_counts_alone():
    # one group (m0 vs m1): m0 first at rows 0, 2, 4; m1 first at rows 1, 5; row 3 unknown
    # order (alone: it cannot be one of the two orders); m0 vs m2 at row 6 alone
    frame = _frame(model_a=[0, 1, 0, 0, 0, 0, 2], model_b=[1, 0, 1, 1, 1, 1, 0],
                   first=[0, 0, 0, -1, 0, 1, 0], outcome=[0, 1, 1, 0, 2, 0, 1],
                   strength=[2, 2, 0, 0, 0, 0, 2])
    b = build_battles(frame, "tie_if_inconsistent", strong_weight=3)
    # pairs (k-th with k-th by id): (0, 1) both say m0 -> consistent, game at row 1 (m1 is
    # model_a: score 0), strong in both -> weight 3; (2, 5): m1 vs m0 -> tie at row 5.
    # Alone: row 3 (m0 wins: 1), row 4 (tie), row 6 (m0 wins against model_a m2: 0, strong)
    assert b.notes["pairs_consistent"] == 1 and b.notes["pairs_inconsistent"] == 1
    assert b.notes["unpaired"] == 3
    assert b.len_a.tolist() == [1.0, 3.0, 4.0, 5.0, 6.0]  # rows of the games, in verdict order
    assert b.score.tolist() == [0.0, 1.0, 0.5, 0.5, 0.0]
    assert b.weight.tolist() == [3.0, 1.0, 1.0, 1.0, 3.0]
    dropped = build_battles(_frame([0, 1], [1, 0], [0, 0], [3, 3]), "tie_if_inconsistent",
                            both_bad="drop")
    assert len(dropped) == 0 and dropped.notes["both_bad_dropped"] == 1
