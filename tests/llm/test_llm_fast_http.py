"""Contract: the lean HTTP path behaves exactly like the official client.

The same requests go through both providers to the same fake server; the tests compare what
the server received, the parsed results, the errors (status, retryability, Retry-After,
message) and the retries the runner makes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from arena.llm.fast_http import FastHTTPProvider
from arena.llm.openai_provider import OpenAIProvider
from arena.llm.runner import CallRunner, RunnerSettings, make_requests
from arena.llm.types import CallError, ChatRequest, ChatResult
from fake_openai import FakeOpenAI, Fault

KW: dict[str, Any] = dict(api_key="sk-contract", extra_headers={"X-Org": "o1"},
                          extra_body={"chat_template_kwargs": {"enable_thinking": True}})


def both(srv: FakeOpenAI, model: str = "m") -> list[Any]:
    return [OpenAIProvider(model, model, base_url=srv.base_url, **KW),
            FastHTTPProvider(model, model, base_url=srv.base_url, **KW)]


def call(p: Any, req: ChatRequest, timeout: float = 5.0) -> ChatResult | CallError:
    async def go() -> ChatResult | CallError:
        try:
            return await p.generate(req, timeout)
        except CallError as exc:
            return exc
        finally:
            await p.aclose()

    return asyncio.run(go())


def summary(x: ChatResult | CallError) -> tuple:
    if isinstance(x, CallError):
        return ("error", str(x), x.retryable, x.status, x.retry_after)
    return ("ok", x.text, x.reasoning, x.finish_reason, x.prompt_tokens, x.completion_tokens)


REQS = [
    ChatRequest(messages=[{"role": "user", "content": "plain"}]),
    ChatRequest(messages=[{"role": "system", "content": "S"},
                          {"role": "user", "content": "ünïcode ✓ \"quotes\"\n"}],
                max_new_tokens=7, temperature=0.3, top_p=0.5, stop=["x", "y"], seed=1, top_k=2,
                repetition_penalty=1.2),
]

SCRIPTED = {
    "ok": "fine",
    "think": "<think>hmm</think>done",
    "reasoning": {"content": "x", "reasoning_content": "r", "finish_reason": "length",
                  "prompt_tokens": 11, "completion_tokens": 22},
    "429": Fault.rate_limit(0.25),
    "500": Fault.server_error("kaput"),
    "503": Fault.status(503, "busy"),
    "401": Fault.status(401, "bad key"),
    "404": Fault.status(404, "no such model"),
    "malformed": Fault.malformed(),
    "drop": Fault.drop(),
    "nochoices": {"body": {"id": "x", "object": "chat.completion", "choices": []}},
}


@pytest.mark.parametrize("req", REQS, ids=["plain", "all-params"])
def test_same_request_body_and_headers(req: ChatRequest) -> None:
    with FakeOpenAI() as srv:
        results = [call(p, req) for p in both(srv)]
        official, fast = srv.requests
        assert official == fast
        for h in ("authorization", "x-org", "content-type"):
            assert srv.headers[0][h] == srv.headers[1][h], h
        assert srv.headers[1]["authorization"] == "Bearer sk-contract"
    assert summary(results[0]) == summary(results[1])


@pytest.mark.parametrize("case", sorted(SCRIPTED))
def test_same_results_and_errors(case: str) -> None:
    with FakeOpenAI(replies={case: SCRIPTED[case]}) as srv:
        out = [summary(call(p, REQS[0])) for p in both(srv, case)]
    assert out[0] == out[1]


def test_same_timeout_behaviour_through_the_runner() -> None:
    with FakeOpenAI(reply=Fault.slow(2.0)) as srv:
        out = []
        for p in both(srv):
            r = CallRunner(p, RunnerSettings(timeout_s=0.2, max_retries=1, backoff_base_s=0.001))
            [res] = r.run(make_requests(["x"]))
            out.append((res.ok, res.error, res.attempts))
    assert out[0] == out[1] and out[0][0] is False


def test_same_retries_under_a_fault_mix() -> None:
    kinds = [Fault.rate_limit(0.01), Fault.server_error(), Fault.malformed(), Fault.drop(),
             Fault.status(400, "bad")]

    def faults(req: dict, attempt: int):
        i = int(req["messages"][-1]["content"].split()[-1])
        return kinds[i % 5] if attempt == 1 and i % 2 == 0 else None

    runs = []
    for cls in (OpenAIProvider, FastHTTPProvider):
        with FakeOpenAI(faults=faults) as srv:
            p = cls("m", "m", base_url=srv.base_url, **KW)
            r = CallRunner(p, RunnerSettings(concurrency=4, max_retries=2, backoff_base_s=0.001))
            res = r.run(make_requests([f"q {i}" for i in range(20)]))
            runs.append(([(x.text, x.error, x.attempts) for x in res], srv.count(),
                         sorted(srv.faults_served)))
    for a, b in zip(runs[0][0], runs[1][0]):
        assert a == b
    assert runs[0][1:] == runs[1][1:]
    assert any(e and "HTTP 400" in e for _, e, _ in runs[0][0])


@pytest.mark.parametrize("cls", [OpenAIProvider, FastHTTPProvider])
def test_idle_connection_closed_by_the_server_is_not_reused(cls: type) -> None:
    with FakeOpenAI(keepalive_timeout=0.2) as srv:
        p = cls("m", "m", base_url=srv.base_url, **KW)
        req = ChatRequest(messages=[{"role": "user", "content": "x"}])

        async def go() -> list[Any]:
            out = [await p.generate(req, 5.0)]
            await asyncio.sleep(0.5)  # the server closes the idle connection meanwhile
            out.append(await p.generate(req, 5.0))
            await p.aclose()
            return out

        first, second = asyncio.run(go())
        assert first.ok and second.ok and srv.count() == 2
