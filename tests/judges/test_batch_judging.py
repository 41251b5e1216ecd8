"""The reviews and answers stages with ``batch: true`` against the fake server's Batch API.

Checked: the judge stage stores the same judgments in batch mode as in the ordinary mode (and
they are cache hits for each other: same fingerprint); unparsable verdicts get their follow-up
turn as a second batch; weighted verdicts through logprobs; a ``kill -9`` of ``run_arena.py``
after submission is resumed by a rerun without resubmitting; the answers stage in batch mode
stores the answers of the ordinary mode under the same version, and its estimate says batch
prices at half the cost.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from arena.llm import batch_store
from arena.llm.batch_provider import BatchProvider
from arena.reviews import pending_items, plan_items, run_reviews
from arena.store import Store
from arena.store.schema import Judgment
from fake_openai import FakeOpenAI
from judge_fixtures import fair_judge, make_cfg
from judges.factory import build_judge
from judges.llm import FOLLOWUP_MARK

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]
FAST_BATCH = {"poll_s": 0.01, "quiet_s": 0.05}


def judge_entry(base_url: str, batch: Any) -> dict:
    e = {"name": "judge-x", "backend": "openai", "model": "judge-x", "base_url": base_url,
         "api_key_env": None, "generation": {"max_new_tokens": 300, "temperature": 0.3}}
    if batch is not None:
        e["batch"] = batch
    return e


def rows(store: Store) -> list[tuple]:
    with store.begin() as conn:
        return sorted(conn.execute(select(
            Judgment.cache_key, Judgment.fingerprint, Judgment.outcome, Judgment.first,
            Judgment.model_a, Judgment.model_b, Judgment.raw_output, Judgment.parse_status,
            Judgment.preference)).all())


def judge_once(store: Store, cfg: Any) -> Any:
    [judge] = build_judge(cfg)
    report = run_reviews(store, cfg, judge, progress=False)
    return judge, report


def test_batch_judging_stores_the_same_judgments_as_ordinary_calls(filled: Store) -> None:
    with FakeOpenAI(fair_judge()) as srv:
        plain_cfg = make_cfg(srv.base_url, judges=[judge_entry(srv.base_url, None)])
        _, plain_report = judge_once(filled, plain_cfg)
        plain_rows = rows(filled)
        plain_calls = srv.count()
        with filled.begin() as conn:
            conn.execute(delete(Judgment))
        srv.reset()
        batch_cfg = make_cfg(srv.base_url, judges=[judge_entry(srv.base_url, FAST_BATCH)])
        judge, report = judge_once(filled, batch_cfg)
        assert isinstance(judge.provider(), BatchProvider)
        assert len(srv.batches) == 1 and len(srv.batches[0]["custom_ids"]) == plain_calls
    assert report.judged == plain_report.judged == len(plain_rows) > 0
    assert rows(filled) == plain_rows  # same keys, verdicts, raw output: same fingerprint
    # each mode's rows are the other's cache: nothing is pending for the ordinary judge
    [ordinary] = build_judge(plain_cfg)
    ordinary.bind(filled)
    todo, _ = pending_items(filled, ordinary, plan_items(filled, plain_cfg))
    assert todo == []
    [b] = batch_store.list_batches(filled)
    assert b.status == "completed" and b.ingested_at is not None


def test_follow_up_turns_go_as_a_second_batch(filled: Store) -> None:
    fair = fair_judge()

    def forgetful(req: dict) -> str:
        if not any(m["role"] == "assistant" for m in req["messages"]):
            return "Both answers have merit; hard to say."  # the first turn: no verdict
        return fair(req).split("\n")[-1]

    with FakeOpenAI(forgetful) as srv:
        cfg = make_cfg(srv.base_url, judges=[judge_entry(srv.base_url, FAST_BATCH)])
        judge, report = judge_once(filled, cfg)
        assert len(srv.batches) == 2
        first, second = srv.batches
        assert len(first["custom_ids"]) == len(second["custom_ids"]) == report.judged > 0
        followups = [ln["body"] for ln in second["lines"]]
    assert all(b["messages"][-2]["role"] == "assistant" for b in followups)
    stored = rows(filled)
    assert all(r[7] == "ok" and FOLLOWUP_MARK in r[6] for r in stored)
    assert judge.stats.followups == report.judged


def test_weighted_verdicts_in_batch_mode_use_logprobs(filled: Store) -> None:
    def probs(req: dict) -> dict:
        return {"content": "A", "logprobs": [("A", -0.1), ("B", -2.5), ("C", -4.0)]}

    with FakeOpenAI(probs) as srv:
        cfg = make_cfg(srv.base_url, weighted=True,
                       judges=[judge_entry(srv.base_url, FAST_BATCH)])
        judge, report = judge_once(filled, cfg)
        assert len(srv.batches) == 1
        assert all(ln["body"]["logprobs"] is True and ln["body"]["max_tokens"] == 1
                   for ln in srv.batches[0]["lines"])
    assert report.judged > 0
    with filled.begin() as conn:
        got = conn.execute(select(Judgment.preference, Judgment.meta)).all()
    assert all(p is not None and 1.0 < p < 1.2 for p, _ in got)
    assert all(m["verdict_source"] == "probabilities" for _, m in got)


# -- kill -9 after submission ------------------------------------------------------------------
def write_run(tmp: Path, store_url: str, base_url: str, n_q: int) -> Path:
    with open(tmp / "q.jsonl", "w") as f:
        for i in range(n_q):
            f.write(json.dumps({"question_id": i, "text": f"Question {i}?",
                                "category": "c"}) + "\n")
    for m in ("m1", "m2"):
        with open(tmp / f"{m}.jsonl", "w") as f:
            for i in range(n_q):
                f.write(json.dumps({"question_id": i, "text": f"Question {i}?",
                                    "category": "c", "model_id": m,
                                    "answer": f"{m} says {i}"}) + "\n")
    cfg = tmp / "cfg.yaml"
    cfg.write_text(f"""name: batched
store: {{url: '{store_url}'}}
questions: [{{file: q.jsonl, format: evalscope, source: qs}}]
models:
  - {{name: m1, backend: file, path: m1.jsonl, format: evalscope}}
  - {{name: m2, backend: file, path: m2.jsonl, format: evalscope}}
generation: {{concurrency: 8, max_retries: 1}}
judge:
  mode: pairwise-all
  position_policy: both_games
  judges:
    - {{name: judge, backend: openai, model: j, base_url: '{base_url}', api_key_env: null,
       batch: {{poll_s: 0.05, quiet_s: 0.1}}}}
ratings: {{bootstrap_rounds: 10}}
report: {{dir: reports}}
""")
    return cfg


def arena_run(cfg: Path, tmp: Path, *stages: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "run_arena.py"), "-c", str(cfg),
                             "--no-progress", *(["--stages", *stages] if stages else [])],
                            cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.slow
def test_kill_9_after_submission_then_rerun_collects_without_resubmitting(
        tmp_path: Path, store_url: str) -> None:
    n_q = 10
    distinct = n_q * 2  # one pair, both orders
    with FakeOpenAI(lambda req: "Fine.\n[[A]]", batch_delay=4.0) as srv:
        cfg = write_run(tmp_path, store_url, srv.base_url, n_q)
        p = arena_run(cfg, tmp_path, "answers")
        assert p.wait(timeout=300) == 0, p.stderr.read() if p.stderr else ""
        victim = arena_run(cfg, tmp_path, "reviews")
        store = Store.open(store_url)
        try:
            deadline = time.monotonic() + 120
            def submitted() -> bool:  # created at the provider and its id recorded
                rows = batch_store.list_batches(store)
                return bool(rows) and not batch_store.is_placeholder(rows[0].provider_batch_id)

            while time.monotonic() < deadline and not submitted():
                time.sleep(0.05)
            assert len(srv.batches) == 1, victim.communicate(timeout=5)
            victim.send_signal(signal.SIGKILL)
            victim.communicate(timeout=30)
            [b] = batch_store.list_batches(store)
            assert b.ingested_at is None and b.request_count == distinct
            with store.begin() as conn:
                assert conn.execute(select(func.count()).select_from(Judgment)).scalar() == 0
            again = arena_run(cfg, tmp_path, "reviews")
            out, err = again.communicate(timeout=300)
            assert again.returncode == 0, err
            assert len(srv.batches) == 1  # polled, not resubmitted
            assert srv.batch_lines == distinct  # every request answered once
            with store.begin() as conn:
                n = conn.execute(select(func.count()).select_from(Judgment)).scalar()
                ok = conn.execute(select(func.count()).select_from(Judgment).where(
                    Judgment.parse_status == "ok")).scalar()
            assert n == ok == distinct
            assert batch_store.find(store, b.provider_batch_id).ingested_at is not None
        finally:
            store.close()


@pytest.mark.parametrize("created", [True, False])
def test_killed_before_the_create_call_returned_then_rerun_pays_once(
        tmp_path: Path, store_url: str, created: bool) -> None:
    """The run is killed while ``POST /v1/batches`` is being answered: the batch exists at the
    provider (``created``) but the run never heard its id - or it was killed before the
    provider made one. The rerun finds the batch by its input file and polls it; or, with no
    batch, submits once. Either way every request is paid once."""
    import os

    n_q = 6
    distinct = n_q * 2
    victim: list[subprocess.Popen] = []

    def kill_client(rec: dict) -> None:
        if victim and victim[0].poll() is None:
            os.kill(victim[0].pid, signal.SIGKILL)
            victim[0].wait(timeout=30)
            if not created:  # as if the provider had refused it before making it
                srv.batches.remove(rec)

    with FakeOpenAI(lambda req: "Fine.\n[[A]]", on_batch_create=kill_client) as srv:
        cfg = write_run(tmp_path, store_url, srv.base_url, n_q)
        p = arena_run(cfg, tmp_path, "answers")
        assert p.wait(timeout=300) == 0, p.stderr.read() if p.stderr else ""
        victim.append(arena_run(cfg, tmp_path, "reviews"))
        victim[0].communicate(timeout=300)
        assert victim[0].returncode == -signal.SIGKILL
        store = Store.open(store_url)
        try:
            [b] = batch_store.list_batches(store)
            assert batch_store.is_placeholder(b.provider_batch_id) and b.status == "submitting"
            srv.on_batch_create = None
            again = arena_run(cfg, tmp_path, "reviews")
            out, err = again.communicate(timeout=300)
            assert again.returncode == 0, err
            assert len(srv.batches) == 1  # found and polled, or submitted once
            assert srv.batch_lines == distinct  # every request answered once
            with store.begin() as conn:
                ok = conn.execute(select(func.count()).select_from(Judgment).where(
                    Judgment.parse_status == "ok")).scalar()
            assert ok == distinct
            rows = {r.provider_batch_id: r for r in batch_store.list_batches(store)}
            if created:  # the placeholder now names the provider's batch
                assert list(rows) == [srv.batches[0]["id"]]
                assert rows[srv.batches[0]["id"]].ingested_at is not None
            else:  # closed as never created; the new batch beside it
                assert len(rows) == 2
                assert {r.status for r in rows.values()} == {"not_created", "completed"}
        finally:
            store.close()


# -- the answers stage ------------------------------------------------------------------------
def test_answers_stage_in_batch_mode_same_versions_half_the_estimate(store: Store) -> None:
    from arena.config import parse_config
    from arena.generate import run_answers
    from arena.store.ingest import QuestionRecord, add_questions
    from arena.store.schema import Answer

    with store.begin() as conn:
        add_questions(conn, [QuestionRecord(turns=[f"question {i}", "and again"],
                                            local_id=str(i)) for i in range(6)], "qs")

    def cfg(srv: FakeOpenAI, name: str, batch: Any) -> Any:
        m = {"name": name, "backend": "openai", "model": "gpt-id", "base_url": srv.base_url,
             "api_key_env": None, "price": {"input_per_mtok": 1.0, "output_per_mtok": 4.0}}
        if batch is not None:
            m["batch"] = batch
        return parse_config({"models": [m], "generation": {"backoff_base_s": 0.01}})

    with FakeOpenAI(lambda req: "said: " + req["messages"][-1]["content"]) as srv:
        plain = run_answers(store, cfg(srv, "plain", None), progress=False)
        batched = run_answers(store, cfg(srv, "batched", FAST_BATCH), progress=False)
        assert len(srv.batches) == 2  # turn 1 of every question, then turn 2
    assert plain.generated == batched.generated == 6
    e_plain, e_batch = plain.models[0].estimate, batched.models[0].estimate
    assert e_batch.max_cost == pytest.approx(e_plain.max_cost / 2)
    assert "batch prices" in str(e_batch)
    with store.begin() as conn:
        got = {m: sorted((q, tuple(t), ph) for q, t, ph in conn.execute(
            select(Answer.question_id, Answer.turns, Answer.params_hash).where(
                Answer.model == m))) for m in ("plain", "batched")}
    assert got["plain"] == got["batched"]  # same texts, same answer version


def test_judge_estimate_before_the_run_is_at_batch_prices(filled: Store,
                                                          caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="judges.llm")
    price = {"input_per_mtok": 1.0, "output_per_mtok": 4.0}
    with FakeOpenAI(fair_judge()) as srv:
        plain = make_cfg(srv.base_url, judges=[{**judge_entry(srv.base_url, None),
                                                "price": price}])
        batch = make_cfg(srv.base_url, judges=[{**judge_entry(srv.base_url, FAST_BATCH),
                                                "price": price}])
        [pj], [bj] = build_judge(plain), build_judge(batch)
        pj.bind(filled)
        bj.bind(filled)
        items = plan_items(filled, plain)
        e_plain, e_batch = pj.estimate(items), bj.estimate(items)
        assert e_batch.max_cost == pytest.approx(e_plain.max_cost / 2) and e_batch.calls == 12
        run_reviews(filled, batch, bj, progress=False)
    assert "(batch prices)" in caplog.text and "judge judge-x: 12 items; estimate" in caplog.text
