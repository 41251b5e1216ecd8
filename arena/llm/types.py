"""The contract between callers (answers stage, LLM judges) and model backends.

A provider implements one call: ``ChatRequest -> ChatResult`` (async). One wrapper
(``arena.llm.runner``) owns concurrency, rate limits, retries, timeouts, caching hooks and the
budget; providers never retry on their own.

Errors are values: a call that still fails after retries yields ``ChatResult(error=...)`` with
``text=None`` - never an empty string standing in for an answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Protocol, runtime_checkable


@dataclass
class ChatRequest:
    """One chat completion: the full message list (system/user/assistant turns) and params.

    ``key`` is the caller's identifier for the request (e.g. question id + model) used in
    progress, error lists and results; it is not sent to the endpoint.
    """

    messages: list[dict[str, str]]
    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: Optional[int] = None
    stop: list[str] = field(default_factory=list)
    seed: Optional[int] = None
    extra: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    repetition_penalty: Optional[float] = None
    do_sample: Optional[bool] = None  # local models: default temperature > 0
    # Index into ``messages`` of the message whose content may be cut in the middle when the
    # input does not fit a local model's window (the one holding a long document).
    truncatable: Optional[int] = None
    # Weighted verdicts: when set, the caller wants the probability that the reply *starts*
    # with each of these strings (e.g. "A", "B", "C"), not a sampled text. Local models read
    # the next-token distribution; endpoints are asked for ``logprobs`` of one output token.
    score_tokens: list[str] = field(default_factory=list)
    # The start of the assistant's reply, written for the model (e.g. "Answer:" so the next
    # token is the verdict). Local models continue from it; chat endpoints cannot be given it
    # and ignore it (their prompt must ask for the verdict token first).
    prefill: str = ""

    def estimated_prompt_tokens(self) -> int:
        """A cheap estimate (4 characters per token) used for budgets and TPM limits."""
        return max(1, sum(len(str(m.get("content", ""))) for m in self.messages) // 4)


@dataclass
class ChatResult:
    text: Optional[str]  # None when the call failed
    reasoning: Optional[str] = None  # thinking text, kept apart from the answer
    finish_reason: Optional[str] = None
    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None
    latency_s: Optional[float] = None
    truncated: bool = False  # the input was cut to fit the model's window
    error: Optional[str] = None  # set when the call failed after retries
    attempts: int = 1
    raw: Optional[dict[str, Any]] = None
    skipped: bool = False  # never sent: a budget cap stopped the run first (not a failure)
    # For requests with ``score_tokens``: the probability of each of them (over the whole
    # vocabulary, so they sum to at most 1; an endpoint's top_logprobs may leave some at 0).
    # None when the backend returned no probabilities (an endpoint without logprobs).
    token_probs: Optional[dict[str, float]] = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None


class CallError(Exception):
    """A failed call, classified by the provider from the exception type or HTTP status.

    ``retryable`` is decided from the type/status (429, 5xx, timeouts, connection errors,
    malformed replies), never by matching error text. ``retry_after`` is the server's
    Retry-After in seconds when it sent one.
    """

    def __init__(self, message: str, *, retryable: bool, status: Optional[int] = None,
                 retry_after: Optional[float] = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


@runtime_checkable
class Provider(Protocol):
    """One backend call. Implementations raise :class:`CallError` (or let ``TimeoutError`` /
    ``asyncio.TimeoutError`` escape) and never retry themselves.

    ``name`` identifies the model in logs; ``enforce_timeout`` says whether the runner should
    cancel a call after ``timeout_s`` (local batched backends say no: a batch is not a call).
    ``preferred_concurrency`` (or None) is how many calls the backend wants in flight at once.
    """

    name: str
    enforce_timeout: bool
    preferred_concurrency: Optional[int]

    async def generate(self, request: ChatRequest, timeout_s: float) -> ChatResult: ...

    async def aclose(self) -> None: ...
