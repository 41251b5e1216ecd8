"""The call runner against the fake OpenAI-compatible server (real sockets, official client)."""

from __future__ import annotations

import asyncio
import time

import pytest

from arena.llm.limits import Budget, PriceTable, RateLimiter, estimate
from arena.llm.openai_provider import OpenAIProvider
from arena.llm.runner import CallRunner, RunnerSettings, make_requests
from arena.llm.types import ChatRequest, ChatResult
from fake_openai import FakeOpenAI, Fault

FAST = dict(backoff_base_s=0.005, backoff_max_s=0.05)


def provider(srv: FakeOpenAI, model: str = "m") -> OpenAIProvider:
    return OpenAIProvider(model, model, api_key="sk-test", base_url=srv.base_url)


def qnum(req: dict) -> int:
    return int(req["messages"][-1]["content"].split()[-1])


def test_twenty_percent_faults_every_request_answered_once() -> None:
    kinds = [Fault.rate_limit(0.01), Fault.server_error(), Fault.slow(4.0), Fault.malformed(),
             Fault.drop()]

    def faults(req: dict, attempt: int):  # every 5th question fails its first try
        i = qnum(req)
        return kinds[(i // 5) % len(kinds)] if attempt == 1 and i % 5 == 0 else None

    with FakeOpenAI(faults=faults) as srv:
        runner = CallRunner(provider(srv), RunnerSettings(concurrency=8, timeout_s=1.5,
                                                          max_retries=3, **FAST))
        seen: list[int] = []
        res = runner.run(make_requests([f"q {i}" for i in range(50)]),
                         on_result=lambda i, req, r: seen.append(i))
        assert all(r.ok for r in res), [r.error for r in res if not r.ok]
        assert [r.text for r in res] == [f"[m] q {i}" for i in range(50)]
        assert sorted(seen) == list(range(50))  # each result delivered exactly once
        assert srv.count() == 60  # 50 + one retry for each of the 10 faults
        assert sorted(k for k, _ in srv.faults_served) == sorted(
            ["429", "500", "slow", "malformed", "drop"] * 2)
        assert [r.attempts for r in res].count(2) == 10
        assert runner.stats["retries"] == 10


def test_non_retryable_status_is_reported_once_with_the_endpoint_message() -> None:
    with FakeOpenAI(reject_params={"top_k"}) as srv:
        runner = CallRunner(provider(srv), RunnerSettings(max_retries=4, **FAST))
        [res] = runner.run([ChatRequest(messages=[{"role": "user", "content": "hi"}], top_k=5)])
        assert not res.ok and res.text is None
        assert "HTTP 400" in res.error and "top_k" in res.error
        assert res.attempts == 1 and srv.count() == 1


def test_retries_exhausted_is_a_failed_result_not_an_empty_answer() -> None:
    with FakeOpenAI(reply=lambda req: Fault.server_error("boom")) as srv:
        runner = CallRunner(provider(srv), RunnerSettings(max_retries=2, **FAST))
        [res] = runner.run(make_requests(["x"]))
        assert res.text is None and not res.ok
        assert "HTTP 500" in res.error and "boom" in res.error and "3 attempts" in res.error
        assert res.attempts == 3 and srv.count() == 3


def test_retry_after_is_honoured() -> None:
    def faults(req: dict, attempt: int):
        return Fault.rate_limit(0.3) if attempt == 1 else None

    with FakeOpenAI(faults=faults) as srv:
        runner = CallRunner(provider(srv), RunnerSettings(max_retries=2, backoff_base_s=0.001,
                                                          backoff_max_s=0.002))
        [res] = runner.run(make_requests(["x"]))
        assert res.ok and res.attempts == 2
        gap = srv.arrivals[1] - srv.arrivals[0]
        assert gap >= 0.29, gap


def test_timeout_is_per_request_and_retried() -> None:
    with FakeOpenAI(reply=lambda req: Fault.slow(3.0)) as srv:
        runner = CallRunner(provider(srv), RunnerSettings(timeout_s=0.2, max_retries=1, **FAST))
        t0 = time.monotonic()
        [res] = runner.run(make_requests(["x"]))
        assert time.monotonic() - t0 < 1.5
        assert not res.ok and "timed out" in res.error and res.attempts == 2


def test_concurrency_is_bounded() -> None:
    with FakeOpenAI(latency=0.05) as srv:
        runner = CallRunner(provider(srv), RunnerSettings(concurrency=3, **FAST))
        res = runner.run(make_requests([f"q {i}" for i in range(12)]))
        assert all(r.ok for r in res)
        assert srv.max_inflight == 3


def test_rpm_limit_paces_requests() -> None:
    with FakeOpenAI() as srv:
        runner = CallRunner(provider(srv), RunnerSettings(concurrency=16, rpm=1200, **FAST))
        t0 = time.monotonic()
        runner.run(make_requests([f"q {i}" for i in range(30)]))
        # 20 per second with a one-second burst of 20: the last 10 take at least ~0.5 s.
        assert time.monotonic() - t0 >= 0.45
        assert srv.count() == 30


def test_token_bucket_waits_for_tokens() -> None:
    async def go() -> float:
        lim = RateLimiter(60 * 100)  # 100 tokens per second, bucket of 100
        t0 = time.monotonic()
        await lim.acquire(100)
        await lim.acquire(50)
        return time.monotonic() - t0

    assert 0.45 <= asyncio.run(go()) < 1.0


def test_max_calls_stops_cleanly() -> None:
    with FakeOpenAI() as srv:
        runner = CallRunner(provider(srv), RunnerSettings(concurrency=1, **FAST),
                            budget=Budget(max_calls=4))
        res = runner.run(make_requests([f"q {i}" for i in range(10)]))
        assert sum(r.ok for r in res) == 4 and srv.count() == 4
        skipped = [r for r in res if r.skipped]
        assert len(skipped) == 6 and all(r.text is None for r in skipped)
        assert "max_calls=4" in (runner.stopped or "")


def test_max_cost_never_passed() -> None:
    price = PriceTable(input_per_mtok=0.0, output_per_mtok=100.0)  # 100 tokens = 0.01 USD
    reqs = make_requests([f"q {i}" for i in range(10)], max_new_tokens=100)
    est = estimate(reqs, price)
    assert est.calls == 10 and est.max_output_tokens == 1000
    assert est.max_cost == pytest.approx(0.1)
    with FakeOpenAI(reply={"content": "ok", "completion_tokens": 100}) as srv:
        budget = Budget(max_cost=0.035)
        runner = CallRunner(provider(srv), RunnerSettings(concurrency=2, **FAST), budget=budget,
                            price=price)
        res = runner.run(reqs)
        assert sum(r.ok for r in res) == 3 and srv.count() == 3
        assert budget.spent == pytest.approx(0.03)
        assert "max_cost" in (runner.stopped or "")


def test_on_result_error_stops_the_run_and_propagates() -> None:
    with FakeOpenAI(latency=0.01) as srv:
        runner = CallRunner(provider(srv), RunnerSettings(concurrency=2, **FAST))
        got: list[int] = []

        def on_result(i: int, req: ChatRequest, res: ChatResult) -> None:
            got.append(i)
            if len(got) == 3:
                raise RuntimeError("disk full")

        with pytest.raises(RuntimeError, match="disk full"):
            runner.run(make_requests([f"q {i}" for i in range(40)]), on_result=on_result)
        assert len(got) == 3 and srv.count() < 40


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    with FakeOpenAI() as srv:
        r = CallRunner(provider(srv), RunnerSettings(backoff_base_s=1.0, backoff_max_s=8.0),
                       seed=1)
        for attempt, full in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 8.0)]:
            d = r.backoff(attempt, None)
            assert full * 0.5 <= d <= full
        assert r.backoff(1, 5.0) == 5.0


def test_runner_usable_twice_and_inside_a_running_loop() -> None:
    with FakeOpenAI() as srv:
        runner = CallRunner(provider(srv), RunnerSettings(**FAST))
        assert runner.run(make_requests(["a"]))[0].text == "[m] a"
        assert runner.run(make_requests(["b"]))[0].text == "[m] b"

        async def inside() -> str:
            return runner.run(make_requests(["c"]))[0].text or ""

        assert asyncio.run(inside()) == "[m] c"


def test_progress_bar_shows_rate_and_eta() -> None:
    import io

    from arena.llm.progress import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    bar = Progress(4, "gpt", stream=out, interval=0.0)
    for i in range(4):
        bar.tick(failed=i == 3)
    bar.close()
    text = out.getvalue()
    assert "gpt [" in text and "4/4 100%" in text and "/s" in text and "eta" in text
    assert "1 failed" in text and text.endswith("\n")
    quiet = Tty()
    Progress(3, "x", stream=quiet, enabled=False).tick()
    assert quiet.getvalue() == ""
