"""The one wrapper around every model call: concurrency, rate limits, retries, timeouts, budget.

API (used by the answers stage and the LLM judges)::

    from arena.llm.runner import CallRunner, RunnerSettings
    from arena.llm.factory import make_provider

    provider = make_provider(spec)                       # arena.config.OpenAIModel / ...
    runner = CallRunner(provider, RunnerSettings.from_config(cfg.generation, spec),
                        budget=Budget(max_calls=..., max_cost=...), price=...)
    results = runner.run(requests, on_result=store_one)  # sync; list[ChatResult] in input order

``on_result(index, request, result)`` (sync or async) is called as each call finishes, so
callers store results as they arrive: a crash loses nothing already returned. An exception
raised by ``on_result`` stops the run and propagates (stored work is kept).

Inside a running event loop use ``await runner.arun(requests, on_result)``; for multi-step work
(e.g. multi-turn dialogues) use ``await runner.call(request)`` inside ``runner.amap(items, fn,
on_done)``, which runs ``fn(item)`` for many items with bounded concurrency.

What the runner owns:

- bounded concurrency (``concurrency`` calls in flight; ``proc_num`` of the original configs);
- RPM / TPM limits (token buckets; TPM counts estimated prompt + ``max_new_tokens``);
- retries decided by :class:`arena.llm.types.CallError` ``.retryable`` (set by providers from
  exception type / HTTP status: 429, 5xx, timeouts, connection errors, malformed replies) and
  by ``TimeoutError``; exponential backoff with jitter, never shorter than a server's
  Retry-After;
- a per-request timeout (``timeout_s``) for providers with ``enforce_timeout``;
- the budget (:class:`arena.llm.limits.Budget`): a call that would pass ``max_calls`` or
  ``max_cost`` is not sent; its result is ``skipped=True`` with the reason in ``error`` and
  ``runner.stopped`` says why. Skipped results are not failures and must not be stored as such.

A call that still fails is returned as ``ChatResult(text=None, error=..., attempts=n)``: never
an empty answer. Unexpected exceptions from a provider (bugs) are not retried; they become
failed results naming the exception type.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Optional, Sequence, TypeVar, Union

from arena.llm.limits import Budget, PriceTable, RateLimiter
from arena.llm.progress import Progress
from arena.llm.types import CallError, ChatRequest, ChatResult, Provider

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
LOCAL_IN_FLIGHT = 4096  # requests handed to a local (batching) backend at once
OnResult = Callable[[int, ChatRequest, ChatResult], Union[None, Awaitable[None]]]


@dataclass
class RunnerSettings:
    """How calls are made. ``from_config`` reads ``arena.config.GenerationSettings`` and a
    model entry's own ``max_concurrency`` / ``rpm`` / ``tpm``."""

    concurrency: int = 16
    max_retries: int = 5
    timeout_s: float = 120.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    rpm: Optional[float] = None
    tpm: Optional[float] = None

    @classmethod
    def from_config(cls, settings: Any, spec: Any = None,
                    provider: Optional[Provider] = None) -> "RunnerSettings":
        conc = getattr(spec, "max_concurrency", None)
        if conc is None and provider is not None and provider.preferred_concurrency:
            conc = provider.preferred_concurrency
        if conc is None and getattr(spec, "backend", None) == "transformers":
            conc = LOCAL_IN_FLIGHT  # the local batcher wants to see (and sort) everything
        return cls(concurrency=int(conc or settings.concurrency),
                   max_retries=settings.max_retries, timeout_s=settings.timeout_s,
                   backoff_base_s=settings.backoff_base_s, backoff_max_s=settings.backoff_max_s,
                   rpm=getattr(spec, "rpm", None), tpm=getattr(spec, "tpm", None))


class CallRunner:
    """Runs calls to one provider under the settings; see the module docstring."""

    def __init__(self, provider: Provider, settings: Optional[RunnerSettings] = None, *,
                 budget: Optional[Budget] = None, price: Optional[PriceTable] = None,
                 progress: bool = False, desc: str = "", seed: Optional[int] = None) -> None:
        self.provider = provider
        self.settings = settings or RunnerSettings()
        if self.settings.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.budget = budget or Budget()
        self.price = price
        self.progress = progress
        self.desc = desc or provider.name
        self._rng = random.Random(seed)
        self._sem: Optional[asyncio.Semaphore] = None
        self._rpm: Optional[RateLimiter] = None
        self._tpm: Optional[RateLimiter] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self.stats = {"calls": 0, "attempts": 0, "retries": 0, "failed": 0, "skipped": 0}

    @property
    def stopped(self) -> Optional[str]:
        """Why the budget stopped the run (None while it has not)."""
        return self.budget.stopped

    # -- one call ------------------------------------------------------------------------------
    def backoff(self, attempt: int, retry_after: Optional[float]) -> float:
        """Seconds to wait before retry ``attempt`` (1-based): exponential, jittered to
        50-100 % of the step, capped at ``backoff_max_s``, and never less than Retry-After."""
        s = self.settings
        delay = min(s.backoff_max_s, s.backoff_base_s * (2 ** (attempt - 1)))
        delay *= 0.5 + 0.5 * self._rng.random()
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay

    async def call(self, req: ChatRequest) -> ChatResult:
        """One request with retries; returns a result, never raises for a failed call."""
        self._bind_loop()
        reason = self.budget.reserve(req, self.price)
        if reason is not None:
            self.stats["skipped"] += 1
            return ChatResult(text=None, error=f"not sent: {reason}", skipped=True, attempts=0)
        self.stats["calls"] += 1
        res = await self._call_with_retries(req)
        self.budget.settle(req, res, self.price)
        if not res.ok:
            self.stats["failed"] += 1
        return res

    def _bind_loop(self) -> None:
        # asyncio primitives belong to one loop; a later ``run`` gets a fresh loop.
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._sem = asyncio.Semaphore(self.settings.concurrency)
            self._rpm = RateLimiter(self.settings.rpm) if self.settings.rpm else None
            self._tpm = RateLimiter(self.settings.tpm) if self.settings.tpm else None

    async def _call_with_retries(self, req: ChatRequest) -> ChatResult:
        s = self.settings
        attempt = 0
        while True:
            attempt += 1
            self.stats["attempts"] += 1
            retry_after: Optional[float] = None
            assert self._sem is not None
            async with self._sem:
                if self._rpm:
                    await self._rpm.acquire(1)
                if self._tpm:
                    await self._tpm.acquire(req.estimated_prompt_tokens() + req.max_new_tokens)
                t0 = time.perf_counter()
                try:
                    if self.provider.enforce_timeout:
                        async with asyncio.timeout(s.timeout_s):
                            res = await self.provider.generate(req, s.timeout_s)
                    else:
                        res = await self.provider.generate(req, s.timeout_s)
                    if res.latency_s is None:
                        res.latency_s = time.perf_counter() - t0
                    res.attempts = attempt
                    return res
                except (asyncio.TimeoutError, TimeoutError):
                    err, retryable = f"timed out after {s.timeout_s:g} s", True
                except CallError as exc:
                    err, retryable, retry_after = str(exc), exc.retryable, exc.retry_after
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a provider bug: report it, do not retry it
                    log.debug("provider %s raised", self.provider.name, exc_info=True)
                    err, retryable = f"{type(exc).__name__}: {exc}", False
            if not retryable or attempt > s.max_retries:
                tries = f" after {attempt} attempts" if attempt > 1 else ""
                return ChatResult(text=None, error=f"{err}{tries}", attempts=attempt,
                                  latency_s=time.perf_counter() - t0)
            self.stats["retries"] += 1
            delay = self.backoff(attempt, retry_after)
            log.debug("%s %s: %s; retry %d in %.2f s", self.provider.name, req.key, err,
                      attempt, delay)
            await asyncio.sleep(delay)

    # -- many items ----------------------------------------------------------------------------
    async def amap(self, items: Sequence[T], fn: Callable[[T], Awaitable[R]],
                   on_done: Optional[Callable[[int, T, R], Union[None, Awaitable[None]]]] = None,
                   *, workers: Optional[int] = None) -> list[R]:
        """Run ``fn(item)`` for every item with ``workers`` (default: concurrency) at a time;
        ``on_done(index, item, result)`` as each finishes. Results in input order. An
        exception from ``fn`` or ``on_done`` cancels the rest and propagates."""
        out: list[Any] = [None] * len(items)
        if not items:
            return out
        it = iter(enumerate(items))
        n = max(1, min(workers or self.settings.concurrency, len(items)))

        failed = False

        async def worker() -> None:
            nonlocal failed
            for i, item in it:  # one shared iterator: each item is taken by exactly one worker
                if failed:
                    return
                try:
                    r = await fn(item)
                    out[i] = r
                    if on_done is not None and not failed:
                        maybe = on_done(i, item, r)
                        if inspect.isawaitable(maybe):
                            await maybe
                except BaseException:
                    # Stop the other workers even where a library swallows their cancellation.
                    failed = True
                    raise

        try:
            async with asyncio.TaskGroup() as tg:
                for _ in range(n):
                    tg.create_task(worker())
        except BaseExceptionGroup as eg:
            # The caller gets the error itself (e.g. the store's), not a group of one.
            raise eg.exceptions[0] from None
        return out

    async def amap_source(self, source: Any, fn: Callable[[T], Awaitable[R]],
                          on_done: Optional[Callable[[T, R], Union[None, Awaitable[None]]]] = None,
                          *, workers: Optional[int] = None) -> int:
        """Like ``amap`` over items handed out by ``source.take()`` (an awaitable returning
        the next item or None: ``arena.claims.ClaimedSource`` claims them for this worker as
        they are needed). Returns how many items were processed. Nothing is kept in memory."""
        n = max(1, workers or self.settings.concurrency)
        failed = False
        count = 0

        async def worker() -> None:
            nonlocal failed, count
            while not failed:
                item = await source.take()
                if item is None:
                    return
                try:
                    r = await fn(item)
                    count += 1
                    if on_done is not None and not failed:
                        maybe = on_done(item, r)
                        if inspect.isawaitable(maybe):
                            await maybe
                except BaseException:
                    failed = True
                    raise

        try:
            async with asyncio.TaskGroup() as tg:
                for _ in range(n):
                    tg.create_task(worker())
        except BaseExceptionGroup as eg:
            raise eg.exceptions[0] from None
        return count

    async def arun(self, requests: Sequence[ChatRequest],
                   on_result: Optional[OnResult] = None) -> list[ChatResult]:
        """All requests, bounded; ``on_result`` as each finishes; results in input order."""
        bar = Progress(len(requests), self.desc, enabled=self.progress)

        async def done(i: int, req: ChatRequest, res: ChatResult) -> None:
            bar.tick(failed=not res.ok and not res.skipped)
            if on_result is not None:
                maybe = on_result(i, req, res)
                if inspect.isawaitable(maybe):
                    await maybe

        try:
            return await self.amap(list(requests), self.call, done)
        finally:
            bar.close()

    def run(self, requests: Sequence[ChatRequest],
            on_result: Optional[OnResult] = None) -> list[ChatResult]:
        """Synchronous :meth:`arun`; closes the provider's connections at the end."""

        async def main() -> list[ChatResult]:
            try:
                return await self.arun(requests, on_result)
            finally:
                await self.provider.aclose()

        return run_sync(main())


def run_sync(coro: Awaitable[T]) -> T:
    """Run a coroutine to completion from sync code, also when a loop already runs in this
    thread (notebooks, Streamlit): then it runs in a helper thread with its own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)  # type: ignore[arg-type]
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    t = threading.Thread(target=target, name="arena-runner")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def make_requests(prompts: Iterable[str], **params: Any) -> list[ChatRequest]:
    """Convenience for scripts: one single-turn request per user prompt."""
    return [ChatRequest(messages=[{"role": "user", "content": p}], key=str(i), **params)
            for i, p in enumerate(prompts)]
