"""Any OpenAI-compatible chat-completions endpoint, through the official ``openai`` client.

One ``generate`` call per request; no retries here (the client's own retries are off: the
runner owns them). Failures become :class:`arena.llm.types.CallError` classified by exception
type and HTTP status:

- retryable: 408, 409, 429 (with the server's Retry-After / retry-after-ms), 5xx, timeouts,
  connection errors (including a dropped connection), malformed replies (not JSON, no choices);
- not retryable: every other status (400 for a parameter the endpoint rejects, 401, 404 ...):
  the endpoint's message is reported as is, so a rejected parameter is visible, not dropped.

Request mapping (``build_body``): ``max_new_tokens`` goes out as ``max_tokens``, or as
``max_completion_tokens`` for models that want it (o-series, gpt-5; ``max_tokens_param``
overrides); a request with ``score_tokens`` (weighted verdicts) adds ``logprobs`` and
``top_logprobs`` and its result carries ``token_probs``; ``top_k`` and ``repetition_penalty`` are not OpenAI parameters and go in the body
only when set (vLLM and SGLang accept them); ``extra_body`` from the model entry is merged last.
Reasoning text (``reasoning_content`` / ``reasoning`` fields, or a ``<think>`` block in the
content) is kept apart from the answer.

The async client is created lazily inside the running event loop (an httpx client belongs to
one loop) and closed by ``aclose``.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import time
from typing import Any, Optional

from arena.llm.text import split_thinking
from arena.llm.types import CallError, ChatRequest, ChatResult

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 409, 429}
TOP_LOGPROBS = 20  # the most OpenAI's API returns per token


def wants_max_completion_tokens(model: str) -> bool:
    """OpenAI's reasoning models reject ``max_tokens`` and want ``max_completion_tokens``."""
    m = model.lower().split("/")[-1]
    return m.startswith(("o1", "o3", "o4", "gpt-5"))


def build_body(req: ChatRequest, model: str, *, max_tokens_param: str = "auto",
               extra_body: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The JSON body for ``POST /chat/completions`` (without extra headers)."""
    if max_tokens_param == "auto":
        max_tokens_param = ("max_completion_tokens" if wants_max_completion_tokens(model)
                            else "max_tokens")
    body: dict[str, Any] = {"model": model, "messages": req.messages,
                            max_tokens_param: req.max_new_tokens,
                            "temperature": req.temperature, "top_p": req.top_p}
    if req.stop:
        body["stop"] = list(req.stop)
    if req.seed is not None:
        body["seed"] = req.seed
    if req.top_k is not None:
        body["top_k"] = req.top_k
    if req.repetition_penalty is not None:
        body["repetition_penalty"] = req.repetition_penalty
    if req.score_tokens:
        # Weighted verdicts: the probabilities of the first output token's alternatives.
        body["logprobs"] = True
        body["top_logprobs"] = TOP_LOGPROBS
    body.update(extra_body or {})
    body.update(req.extra)
    return body


def parse_retry_after(headers: Any) -> Optional[float]:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(ra)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def first_token_probs(choice: dict[str, Any], candidates: list[str]
                      ) -> Optional[dict[str, float]]:
    """Each candidate's probability as the first output token, from the choice's ``logprobs``
    (the sampled token and its ``top_logprobs``; a token counts for a candidate when its text
    without surrounding spaces is the candidate, so "A" and " A" add up). None when the reply
    carries no logprobs (an endpoint that does not support them)."""
    lp = choice.get("logprobs")
    content = lp.get("content") if isinstance(lp, dict) else None
    if not content or not isinstance(content[0], dict):
        return None
    first = content[0]
    seen: dict[str, float] = {}
    for alt in [first, *(first.get("top_logprobs") or [])]:
        tok, value = alt.get("token"), alt.get("logprob")
        if isinstance(tok, str) and isinstance(value, (int, float)) and tok not in seen:
            seen[tok] = float(value)
    probs = {c: 0.0 for c in candidates}
    for tok, value in seen.items():
        key = tok.strip()
        if key in probs:
            probs[key] += math.exp(value)
    return probs


def parse_completion(data: dict[str, Any], score_tokens: Optional[list[str]] = None
                     ) -> ChatResult:
    """A chat-completion JSON body -> ChatResult. Raises CallError (retryable) when the body
    is not a completion (no choices, no message). With ``score_tokens`` the result's
    ``token_probs`` holds the candidates' first-token probabilities (``first_token_probs``)."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices[0], dict) or "message" not in choices[0]:
        raise CallError("malformed reply: no choices[0].message", retryable=True)
    ch = choices[0]
    msg = ch.get("message") or {}
    content = msg.get("content")
    reasoning = msg.get("reasoning_content") or msg.get("reasoning")
    if content is None:
        refusal = msg.get("refusal")
        if refusal:
            content = refusal
        else:
            raise CallError(f"reply has no content (finish_reason={ch.get('finish_reason')})",
                            retryable=False)
    answer, think = split_thinking(content)
    if think is not None:
        reasoning = (reasoning + "\n" + think) if reasoning else think
    usage = data.get("usage") or {}
    return ChatResult(text=answer, reasoning=reasoning, finish_reason=ch.get("finish_reason"),
                      prompt_tokens=usage.get("prompt_tokens"),
                      completion_tokens=usage.get("completion_tokens"),
                      token_probs=first_token_probs(ch, score_tokens) if score_tokens else None)


class OpenAIProvider:
    """Chat completions against ``base_url`` with the official async client."""

    enforce_timeout = True
    preferred_concurrency: Optional[int] = None

    def __init__(self, name: str, model: str, *, api_key: str, base_url: Optional[str] = None,
                 extra_headers: Optional[dict[str, str]] = None,
                 extra_body: Optional[dict[str, Any]] = None, max_tokens_param: str = "auto",
                 max_connections: int = 512) -> None:
        self.name = name
        self.model = model
        self.base_url = base_url
        self.extra_headers = dict(extra_headers or {})
        self.extra_body = dict(extra_body or {})
        self.max_tokens_param = max_tokens_param
        self.max_connections = max_connections
        self._api_key = api_key
        import openai  # here, not in the first call: the import alone takes ~0.5 s

        self._openai = openai
        self._client: Any = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIProvider({self.name!r}, model={self.model!r}, base_url={self.base_url!r})"

    def _get_client(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            import httpx

            openai = self._openai
            limits = httpx.Limits(max_connections=self.max_connections,
                                  max_keepalive_connections=self.max_connections)
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key, base_url=self.base_url, max_retries=0,
                default_headers=self.extra_headers or None,
                http_client=openai.DefaultAsyncHttpxClient(limits=limits))
            self._loop = loop
        return self._client

    def body(self, req: ChatRequest) -> dict[str, Any]:
        return build_body(req, self.model, max_tokens_param=self.max_tokens_param,
                          extra_body=self.extra_body)

    async def generate(self, request: ChatRequest, timeout_s: float) -> ChatResult:
        openai = self._openai
        client = self._get_client()
        body = self.body(request)
        known = {k: body.pop(k) for k in list(body) if k in _CREATE_ARGS}
        t0 = time.perf_counter()
        try:
            completion = await client.chat.completions.create(
                **known, extra_body=body or None, timeout=timeout_s)
        except openai.APIStatusError as exc:
            status = exc.status_code
            retryable = status in RETRYABLE_STATUS or status >= 500
            raise CallError(f"HTTP {status}: {_message(exc)}", retryable=retryable,
                            status=status,
                            retry_after=parse_retry_after(exc.response.headers)) from None
        except openai.APITimeoutError:
            raise CallError(f"timed out after {timeout_s:g} s", retryable=True) from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise CallError(f"connection error: {type(cause).__name__}: {cause}",
                            retryable=True) from None
        except openai.APIResponseValidationError as exc:
            raise CallError(f"malformed reply: {exc}", retryable=True) from None
        except ValueError as exc:  # a body that is not JSON (json.JSONDecodeError)
            raise CallError(f"malformed reply: {type(exc).__name__}: {exc}",
                            retryable=True) from None
        latency = time.perf_counter() - t0
        data = completion.model_dump() if hasattr(completion, "model_dump") else completion
        if not isinstance(data, dict):
            raise CallError(f"malformed reply: {str(data)[:200]!r}", retryable=True)
        res = parse_completion(data, request.score_tokens)
        res.latency_s = latency
        return res

    async def aclose(self) -> None:
        if self._client is not None:
            try:
                await self._client.close()
            except RuntimeError:  # its loop is gone: nothing left to close
                pass
            self._client = None
            self._loop = None


# Parameters ``chat.completions.create`` takes by name; the rest travel in ``extra_body``.
_CREATE_ARGS = {"model", "messages", "max_tokens", "max_completion_tokens", "temperature",
                "top_p", "stop", "seed", "logprobs", "top_logprobs"}


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
    return str(getattr(exc, "message", exc))
