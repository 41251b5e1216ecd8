"""The local transformers provider on tiny random models loaded with ``from_pretrained``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from arena.config import TransformersModel
from arena.errors import BackendUnavailable
from arena.llm.factory import make_provider
from arena.llm.runner import CallRunner, RunnerSettings
from arena.llm.text import cut_at_stop
from arena.llm.transformers_provider import TransformersProvider, plain_prompt
from arena.llm.types import CallError, ChatRequest
from tiny_models import build_tiny_model

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = ["hi", "What is the capital of France?", "Write a short poem about the sea.",
           "the lazy dog " * 6, "def add(a, b):", "Explain why the sky is blue.", "7"]


@pytest.fixture(scope="session")
def tiny_chat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-chat"), chat=True, window=256)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-base"), chat=False, window=256)


def load(path: Path, **kw) -> TransformersProvider:
    spec = TransformersModel(name="tiny", backend="transformers", model=str(path),
                             dtype="float32", device="cpu", **kw)
    p = make_provider(spec)
    assert isinstance(p, TransformersProvider)
    return p


def reqs(n_new: int = 12) -> list[ChatRequest]:
    return [ChatRequest(messages=[{"role": "user", "content": p}], max_new_tokens=n_new,
                        key=str(i)) for i, p in enumerate(PROMPTS)]


def test_batched_greedy_equals_one_at_a_time(tiny_chat: Path) -> None:
    p = load(tiny_chat, batch_size=4)
    batched = p.generate_batch(reqs())
    p.batch_size = 1
    single = p.generate_batch(reqs())
    assert [r.text for r in batched] == [r.text for r in single]
    assert all(r.ok for r in batched)
    assert [r.completion_tokens for r in batched] == [r.completion_tokens for r in single]
    assert [r.prompt_tokens for r in batched] == [len(p.render(r.messages)) for r in reqs()]
    assert all(r.finish_reason in ("stop", "length") for r in batched)


def test_static_cache_gives_the_same_text(tiny_chat: Path) -> None:
    default = load(tiny_chat, batch_size=4).generate_batch(reqs(8))
    static = load(tiny_chat, batch_size=4, static_cache=True).generate_batch(reqs(8))
    assert [r.text for r in static] == [r.text for r in default]


def test_through_the_runner_batches_and_matches(tiny_chat: Path) -> None:
    p = load(tiny_chat, batch_size=3)
    expected = [r.text for r in p.generate_batch(reqs())]
    batches: list[int] = []
    run = p._run

    def counting(batch):  # observe batch sizes on the real provider without changing it
        batches.append(len(batch))
        return run(batch)

    p._run = counting  # type: ignore[method-assign]
    runner = CallRunner(p, RunnerSettings(concurrency=p.preferred_concurrency or 64))
    out = runner.run(reqs())
    assert [r.text for r in out] == expected
    assert sorted(batches, reverse=True) == [3, 3, 1]


def test_length_finish_reason(tiny_chat: Path) -> None:
    p = load(tiny_chat)
    [r] = p.generate_batch([ChatRequest(messages=[{"role": "user", "content": "hi"}],
                                        max_new_tokens=3)])
    if r.completion_tokens == 3 and r.finish_reason == "length":
        assert r.ok
    else:  # the random model picked its end token within 3 steps
        assert r.finish_reason == "stop"


def test_long_document_is_cut_in_the_middle_and_recorded(tiny_chat: Path) -> None:
    p = load(tiny_chat, max_input_tokens=96)
    doc = "BEGIN " + "the quick brown fox jumps over the lazy dog " * 40 + "END"
    req = ChatRequest(messages=[{"role": "system", "content": "S"},
                                {"role": "user", "content": doc + "\n\nWhat is it?"}],
                      max_new_tokens=16, truncatable=1)
    prep = p.prepare(req)
    assert prep.truncated and len(prep.ids) <= 96 - 16
    text = p.tokenizer.decode(prep.ids)
    assert "BEGIN" in text and "What is it?" in text and text.count("lazy dog") < 40
    [res] = p.generate_batch([req])
    assert res.truncated and res.prompt_tokens == len(prep.ids)
    short = ChatRequest(messages=[{"role": "user", "content": "hi"}], max_new_tokens=16)
    assert not p.prepare(short).truncated


def test_prompt_that_cannot_fit_is_an_error(tiny_chat: Path) -> None:
    p = load(tiny_chat, max_input_tokens=32)
    with pytest.raises(CallError, match="window"):
        p.prepare(ChatRequest(messages=[{"role": "user", "content": "hi"}], max_new_tokens=40))


def test_base_model_gets_the_plain_prompt(tiny_base: Path) -> None:
    p = load(tiny_base)
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert p.tokenizer.decode(p.render(msgs)) == plain_prompt(msgs)
    assert plain_prompt(msgs).endswith("User: hi\n\nAssistant:")
    [r] = p.generate_batch([ChatRequest(messages=msgs, max_new_tokens=5)])
    assert r.text is not None


def test_entry_chat_template_overrides(tiny_base: Path) -> None:
    p = load(tiny_base, chat_template="{% for m in messages %}<<{{ m['content'] }}>>"
                                      "{% endfor %}")
    assert p.tokenizer.decode(p.render([{"role": "user", "content": "hi"}])) == "<<hi>>"


def test_missing_folder_says_what_to_set(tmp_path: Path) -> None:
    spec = TransformersModel(name="local", backend="transformers", model=str(tmp_path / "nope"))
    with pytest.raises(BackendUnavailable, match="does not exist"):
        make_provider(spec)


def test_offline_hub_id_says_what_to_set(tmp_path: Path) -> None:
    code = ("from arena.config import TransformersModel\n"
            "from arena.llm.factory import make_provider\n"
            "from arena.errors import BackendUnavailable\n"
            "try:\n"
            "    make_provider(TransformersModel(name='q', backend='transformers',"
            " model='Qwen/Qwen2.5-0.5B-Instruct'))\n"
            "except BackendUnavailable as e:\n"
            "    print('UNAVAILABLE', e)\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert "UNAVAILABLE" in out.stdout, out.stderr[-2000:]
    assert "HF_HUB_OFFLINE" in out.stdout and "local folder" in out.stdout


def test_stop_strings_are_cut() -> None:
    assert cut_at_stop("abc END def", ["END"]) == ("abc ", True)
    assert cut_at_stop("abc", ["END"]) == ("abc", False)
