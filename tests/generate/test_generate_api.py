"""The answers stage against the fake OpenAI-compatible server and a real store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arena.config import parse_config
from arena.errors import BackendUnavailable
from arena.generate import answer_params_hash, run_answers
from arena.store import Store
from arena.store.ingest import QuestionRecord, add_questions
from arena.store.schema import Answer, AnswerFailure
from fake_openai import FakeOpenAI, Fault

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]
FAST = {"backoff_base_s": 0.002, "backoff_max_s": 0.01, "timeout_s": 1.5, "max_retries": 3}


def model(srv: FakeOpenAI, name: str = "gpt", **kw) -> dict:
    m = {"name": name, "backend": "openai", "model": f"{name}-id", "base_url": srv.base_url,
         "api_key_env": None}
    m.update(kw)
    return m


def config(models: list[dict], **gen) -> object:
    return parse_config({"models": models, "generation": {**FAST, **gen}}, base=ROOT)


def add(store: Store, n: int = 10, source: str = "qs", **kw) -> None:
    recs = [QuestionRecord(turns=[f"question {i}"], local_id=str(i),
                           category="math" if i % 2 else "writing") for i in range(n)]
    with store.begin() as conn:
        add_questions(conn, recs, source)


def answers(store: Store, model: str) -> dict[str, list[str]]:
    with store.begin() as conn:
        return {q: t for q, t in conn.execute(select(Answer.question_id, Answer.turns)
                                              .where(Answer.model == model))}


def user_of(req: dict) -> str:
    return [m["content"] for m in req["messages"] if m["role"] == "user"][-1]


def test_generates_stores_and_resumes(store: Store) -> None:
    add(store, 6)
    with FakeOpenAI() as srv:
        cfg = config([model(srv), model(srv, "other", system_prompt="Be brief.")])
        rep = run_answers(store, cfg, progress=False)
        assert rep.generated == 12 and rep.failed == 0 and srv.count() == 12
        got = answers(store, "gpt")
        assert got["qs/3"] == ["[gpt-id] question 3"]
        sys_msgs = [r["messages"][0] for r in srv.requests if r["model"] == "other-id"]
        assert all(m == {"role": "system", "content": "Be brief."} for m in sys_msgs)
        with store.session() as s:
            row = s.scalars(select(Answer).where(Answer.question_id == "qs/0",
                                                 Answer.model == "gpt")).one()
        assert row.origin == "generated" and row.params_hash == answer_params_hash(cfg.models[0])
        assert row.finish_reason == "stop" and row.prompt_tokens and row.completion_tokens
        assert row.latency_s is not None and row.latency_s >= 0
        assert "12 generated" in str(rep)
        # A second run asks nothing.
        rep2 = run_answers(store, cfg, progress=False)
        assert srv.count() == 12 and rep2.generated == 0
        assert all(m.already == 6 for m in rep2.models)


def test_twenty_percent_faults_every_answer_stored_exactly_once(store: Store) -> None:
    add(store, 40)
    kinds = [Fault.rate_limit(0.01), Fault.server_error(), Fault.slow(5.0), Fault.malformed(),
             Fault.drop()]

    def faults(req: dict, attempt: int):
        i = int(user_of(req).split()[-1])
        return kinds[(i // 5) % 5] if i % 5 == 0 and attempt <= 2 else None

    with FakeOpenAI(faults=faults) as srv:
        cfg = config([model(srv)], concurrency=8)
        rep = run_answers(store, cfg, progress=False)
        assert rep.generated == 40 and rep.failed == 0, str(rep)
        assert srv.count() == 40 + 8 * 2  # 8 questions fail twice each, then succeed
        with store.begin() as conn:
            n = conn.execute(select(func.count()).select_from(Answer)).scalar_one()
            per_q = conn.execute(select(Answer.question_id, func.count())
                                 .group_by(Answer.question_id)).all()
        assert n == 40 and all(c == 1 for _, c in per_q)
        assert answers(store, "gpt")["qs/10"] == ["[gpt-id] question 10"]


def test_failures_are_stored_listed_and_retried_next_run(store: Store) -> None:
    add(store, 4)
    broken = {"on": True}

    def reply(req: dict):
        if broken["on"] and user_of(req) == "question 2":
            return Fault.server_error("model overloaded")
        return f"ok {user_of(req)}"

    with FakeOpenAI(reply=reply) as srv:
        cfg = config([model(srv)], max_retries=1)
        rep = run_answers(store, cfg, progress=False)
        assert rep.generated == 3 and rep.failed == 1
        assert rep.failures[0][:2] == ("gpt", "qs/2")
        assert "model overloaded" in str(rep) and "retried on the next run" in str(rep)
        assert "qs/2" not in answers(store, "gpt")  # no empty stand-in answer
        with store.session() as s:
            f = s.scalars(select(AnswerFailure)).one()
        assert f.question_id == "qs/2" and f.attempts == 2 and "HTTP 500" in f.error
        broken["on"] = False
        srv.reset()
        rep2 = run_answers(store, cfg, progress=False)
        assert srv.count() == 1 and rep2.generated == 1
        assert answers(store, "gpt")["qs/2"] == ["ok question 2"]


def test_empty_reply_is_a_failure_not_an_answer(store: Store) -> None:
    add(store, 1)
    with FakeOpenAI(reply="") as srv:
        rep = run_answers(store, config([model(srv)]), progress=False)
    assert rep.failed == 1 and "empty answer" in rep.failures[0][2]
    assert answers(store, "gpt") == {}


def test_multi_turn_sees_own_answer_and_document_comes_first(store: Store) -> None:
    recs = [QuestionRecord(turns=["first?", "second?"], local_id="mt"),
            QuestionRecord(turns=["What does it say?"], local_id="doc", document="DOC TEXT")]
    with store.begin() as conn:
        add_questions(conn, recs, "src")

    def reply(req: dict) -> str:
        return f"A{len(req['messages'])}"

    with FakeOpenAI(reply=reply) as srv:
        rep = run_answers(store, config([model(srv, system_prompt="S")]), progress=False)
        assert rep.generated == 2 and srv.count() == 3
        turn2 = [r for r in srv.requests if user_of(r) == "second?"][0]
        assert turn2["messages"] == [
            {"role": "system", "content": "S"}, {"role": "user", "content": "first?"},
            {"role": "assistant", "content": "A2"}, {"role": "user", "content": "second?"}]
        doc = [r for r in srv.requests if "DOC TEXT" in user_of(r)][0]
        assert doc["messages"][1]["content"] == "DOC TEXT\n\nWhat does it say?"
    got = answers(store, "gpt")
    assert got["src/mt"] == ["A2", "A4"] and got["src/doc"] == ["A2"]


def test_limit_categories_and_question_ids(store: Store) -> None:
    add(store, 10)
    with FakeOpenAI() as srv:
        cfg = config([model(srv)])
        run_answers(store, cfg, limit=3, progress=False)
        assert sorted(answers(store, "gpt")) == ["qs/0", "qs/1", "qs/2"]
        run_answers(store, cfg, categories=["math"], limit=2, progress=False)
        assert "qs/3" in answers(store, "gpt") and "qs/4" not in answers(store, "gpt")
        run_answers(store, cfg, question_ids=["qs/9"], progress=False)
        assert "qs/9" in answers(store, "gpt")
        assert srv.count() == len(answers(store, "gpt"))


def test_budget_max_calls_stops_cleanly_and_rerun_continues(store: Store) -> None:
    add(store, 10)
    with FakeOpenAI() as srv:
        capped = config([model(srv), model(srv, "second")], max_calls=7, concurrency=2)
        rep = run_answers(store, capped, progress=False)
        assert srv.count() == 7 and rep.generated == 7 and rep.failed == 0
        assert rep.stopped and "max_calls=7" in rep.stopped and "budget" in str(rep)
        assert rep.models[1].skipped == 10
        with store.begin() as conn:
            assert conn.execute(select(func.count()).select_from(AnswerFailure)).scalar_one() == 0
        rep2 = run_answers(store, config([model(srv), model(srv, "second")]), progress=False)
        assert rep2.generated == 13 and srv.count() == 20


def test_budget_max_cost(store: Store) -> None:
    add(store, 10)
    with FakeOpenAI(reply={"content": "x", "completion_tokens": 100}) as srv:
        m = model(srv, price={"input_per_mtok": 0.0, "output_per_mtok": 1000.0},
                  generation={"max_new_tokens": 100})
        rep = run_answers(store, config([m], max_cost=0.25, concurrency=1), progress=False)
        # Each call may cost up to 0.1 USD: only two fit under 0.25.
        assert srv.count() == 2 and rep.generated == 2 and "max_cost" in (rep.stopped or "")
        assert rep.models[0].cost == pytest.approx(0.2)
        assert rep.models[0].estimate is not None and rep.models[0].estimate.calls == 10


def test_params_hash_covers_outputs_not_keys_or_speed() -> None:
    with FakeOpenAI() as srv:
        base = model(srv)
        h = answer_params_hash(config([base]).models[0])
        same = [dict(base, api_key_env="OTHER"), dict(base, max_concurrency=3),
                dict(base, price={"input_per_mtok": 5}), dict(base, rpm=10),
                dict(base, extra_headers={"X": "y"}), dict(base, name="renamed")]
        for m in same:
            assert answer_params_hash(config([m]).models[0]) == h, m
        changed = [dict(base, model="other"), dict(base, base_url="http://x/v1"),
                   dict(base, system_prompt="hi"), dict(base, generation={"temperature": 0.7}),
                   dict(base, generation={"max_new_tokens": 10}),
                   dict(base, extra_body={"top_k": 3})]
        hashes = {answer_params_hash(config([m]).models[0]) for m in changed}
        assert h not in hashes and len(hashes) == len(changed)


def test_missing_key_fails_before_any_call(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    add(store, 2)
    monkeypatch.delenv("NOPE_KEY", raising=False)
    with FakeOpenAI() as srv:
        cfg = config([model(srv), model(srv, "keyed", api_key_env="NOPE_KEY")])
        with pytest.raises(BackendUnavailable, match="NOPE_KEY"):
            run_answers(store, cfg, progress=False)
        assert srv.count() == 0


CHILD = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from arena.config import parse_config
    from arena.generate import run_answers
    from arena.store import Store
    cfg = parse_config({{"models": [{{"name": "gpt", "backend": "openai", "model": "m",
                        "base_url": {url!r}, "api_key_env": None}}],
                        "generation": {{"concurrency": 2, "timeout_s": 30}}}})
    run_answers(Store.open({db!r}), cfg, progress=False)
""")


def test_sigkill_mid_run_then_rerun_requests_only_the_missing(store: Store, store_url: str,
                                                             tmp_path: Path) -> None:
    add(store, 30)
    with FakeOpenAI(latency=0.05) as srv:
        script = tmp_path / "child.py"
        script.write_text(CHILD.format(root=str(ROOT), url=srv.base_url, db=store_url))
        child = subprocess.Popen([sys.executable, str(script)], env={**os.environ})
        deadline = time.monotonic() + 60
        while srv.count() < 12 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL
        stored = set(answers(store, "gpt"))
        assert 8 <= len(stored) < 30
        first = srv.count()
        srv.reset()
        cfg = parse_config({"models": [model(srv, model="m")], "generation": FAST}, base=ROOT)
        rep = run_answers(store, cfg, progress=False)
        asked = {"qs/" + user_of(r).split()[-1] for r in srv.requests}
        assert asked == {f"qs/{i}" for i in range(30)} - stored
        assert srv.count() == 30 - len(stored) and rep.generated == 30 - len(stored)
        # at most the calls in flight were lost: sent (2 at a time), or answered while the
        # writer's last commit ran (it commits off the event loop; PostgreSQL's fsync takes ms)
        assert first - len(stored) <= 2 * 2
        assert len(answers(store, "gpt")) == 30


def test_per_model_concurrency_and_no_headers_stored(store: Store) -> None:
    from arena.store.schema import ModelRow

    add(store, 12)
    with FakeOpenAI(latency=0.03) as srv:
        cfg = config([model(srv, max_concurrency=2, extra_headers={"Authorization-X": "sekrit-hdr"})],
                     concurrency=16)
        run_answers(store, cfg, progress=False)
        assert srv.max_inflight == 2 and srv.count() == 12
        assert all(h["authorization-x"] == "sekrit-hdr" for h in srv.headers)
    with store.session() as s:
        row = s.get(ModelRow, "gpt")
    assert row.backend == "openai" and row.spec["model"] == "gpt-id"
    assert "extra_headers" not in row.spec and "sekrit" not in str(row.spec)


def test_runner_settings_from_config_take_model_limits() -> None:
    from arena.llm.runner import RunnerSettings

    with FakeOpenAI() as srv:
        cfg = config([model(srv, rpm=60, tpm=1000, max_concurrency=3)], concurrency=9,
                     max_retries=7, timeout_s=12)
    rs = RunnerSettings.from_config(cfg.generation, cfg.models[0])
    assert (rs.concurrency, rs.rpm, rs.tpm, rs.max_retries, rs.timeout_s) == (3, 60, 1000, 7, 12)
    rs2 = RunnerSettings.from_config(cfg.generation, None)
    assert rs2.concurrency == 9 and rs2.rpm is None
