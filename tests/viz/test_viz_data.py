"""Reading the store for the viewer; the review-file input; categories; battle filters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.errors import InputError
from arena.store import Store
from arena.store.annotation_schema import User
from arena.viz import data
from arena.viz.categories import CategoryMap, load_category_map
from arena.viz.filters import (ALL, BattleFilter, battle_table, disagreement_flags,
                               filter_battles, judge_choices, judge_mask)
from arena.viz.review_file import build_scratch_store, read_review_file
from viz_fixtures import XSS, Filled


@pytest.mark.db
def test_load_verdicts_keeps_everything_and_measures_lengths(viz_store: Filled,
                                                             store: Store) -> None:
    df = data.load_verdicts(store.engine)
    assert set(df["parse_status"]) == {"ok", "failed"}
    assert (df["judge_kind"] == "dry-run").any()
    assert df.loc[df["id"] == viz_store.superseded_id, "superseded"].all()
    assert df["superseded"].sum() == 1
    row = df[(df["battle_id"] == viz_store.xss_battle) & (df["judge_kind"] == "llm")].iloc[0]
    assert row["len_b"] == len(XSS)  # characters of the text, not of its JSON encoding
    assert set(df.loc[df["judge_kind"] == "human", "annotator"]) == {"annotator-1",
                                                                     "annotator-2"}
    before = data.change_marker(store.engine)
    with store.begin() as conn:
        from arena.store.ingest import add_judgments
        add_judgments(conn, [{"mode": "single", "question_id": "t/0", "model_a": "alpha",
                              "judge_kind": "llm", "judge_id": "judge-x", "score_a": 3.0}])
    assert data.change_marker(store.engine) != before
    before = data.change_marker(store.engine)
    with store.begin() as conn:
        from sqlalchemy import update
        conn.execute(update(User).where(User.username == "ann2").values(excluded=True))
    assert data.change_marker(store.engine) != before


@pytest.mark.db
def test_battle_detail(viz_store: Filled, store: Store) -> None:
    d = data.load_battle(store.engine, viz_store.xss_battle)
    assert d is not None and (d.model_a, d.model_b) == ("alpha", "delta")
    assert d.answer_b is not None and d.answer_b["turns"] == [XSS]
    assert {j["judge_kind"] for j in d.judgments} == {"llm", "dry-run"}
    assert data.load_battle(store.engine, 10**6) is None


@pytest.mark.db
def test_disagreement_flags_match_the_fixture(viz_store: Filled, store: Store) -> None:
    flags = disagreement_flags(data.load_verdicts(store.engine))
    assert set(flags.index[flags["orders"]]) == viz_store.order_flip_battles
    assert set(flags.index[flags["annotators"]]) == viz_store.annotator_split_battles
    assert viz_store.human_llm_split_battles  # the fixture makes at least one
    assert set(flags.index[flags["human_llm"]]) == viz_store.human_llm_split_battles


@pytest.mark.db
def test_filters_narrow_the_battle_list(viz_store: Filled, store: Store) -> None:
    df = data.load_verdicts(store.engine)
    table = battle_table(df)
    assert len(table) == 12 * 6
    pair = filter_battles(table, df, BattleFilter(model="alpha", opponent="beta"))
    assert len(pair) == 12 and set(pair["model_a"]) == {"alpha"}
    maths = filter_battles(table, df, BattleFilter(category="math"))
    assert len(maths) == 4 * 6
    failed = filter_battles(table, df, BattleFilter(outcomes=("failed",)))
    assert list(failed["battle_id"]) == [viz_store.failed_battle]
    humans = filter_battles(table, df, BattleFilter(judge="kind:human"))
    assert len(humans) == 2 * 6 + 1  # questions 1 and 2, plus the corrected verdict's battle
    both_bad = filter_battles(table, df, BattleFilter(judge="kind:human",
                                                      outcomes=("BOTH_BAD",)))
    assert set(both_bad["battle_id"]) == viz_store.annotator_split_battles
    split = filter_battles(table, df, BattleFilter(disagreements=("annotators",)))
    assert set(split["battle_id"]) == viz_store.annotator_split_battles


def test_judge_choices_keep_dry_run_out_of_groups() -> None:
    import pandas as pd

    choices = judge_choices([("llm", "j"), ("dry-run", "dry-run"), ("human", "human:a")])
    assert choices[:3] == [ALL, "kind:llm", "kind:human"]
    assert "dry-run:dry-run" in choices
    df = pd.DataFrame({"judge_kind": ["llm", "dry-run", "human"],
                       "judge_id": ["j", "dry-run", "human:a"]})
    assert list(judge_mask(df, ALL)) == [True, False, True]
    assert list(judge_mask(df, "dry-run:dry-run")) == [False, True, False]


def test_category_map(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("Maths: [algebra, geometry]\nOther: ['*']\n", encoding="utf-8")
    m = load_category_map(f)
    assert m.group("algebra") == "Maths" and m.group("chat") == "Other"
    assert CategoryMap().group("chat") == "chat"
    f.write_text("Maths: {a: 1}\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_category_map(f)
    assert e.value.field == "Maths"
    f.write_text("Maths: [a\n", encoding="utf-8")
    with pytest.raises(InputError, match="invalid YAML"):
        load_category_map(f)


def test_review_file_errors_name_file_line_and_field(tmp_path: Path) -> None:
    f = tmp_path / "r.jsonl"
    good = {"model_a": "m1", "model_b": "m2", "win": "model_a", "question_id": 1}
    f.write_text(json.dumps(good) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_review_file(f)
    assert e.value.line == 2 and str(f) in str(e.value)
    f.write_text(json.dumps(good) + "\n" + json.dumps({"model_a": "m1", "win": "tie"}) + "\n",
                 encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_review_file(f)
    assert (e.value.line, e.value.field) == (2, "model_b")
    f.write_text(json.dumps({**good, "output_a": "x"}) + "\n"
                 + json.dumps({**good, "output_a": "y"}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="different answer") as e:
        read_review_file(f)
    assert (e.value.line, e.value.field) == (2, "output_a")
    f.write_text(json.dumps({**good, "scores": [1]}) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_review_file(f)
    assert e.value.field == "scores"
    scratch = tmp_path / "scratch"
    with pytest.raises(InputError):
        build_scratch_store(f, scratch)
    assert not scratch.exists() or not any(scratch.glob("*.db"))  # nothing half-built kept


def test_review_file_becomes_a_scratch_store(review_files: tuple[Path, Path],
                                             tmp_path: Path) -> None:
    review, _cats = review_files
    url = build_scratch_store(review, tmp_path / "scratch")
    assert build_scratch_store(review, tmp_path / "scratch") == url  # built once per content
    s = data.open_readonly(url)
    try:
        df = data.load_verdicts(s.engine)
    finally:
        s.close()
    assert len(df) == 6  # five lines, one with both orders
    assert set(df["judge_kind"]) == {"imported"}
    failed = df[df["parse_status"] == "failed"]
    assert len(failed) == 1 and failed["outcome"].isna().all()  # "??" is not a tie
    both = df[df["question_id"] == "review/4"]
    assert sorted(zip(both["first"], both["outcome"])) == [("A", "A"), ("B", "B")]
    assert set(df["category"]) == {"algebra", "poetry", "chat"}


def test_missing_store_is_reported_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "arena.db"
    with pytest.raises(data.StoreNotReady, match="no store at"):
        data.open_readonly(f"sqlite:///{missing}")
    assert not missing.parent.exists()
    empty = tmp_path / "empty.db"
    import sqlite3
    sqlite3.connect(empty).close()
    with pytest.raises(data.StoreNotReady, match="no arena tables"):
        data.open_readonly(f"sqlite:///{empty}")
    with pytest.raises(data.StoreNotReady, match="cannot open the store") as e:
        data.open_readonly("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(e.value)



def test_options_are_parsed_leniently(tmp_path: Path, review_files: tuple[Path, Path]) -> None:
    from arena.viz.options import parse_options

    review, cats = review_files
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("store:\n  url: sqlite:///from-config.db\nratings:\n  baseline: m1\n",
                   encoding="utf-8")
    o = parse_options(["-x", "--unknown=1", "--db", "sqlite:///cli.db", "-c", str(cfg)],
                      environ={"ARENA_DB": "sqlite:///env.db"})
    assert o.db_url == "sqlite:///cli.db" and o.baseline == "m1"
    o = parse_options([], environ={"ARENA_CONFIG": str(cfg)})
    assert o.db_url == f"sqlite:///{tmp_path / 'from-config.db'}"
    o = parse_options(["--review-file", str(review), "--category-file", str(cats)], environ={})
    assert o.review_file == review.resolve() and o.category_file == cats.resolve()
    with pytest.raises(InputError, match="--category-file"):
        parse_options(["--category-file", str(tmp_path / "nope.yaml")], environ={})
