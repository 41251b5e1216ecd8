"""Revision 0003 on a store as a8040fd left it: imported answers get their content version,
battles become unordered pairs (merged when both orders were stored), usable judgments with
one key keep the first copy; every row is kept."""

from __future__ import annotations

from typing import Callable

import pytest
import sqlalchemy as sa

import a8040fd_schema
from arena.identity import answer_content_hash
from arena.store import Store
from arena.store.db import make_engine

pytestmark = pytest.mark.db

NOW = "2026-01-01 00:00:00"


def test_0003_versions_battles_and_duplicate_keys(new_store_url: Callable[[], str]) -> None:
    url = new_store_url()
    a8040fd_schema.build_legacy_store(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        x = conn.exec_driver_sql
        x("INSERT INTO questions (id, source, local_id, category, turns, meta, content_hash, "
          f"seq, created_at) VALUES ('s/1', 's', '1', '', '[\"Q?\"]', '{{}}', 'h', 0, '{NOW}')")
        for aid, model, ph in ((1, "zeta", "imported"), (2, "alpha", "imported"),
                               (3, "alpha", "p" * 32)):
            x("INSERT INTO answers (id, question_id, model, params_hash, turns, truncated, "
              f"origin, meta, created_at) VALUES ({aid}, 's/1', '{model}', '{ph}', "
              f"'[\"text of {aid}\"]', false, 'imported', '{{}}', '{NOW}')")
        # the same pair stored in both orders (pairwise-baseline, then pairwise-all)
        x(f"INSERT INTO battles (id, question_id, model_a, model_b, created_at) VALUES "
          f"(1, 's/1', 'zeta', 'alpha', '{NOW}'), (2, 's/1', 'alpha', 'zeta', '{NOW}'), "
          f"(3, 's/1', 'zeta', 'beta', '{NOW}')")
        for jid, bid, key in ((1, 1, "k1"), (2, 2, "k1"), (3, 2, "k2"), (4, 3, "k3")):
            x("INSERT INTO judgments (id, mode, battle_id, question_id, model_a, model_b, "
              "judge_kind, judge_id, outcome, parse_status, cache_key, meta, created_at) "
              f"VALUES ({jid}, 'pairwise-all', {bid}, 's/1', 'zeta', 'alpha', 'llm', 'j', "
              f"'A', 'ok', '{key}', '{{}}', '{NOW}')")
        # an AlpacaEval 2 annotation imported before the preference column
        x("INSERT INTO judgments (id, mode, battle_id, question_id, model_a, model_b, "
          "judge_kind, judge_id, outcome, scores, parse_status, cache_key, meta, created_at) "
          "VALUES (5, 'pairwise-baseline', 2, 's/1', 'alpha', 'zeta', 'imported', 'ae', 'B', "
          f"'{{\"preference\": 1.6931}}', 'ok', 'imp-1', '{{}}', '{NOW}')")
    engine.dispose()

    store = Store.open(url)  # stamps 0001, applies 0002 and 0003
    try:
        with store.read() as conn:
            q = lambda sql: conn.exec_driver_sql(sql).all()  # noqa: E731
            assert q("SELECT id, params_hash FROM answers ORDER BY id") == [
                (1, answer_content_hash(["text of 1"])), (2, answer_content_hash(["text of 2"])),
                (3, "p" * 32)]
            assert q("SELECT id, model_a, model_b FROM battles ORDER BY id") == [
                (2, "alpha", "zeta"), (3, "beta", "zeta")]
            assert q("SELECT id, battle_id, model_a, model_b, parse_status FROM judgments "
                     "ORDER BY id") == [(1, 2, "zeta", "alpha", "ok"),
                                        (2, 2, "zeta", "alpha", "duplicate"),
                                        (3, 2, "zeta", "alpha", "ok"),
                                        (4, 3, "zeta", "alpha", "ok"),
                                        (5, 2, "alpha", "zeta", "ok")]
            assert q("SELECT preference FROM judgments WHERE id = 5") == [(1.6931,)]
        with pytest.raises(sa.exc.IntegrityError):  # usable keys are unique from now on
            with store.begin() as conn:
                conn.exec_driver_sql(
                    "INSERT INTO judgments (mode, question_id, model_a, model_b, judge_kind, "
                    "judge_id, parse_status, cache_key, meta, created_at) VALUES ('pairwise-all',"
                    f" 's/1', 'a', 'b', 'llm', 'j', 'ok', 'k2', '{{}}', '{NOW}')")
    finally:
        store.close()
