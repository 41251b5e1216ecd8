"""A local Hugging Face transformers model (hub id, local folder or packaged file) as a provider.

- Where the weights come from is ``arena.llm.model_source`` (hub id, folder, or
  ``package:<distribution>/<file>``); GGUF files are de-quantized once and cached
  (``arena.llm.gguf_cache``). The last loaded model is kept for the next entry with the same
  weights (a prompt variant, the judge) and dropped before a different one loads.

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
- Requests with ``score_tokens`` (weighted verdicts) are not generated: one batched forward
  pass reads the next-token distribution and the result's ``token_probs`` holds each
  candidate's probability (see ``_score_locked``).

Loading failures raise :class:`arena.errors.BackendUnavailable` saying what to set. Generation
failures are :class:`arena.llm.types.CallError` (not retryable: the same input fails again).
"""

from __future__ import annotations

import asyncio
import copy
import gc
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional

from arena.errors import BackendUnavailable
from arena.llm.text import cut_at_stop, split_thinking
from arena.llm.types import CallError, ChatRequest, ChatResult

log = logging.getLogger(__name__)

PLAIN_ROLES = {"system": "System", "user": "User", "assistant": "Assistant"}
DEFAULT_WINDOW = 4096  # when neither the entry nor the model config names one
GATHER_TURNS = 200  # event-loop turns a new batch waits, at most, for callers on their way
GATHER_QUIET = 20  # ... and it starts once this many turns brought no new request


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
        """Load ``spec.model`` (hub id, folder or ``package:`` file, GGUF or not; see
        ``arena.llm.model_source``). Raises BackendUnavailable saying what to set."""
        from arena.llm.model_source import resolve

        source = resolve(spec)  # BackendUnavailable: a missing package, folder or hub model
        device = pick_device(spec.device)
        dtype = pick_dtype(spec.dtype, device)
        t0 = time.perf_counter()
        tok, model, how = _load(spec, source, device, dtype)
        tok = copy.copy(tok)  # this entry's chat template and padding side stay its own
        if spec.chat_template:
            tok.chat_template = spec.chat_template
        tok.padding_side = "left"
        log.info("loaded %s (%s) on %s in %.1f s%s", spec.name, source.describe(), model.device,
                 time.perf_counter() - t0, how)
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
    def render(self, messages: list[dict[str, str]], prefill: str = "") -> list[int]:
        """Token ids of the prompt; ``prefill`` is appended after the assistant's turn opens."""
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return list(tok(text + prefill, add_special_tokens=False, verbose=False)["input_ids"])
        prompt = plain_prompt(messages) + (" " + prefill if prefill else "")
        return list(tok(prompt, verbose=False)["input_ids"])

    def prepare(self, req: ChatRequest) -> _Prepared:
        """Token ids for ``req``, cut in the middle of the long message when too long.

        Raises CallError when even an emptied long message leaves no room."""
        ids = self.render(req.messages, req.prefill)
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
            ids = self.render(msgs, req.prefill)
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
            gc.stop_strings = list(req.stop)
            kw["tokenizer"] = self.tokenizer
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

        if batch[0].req.score_tokens:
            return self._score_locked(batch)
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

    # -- weighted verdicts: next-token probabilities ----------------------------------------
    def candidate_sequences(self, candidates: tuple[str, ...]) -> dict[str, list[tuple[int, ...]]]:
        """The token sequences that spell each candidate at the start of the reply: its own
        encoding, plus the space-prefixed one when that is a single token (" A")."""
        out: dict[str, list[tuple[int, ...]]] = {}
        for c in candidates:
            seqs = [tuple(self.tokenizer.encode(c, add_special_tokens=False))]
            spaced = tuple(self.tokenizer.encode(" " + c, add_special_tokens=False))
            if len(spaced) == 1 and spaced not in seqs:
                seqs.append(spaced)
            out[c] = [s for s in seqs if s]
        return out

    def _next_logprobs(self, rows: list[list[int]]) -> Any:
        """Log-softmax of the next token after each row (left-padded, one forward pass per
        ``batch_size`` rows); a (len(rows), vocab) float32 tensor on the CPU."""
        import torch

        pad = self.tokenizer.pad_token_id
        outs = []
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start:start + self.batch_size]
            width = max(len(r) for r in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for i, r in enumerate(chunk):
                ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
                mask[i, width - len(r):] = 1
            # Left padding: positions count from each row's first real token, as generate() does.
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            dev = self.model.device
            kw = {"input_ids": ids.to(dev), "attention_mask": mask.to(dev),
                  "position_ids": pos.to(dev), "use_cache": False}
            with torch.inference_mode():
                try:
                    logits = self.model(**kw, logits_to_keep=1).logits[:, -1, :]
                except TypeError:  # an architecture without logits_to_keep
                    logits = self.model(**kw).logits[:, -1, :]
            outs.append(torch.log_softmax(logits.float(), dim=-1).cpu())
        return torch.cat(outs, dim=0)

    def _score_locked(self, batch: list[_Prepared]) -> list[ChatResult]:
        """Probability that each reply starts with each ``score_tokens`` string.

        A candidate spelled by one token needs only the prompt's next-token distribution; a
        longer one ("10" as "1" "0") multiplies the conditional probabilities along its tokens
        (one more forward pass per extra token), and a candidate whose tokens begin another
        candidate's ("1" of "10") gives up the mass that continues into the longer one."""
        candidates = tuple(batch[0].req.score_tokens)
        seqs = self.candidate_sequences(candidates)
        prefixes = sorted({s[:k] for ss in seqs.values() for s in ss for k in range(len(s))},
                          key=lambda p: (len(p), p))
        t0 = time.perf_counter()
        rows = [p.ids + list(pre) for p in batch for pre in prefixes]
        lp = self._next_logprobs(rows)
        latency = time.perf_counter() - t0
        index = {pre: j for j, pre in enumerate(prefixes)}
        all_seqs = {s for ss in seqs.values() for s in ss}
        results = []
        for i, p in enumerate(batch):
            base = i * len(prefixes)

            def seq_prob(seq: tuple[int, ...]) -> float:
                total = 0.0
                for k, t in enumerate(seq):
                    total += float(lp[base + index[seq[:k]], t])
                return math.exp(total)

            probs: dict[str, float] = {}
            for c, ss in seqs.items():
                value = 0.0
                for s in ss:
                    longer = [y for y in all_seqs if len(y) > len(s) and y[:len(s)] == s]
                    # Only the nearest extensions: "100" is already inside "10"'s mass.
                    nearest = [y for y in longer if not any(
                        len(s) < len(w) < len(y) and y[:len(w)] == w for w in longer)]
                    value += max(0.0, seq_prob(s) - sum(seq_prob(y) for y in nearest))
                probs[c] = value
            top = int(lp[base + index[()]].argmax())
            results.append(ChatResult(
                text=self.tokenizer.decode([top], skip_special_tokens=False),
                finish_reason="score", prompt_tokens=len(p.ids), completion_tokens=0,
                latency_s=latency, truncated=p.truncated, token_probs=probs))
        return results

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
        await self._gather()
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

    async def _gather(self) -> None:
        """Let every caller that is on its way join the batch: callers woken by the previous
        batch (a dialogue's next turn) pass through several awaits before they queue, so wait
        until the queue has stopped growing for a few loop turns (bounded: at most
        ``GATHER_TURNS`` turns, microseconds next to a forward pass)."""
        quiet, seen = 0, len(self._pending)
        for _ in range(GATHER_TURNS):
            await asyncio.sleep(0)
            if len(self._pending) == seen:
                quiet += 1
                if quiet >= GATHER_QUIET:
                    return
            else:
                quiet, seen = 0, len(self._pending)

    async def aclose(self) -> None:
        # The model stays loaded for the next run; nothing holds a connection.
        return None


# One loaded model is kept for the next entry of the same weights (two prompt variants of one
# model, then the judge): loading another model drops it first, so at most one model is held
# beyond the ones in use.
_LAST: dict[tuple, tuple[Any, Any]] = {}


def _load(spec: Any, source: Any, device: str, dtype: Any) -> tuple[Any, Any, str]:
    """(tokenizer, model, note) for a resolved source; raises BackendUnavailable."""
    key = (source.location, source.gguf_file, spec.revision, str(dtype), device,
           spec.device_map, spec.trust_remote_code)
    if key in _LAST:
        tok, model = _LAST[key]
        return tok, model, " (already loaded)"
    _LAST.clear()
    gc.collect()
    try:
        if source.gguf_file:
            from arena.llm import gguf_cache

            tok, model, cached = gguf_cache.load(source, dtype=dtype, device_map=spec.device_map,
                                                 trust_remote_code=spec.trust_remote_code)
            note = " from the de-quantized cache" if cached else " (de-quantized GGUF, cached)"
        else:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            kw: dict[str, Any] = {"revision": spec.revision,
                                  "trust_remote_code": spec.trust_remote_code}
            if source.local_files_only:
                kw["local_files_only"] = True  # no hub: the cache, without minutes of retries
            tok = AutoTokenizer.from_pretrained(source.location, **kw)
            model = AutoModelForCausalLM.from_pretrained(
                source.location, dtype=dtype, device_map=spec.device_map, **kw)
            note = ""
    except (OSError, ValueError, ImportError) as exc:
        raise BackendUnavailable(
            f"model {spec.name!r}: cannot load {source.describe()!r}: "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}; set model: to a "
            f"local folder (e.g. one saved with `huggingface-cli download {spec.model} "
            f"--local-dir ...`) or to package:<distribution>/<file>; set trust_remote_code: true "
            f"only for models you trust that need it") from None
    if spec.device_map is None:
        model = model.to(device)
    model.eval()
    _LAST[key] = (tok, model)
    return tok, model, note


def _params_key(req: ChatRequest) -> tuple:
    return (req.max_new_tokens, req.temperature, req.top_p, req.top_k, tuple(req.stop),
            req.seed, req.repetition_penalty, req.do_sample, tuple(req.score_tokens))
