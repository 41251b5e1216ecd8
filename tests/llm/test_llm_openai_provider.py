"""The OpenAI-compatible providers (official client and the lean HTTP path, each test run on
both): request mapping, replies, errors, and the factory."""

from __future__ import annotations

import pytest

from arena.config import OpenAIModel, Price
from arena.errors import BackendUnavailable
from arena.llm.factory import make_provider, price_of
from arena.llm.openai_provider import build_body, parse_retry_after
from arena.llm.runner import CallRunner, RunnerSettings
from arena.llm.text import split_thinking
from arena.llm.types import ChatRequest
from fake_openai import FakeOpenAI


@pytest.fixture(params=["openai", "fast"])
def client(request: pytest.FixtureRequest) -> str:
    return request.param


def spec(srv: FakeOpenAI, client: str = "openai", **kw) -> OpenAIModel:
    base = dict(name="gpt", backend="openai", model="gpt-x", base_url=srv.base_url,
                api_key_env="FAKE_KEY", http_client=client)
    base.update(kw)
    return OpenAIModel(**base)


def one(srv: FakeOpenAI, s: OpenAIModel, req: ChatRequest, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FAKE_KEY", "sk-secret-123")
    runner = CallRunner(make_provider(s), RunnerSettings(backoff_base_s=0.001))
    return runner.run([req])[0]


def msg(text: str = "hi") -> list[dict[str, str]]:
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]


def test_request_mapping_headers_and_key(monkeypatch: pytest.MonkeyPatch, client: str) -> None:
    with FakeOpenAI() as srv:
        s = spec(srv, client, extra_headers={"X-Team": "eval"}, extra_body={"chat_template_kwargs":
                                                                    {"enable_thinking": False}})
        res = one(srv, s, ChatRequest(messages=msg(), max_new_tokens=77, temperature=0.5,
                                      top_p=0.9, stop=["END"], seed=3), monkeypatch)
        assert res.ok and res.text == "[gpt-x] hi"
        [body] = srv.requests
        assert body["model"] == "gpt-x" and body["messages"] == msg()
        assert body["max_tokens"] == 77 and "max_completion_tokens" not in body
        assert body["temperature"] == 0.5 and body["top_p"] == 0.9
        assert body["stop"] == ["END"] and body["seed"] == 3
        assert body["chat_template_kwargs"] == {"enable_thinking": False}
        assert "top_k" not in body and "repetition_penalty" not in body
        hdr = srv.headers[0]
        assert hdr["authorization"] == "Bearer sk-secret-123"
        assert hdr["x-team"] == "eval"
        assert res.prompt_tokens and res.completion_tokens and res.finish_reason == "stop"


def test_reasoning_models_get_max_completion_tokens_and_vllm_params(
        monkeypatch: pytest.MonkeyPatch, client: str) -> None:
    with FakeOpenAI() as srv:
        res = one(srv, spec(srv, client, model="o3-mini"),
                  ChatRequest(messages=msg(), max_new_tokens=9, top_k=4,
                              repetition_penalty=1.1), monkeypatch)
        assert res.ok
        body = srv.requests[0]
        assert body["max_completion_tokens"] == 9 and "max_tokens" not in body
        assert body["top_k"] == 4 and body["repetition_penalty"] == 1.1
    assert "max_tokens" in build_body(ChatRequest(messages=msg()), "o3",
                                      max_tokens_param="max_tokens")


def test_reasoning_kept_apart_from_the_answer(monkeypatch: pytest.MonkeyPatch,
                                              client: str) -> None:
    replies = {"a": {"content": "42", "reasoning_content": "6*7"},
               "b": "<think>add them</think>\n\nThe sum is 4."}
    with FakeOpenAI(replies=replies) as srv:
        ra = one(srv, spec(srv, client, model="a"), ChatRequest(messages=msg()), monkeypatch)
        rb = one(srv, spec(srv, client, model="b"), ChatRequest(messages=msg()), monkeypatch)
    assert (ra.text, ra.reasoning) == ("42", "6*7")
    assert (rb.text, rb.reasoning) == ("The sum is 4.", "add them")


def test_split_thinking_variants() -> None:
    assert split_thinking("plain") == ("plain", None)
    assert split_thinking("thought</think>answer") == ("answer", "thought")
    assert split_thinking("<think>still going") == ("", "still going")


def test_length_finish_reason_kept(monkeypatch: pytest.MonkeyPatch, client: str) -> None:
    with FakeOpenAI(reply={"content": "cut", "finish_reason": "length"}) as srv:
        res = one(srv, spec(srv, client), ChatRequest(messages=msg()), monkeypatch)
    assert res.ok and res.finish_reason == "length"


def test_missing_key_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAKE_KEY", raising=False)
    s = OpenAIModel(name="gpt", backend="openai", model="gpt-4o", api_key_env="FAKE_KEY")
    with pytest.raises(BackendUnavailable, match="FAKE_KEY is not set"):
        make_provider(s)
    # Endpoints without keys: api_key_env null.
    p = make_provider(OpenAIModel(name="local", backend="openai", model="m",
                                  base_url="http://127.0.0.1:9/v1", api_key_env=None))
    assert "secret" not in repr(p) and p.name == "local"


def test_price_and_retry_after_parsing() -> None:
    s = OpenAIModel(name="g", backend="openai", model="m", price=Price(input_per_mtok=1,
                                                                      output_per_mtok=2))
    assert price_of(s).cost(1_000_000, 1_000_000) == 3.0
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({}) is None


def test_http_client_choice() -> None:
    from arena.llm.factory import use_fast_http

    def s(url, choice="auto"):
        return OpenAIModel(name="g", backend="openai", model="m", base_url=url,
                           api_key_env=None, http_client=choice)

    assert use_fast_http(s("http://gpu-box:8000/v1"), {})
    assert not use_fast_http(s("http://gpu-box:8000/v1"), {"HTTP_PROXY": "http://proxy:3128"})
    assert not use_fast_http(s("https://api.example.com/v1"), {})
    assert not use_fast_http(s(None), {})
    assert use_fast_http(s("https://api.example.com/v1", "fast"), {})
    assert not use_fast_http(s("http://gpu-box:8000/v1", "openai"), {})
