"""Rate limits and budget caps used by the call runner.

- :class:`RateLimiter`: an async token bucket for requests per minute (RPM) or tokens per
  minute (TPM). Bursts are capped at one second's worth (at least one request's amount), so a
  run starts at the configured pace instead of firing a whole minute's quota at once.
- :class:`Budget`: ``max_calls`` / ``max_cost`` caps shared by every model of a run. Before a
  call is sent its worst case (estimated prompt + ``max_new_tokens`` output, priced) is
  reserved; when it returns, the reservation is replaced by the cost its usage reports. A call
  whose worst case would pass a cap is not sent and the budget says why; the run then stops
  cleanly (calls in flight finish and are stored). Retries of one call are not extra calls.
- :func:`estimate`: the before-the-run figure (calls, tokens, worst-case cost).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Iterable, Optional

from arena.llm.types import ChatRequest, ChatResult


class RateLimiter:
    """Token bucket refilled at ``per_minute / 60`` units per second.

    ``acquire(n)`` waits until ``n`` units are available. An amount larger than the bucket is
    let through once the bucket is full (so one huge request cannot block forever).
    """

    def __init__(self, per_minute: float, *, burst_s: float = 1.0) -> None:
        if per_minute <= 0:
            raise ValueError("a rate limit must be positive")
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self, amount: float = 1.0) -> None:
        async with self._lock:  # FIFO: waiters are served in arrival order
            need = min(amount, self.capacity)
            self._refill()
            while self._tokens < need:
                await asyncio.sleep((need - self._tokens) / self.rate)
                self._refill()
            self._tokens -= amount  # may go negative for an oversized request: pays it back


@dataclass
class PriceTable:
    """USD per million tokens (``arena.config.Price`` converts to this). ``batch``: these
    are Batch API prices (``arena.llm.factory.price_of`` of a ``batch: true`` model)."""

    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    batch: bool = False

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_mtok
                + completion_tokens * self.output_per_mtok) / 1e6


def worst_case_cost(req: ChatRequest, price: Optional[PriceTable]) -> float:
    if price is None:
        return 0.0
    return price.cost(req.estimated_prompt_tokens(), req.max_new_tokens)


def result_cost(req: ChatRequest, res: ChatResult, price: Optional[PriceTable]) -> float:
    """Cost of a finished call from its usage; a call without usage is priced at worst case."""
    if price is None:
        return 0.0
    if res.prompt_tokens is None and res.completion_tokens is None:
        return worst_case_cost(req, price) if res.ok else 0.0
    return price.cost(res.prompt_tokens or 0, res.completion_tokens or 0)


class Budget:
    """Caps shared by all calls of a run. Thread-safe; never raises, returns reasons.

    ``reserve`` returns None when the call may go (and books its worst case) or the reason it
    may not. ``settle`` books the real cost. ``stopped`` is the first refusal's reason.
    """

    def __init__(self, max_calls: Optional[int] = None, max_cost: Optional[float] = None) -> None:
        self.max_calls = max_calls
        self.max_cost = max_cost
        self.calls = 0
        self.spent = 0.0
        self.reserved = 0.0
        self.stopped: Optional[str] = None
        self._lock = threading.Lock()

    def reserve(self, req: ChatRequest, price: Optional[PriceTable]) -> Optional[str]:
        with self._lock:
            if self.stopped:
                return self.stopped
            if self.max_calls is not None and self.calls >= self.max_calls:
                self.stopped = f"max_calls={self.max_calls} reached"
                return self.stopped
            worst = worst_case_cost(req, price)
            if self.max_cost is not None and self.spent + self.reserved + worst > self.max_cost:
                self.stopped = (f"max_cost={self.max_cost:g} USD would be passed (spent "
                                f"{self.spent:.4f}, in flight up to {self.reserved:.4f}, next "
                                f"call up to {worst:.4f})")
                return self.stopped
            self.calls += 1
            self.reserved += worst
            return None

    def settle(self, req: ChatRequest, res: ChatResult, price: Optional[PriceTable]) -> float:
        cost = result_cost(req, res, price)
        with self._lock:
            self.reserved = max(0.0, self.reserved - worst_case_cost(req, price))
            self.spent += cost
        return cost

    def close(self) -> None:
        """Nothing to give back: a process-local budget (``SharedBudget`` overrides this)."""


@dataclass
class Estimate:
    calls: int
    prompt_tokens: int
    max_output_tokens: int
    max_cost: Optional[float]  # None: no price configured
    batch: bool = False  # priced at Batch API prices

    def __str__(self) -> str:
        s = (f"{self.calls} calls, ~{self.prompt_tokens} prompt tokens, up to "
             f"{self.max_output_tokens} output tokens")
        if self.max_cost is not None:
            s += f", up to {self.max_cost:.4f} USD"
            if self.batch:
                s += " (batch prices)"
        return s


def estimate(requests: Iterable[ChatRequest], price: Optional[PriceTable]) -> Estimate:
    """Calls, prompt tokens (4 characters a token) and worst-case cost of ``requests``."""
    calls = prompt = out = 0
    cost = 0.0
    for r in requests:
        calls += 1
        prompt += r.estimated_prompt_tokens()
        out += r.max_new_tokens
        cost += worst_case_cost(r, price)
    return Estimate(calls, prompt, out, cost if price is not None else None,
                    batch=bool(price is not None and price.batch))
