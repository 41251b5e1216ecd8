"""Reading the store for the viewer; the battle index and its flags; games; the review-file
input; categories; options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena.config import ArenaConfig
from arena.errors import InputError
from arena.ratings.battles import build_battles, merge_orders
from arena.ratings.selection import Selection, load_verdicts
from arena.store import Store
from arena.store.annotation_schema import User
from arena.viz import data
from arena.viz.categories import CategoryMap, load_category_map
from arena.viz.filters import (ALL, DRY_KIND, BattleFilter, build_index, filter_battles,
                               is_dry_choice, judge_choices, vote_mask)
from arena.viz.games import arrange
from arena.viz.review_file import build_scratch_store
from viz_fixtures import XSS, Filled


def rating_frame(store: Store):  # type: ignore[no-untyped-def]
    return load_verdicts(store, Selection.from_config(ArenaConfig().ratings))


def index_of(store: Store):  # type: ignore[no-untyped-def]
    left = data.left_out_rows(store.engine)
    left = left[left["model_b"].notna() & (left["judge_kind"] != "dry-run")]
    return build_index(rating_frame(store), left, questions=data.question_texts(store.engine))


@pytest.mark.db
def test_left_out_rows_and_change_marker(viz_store: Filled, store: Store) -> None:
    left = data.left_out_rows(store.engine)
    assert set(left["id"]) >= {viz_store.superseded_id}
    assert left.loc[left["id"] == viz_store.superseded_id, "superseded"].all()
    failed = left[left["parse_status"] == "failed"]
    assert len(failed) == 1 and failed.iloc[0]["battle_id"] == viz_store.failed_battle
    assert not (set(left["id"]) & set(rating_frame(store).id.tolist()))  # none of them count
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
    left = data.left_out_rows(store.engine)
    assert left["excluded"].sum() == 12  # annotator-2's verdicts are listed, never counted


@pytest.mark.db
def test_store_summary_names_judges_as_the_ratings_do(viz_store: Filled, store: Store) -> None:
    s = data.store_summary(store.engine)
    assert ("llm", "llm:judge-x") in s["judges"] and ("dry-run", "dry-run:dry-run") in s["judges"]
    assert s["dry_run"] == 72 and s["models"] == ["alpha", "beta", "delta", "gamma"]
    assert set(rating_frame(store).judges) <= {label for _, label in s["judges"]}


@pytest.mark.db
def test_battle_detail_holds_both_orientations(viz_store: Filled, store: Store) -> None:
    d = data.load_battle(store.engine, "t/0", "alpha", "delta")
    assert d is not None and d.battle_ids == [viz_store.xss_battle]
    assert [a["turns"] for a in d.answers["delta"]] == [[XSS]]
    assert {j["judge_kind"] for j in d.judgments} == {"llm", "dry-run"}
    # gamma-delta is stored in that order; asked in the pair's order it is the same battle
    d = data.load_battle(store.engine, "t/0", "delta", "gamma")
    assert d is not None and len(d.judgments) == 3
    assert data.load_battle(store.engine, "t/none", "a", "b") is None


@pytest.mark.db
def test_index_flags_come_from_the_leaderboards_merge(viz_store: Filled, store: Store) -> None:
    frame = rating_frame(store)
    index = index_of(store)
    t = index.table
    assert len(t) == 72 and t["counted"].sum() == len(frame)
    assert set(t.index[t["orders"]]) == viz_store.order_flip_battles
    assert set(t.index[t["annotators"]]) == viz_store.annotator_split_battles
    assert set(t.index[t["human_judge"]]) == viz_store.human_llm_split_battles
    assert viz_store.human_llm_split_battles
    # as many inconsistent pairs as the merge of build_battles reports
    games = build_battles(frame, "tie_if_inconsistent")
    assert (index.votes["agree"] == 0).sum() == 2 * games.notes["pairs_inconsistent"]
    m = merge_orders(frame)
    assert m.notes == {k: v for k, v in games.notes.items()}
    assert len(m.row) == len(games)
    np.testing.assert_array_equal(m.score, games.score)


def test_merge_orders_pairs_swapped_rows() -> None:
    """Two rows of one question with model_a / model_b swapped are one battle's two orders."""
    from arena.ratings.selection import empty_frame
    from dataclasses import replace

    f = empty_frame()
    arr = lambda *v, dt=np.int64: np.array(v, dtype=dt)  # noqa: E731
    f = replace(f, models=["m1", "m2"], questions=["q"], categories=[""], judges=["imp:j"],
                templates=[""], id=arr(1, 2), question=arr(0, 0), category=arr(0, 0),
                model_a=arr(0, 1), model_b=arr(1, 0), outcome=arr(1, 1, dt=np.int8),
                strength=arr(0, 0, dt=np.int8), first=arr(0, 0, dt=np.int8),
                judge=arr(0, 0), template=arr(0, 0), annotator=arr(-1, -1),
                battle=arr(1, 2), turn=arr(-1, -1, dt=np.int32), created=arr(0.0, 1.0, dt=float),
                score_a=np.full(2, np.nan), score_b=np.full(2, np.nan),
                len_a=np.full(2, np.nan), len_b=np.full(2, np.nan), scores=[None, None])
    m = merge_orders(f)
    assert list(m.agree) == [0] and list(m.score) == [0.5]  # B won in both rows: disagree
    index = build_index(f, pd.DataFrame(columns=data.LEFT_OUT_COLUMNS))
    assert len(index.table) == 1 and bool(index.table.iloc[0]["orders"])
    assert index.alias == {1: 1, 2: 1}
    assert list(index.votes["outcome"]) == [1, 0]  # in the pair's order: m2 won, then m1


@pytest.mark.db
def test_filters_narrow_the_battle_list(viz_store: Filled, store: Store) -> None:
    index = index_of(store)
    pair = filter_battles(index, BattleFilter(model="alpha", opponent="beta"))
    assert len(pair) == 12 and set(pair["model_a"]) == {"alpha"}
    maths = filter_battles(index, BattleFilter(category="math"))
    assert len(maths) == 4 * 6
    failed = filter_battles(index, BattleFilter(outcomes=("failed",)))
    assert list(failed["battle"]) == [viz_store.failed_battle]
    humans = filter_battles(index, BattleFilter(judge="kind:human"))
    assert len(humans) == 2 * 6 + 1  # questions 1 and 2, plus the corrected verdict's battle
    both_bad = filter_battles(index, BattleFilter(judge="kind:human", outcomes=("BOTH_BAD",)))
    assert set(both_bad["battle"]) == viz_store.annotator_split_battles
    split = filter_battles(index, BattleFilter(disagreements=("annotators",)))
    assert set(split["battle"]) == viz_store.annotator_split_battles
    hits = frozenset(list(index.table["battle"])[:3])
    assert set(filter_battles(index, BattleFilter(hits=hits))["battle"]) == hits


@pytest.mark.db
def test_games_pair_the_two_orders(viz_store: Filled, store: Store) -> None:
    index = index_of(store)
    bid = sorted(viz_store.order_flip_battles)[0]
    q, a, b = index.key_of(bid)
    d = data.load_battle(store.engine, q, a, b)
    judges = arrange(d, index.votes[index.votes["battle"] == bid])
    llm = [jg for jg in judges if jg.judge == "llm:judge-x"][0]
    assert len(llm.games) == 1 and llm.inconsistent
    g = llm.games[0]
    assert g.game_1.first == 0 and g.game_2.first == 1 and g.merged == 0.5


def test_judge_choices_keep_dry_run_out_of_groups() -> None:
    choices = judge_choices([("llm", "llm:j#abc"), ("dry-run", "dry-run:dry-run#d0"),
                             ("human", "human:a")])
    assert choices[:3] == [ALL, "kind:llm", "kind:human"]
    assert choices[-2:] == [DRY_KIND, "dry-run:dry-run#d0"]
    assert is_dry_choice(DRY_KIND) and is_dry_choice("dry-run:dry-run#d0")
    assert not is_dry_choice(ALL) and not is_dry_choice("kind:llm")
    votes = pd.DataFrame({"kind": ["llm", "human"], "judge": ["llm:j#abc", "human:a"]})
    assert list(vote_mask(votes, "kind:human")) == [False, True]
    assert list(vote_mask(votes, "llm:j#abc")) == [True, False]


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
    good = {"model_a": "m1", "model_b": "m2", "win": "model_a", "question_id": 1,
            "question": "Q?"}
    f.write_text(json.dumps(good) + "\n{not json\n", encoding="utf-8")
    scratch = tmp_path / "scratch"
    with pytest.raises(InputError) as e:
        build_scratch_store(f, scratch)
    assert e.value.line == 2 and str(f) in str(e.value)
    assert not any(scratch.glob("*")) if scratch.exists() else True  # nothing half-built


def test_review_file_becomes_a_scratch_store(review_files: tuple[Path, Path],
                                             tmp_path: Path) -> None:
    review, _cats = review_files
    url = build_scratch_store(review, tmp_path / "scratch")
    assert build_scratch_store(review, tmp_path / "scratch") == url  # built once per content
    s = data.open_readonly(url)
    try:
        frame = load_verdicts(s, Selection())
        left = data.left_out_rows(s.engine)
        qs = data.question_texts(s.engine)
    finally:
        s.close()
    assert len(frame) == 5 and frame.judge_kinds == ["imported"]  # five lines, one both orders
    assert len(left) == 1 and left["outcome"].isna().all()  # "??" is failed, not a tie
    assert set(frame.categories) == {"algebra", "poetry", "chat"}
    assert qs["review/2"] == "Write a haiku."


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


def test_options(tmp_path: Path, review_files: tuple[Path, Path]) -> None:
    from arena.viz.options import UsageError, parse_options

    review, cats = review_files
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("store:\n  url: sqlite:///from-config.db\nratings:\n  baseline: m1\n",
                   encoding="utf-8")
    o = parse_options(["--db", "sqlite:///cli.db", "-c", str(cfg)],
                      environ={"ARENA_DB": "sqlite:///env.db"})
    assert o.db_url == "sqlite:///cli.db" and o.baseline == "m1"
    assert o.key[0][0] == str(cfg)  # caches are keyed by the config file's identity
    o = parse_options([], environ={"ARENA_CONFIG": str(cfg)})
    assert o.db_url == f"sqlite:///{tmp_path / 'from-config.db'}"
    o = parse_options(["--review-file", str(review), "--category-file", str(cats)], environ={})
    assert o.review_file == review.resolve() and o.category_file == cats.resolve()
    with pytest.raises(InputError, match="--category-file"):
        parse_options(["--category-file", str(tmp_path / "nope.yaml")], environ={})
    with pytest.raises(UsageError, match="unknown argument after --: -x"):
        parse_options(["-x"], environ={})
    with pytest.raises(UsageError, match="--d"):  # no abbreviations: --d is not --db
        parse_options(["--d", "sqlite:///x.db"], environ={})


def test_confusion_counts_judge_human_pairs_in_the_pairs_order() -> None:
    from arena.viz.pages.judges import confusion

    items = [("q1", "a", "b", -1)] * 3 + [("q2", "a", "b", -1)] * 2 + [("q3", "a", "b", -1)]
    raters = ["llm:j", "human:x", "human:y", "llm:j", "human:x", "llm:j"]
    values = ["a", "b", "a", "TIE", "TIE", "b"]  # q3: judged by the judge only
    m = confusion(items, raters, values, "llm:j", ["human:x", "human:y"])
    assert m.loc["A wins", "B wins"] == 1 and m.loc["A wins", "A wins"] == 1
    assert m.loc["TIE", "TIE"] == 1 and int(m.to_numpy().sum()) == 3
