"""The battle browser end to end: ``viz.py`` under ``streamlit.testing.v1.AppTest`` over stores
filled by fixtures (SQLite by default, PostgreSQL with ARENA_TEST_PG)."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from arena.config import ArenaConfig
from arena.leaderboard import LeaderboardSettings, compute_leaderboard, judge_groups
from arena.ratings.bt import rank_by_ci
from arena.ratings.selection import Selection, load_verdicts
from arena.store import Store
from arena.viz import timing
from arena.viz.render import plain
from viz_fixtures import VIZ, XSS, Filled

PAGES = ["leaderboard", "categories", "matrices", "battles", "single", "judges", "length"]
HEAVY = ("load verdicts", "ratings", "battle list", "judge statistics", "agreement",
         "run scope", "length bins", "single answers list", "left-out verdicts", "search")


def app(url: str | None, monkeypatch: pytest.MonkeyPatch, argv: list[str] | None = None,
        **params: str) -> AppTest:
    if url:
        monkeypatch.setenv("ARENA_DB", url)
    monkeypatch.setattr(sys, "argv", ["viz.py", *(argv or [])])
    at = AppTest.from_file(str(VIZ), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def problems(at: AppTest) -> list[str]:
    return [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]


def html_bodies(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html")]


def texts(at: AppTest) -> list[str]:
    return [str(x.value) for kind in ("markdown", "caption", "warning", "info", "subheader",
                                      "header") for x in at.get(kind)]


def table_with(at: AppTest, column: str, which: int = -1) -> pd.DataFrame:
    """The last (or ``which``) table on the page that has ``column``."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert found, f"no table with a {column!r} column"
    return found[which]


def frame_of(store: Store, mode: str = "pairwise", judge: str | None = None):  # type: ignore
    f = load_verdicts(store, Selection.from_config(ArenaConfig().ratings, mode=mode))
    return f if judge is None else f.subset(f.judge == f.judges.index(judge))


def viewer_settings(mode: str = "pairwise", **kw: object) -> LeaderboardSettings:
    s = LeaderboardSettings.from_config(ArenaConfig())
    s.mode, s.per_category = mode, False
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def _same(a: object, b: object) -> bool:
    if b is None:
        return a is None or (isinstance(a, float) and math.isnan(a)) or pd.isna(a)
    return a is not None and not pd.isna(a) and math.isclose(float(a), float(b), rel_tol=1e-12)


@pytest.mark.db
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_and_reruns_from_cache(viz_store: Filled, page: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page=page)
    assert problems(at) == []
    assert at.header[0].value == page.capitalize()
    if page in ("leaderboard", "matrices", "judges", "length", "single"):
        assert at.get("plotly_chart"), "a chart is drawn"
    at.run()  # a rerun with nothing changed recomputes nothing heavy
    ran = [name for name, _ in timing.last_run()]
    assert not [n for n in ran if n.startswith(HEAVY)], ran


@pytest.mark.db
def test_leaderboard_without_config_is_one_board_per_judge(viz_store: Filled, store: Store,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    at = app(viz_store.url, monkeypatch, page="leaderboard", baseline="delta")
    assert problems(at) == []
    frame = frame_of(store)
    groups = judge_groups(frame)
    assert list(groups) == ["llm:judge-x", "human annotators"]
    assert [s.value for s in at.subheader] == [f"Judge {plain('llm:judge-x')}",
                                               "Judge human annotators"]
    assert any("one board per judge fingerprint" in t for t in texts(at))
    for shown, (name, mask) in zip(at.dataframe, groups.items()):
        board = compute_leaderboard(frame.subset(mask), viewer_settings(baseline="delta"))
        table = shown.value
        assert list(table["model"]) == [r.model for r in board.rows]
        for (_, row), ref in zip(table.iterrows(), board.rows):
            assert row["rank"] == ref.rank and row["battles"] == ref.n
            for col, val in (("BT", ref.bt), ("CI low", ref.ci_low), ("CI high", ref.ci_high),
                             ("Elo (online)", ref.elo), ("win rate %", ref.win_rate),
                             ("vs baseline win %", ref.baseline_win_rate)):
                assert _same(row[col], val), (name, col, row[col], val)
    fig = at.get("plotly_chart")[0].proto.spec
    assert "alpha" in fig and "error_x" in fig


@pytest.mark.db
def test_leaderboard_per_category_and_judge(viz_store: Filled, store: Store,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="leaderboard", category="writing",
             judge="llm:judge-x")
    assert problems(at) == []
    shown = at.dataframe[0].value
    frame = frame_of(store, judge="llm:judge-x")
    board = compute_leaderboard(frame, viewer_settings(), category="writing")
    assert [_same(a, r.bt) for a, r in zip(shown["BT"], board.rows)] == [True] * 4
    whole = compute_leaderboard(frame, viewer_settings())
    assert not all(_same(a, r.bt) for a, r in zip(shown["BT"], whole.rows))


@pytest.mark.db
def test_category_rank_table_equals_per_category_leaderboards(viz_store: Filled, store: Store,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    at = app(viz_store.url, monkeypatch, page="categories", judge="llm:judge-x")
    assert problems(at) == []
    table = at.dataframe[0].value.set_index("model")
    frame = frame_of(store, judge="llm:judge-x")
    s = viewer_settings(methods=("bt", "elo", "winrate", "style_bt"))
    boards = {"overall": compute_leaderboard(frame, s)}
    boards.update({c: compute_leaderboard(frame, s, category=c)
                   for c in ("coding", "math", "writing")})
    assert list(table.index) == [r.model for r in boards["overall"].rows]
    for name, board in boards.items():
        style = rank_by_ci(np.array([r.style_bt for r in board.rows]),
                           np.array([r.style_ci_low for r in board.rows]),
                           np.array([r.style_ci_high for r in board.rows]))
        for r, sc in zip(board.rows, style):
            assert table.loc[r.model, name] == r.rank, (name, r.model)
            assert table.loc[r.model, f"{name} SC"] == sc, (name, r.model)
    top = boards["overall"].rows[0]
    assert table.loc[top.model, "rating"] == round(top.bt, 1)
    assert table.loc[top.model, "95% CI"] == \
        f"+{top.ci_high - top.bt:.1f} / −{top.bt - top.ci_low:.1f}"
    assert any("Rank (UB) = 1 + the number of models whose lower CI bound" in c.value
               for c in at.caption)
    # the minimum-battles filter: a category where a model has fewer battles is left blank
    at = app(viz_store.url, monkeypatch, page="categories", judge="llm:judge-x",
             min_battles="13")
    t13 = at.dataframe[0].value
    assert t13["math"].isna().all() and t13["overall"].notna().all()


@pytest.mark.db
def test_single_page_shows_the_ratings_scores(viz_store: Filled, store: Store,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="single")
    assert problems(at) == []
    means = at.dataframe[0].value
    frame = frame_of(store, "single")
    s = viewer_settings("single")
    for name, cat in (("(all categories)", None), ("math", "math"), ("writing", "writing"),
                      ("coding", "coding")):
        board = compute_leaderboard(frame, s, category=cat)
        for r in board.rows:
            assert _same(means.loc[name, r.model], r.score), (name, r.model)
    assert list(means.columns) == ["alpha", "beta", "gamma", "delta"]  # best first
    assert [c.proto.spec for c in at.get("plotly_chart")][0].count("scatterpolar") >= 4
    answers = at.dataframe[1].value
    assert len(answers) == len(frame) and set(answers["status"]) == {"counts"}
    # a row opens the verdict with its score, rationale and raw output
    pos = int(np.flatnonzero(answers["model"].to_numpy() == "gamma")[0])
    at.session_state["s_list"] = {"selection": {"rows": [pos], "columns": [], "cells": []}}
    at.run()
    vid = int(answers.iloc[pos]["id"])
    assert at.subheader[-1].value == f"Verdict #{vid}: gamma"
    assert at.metric[0].value == f"{answers.iloc[pos]['score']:g}"
    assert at.query_params["verdict"] == str(vid)


@pytest.mark.db
def test_length_controlled_board(viz_store: Filled, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="leaderboard", lc="length-controlled",
             baseline="delta", judge="llm:judge-x")
    assert problems(at) == []
    table = at.dataframe[0].value
    assert table["style-controlled BT"].notna().all() and "LC win %" in table


@pytest.mark.db
@pytest.mark.parametrize("page", PAGES)
def test_dry_run_verdicts_never_in_no_dry_run_views_and_labelled(
        viz_store: Filled, store: Store, page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page=page)
    assert problems(at) == []
    assert not any("DRY RUN -" in t for t in texts(at) if "not listed" not in t)
    at = app(viz_store.url, monkeypatch, page=page, judge="kind:dry-run")
    assert problems(at) == []
    assert any("DRY RUN - random verdicts" in w.value for w in at.warning), page
    if page == "battles":
        dry = load_verdicts(store, Selection(judge_kinds=("dry-run",)))
        assert at.dataframe[0].value["verdicts"].sum() == len(dry) == 72


@pytest.mark.db
def test_battles_page_lists_no_dry_run_verdict(viz_store: Filled, store: Store,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="battles")
    listed = at.dataframe[0].value
    counted = frame_of(store)
    assert listed["counted"].sum() == len(counted)  # exactly the rating frame's verdicts
    assert listed["verdicts"].sum() == len(counted) + 2  # + the failed and the corrected one
    at = app(viz_store.url, monkeypatch, page="battles", battle=str(viz_store.xss_battle))
    verdicts = table_with(at, "status")
    assert "dry-run" not in set(verdicts["kind"]) and set(verdicts["status"]) == {"counts"}
    assert not any("dry\\-run" in m.value for m in at.markdown)  # no dry-run judge's games


@pytest.mark.db
def test_battle_filters_narrow_the_list(viz_store: Filled,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="battles")
    assert problems(at) == []
    assert len(at.dataframe[0].value) == 72
    at.selectbox(key="b_model").set_value("alpha").run()
    at.selectbox(key="b_opponent").set_value("gamma").run()
    pair = at.dataframe[0].value
    assert len(pair) == 12 and set(pair["model_b"]) == {"gamma"}
    assert at.query_params["model"] == "alpha"  # the pair is in the link
    at.multiselect(key="b_outcome").set_value(["TIE"]).run()
    ties = at.dataframe[0].value
    assert 0 < len(ties) < len(pair)
    at.sidebar.selectbox(key="category").set_value("math").run()
    assert len(at.dataframe[0].value) <= len(ties)
    # (gamma, delta) battles are stored as gamma-delta: shown in the pair's order
    at = app(viz_store.url, monkeypatch, page="battles", model="delta", opponent="gamma")
    assert set(zip(at.dataframe[0].value["model_a"], at.dataframe[0].value["model_b"])) == \
        {("delta", "gamma")}


@pytest.mark.db
def test_disagreement_filters_match_the_fixture(viz_store: Filled,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for flag, expected in (("orders", viz_store.order_flip_battles),
                           ("annotators", viz_store.annotator_split_battles),
                           ("human_judge", viz_store.human_llm_split_battles)):
        at = app(viz_store.url, monkeypatch, page="battles", disagree=flag)
        assert set(at.dataframe[0].value["battle"]) == expected, flag
    at = app(viz_store.url, monkeypatch, page="battles", disagree="judge_judge")
    assert at.dataframe[0].value.empty  # one machine judge


@pytest.mark.db
def test_changing_the_category_closes_the_open_battle(viz_store: Filled,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    bid = viz_store.battle_ids[("t/1", "alpha", "beta")]  # question 1 is in "writing"
    at = app(viz_store.url, monkeypatch, page="battles", battle=str(bid))
    assert at.subheader[0].value.startswith(f"Battle #{bid}")
    at.sidebar.selectbox(key="category").set_value("math").run()
    assert not at.subheader, "the battle is closed"
    assert "battle" not in at.query_params
    assert any(f"Battle #{bid} closed" in c.value for c in at.caption)
    at.sidebar.selectbox(key="category").set_value("writing").run()
    assert not at.subheader  # closed stays closed


@pytest.mark.db
def test_next_previous_and_a_clicked_row_open_battles(viz_store: Filled,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="battles", model="beta")
    ids = list(at.dataframe[0].value["battle"])
    at.session_state["b_list"] = {"selection": {"rows": [2], "columns": [], "cells": []}}
    at.run()
    assert at.query_params["battle"] == str(ids[2])
    at.button(key="b_next").click().run()
    assert at.query_params["battle"] == str(ids[3])
    at.button(key="b_prev").click().run()
    at.button(key="b_prev").click().run()
    assert at.query_params["battle"] == str(ids[1])
    assert at.subheader[0].value.startswith(f"Battle #{ids[1]}")
    assert "Question" in at.selectbox(key="b_pick").format_func(ids[1])  # a text preview


@pytest.mark.db
def test_matrix_link_keeps_category_and_judge(viz_store: Filled,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="matrices", category="math",
             judge="llm:judge-x")
    assert problems(at) == []
    link = next(m.value for m in at.markdown if "Open the battles of this pair" in m.value)
    query = parse_qs(urlparse(link[link.index("(") + 1:-1]).query)
    assert query["page"] == ["battles"] and query["category"] == ["math"]
    assert query["judge"] == ["llm:judge-x"] and query["model"] and query["opponent"]
    at = app(viz_store.url, monkeypatch, **{k: v[0] for k, v in query.items()})
    shown = at.dataframe[0].value
    assert set(shown["category"]) == {"math"}
    assert set(shown["model_a"]) | set(shown["model_b"]) == \
        {query["model"][0], query["opponent"][0]}


@pytest.mark.db
def test_search_finds_a_battle_by_a_word_of_its_answer(viz_store: Filled,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="battles", q="onerror")  # only in delta's q0
    found = at.dataframe[0].value
    assert set(found["question_id"]) == {"t/0"} and len(found) == 3
    assert all("delta" in (a, b) for a, b in zip(found["model_a"], found["model_b"]))
    at = app(viz_store.url, monkeypatch, page="battles", q="ITEM 7")  # question text, any case
    assert set(at.dataframe[0].value["question_id"]) == {"t/7"}
    at.text_input(key="b_query").set_value("nothing-like-this").run()
    assert at.dataframe[0].value.empty and at.query_params["q"] == "nothing-like-this"


@pytest.mark.db
def test_deep_link_to_a_battle_shows_html_as_text(viz_store: Filled,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="battles", battle=str(viz_store.xss_battle))
    assert problems(at) == []
    assert at.subheader[0].value.startswith(f"Battle #{viz_store.xss_battle}")
    bodies = html_bodies(at)
    xss = [b for b in bodies if "alert" in b]
    assert xss, "the answer made of HTML is drawn"
    for body in bodies:
        assert "<script" not in body and "<img" not in body  # tags only as escaped text
    assert any("&lt;script&gt;" in b for b in xss)
    at = app(viz_store.url, monkeypatch, page="battles", battle=str(viz_store.xss_battle),
             render="text")
    assert XSS in [t.value for t in at.text]  # plain-text mode shows the exact characters
    assert not any("alert" in b for b in html_bodies(at))


@pytest.mark.db
def test_failed_corrected_and_human_verdicts_are_shown(viz_store: Filled,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="battles", battle=str(viz_store.failed_battle))
    verdicts = table_with(at, "status")
    assert "FAILED (no verdict)" in set(verdicts["verdict"])
    assert set(verdicts.loc[verdicts["verdict"] == "FAILED (no verdict)", "status"]) == \
        {"failed"}
    assert any("I cannot decide <b>at all</b>" in c.value for c in at.code)  # raw, verbatim
    corrected = viz_store.battle_ids[("t/5", "beta", "gamma")]
    at = app(viz_store.url, monkeypatch, page="battles", battle=str(corrected))
    verdicts = table_with(at, "status")
    assert "corrected later" in set(verdicts["status"])
    human_battle = next(iter(viz_store.annotator_split_battles))
    at = app(viz_store.url, monkeypatch, page="battles", battle=str(human_battle))
    verdicts = table_with(at, "status")
    assert {"annotator-1", "annotator-2"} <= set(verdicts["annotator"])


@pytest.mark.db
def test_judges_page_agreement_and_confusion(viz_store: Filled,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="judges")
    assert problems(at) == []
    stats = table_with(at, "rater", 0)
    row = stats[stats["rater"] == "llm:judge-x"].iloc[0]
    assert 0 < row["position consistency"] < 1 and row["order pairs"] > 0
    agree = table_with(at, "agreement_with_ties")
    assert agree.iloc[0]["judge"] == "llm:judge-x"
    assert 0 <= agree.iloc[0]["agreement_with_ties"] <= 1


def test_paired_evalscope_file_is_one_battle_per_question_with_both_games(
        paired_review: tuple[Path, dict[str, set[str]]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    path, facts = paired_review
    argv = ["--review-file", str(path)]
    at = app(None, monkeypatch, argv, page="battles")
    assert problems(at) == []
    table = at.dataframe[0].value
    assert sorted(table["question_id"]) == sorted(facts["inconsistent"] | facts["consistent"])
    assert set(table["verdicts"]) == {2}  # both orders of each question in one battle
    assert set(table.loc[table["orders"], "question_id"]) == facts["inconsistent"]
    at.multiselect(key="b_disagree").set_value(["orders"]).run()
    assert set(at.dataframe[0].value["question_id"]) == facts["inconsistent"]
    # the leaderboard counts as many games as the list has battles
    lb = app(None, monkeypatch, argv, page="leaderboard")
    assert any(f"{len(table)} battles" in c.value for c in lb.caption)
    # a battle: Game 1 and Game 2 side by side, each with its verdict, and the badge
    q2 = table[table["question_id"] == "review/2"].iloc[0]
    at = app(None, monkeypatch, argv, page="battles", battle=str(int(q2["battle"])))
    md = [m.value for m in at.markdown]
    assert any(m.startswith("**Game 1** · shown first: m1 · second: m2") for m in md)
    assert any(m.startswith("**Game 2** · shown first: m2 · second: m1") for m in md)
    assert [m for m in md if m.startswith("Verdict:")] == [
        "Verdict: **m2 wins** (the answer shown second)",
        "Verdict: **m1 wins** (the answer shown second)"]
    assert any(m.startswith(":red-badge[INCONSISTENT]") for m in md)
    assert any("counts as a tie" in m for m in md)
    reviews = [c.value for c in at.code]  # evalscope's review_text is the raw judge output
    assert "review of 2 m1-m2" in reviews and "review of 2 m2-m1" in reviews
    # the swapped row's own battle id opens the same battle
    q1 = table[table["question_id"] == "review/1"].iloc[0]
    at = app(None, monkeypatch, argv, page="battles", battle=str(int(q1["battle"]) + 1))
    assert at.query_params["battle"] == str(int(q1["battle"]))
    assert not any("INCONSISTENT" in m.value for m in at.markdown)
    # the win_1 / win_2 record of question 5 is one battle with two games, too
    q5 = table[table["question_id"] == "review/5"].iloc[0]
    at = app(None, monkeypatch, argv, page="battles", battle=str(int(q5["battle"])))
    assert [m.value for m in at.markdown if m.value.startswith("Verdict:")] == [
        "Verdict: **m3 wins** (the answer shown second)",
        "Verdict: **m3 wins** (the answer shown first)"]


def test_paired_file_search_and_categories(paired_review: tuple[Path, dict[str, set[str]]],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = paired_review
    at = app(None, monkeypatch, ["--review-file", str(path)], page="battles", q="zebra")
    assert list(at.dataframe[0].value["question_id"]) == ["review/3"]


def test_review_file_input(review_files: tuple[Path, Path],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    review, cats = review_files
    argv = ["--review-file", str(review), "--category-file", str(cats)]
    at = app(None, monkeypatch, argv, page="leaderboard")
    assert problems(at) == []
    assert {r for r in at.dataframe[0].value["model"]} == {"m1", "m2", "m3"}
    assert [o for o in at.sidebar.selectbox(key="category").options] == [
        "(all categories)", "Maths", "Other", "Writing"]
    at = app(None, monkeypatch, argv, page="battles", category="Maths")
    assert problems(at) == []
    assert set(at.dataframe[0].value["question_id"]) == {"review/1", "review/3"}
    bid = int(at.dataframe[0].value.iloc[0]["battle"])
    at = app(None, monkeypatch, argv, page="battles", outcome="failed")
    failed = at.dataframe[0].value
    assert list(failed["question_id"]) == ["review/5"]  # "??" is a failed verdict, not a tie
    at = app(None, monkeypatch, argv, page="battles", battle=str(bid + 1))
    assert any("&lt;script&gt;" in b for b in html_bodies(at))
    assert not any("<script" in b for b in html_bodies(at))


def test_bad_inputs_are_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(f"sqlite:///{tmp_path / 'none.db'}", monkeypatch)
    assert len(at.error) == 1 and "no store at" in at.error[0].value
    assert not (tmp_path / "none.db").exists()
    at = app(None, monkeypatch, ["--review-file", str(tmp_path / "missing.jsonl")])
    assert len(at.error) == 1 and "missing.jsonl" in at.error[0].value
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("nonsense_key: 1\n", encoding="utf-8")
    at = app(None, monkeypatch, ["-c", str(cfg)])
    assert len(at.error) == 1 and "nonsense_key" in at.error[0].value


@pytest.mark.db
def test_unknown_arguments_after_the_double_dash_are_reported(viz_store: Filled,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    at = app(viz_store.url, monkeypatch, ["--dbb", "sqlite:///elsewhere.db"])
    assert len(at.error) == 1
    assert "unknown arguments after --: --dbb sqlite:///elsewhere.db" in at.error[0].value
    assert not at.header  # nothing read from a store the user did not mean
    at = app(viz_store.url, monkeypatch, ["--server.port", "9000"])
    assert "go before viz.py" in at.error[0].value
    at = app(viz_store.url, monkeypatch, ["--db"])
    assert "expected one argument" in at.error[0].value


@pytest.mark.db
def test_rerun_reuses_caches_until_a_verdict_is_appended(viz_store: Filled, store: Store,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    from arena.store.ingest import add_judgments

    at = app(viz_store.url, monkeypatch, page="leaderboard", judge="kind:llm")
    before = at.dataframe[0].value
    at.run()
    assert at.dataframe[0].value.equals(before)
    with store.begin() as conn:
        add_judgments(conn, [{"mode": "pairwise-all", "battle_id": bid, "question_id": q,
                              "model_a": a, "model_b": b, "first": "A", "judge_kind": "llm",
                              "judge_id": "judge-y", "outcome": "B"}
                             for (q, a, b), bid in viz_store.battle_ids.items()
                             if a == "alpha"])
    at.run()
    after = at.dataframe[0].value  # llm:judge-x's board first; judge-y has its own
    assert [s.value for s in at.subheader] == [f"Judge {plain('llm:judge-x')}",
                                               f"Judge {plain('llm:judge-y')}"]
    assert at.dataframe[0].value.equals(before)
    assert set(at.dataframe[1].value["model"]) == {"alpha", "beta", "gamma", "delta"}
    assert after is not None
