"""A local Hugging Face transformers model (hub id or local folder) as a provider.

- The model's chat template renders the messages (``chat_template`` in the model entry
  overrides it); a base model without one gets a plain ``System:/User:/Assistant:`` format.
- Calls are gathered into batches: every request waiting when the GPU/CPU frees up is sorted
  by prompt length and the longest ``batch_size`` go together, left-padded; one batch runs at a
  time in a worker thread so the event loop keeps storing results. A batch that runs out of
  GPU memory is split in half and retried.
- When prompt + ``max_new_tokens`` exceed the window (``max_input_tokens`` or the model's
  ``max_position_embeddings``), the middle of the long message (``ChatRequest.truncatable``,
  else the longest message) is cut, as LongBench does, and the result says ``truncated``.
- ``<think>`` text is split from the answer; stop strings end generation and are cut off.
- ``static_cache`` uses a static KV cache (much faster batched decoding on GPUs).

Loading failures raise :class:`arena.errors.BackendUnavailable` saying what to set. Generation
failures are :class:`arena.llm.types.CallError` (not retryable: the same input fails again).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from arena.errors import BackendUnavailable
from arena.llm.text import cut_at_stop, split_thinking
from arena.llm.types import CallError, ChatRequest, ChatResult

log = logging.getLogger(__name__)

PLAIN_ROLES = {"system": "System", "user": "User", "assistant": "Assistant"}
DEFAULT_WINDOW = 4096  # when neither the entry nor the model config names one


def plain_prompt(messages: list[dict[str, str]]) -> str:
    """The prompt format for base models without a chat template."""
    parts = [f"{PLAIN_ROLES.get(m['role'], m['role'].title())}: {m['content']}"
             for m in messages]
    return "\n\n".join(parts) + "\n\nAssistant:"


def pick_device(device: str) -> str:
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype == "auto":
        # Half precision on CPU is slow and lossy; GPUs use the checkpoint's own dtype.
        return torch.float32 if device == "cpu" else "auto"
    try:
        return {"float32": torch.float32, "float16": torch.float16,
                "bfloat16": torch.bfloat16}[dtype]
    except KeyError:
        raise BackendUnavailable(f"dtype {dtype!r} is not one of auto, float32, float16, "
                                 f"bfloat16") from None


@dataclass
class _Prepared:
    req: ChatRequest
    ids: list[int]
    truncated: bool


class TransformersProvider:
    """Batched local generation; see the module docstring."""

    enforce_timeout = False  # a batch is not one call: a timeout would cancel other requests
    preferred_concurrency: Optional[int] = 4096  # let the batcher see (and sort) everything
    # (the same figure as arena.llm.runner.LOCAL_IN_FLIGHT)

    def __init__(self, name: str, model: Any, tokenizer: Any, *, batch_size: int = 8,
                 max_input_tokens: Optional[int] = None, static_cache: bool = False) -> None:
        self.name = name
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = max(1, batch_size)
        self.static_cache = static_cache
        cfg_window = getattr(model.config, "max_position_embeddings", None)
        self.window = int(max_input_tokens or cfg_window or DEFAULT_WINDOW)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.eos_ids = self._eos_ids()
        self._pending: list[tuple[_Prepared, asyncio.Future]] = []
        self._worker: Optional[asyncio.Task] = None
        self._lock = threading.Lock()  # one generate at a time on the device

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec: Any) -> "TransformersProvider":
        """Load ``spec.model`` (hub id or folder). Raises BackendUnavailable with what to set."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        src = spec.model
        if src.startswith((".", "/", "~")) and not Path(src).expanduser().is_dir():
            raise BackendUnavailable(f"model {spec.name!r}: folder {src} does not exist; set "
                                     f"model: to a folder holding config.json, the tokenizer "
                                     f"and the weights, or to a hub id")
        device = pick_device(spec.device)
        dtype = pick_dtype(spec.dtype, device)
        kw: dict[str, Any] = {"revision": spec.revision,
                              "trust_remote_code": spec.trust_remote_code}
        t0 = time.perf_counter()
        try:
            tok = AutoTokenizer.from_pretrained(src, **kw)
            model = AutoModelForCausalLM.from_pretrained(
                src, dtype=dtype, device_map=spec.device_map, **kw)
        except (OSError, ValueError, ImportError) as exc:
            offline = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
            hint = ("HF_HUB_OFFLINE is set, so only models already in the cache (HF_HOME) load"
                    if offline else "a hub id needs internet access the first time (or the "
                    "model already in the cache at HF_HOME)")
            raise BackendUnavailable(
                f"model {spec.name!r}: cannot load {src!r}: {str(exc).splitlines()[0]} - "
                f"{hint}; or set model: to a local folder (e.g. one saved with "
                f"`huggingface-cli download {src} --local-dir ...`); set trust_remote_code: "
                f"true only for models you trust that need it") from None
        if spec.device_map is None:
            model = model.to(device)
        model.eval()
        if spec.chat_template:
            tok.chat_template = spec.chat_template
        tok.padding_side = "left"
        log.info("loaded %s (%s) on %s in %.1f s", spec.name, src, model.device,
                 time.perf_counter() - t0)
        return cls(spec.name, model, tok, batch_size=spec.batch_size,
                   max_input_tokens=spec.max_input_tokens, static_cache=spec.static_cache)

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        gc_eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        for v in (gc_eos, self.tokenizer.eos_token_id):
            if isinstance(v, int):
                ids.add(v)
            elif isinstance(v, (list, tuple)):
                ids.update(int(x) for x in v)
        return ids

    # -- prompts -------------------------------------------------------------------------------
    def render(self, messages: list[dict[str, str]]) -> list[int]:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return list(tok(text, add_special_tokens=False, verbose=False)["input_ids"])
        return list(tok(plain_prompt(messages), verbose=False)["input_ids"])

    def prepare(self, req: ChatRequest) -> _Prepared:
        """Token ids for ``req``, cut in the middle of the long message when too long.

        Raises CallError when even an emptied long message leaves no room."""
        ids = self.render(req.messages)
        room = self.window - req.max_new_tokens
        if len(ids) <= room:
            return _Prepared(req, ids, False)
        if room <= 0:
            raise CallError(f"max_new_tokens={req.max_new_tokens} leaves no room for the "
                            f"prompt in the {self.window}-token window", retryable=False)
        idx = req.truncatable
        if idx is None:
            idx = max(range(len(req.messages)), key=lambda i: len(req.messages[i]["content"]))
        content = req.messages[idx]["content"]
        cids = list(self.tokenizer(content, add_special_tokens=False,
                                   verbose=False)["input_ids"])
        excess = len(ids) - room
        for _ in range(4):  # re-tokenising the joined halves can shift a few tokens
            keep = len(cids) - excess
            if keep <= 0:
                break
            half = keep // 2
            cut = (self.tokenizer.decode(cids[:half], skip_special_tokens=True)
                   + self.tokenizer.decode(cids[len(cids) - (keep - half):],
                                           skip_special_tokens=True))
            msgs = [dict(m) for m in req.messages]
            msgs[idx]["content"] = cut
            ids = self.render(msgs)
            if len(ids) <= room:
                return _Prepared(req, ids, True)
            excess += len(ids) - room
        raise CallError(f"the prompt ({len(ids)} tokens) does not fit the {self.window}-token "
                        f"window with max_new_tokens={req.max_new_tokens}, even with the long "
                        f"message cut", retryable=False)

    # -- generation ----------------------------------------------------------------------------
    def _gen_kwargs(self, req: ChatRequest) -> dict[str, Any]:
        gc = copy.deepcopy(self.model.generation_config)
        do_sample = req.do_sample if req.do_sample is not None else req.temperature > 0
        gc.do_sample = do_sample
        gc.max_new_tokens = req.max_new_tokens
        gc.pad_token_id = self.tokenizer.pad_token_id
        if do_sample:
            gc.temperature = req.temperature
            gc.top_p = req.top_p
            gc.top_k = req.top_k
        else:  # the checkpoint's sampling defaults must not apply to greedy decoding
            gc.temperature = None
            gc.top_p = None
            gc.top_k = None
        if req.repetition_penalty is not None:
            gc.repetition_penalty = req.repetition_penalty
        if self.static_cache:
            gc.cache_implementation = "static"
        kw: dict[str, Any] = {"generation_config": gc}
        if req.stop:
            kw.update(stop_strings=list(req.stop), tokenizer=self.tokenizer)
        return kw

    def _run(self, batch: list[_Prepared]) -> list[ChatResult]:
        """Generate one batch (all with the first request's parameters). Thread-safe."""
        import torch

        with self._lock:
            try:
                return self._run_locked(batch)
            except torch.cuda.OutOfMemoryError:
                if len(batch) == 1:
                    raise
                torch.cuda.empty_cache()
                log.warning("%s: out of GPU memory at batch %d; splitting", self.name, len(batch))
        mid = len(batch) // 2
        return self._run(batch[:mid]) + self._run(batch[mid:])

    def _run_locked(self, batch: list[_Prepared]) -> list[ChatResult]:
        import torch

        pad = self.tokenizer.pad_token_id
        width = max(len(p.ids) for p in batch)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, p in enumerate(batch):
            input_ids[i, width - len(p.ids):] = torch.tensor(p.ids, dtype=torch.long)
            mask[i, width - len(p.ids):] = 1
        dev = self.model.device
        first = batch[0].req
        if first.seed is not None:
            torch.manual_seed(first.seed)
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(input_ids=input_ids.to(dev), attention_mask=mask.to(dev),
                                      **self._gen_kwargs(first))
        latency = time.perf_counter() - t0
        new = out[:, width:].tolist()
        return [self._result(p, row, latency) for p, row in zip(batch, new)]

    def _result(self, p: _Prepared, row: list[int], latency: float) -> ChatResult:
        toks: list[int] = []
        hit_eos = False
        for t in row:
            if t in self.eos_ids:
                hit_eos = True
                break
            toks.append(t)
        if not hit_eos:
            # Rows that stopped on a stop string are padded after it.
            pad = self.tokenizer.pad_token_id
            while toks and toks[-1] == pad and pad not in self.eos_ids:
                toks.pop()
        text = self.tokenizer.decode(toks, skip_special_tokens=True)
        text, stopped = cut_at_stop(text, p.req.stop)
        answer, reasoning = split_thinking(text)
        finish = "stop" if hit_eos or stopped or len(row) < p.req.max_new_tokens else "length"
        return ChatResult(text=answer.strip(), reasoning=reasoning, finish_reason=finish,
                          prompt_tokens=len(p.ids), completion_tokens=len(toks) + int(hit_eos),
                          latency_s=latency, truncated=p.truncated)

    def generate_batch(self, requests: list[ChatRequest]) -> list[ChatResult]:
        """Synchronous batched generation of ``requests`` (sorted by length, ``batch_size`` at
        a time, all with the first request's generation parameters); results in input order.
        Raises CallError for a prompt that cannot fit."""
        prepared = [self.prepare(r) for r in requests]
        order = sorted(range(len(prepared)), key=lambda i: -len(prepared[i].ids))
        out: list[Optional[ChatResult]] = [None] * len(prepared)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            for i, res in zip(chunk, self._run([prepared[i] for i in chunk])):
                out[i] = res
        return out  # type: ignore[return-value]

    # -- the provider call ---------------------------------------------------------------------
    async def generate(self, request: ChatRequest, timeout_s: float) -> ChatResult:
        prepared = self.prepare(request)
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending.append((prepared, fut))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        for _ in range(3):  # let every caller that is starting now join the first batch
            await asyncio.sleep(0)
        while self._pending:
            # Longest first: similar lengths pad little, and memory trouble shows up early.
            # Requests with different generation parameters never share a batch.
            self._pending.sort(key=lambda pf: -len(pf[0].ids))
            key = _params_key(self._pending[0][0].req)
            batch = [pf for pf in self._pending if _params_key(pf[0].req) == key]
            batch = batch[:self.batch_size]
            taken = {id(pf) for pf in batch}
            self._pending = [pf for pf in self._pending if id(pf) not in taken]
            try:
                results = await asyncio.to_thread(self._run, [p for p, _ in batch])
            except Exception as exc:  # the whole batch failed: each caller gets the error
                log.debug("%s: batch failed", self.name, exc_info=True)
                err = CallError(f"generation failed: {type(exc).__name__}: {exc}",
                                retryable=False)
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(err)
                continue
            for (_, fut), res in zip(batch, results):
                if not fut.done():
                    fut.set_result(res)

    async def aclose(self) -> None:
        # The model stays loaded for the next run; nothing holds a connection.
        return None


def _params_key(req: ChatRequest) -> tuple:
    return (req.max_new_tokens, req.temperature, req.top_p, req.top_k, tuple(req.stop),
            req.seed, req.repetition_penalty, req.do_sample)
