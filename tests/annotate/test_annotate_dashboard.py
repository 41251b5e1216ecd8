"""The admin dashboard: agreement equals the ratings functions' output on the same data,
confusion matrices, disagreements, the page itself; exports are pseudonymised."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from annotate import dashboard, export
from annotate_fixtures import MODELS, add_user, login, make_task, seed
from arena.ratings.agreement import agreement
from arena.store import Store
from arena.store.annotation_schema import User
from arena.store.ingest import add_judgments
from arena.store.schema import Battle
from research_kit import work

pytestmark = pytest.mark.db

ROUNDS = 60


def _prefs() -> dict[str, dict[str, int]]:
    # a strength per model for each annotator: the stronger answer wins; equal = tie
    return {"ann1": {"model-alpha": 3, "model-beta": 2, "model-gamma": 1},
            "ann2": {"model-alpha": 3, "model-beta": 1, "model-gamma": 2},
            "ann3": {"model-alpha": 1, "model-beta": 1, "model-gamma": 3}}


def _outcome(pref: dict[str, int], a: str, b: str) -> str:
    return "A" if pref[a] > pref[b] else "B" if pref[b] > pref[a] else "TIE"


@pytest.fixture
def annotated(astore: Store) -> tuple[int, dict[str, int], list]:
    """Three annotators on every pair of three models (overlap 3), an LLM judge on the same
    battles; returns (task id, user ids, expected votes in submission order)."""
    qids = seed(astore, n_questions=3)
    tid = make_task(astore, models=MODELS, overlap=3)
    uids = {n: add_user(astore, n, password=None) for n in _prefs()}
    expected = []
    for name, pref in _prefs().items():
        for lease, outcome in work(astore, tid, uids[name],
                                   lambda it, lease, p=pref: _outcome(p, it[1], it[2])):
            pass
    from arena.store.schema import Judgment
    with astore.begin() as conn:
        for j in conn.execute(select(Judgment).where(Judgment.task_id == tid)
                              .order_by(Judgment.created_at, Judgment.id)):
            lo, hi = sorted((j.model_a, j.model_b))
            value = j.model_a if j.outcome == "A" else j.model_b if j.outcome == "B" \
                else j.outcome
            expected.append(((j.question_id, lo, hi, -1), f"annotator:{j.annotator_id}", value))
        llm = []
        for b in conn.execute(select(Battle).where(Battle.question_id.in_(qids))
                              .order_by(Battle.id)):
            # the LLM agrees with ann1 except on gamma, where it calls a tie
            o = _outcome(_prefs()["ann1"], b.model_a, b.model_b)
            if "model-gamma" in (b.model_a, b.model_b):
                o = "TIE"
            llm.append({"mode": "pairwise", "battle_id": b.id, "question_id": b.question_id,
                        "model_a": b.model_a, "model_b": b.model_b, "first": "A",
                        "judge_kind": "llm", "judge_id": "judge-x", "outcome": o})
        add_judgments(conn, llm)
    return tid, uids, expected


def test_agreement_equals_ratings_functions(astore: Store, annotated) -> None:  # type: ignore
    tid, uids, expected = annotated
    items, raters, values = map(list, zip(*expected))
    want_hh = agreement(items, raters, values, rounds=ROUNDS, seed=0)
    with astore.begin() as conn:
        rep = dashboard.agreement_report(conn, tid, rounds=ROUNDS)
    assert rep.human_votes == 3 * 9
    for key, stat in want_hh.items():
        got = rep.human_human[key]
        for field in ("value", "ci_low", "ci_high", "n"):
            a, b = getattr(got, field), getattr(stat, field)
            assert (math.isnan(a) and math.isnan(b)) or a == b, (key, field, a, b)
    # human <-> LLM: the LLM votes appended, across the two groups
    llm_items, llm_values = [], []
    for it in dict.fromkeys(items):
        _q, lo, hi, _t = it
        o = _outcome(_prefs()["ann1"], lo, hi)
        if "model-gamma" in (lo, hi):
            o = "TIE"
        llm_items.append(it)
        llm_values.append(lo if o == "A" else hi if o == "B" else o)
    # the LLM rows were inserted in battle order; rebuild them in that order
    with astore.begin() as conn:
        order = [(b.question_id, *sorted((b.model_a, b.model_b)), -1)
                 for b in conn.execute(select(Battle).order_by(Battle.id))]
    by_item = dict(zip(llm_items, llm_values))
    li = [it for it in order if it in by_item]
    want_hl = agreement(items + li, raters + ["llm:judge-x"] * len(li),
                        values + [by_item[it] for it in li],
                        group_a=sorted(set(raters)), group_b=["llm:judge-x"],
                        rounds=ROUNDS, seed=0)
    for key, stat in want_hl.items():
        got = rep.human_llm[key]
        assert (got.value == stat.value or (math.isnan(got.value) and math.isnan(stat.value)))
        assert got.n == stat.n
    assert rep.shared_items == 9 and rep.llm_judges == ["llm:judge-x"]
    # confusion human x LLM: 27 human votes, each against the single LLM vote of its item
    assert sum(map(sum, rep.confusion_hl)) == 27
    agree_cells = sum(rep.confusion_hl[i][i] for i in range(4))
    assert agree_cells / 27 == pytest.approx(rep.human_llm["agreement_with_ties"].value)
    assert sum(map(sum, rep.confusion_hh)) == 2 * 27  # 3 pairs per item, both ways


def test_dashboard_page_shows_the_same_figures(astore: Store, client: FlaskClient,
                                               annotated) -> None:  # type: ignore
    tid, uids, _ = annotated
    tok = login(client, "admin")
    html = client.get(f"/admin/tasks/{tid}/dashboard?rounds={ROUNDS}").get_data(as_text=True)
    with astore.begin() as conn:
        rep = dashboard.agreement_report(conn, tid, rounds=ROUNDS)
        dis = dashboard.disagreements(conn, tid)
    kappa = rep.human_human["cohen_kappa"].value
    assert f'<tr data-stat="cohen_kappa"><td>cohen kappa</td><td class="value">{kappa:.3f}' in html
    assert 'id="leaderboard"' in html and 'data-model="model-alpha"' in html
    assert '<span id="summary">9 items (0 gold), 9 complete · 27 verdicts, 0 skips' in html
    assert 'id="confusion-hl"' in html and "ann1" in html
    # ann3 disagrees with the others on alpha vs gamma: such items are listed
    assert dis and any(d.kind == "humans" for d in dis)
    assert all(d.item_id is not None for d in dis)
    item_page = client.get(f"/admin/tasks/{tid}/items/{dis[0].item_id}").get_data(as_text=True)
    assert "judge-x" in item_page and dis[0].models[0] in item_page
    board = client.get(f"/admin/tasks/{tid}/leaderboard.json?rounds=20").get_json()
    assert {r["model"] for r in board["rows"]} == set(MODELS)
    # an annotator reaches none of it
    client.post("/auth/logout", data={"csrf_token": tok})
    add_user(astore, "peek")
    login(client, "peek")
    for path in (f"/admin/tasks/{tid}/dashboard", f"/admin/tasks/{tid}/export.jsonl",
                 f"/admin/tasks/{tid}/leaderboard.json", f"/admin/tasks/{tid}/items/1"):
        assert client.get(path).status_code == 403


def test_exports_are_pseudonymised_by_default(astore: Store, client: FlaskClient,
                                              annotated, tmp_path, store_url) -> None:  # type: ignore
    tid, uids, _ = annotated
    with astore.begin() as conn:
        pseudo = dict(conn.execute(select(User.username, User.pseudonym)).all())
        rows = list(export.rows(conn, tid))
    assert len(rows) == 27
    r = rows[0]
    assert r["round"] == 1 and r["first"] in ("A", "B") and 0 < r["time_on_task_s"] <= 3.0
    assert {r["left_model"], r["right_model"]} == {r["model_a"], r["model_b"]}
    assert (r["left_model"] == r["model_a"]) == (r["first"] == "A")
    login(client, "admin")
    text = client.get(f"/admin/tasks/{tid}/export.jsonl").get_data(as_text=True)
    for name in _prefs():
        assert name not in text and pseudo[name] in text
    got = [json.loads(line) for line in text.splitlines()]
    assert {g["annotator"] for g in got} == {pseudo[n] for n in _prefs()}
    real = client.get(f"/admin/tasks/{tid}/export.csv?names=real").get_data(as_text=True)
    table = list(csv.DictReader(io.StringIO(real)))
    assert len(table) == 27 and {t["annotator"] for t in table} == set(_prefs())
    assert client.get(f"/admin/tasks/{tid}/export.xml").status_code == 404
    # the CLI: pseudonymised too
    from arena.cli import main
    out = tmp_path / "v.csv"
    assert main(["annotate", "export", str(tid), "--db", store_url, "--format", "csv",
                 "--out", str(out)]) == 0
    body = out.read_text(encoding="utf-8")
    assert "ann1" not in body and pseudo["ann1"] in body and body.count("\n") == 28


def test_agreement_of_many_annotators_is_computed_off_the_request(
        astore: Store, client: FlaskClient, annotated,  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With more raters than ``figures.INLINE_RATERS`` the page does not wait for the
    agreement statistics: it says they are being computed, then shows them (the same figures
    as the ratings functions), and reuses them while the verdicts do not change."""
    import time

    from annotate import figures

    monkeypatch.setattr(figures, "INLINE_RATERS", 2)  # the 3 annotators count as many
    tid, _, _ = annotated
    login(client, "admin")
    first = client.get(f"/admin/tasks/{tid}/dashboard?rounds={ROUNDS}").get_data(as_text=True)
    assert "<strong>computing</strong>" in first
    deadline = time.monotonic() + 60
    while True:
        html = client.get(f"/admin/tasks/{tid}/dashboard?rounds={ROUNDS}").get_data(
            as_text=True)
        if "Agreement figures from" in html or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "Agreement figures from" in html
    want = figures.rounds_for(3, ROUNDS)
    with astore.begin() as conn:
        rep = dashboard.agreement_report(conn, tid, rounds=want)
    kappa = rep.human_human["cohen_kappa"].value
    assert f"{kappa:.3f}" in html and f"with {want} bootstrap rounds" in html
