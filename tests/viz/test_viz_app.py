"""The battle browser end to end: ``viz.py`` under ``streamlit.testing.v1.AppTest`` over stores
filled by fixtures (SQLite by default, PostgreSQL with ARENA_TEST_PG)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from arena.config import ArenaConfig
from arena.leaderboard import LeaderboardSettings, compute_leaderboard
from arena.ratings.selection import Selection, load_verdicts
from arena.store import Store
from viz_fixtures import VIZ, XSS, Filled

PAGES = ["leaderboard", "matrices", "battles", "judges", "length"]


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


@pytest.mark.db
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(viz_store: Filled, page: str,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page=page)
    assert problems(at) == []
    assert at.header[0].value == page.capitalize()
    if page in ("leaderboard", "matrices", "judges", "length"):
        assert at.get("plotly_chart"), "a chart is drawn"


@pytest.mark.db
def test_leaderboard_numbers_equal_the_rating_functions(viz_store: Filled, store: Store,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="leaderboard", baseline="delta")
    assert problems(at) == []
    shown = at.dataframe[0].value
    cfg = ArenaConfig()
    frame = load_verdicts(store, Selection.from_config(cfg.ratings))
    settings = LeaderboardSettings.from_config(cfg)
    settings.baseline = "delta"
    settings.per_category = False
    board = compute_leaderboard(frame, settings)
    assert list(shown["model"]) == [r.model for r in board.rows]
    for (_, row), ref in zip(shown.iterrows(), board.rows):
        assert row["rank"] == ref.rank and row["battles"] == ref.n
        for col, val in (("BT", ref.bt), ("CI low", ref.ci_low), ("CI high", ref.ci_high),
                         ("Elo (online)", ref.elo), ("win rate %", ref.win_rate),
                         ("vs baseline win %", ref.baseline_win_rate)):
            assert _same(row[col], val), (col, row[col], val)
    # the chart carries the same ratings and CI half-widths
    fig = at.get("plotly_chart")[0].proto.spec
    assert "alpha" in fig and "error_x" in fig


@pytest.mark.db
def test_leaderboard_per_category_and_judge(viz_store: Filled, store: Store,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="leaderboard", category="writing",
             judge="llm:judge-x")
    assert problems(at) == []
    shown = at.dataframe[0].value
    cfg = ArenaConfig()
    frame = load_verdicts(store, Selection.from_config(cfg.ratings))
    frame = frame.subset(frame.judge == frame.judges.index("llm:judge-x"))
    settings = LeaderboardSettings.from_config(cfg)
    settings.per_category = False
    board = compute_leaderboard(frame, settings, category="writing")
    assert [_same(a, r.bt) for a, r in zip(shown["BT"], board.rows)] == [True] * 4
    whole = compute_leaderboard(load_verdicts(store, Selection.from_config(cfg.ratings)),
                                settings)
    assert not all(_same(a, r.bt) for a, r in zip(shown["BT"], whole.rows))


@pytest.mark.db
def test_single_mode_scores_and_length_controlled(viz_store: Filled,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="leaderboard", mode="single")
    assert problems(at) == []
    single = at.dataframe[0].value
    assert list(single["model"]) == ["alpha", "beta", "gamma", "delta"]
    assert single["mean score"].between(5, 9).all()
    at = app(viz_store.url, monkeypatch, page="leaderboard", lc="length-controlled",
             baseline="delta")
    assert problems(at) == []
    table = at.dataframe[0].value
    assert table["style-controlled BT"].notna().all() and "LC win %" in table


@pytest.mark.db
def test_dry_run_judge_is_labelled(viz_store: Filled, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="leaderboard", judge="dry-run:dry-run")
    assert problems(at) == []
    assert any("DRY RUN" in w.value for w in at.warning)
    at = app(viz_store.url, monkeypatch, page="leaderboard")
    assert not any("DRY RUN" in w.value for w in at.warning)


@pytest.mark.db
def test_battle_filters_narrow_the_list(viz_store: Filled,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="battles")
    assert problems(at) == []
    full = at.dataframe[0].value
    assert len(full) == 72
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
    at = app(viz_store.url, monkeypatch, page="battles", disagree="annotators")
    assert set(at.dataframe[0].value["battle_id"]) == viz_store.annotator_split_battles


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
def test_failed_and_human_verdicts_are_shown(viz_store: Filled,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="battles", battle=str(viz_store.failed_battle))
    verdicts = at.dataframe[1].value
    assert "FAILED (no verdict)" in set(verdicts["verdict"])
    assert any("I cannot decide <b>at all</b>" in c.value for c in at.code)  # raw, verbatim
    human_battle = next(iter(viz_store.annotator_split_battles))
    at = app(viz_store.url, monkeypatch, page="battles", battle=str(human_battle))
    verdicts = at.dataframe[1].value
    assert {"annotator-1", "annotator-2"} <= set(verdicts["judge"])
    assert any("INCONSISTENT" in c.value or "consistent" in c.value for c in at.caption)


@pytest.mark.db
def test_judges_page_agreement_and_confusion(viz_store: Filled,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(viz_store.url, monkeypatch, page="judges")
    assert problems(at) == []
    stats = at.dataframe[0].value
    row = stats[stats["rater"] == "llm:judge-x"].iloc[0]
    assert 0 < row["position consistency"] < 1 and row["order pairs"] > 0
    agree = at.dataframe[-1].value
    assert agree.iloc[0]["judge"] == "llm:judge-x"
    assert 0 <= agree.iloc[0]["agreement_with_ties"] <= 1


def test_review_file_input(review_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
                           tmp_path: Path) -> None:
    review, cats = review_files
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the scratch store goes to the temp folder
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    argv = ["--review-file", str(review), "--category-file", str(cats)]
    at = app(None, monkeypatch, argv, page="leaderboard")
    assert problems(at) == []
    assert {r for r in at.dataframe[0].value["model"]} == {"m1", "m2", "m3"}
    assert [o for o in at.sidebar.selectbox(key="category").options] == [
        "(all categories)", "Maths", "Other", "Writing"]
    at = app(None, monkeypatch, argv, page="battles", category="Maths")
    assert problems(at) == []
    assert set(at.dataframe[0].value["question_id"]) == {"review/1", "review/3"}
    at = app(None, monkeypatch, argv, page="battles", battle="2")
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


def _same(a: object, b: object) -> bool:
    if b is None:
        return a is None or (isinstance(a, float) and math.isnan(a)) or pd.isna(a)
    return a is not None and not pd.isna(a) and math.isclose(float(a), float(b), rel_tol=1e-12)


@pytest.mark.db
def test_rerun_reuses_caches_until_a_verdict_is_appended(viz_store: Filled, store: Store,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    from arena.store.ingest import add_judgments

    at = app(viz_store.url, monkeypatch, page="leaderboard")
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
    after = at.dataframe[0].value
    assert after.set_index("model").loc["alpha", "battles"] > \
        before.set_index("model").loc["alpha", "battles"]
