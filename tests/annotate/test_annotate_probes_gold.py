"""Swap probes and gold items: through the real claim / submit code, the JSON API, the
ratings selection and the live leaderboard."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from annotate import assign, dashboard, gold
from annotate_fixtures import MODELS, add_user, login, make_task, seed
from arena.leaderboard import LeaderboardSettings, compute_leaderboard
from arena.ratings.judge_stats import rater_stats
from arena.ratings.selection import Selection, load_verdicts
from arena.store import Store
from arena.store.annotation_schema import Assignment, TaskItem, User
from arena.store.schema import Judgment
from research_kit import claim, item_of, submit_outcome, work

pytestmark = pytest.mark.db


def _api(client: FlaskClient, tok: str, path: str, body: dict | None = None) -> dict:
    resp = client.post(path, data=json.dumps(body or {}), content_type="application/json",
                       headers={"X-CSRF-Token": tok})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def test_swap_probe_comes_back_swapped_and_counts_in_consistency(astore: Store,
                                                                 client: FlaskClient) -> None:
    seed(astore, n_questions=4)
    tid = make_task(astore, swap_share=1.0, swap_gap=2)
    uid = add_user(astore, "ann")
    tok = login(client, "ann")
    seen: dict[int, tuple[str, list]] = {}  # item -> (first, answers shown) in round 1
    probes = []
    for _ in range(20):
        got = _api(client, tok, f"/api/tasks/{tid}/next")
        if got["done"]:
            break
        item = got["item"]
        with astore.begin() as conn:
            a = conn.execute(select(Assignment.item_id, Assignment.round, Assignment.first)
                             .where(Assignment.id == item["assignment_id"])).one()
        shown = [ans["turns"] for ans in item["answers"]]
        if a.round == 1:
            seen[a.item_id] = (a.first, shown)
            choice = "left"  # always the left answer: a pure position preference
        else:
            probes.append(a.item_id)
            first1, shown1 = seen[a.item_id]
            assert a.first != first1 and shown == shown1[::-1]  # sides swapped
            choice = "left"
        _api(client, tok, f"/api/assignments/{item['assignment_id']}/verdict",
             {"choice": choice, "submission_id": item["submission_id"]})
    # every round-1 item came back once; a probe waits for 2 later verdicts, except at the end
    assert sorted(probes) == sorted(seen) and len(seen) == 4
    with astore.begin() as conn:
        order = [r.round for r in conn.execute(select(Assignment.round).where(
            Assignment.annotator_id == uid).order_by(Assignment.id))]
        done = assign.done_per_item(tid)
        items = conn.execute(select(TaskItem.held_count, func.coalesce(done.c.done, 0))
                             .outerjoin(done, done.c.item_id == TaskItem.id)
                             .where(TaskItem.task_id == tid)).all()
    assert order[:3] == [1, 1, 1] and order.count(2) == 4
    assert all(h == 1 and d == 1 for h, d in items)  # probes never count as a 2nd annotator
    frame = load_verdicts(astore, Selection(judge_kinds=("human",)))
    [st] = rater_stats(frame, by="annotator")
    # "left" every time: each probe contradicts its original -> consistency 0 on 4 pairs,
    # and the left answer always won
    assert (st.position_consistency, st.n_pairs, st.first_win_rate) == (0.0, 4, 1.0)
    with astore.begin() as conn:
        [row] = dashboard.annotator_rows(conn, tid)
    assert (row.consistency, row.consistency_pairs, row.left_preference, row.probes_done) == \
        (0.0, 4, 1.0, 4)


def test_consistent_annotator_scores_one(astore: Store) -> None:
    seed(astore, n_questions=3)
    tid = make_task(astore, swap_share=1.0, swap_gap=0)
    uid = add_user(astore, "ann", password=None)
    done = work(astore, tid, uid, lambda it, lease: "A")  # always model_a, whatever the side
    assert sum(1 for lease, _ in done if lease.first is not None) == 6
    with astore.begin() as conn:
        [row] = dashboard.annotator_rows(conn, tid)
    assert (row.consistency, row.consistency_pairs) == (1.0, 3)
    assert 0.0 <= row.left_preference <= 1.0


def test_no_probes_when_share_is_zero(astore: Store) -> None:
    seed(astore, n_questions=3)
    tid = make_task(astore)
    uid = add_user(astore, "ann", password=None)
    work(astore, tid, uid, lambda it, lease: "A")
    with astore.begin() as conn:
        assert conn.execute(select(Assignment.id).where(Assignment.round == 2)).first() is None


def _gold_setup(astore: Store) -> tuple[int, int, int, int]:
    seed(astore, n_questions=4)
    tid = make_task(astore, models=MODELS, overlap=2, gold_min=1, gold_threshold=0.7,
                    gold_share=1.0)
    with astore.begin() as conn:
        item = conn.execute(select(TaskItem.id, TaskItem.answer_a_id).where(
            TaskItem.task_id == tid).order_by(TaskItem.seq)).first()
        gid = gold.add_broken_gold(conn, tid, item.answer_a_id)
    good, bad = add_user(astore, "good", password=None), add_user(astore, "bad", password=None)
    return tid, gid, good, bad


def test_gold_exclusion_changes_leaderboard_and_can_be_undone(astore: Store) -> None:
    tid, gid, good, bad = _gold_setup(astore)
    # "good" prefers model-alpha and knows the broken copy is worse; "bad" picks the broken
    # copy and prefers model-gamma.
    def good_fn(it, lease):  # type: ignore[no-untyped-def]
        return "A" if it[3] == "gold" else ("A" if it[1] == "model-alpha" else "B")

    def bad_fn(it, lease):  # type: ignore[no-untyped-def]
        return "B" if it[3] == "gold" else ("A" if it[1] == "model-gamma" else "B")
    first_good = work(astore, tid, good, good_fn)
    first_bad = work(astore, tid, bad, bad_fn)
    # with gold_share 1 the gold item is served first, to both (overlap does not apply)
    assert first_good[0][0].item_id == gid and first_bad[0][0].item_id == gid
    with astore.begin() as conn:
        kinds = dict(conn.execute(select(Judgment.annotator_id, Judgment.judge_kind).where(
            Judgment.meta["item_id"].as_integer() == gid)).all())
        acc = gold.gold_accuracy(conn, tid)
    assert kinds == {good: "human-gold", bad: "human-gold"}
    assert (acc[good].correct, acc[good].n, acc[bad].correct, acc[bad].n) == (1, 1, 0, 1)

    settings = LeaderboardSettings(rounds=50, methods=("bt", "winrate"))
    def board():  # type: ignore[no-untyped-def]
        b = compute_leaderboard(load_verdicts(astore, Selection(judge_kinds=("human",))),
                                settings)
        return {r.model: r.bt for r in b.rows}, b
    before, b0 = board()
    assert "gold:broken" not in before and b0.counts["excluded_annotator"] == 0
    with astore.begin() as conn:
        live_before, left0 = dashboard.live_leaderboard(conn, tid, rounds=50)
        assert gold.apply_rule(conn, tid) == [bad]
        assert conn.execute(select(User.excluded_note).where(User.id == bad)).scalar() \
            .startswith("gold accuracy 0/1")
    after, b1 = board()
    assert b1.counts["excluded_annotator"] == len(first_bad) - 1  # all but the gold check
    assert after != before and after["model-alpha"] > after["model-gamma"]
    with astore.begin() as conn:
        live_after, left1 = dashboard.live_leaderboard(conn, tid, rounds=50)
    assert left0 == 0 and left1 == len(first_bad) - 1
    assert live_after.n_verdicts == live_before.n_verdicts - left1
    with astore.begin() as conn:
        gold.set_excluded(conn, bad, False)  # undo
    again, b2 = board()
    assert again == before and b2.counts["excluded_annotator"] == 0


def test_gold_rule_waits_for_enough_gold_items(astore: Store) -> None:
    tid, gid, good, bad = _gold_setup(astore)
    with astore.begin() as conn:
        t = conn.execute(select(TaskItem.task_id).where(TaskItem.id == gid)).scalar()
        from arena.store.annotation_schema import Task
        settings = dict(conn.execute(select(Task.settings).where(Task.id == t)).scalar())
        settings["gold_min"] = 2
        conn.execute(Task.__table__.update().where(Task.id == t).values(settings=settings))
    work(astore, tid, bad, lambda it, lease: "B")
    with astore.begin() as conn:
        assert gold.apply_rule(conn, tid) == []  # one gold answer is not enough evidence


def test_mark_gold_validates_and_scores(astore: Store) -> None:
    seed(astore, n_questions=2)
    tid = make_task(astore, overlap=1, gold_min=1)
    single = make_task(astore, name="s", mode="single", scale="1-5")
    rubric = make_task(astore, name="r", mode="single", scale="rubric", criteria=["x"])
    with astore.begin() as conn:
        ids = {t: conn.execute(select(TaskItem.id).where(TaskItem.task_id == t)
                               .order_by(TaskItem.id)).scalars().first()
               for t in (tid, single, rubric)}
    from arena.errors import InputError
    with pytest.raises(InputError, match="accepted outcomes"):
        with astore.begin() as conn:
            gold.mark_gold(conn, ids[tid], {"accept": ["left"]})
    with pytest.raises(InputError, match="rubric"):
        with astore.begin() as conn:
            gold.mark_gold(conn, ids[rubric], {"min": 1, "max": 2})
    with pytest.raises(InputError, match="within 1-5"):
        with astore.begin() as conn:
            gold.mark_gold(conn, ids[single], {"min": 4, "max": 7})
    with astore.begin() as conn:
        gold.mark_gold(conn, ids[tid], {"accept": ["b", "TIE"]})
        gold.mark_gold(conn, ids[single], {"min": 4, "max": 5})
    uid = add_user(astore, "ann", password=None)
    from annotate import verdicts
    lease = claim(astore, single, uid)  # gold_share 0.1, seed 0 draws 0.84: a normal item
    assert lease.item_id != ids[single]
    with astore.begin() as conn:
        verdicts.submit(conn, lease.assignment_id, uid, {"score": "2"}, "s1")
    lease = claim(astore, single, uid)  # the gold item, as the fallback or by draw
    while lease.item_id != ids[single]:
        with astore.begin() as conn:
            verdicts.submit(conn, lease.assignment_id, uid, {"score": "2"},
                            f"s{lease.assignment_id}")
        lease = claim(astore, single, uid)
    with astore.begin() as conn:
        verdicts.submit(conn, lease.assignment_id, uid, {"score": "4"}, "gold-1")
    lease = claim(astore, tid, uid)
    while lease is not None and lease.item_id != ids[tid]:
        submit_outcome(astore, lease, uid, "A")
        lease = claim(astore, tid, uid)
    submit_outcome(astore, lease, uid, "TIE")
    with astore.begin() as conn:
        assert gold.gold_accuracy(conn, single)[uid].correct == 1
        assert (gold.gold_accuracy(conn, tid)[uid].correct,
                gold.gold_accuracy(conn, tid)[uid].n) == (1, 1)
        gold.unmark_gold(conn, ids[tid])
        assert conn.execute(select(TaskItem.kind).where(TaskItem.id == ids[tid])).scalar() \
            == "normal"
