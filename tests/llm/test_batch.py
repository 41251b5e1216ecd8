"""The Batch API provider against the fake server's /v1/files and /v1/batches, with a real store.

Checked: results equal the ordinary provider's; files split by count and bytes; a malformed
output line fails only its request; an unknown id is reported and ignored; a per-request error
is retried in a second batch; an expired batch resubmits only its unfinished requests; a
provider that stopped after submitting is resumed by a new one without resubmission; weighted
verdicts through logprobs; batch prices halve the estimate and the budget counts submitted
requests; ``arena batches`` lists and cancels; config errors name the model.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from arena.cli import main as arena_main
from arena.config import BatchSettings, OpenAIModel, parse_config
from arena.errors import ConfigError
from arena.identity import answer_params_hash, model_judge_parts
from arena.llm import batch_store
from arena.llm.batch_provider import BatchProvider
from arena.llm.factory import make_provider, price_of
from arena.llm.limits import Budget, estimate
from arena.llm.openai_provider import OpenAIProvider
from arena.llm.runner import CallRunner, RunnerSettings, make_requests
from arena.llm.types import ChatRequest
from arena.store import Store
from fake_openai import FakeOpenAI, Fault

pytestmark = pytest.mark.db
FAST = BatchSettings(poll_s=0.01, quiet_s=0.05)
RETRY = RunnerSettings(concurrency=1000, max_retries=3, backoff_base_s=0.01, backoff_max_s=0.02)


def reply(req: dict) -> str:
    return "echo " + req["messages"][-1]["content"]


def provider(srv: FakeOpenAI, store: Any = None, **settings: Any) -> BatchProvider:
    s = FAST.model_copy(update=settings)
    return BatchProvider("j", "judge-x", api_key="sk-secret", base_url=srv.base_url,
                         settings=s, store=store)


def run(p: Any, prompts: list[str], settings: RunnerSettings = RETRY, **kw: Any) -> list:
    return CallRunner(p, settings, **kw).run(make_requests(prompts))


def test_batch_results_equal_the_ordinary_calls_and_are_recorded(store: Store) -> None:
    prompts = [f"p{i}" for i in range(12)]
    with FakeOpenAI(reply, batch_delay=2) as srv:
        plain = run(OpenAIProvider("j", "judge-x", api_key="x", base_url=srv.base_url),
                    prompts)
        p = provider(srv, store)
        got = run(p, prompts)
        assert len(srv.batches) == 1 and len(srv.batches[0]["custom_ids"]) == 12
    assert [r.text for r in got] == [r.text for r in plain] == [f"echo {x}" for x in prompts]
    assert all(r.ok and r.prompt_tokens for r in got)
    [row] = batch_store.list_batches(store)
    assert (row.status, row.request_count, row.completed) == ("completed", 12, 12)
    assert row.ingested_at is not None and row.provider_batch_id == srv.batches[0]["id"]
    assert sorted(batch_store.custom_ids_of(store, row.id)) == sorted(srv.batches[0]["custom_ids"])
    assert "sk-secret" not in repr(p)


def test_files_split_by_count_and_by_bytes() -> None:
    with FakeOpenAI(reply) as srv:
        run(provider(srv, max_requests_per_file=3), [f"p{i}" for i in range(7)])
        assert sorted(len(b["custom_ids"]) for b in srv.batches) == [1, 3, 3]
        srv.batches.clear()
        # each line is ~220 bytes: 1,024 bytes hold four of them
        res = run(provider(srv, max_bytes_per_file=1024), [f"q{i}" for i in range(10)])
        assert all(r.ok for r in res)
        sizes = [len(b["custom_ids"]) for b in srv.batches]
        assert sum(sizes) == 10 and max(sizes) <= 4 and len(sizes) >= 3


def test_same_request_twice_is_one_line() -> None:
    with FakeOpenAI(reply) as srv:
        res = run(provider(srv), ["same", "same", "other"])
        assert [r.text for r in res] == ["echo same", "echo same", "echo other"]
        assert len(srv.batches[0]["custom_ids"]) == 2


def test_malformed_line_fails_its_request_only(store: Store,
                                                caplog: pytest.LogCaptureFixture) -> None:
    with FakeOpenAI(reply, batch_script=lambda i, ids: {"malformed": [ids[1]]}) as srv:
        res = run(provider(srv, store), ["a", "b", "c"])
        assert len(srv.batches) == 1  # not retried: it failed visibly
    assert [r.ok for r in res] == [True, False, True]
    assert "batch batch_000001 output file line 2: malformed JSON" in res[1].error
    assert res[1].attempts == 1 and res[1].text is None
    assert "is malformed" in caplog.text


def test_unknown_request_id_is_reported_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    with FakeOpenAI(reply, batch_script=lambda i, ids: {"unknown": 2}) as srv:
        p = provider(srv)
        res = run(p, ["a", "b"])
    assert [r.text for r in res] == ["echo a", "echo b"]
    assert p.stats["unknown"] == 2
    assert "unknown request id 'unknown-0' (ignored)" in caplog.text


def test_per_request_error_is_retried_in_a_second_batch() -> None:
    def script(i: int, ids: list[str]) -> dict:
        return {"fail": {ids[0]: 500, ids[2]: 400}} if i == 0 else {}

    with FakeOpenAI(reply, batch_script=script) as srv:
        res = run(provider(srv), ["a", "b", "c"])
        first, second = srv.batches[0]["custom_ids"], srv.batches[1]["custom_ids"]
        assert len(srv.batches) == 2
    assert second == [first[0]]  # only the 500 goes again; a 400 is not retryable
    assert res[0].ok and res[0].attempts == 2 and res[0].text == "echo a"
    assert res[1].ok and not res[2].ok and "HTTP 400" in res[2].error


def test_fault_from_the_reply_script_lands_in_the_error_file() -> None:
    calls = {"n": 0}

    def flaky(req: dict) -> Any:
        calls["n"] += 1
        return Fault.rate_limit() if calls["n"] == 1 else reply(req)

    with FakeOpenAI(flaky) as srv:
        res = run(provider(srv), ["a"])
        assert len(srv.batches) == 2
    assert res[0].ok and res[0].attempts == 2


def test_expired_batch_resubmits_only_its_unfinished_requests(store: Store) -> None:
    script = lambda i, ids: {"expire_after": 2} if i == 0 else {}  # noqa: E731
    with FakeOpenAI(reply, batch_script=script) as srv:
        res = run(provider(srv, store), [f"p{i}" for i in range(5)])
        first, second = srv.batches[0]["custom_ids"], srv.batches[1]["custom_ids"]
        assert len(srv.batches) == 2
    assert sorted(second) == sorted(first[2:])
    assert [r.text for r in res] == [f"echo p{i}" for i in range(5)]
    assert [r.attempts for r in res] == [1, 1, 2, 2, 2]
    rows = {r.provider_batch_id: r for r in batch_store.list_batches(store)}
    assert rows["batch_000001"].status == "expired" and rows["batch_000001"].completed == 2
    assert all(r.ingested_at is not None for r in rows.values())


async def submitted(store: Store, n: int = 1) -> None:
    """Until ``n`` batches are created at the provider and their ids recorded (a batch is
    recorded under a placeholder before it is created)."""
    while sum(not batch_store.is_placeholder(r.provider_batch_id)
              for r in batch_store.list_batches(store)) < n:
        await asyncio.sleep(0.02)


async def stopped_while_polling(store: Store, run: Any) -> None:
    """Run ``run`` (a coroutine) until its batch is submitted, then stop it as a kill would:
    the batch stays open in the store and at the provider."""
    task = asyncio.ensure_future(run)
    await submitted(store)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_a_new_provider_attaches_to_an_open_batch_instead_of_resubmitting(
        store: Store) -> None:
    prompts = [f"p{i}" for i in range(6)]
    with FakeOpenAI(reply, batch_delay=1.0) as srv:
        first = provider(srv, store)

        async def submit_then_die() -> None:
            runner = CallRunner(first, RETRY)
            await stopped_while_polling(store, runner.arun(make_requests(prompts)))
            await first.aclose()

        asyncio.run(submit_then_die())
        [row] = batch_store.list_batches(store)
        assert row.ingested_at is None and row.request_count == 6
        # the rerun asks for part of it (the rest was stored before the kill, say) and more
        again = provider(srv, store)
        res = run(again, prompts[2:] + ["new"])
        assert len(srv.batches) == 2 and srv.batches[1]["custom_ids"] == [
            srv.batches[1]["custom_ids"][0]]  # only "new" was submitted
    assert [r.text for r in res] == [f"echo {x}" for x in prompts[2:] + ["new"]]
    assert again.stats["attached"] == 4
    assert batch_store.find(store, row.provider_batch_id).ingested_at is not None


def test_weighted_verdict_through_logprobs_in_batch_mode() -> None:
    lp = {"content": "A", "logprobs": [("A", -0.2), ("B", -2.0), ("C", -3.0)]}
    with FakeOpenAI(lambda req: lp) as srv:
        req = ChatRequest(messages=[{"role": "user", "content": "which?"}], max_new_tokens=1,
                          score_tokens=["A", "B", "C"])
        [res] = CallRunner(provider(srv), RETRY).run([req])
        body = srv.requests[0]
    assert body["logprobs"] is True and body["top_logprobs"] == 20
    assert res.token_probs is not None
    assert res.token_probs["A"] == pytest.approx(0.8187, abs=1e-3)
    assert res.token_probs["B"] == pytest.approx(0.1353, abs=1e-3)


def _spec(**kw: Any) -> OpenAIModel:
    data = {"name": "j", "backend": "openai", "model": "gpt-x", "api_key_env": None,
            "price": {"input_per_mtok": 2.0, "output_per_mtok": 8.0}, **kw}
    return parse_config({"models": [data]}).models[0]  # type: ignore[return-value]


def test_batch_prices_halve_the_estimate_and_the_budget_counts_submitted_requests() -> None:
    plain, batch = _spec(), _spec(batch=True)
    reqs = make_requests(["x" * 400] * 10, max_new_tokens=100)
    e_plain, e_batch = estimate(reqs, price_of(plain)), estimate(reqs, price_of(batch))
    assert e_batch.max_cost == pytest.approx(e_plain.max_cost / 2)
    assert "batch prices" in str(e_batch) and "batch prices" not in str(e_plain)
    custom = _spec(batch={"poll_s": 1}, price={"input_per_mtok": 2.0, "output_per_mtok": 8.0,
                                               "batch_input_per_mtok": 0.5,
                                               "batch_output_per_mtok": 1.0})
    assert (price_of(custom).input_per_mtok, price_of(custom).output_per_mtok) == (0.5, 1.0)
    # a cap that holds 5 requests at ordinary prices holds 10 at batch prices
    cap = 5 * e_plain.max_cost / 10 + 1e-9
    with FakeOpenAI(reply) as srv:
        p = provider(srv)
        res = CallRunner(p, RETRY, budget=Budget(max_cost=cap), price=price_of(plain)).run(reqs)
        assert sum(r.ok for r in res) == 5 and sum(r.skipped for r in res) == 5
        assert sum(len(b["custom_ids"]) for b in srv.batches) == 1  # skipped never filed
        srv.batches.clear()
        res = CallRunner(provider(srv), RETRY, budget=Budget(max_cost=cap),
                         price=price_of(batch)).run(reqs)
        assert sum(r.ok for r in res) == 10


def test_factory_builds_a_batch_provider_and_identity_ignores_batch(store: Store) -> None:
    plain, batch = _spec(), _spec(batch={"max_requests_per_file": 100})
    p = make_provider(batch, store=store)
    assert isinstance(p, BatchProvider) and p.preferred_concurrency == 100
    assert p.store is store and not p.enforce_timeout
    assert not isinstance(make_provider(_spec(batch={"enabled": False})), BatchProvider)
    assert answer_params_hash(plain) == answer_params_hash(batch)
    assert model_judge_parts(plain) == model_judge_parts(batch)


def test_batch_on_another_backend_is_an_error_naming_the_model() -> None:
    with pytest.raises(ConfigError, match=r"model 'local' has backend 'transformers'; batch"):
        parse_config({"models": [{"name": "local", "backend": "transformers", "model": "x",
                                  "batch": True}]})
    with pytest.raises(ConfigError, match=r"judge\.judges\.0\.batch.*'fj'.*needs backend "
                                          r"openai"):
        parse_config({"judge": {"judges": [{"name": "fj", "backend": "file", "path": "a",
                                            "batch": True}]}})
    with pytest.raises(ConfigError, match="max_requests_per_file"):
        parse_config({"models": [{"name": "m", "backend": "openai", "model": "x",
                                  "batch": {"max_requests_per_file": 50001}}]})


def test_arena_batches_lists_and_cancels(store: Store, store_url: str,
                                         capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAI(reply, batch_delay=10.0) as srv:
        p = provider(srv, store)

        async def submit() -> None:
            await stopped_while_polling(store,
                                        CallRunner(p, RETRY).arun(make_requests(["a", "b", "c"])))
            await p.aclose()

        asyncio.run(submit())
        assert arena_main(["batches", "--db", store_url]) == 0
        out = capsys.readouterr().out
        # the provider's status as last seen: before or after the first poll
        assert "batch_000001" in out and "judge-x" in out
        assert "in_progress" in out or "validating" in out
        assert arena_main(["batches", "cancel", "batch_000001", "--db", store_url,
                           "--api-key-env", "NO_SUCH_KEY_VAR"]) == 2
        assert "NO_SUCH_KEY_VAR" in capsys.readouterr().err
        monkeypatch.setenv("ARENA_TEST_BATCH_KEY", "x")
        args = ["batches", "cancel", "batch_000001", "--db", store_url,
                "--api-key-env", "ARENA_TEST_BATCH_KEY"]
        assert arena_main(args) == 0
        assert "cancelled" in capsys.readouterr().out
        assert srv.batches[0]["status"] == "cancelled"
        assert batch_store.find(store, "batch_000001").status == "cancelled"
        assert arena_main(["batches", "cancel", "nope", "--db", store_url]) == 2
        # the next run attaches, finds it cancelled and submits its requests again
        srv.batch_delay = 0
        res = run(provider(srv, store), ["a", "b", "c"])
        assert [r.text for r in res] == ["echo a", "echo b", "echo c"]
        assert len(srv.batches) == 2
        # a batch whose run stopped before the provider confirmed it: no id to cancel yet
        batch_store.record(store, provider_batch_id=batch_store.placeholder_id("file-x"),
                           key=p.key, model="judge-x", endpoint=p.endpoint,
                           status="submitting", custom_ids=["z"], input_file_id="file-x",
                           cost=None)
        assert arena_main(["batches", "cancel", "file:file-x", "--db", store_url,
                           "--api-key-env", "ARENA_TEST_BATCH_KEY"]) == 2
        assert "no provider id yet" in capsys.readouterr().err


def test_a_batch_cancelled_while_polled_fails_its_unfinished_requests_without_retry(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from arena.llm.batch_cli import cancel

    monkeypatch.setenv("ARENA_TEST_BATCH_KEY", "x")
    with FakeOpenAI(reply, batch_delay=30.0) as srv:
        p = provider(srv, store)

        async def main() -> list:
            task = asyncio.ensure_future(CallRunner(p, RETRY).arun(make_requests(["a", "b"])))
            await submitted(store)
            line = await asyncio.to_thread(cancel, store, "batch_000001",
                                           key_env="ARENA_TEST_BATCH_KEY")
            assert "return to pending" in line
            out = await task
            await p.aclose()
            return out

        res = asyncio.run(main())
        assert len(srv.batches) == 1  # not resubmitted by this run
    assert all(not r.ok and r.attempts == 1 and "cancelled: returned to pending" in r.error
               for r in res)
    row = batch_store.find(store, "batch_000001")
    assert row.status == "cancelled" and row.ingested_at is not None


def test_a_reply_script_that_raises_fails_the_batch_visibly() -> None:
    def broken(req: dict) -> str:
        raise RuntimeError("script bug")

    with FakeOpenAI(broken) as srv:
        res = run(provider(srv), ["a"])
        assert len(srv.batches) == 1
    assert not res[0].ok and "failed" in res[0].error and "script bug" in res[0].error
