"""OpenAI's Batch API as a provider: many calls in one input file, results within a window.

``BatchProvider`` implements the ordinary Provider protocol, so the call runner
(``arena.llm.runner``) still owns concurrency, retries, the budget and caching, and the stages
store results through their usual ``on_result`` path. What differs is what ``generate`` does:

- it does not call the endpoint. It builds the request's body (``build_body``, as the ordinary
  provider does), names it ``custom_id`` = a hash of that body (the same request always has
  the same id), puts the JSONL line into a collector and awaits a future. Identical bodies
  asked twice share one line.
- the collector sends a file when ``max_requests_per_file`` requests wait, when the next line
  would pass ``max_bytes_per_file``, or when no request arrived for ``quiet_s`` (the runner's
  bounded concurrency fills a file first: ``preferred_concurrency`` is a file's worth).
- sending = ``POST /v1/files`` (purpose ``batch``), then **recording the batch (under a
  placeholder id naming its input file) and each custom_id in the store in one transaction**
  (``arena.llm.batch_store``), then ``POST /v1/batches`` and recording the provider's batch
  id; then ``GET /v1/batches/{id}`` every ``poll_s`` until a
  terminal status; then the output and error files are read line by line (streamed: memory
  stays flat in the file size) and each future resolved:

  - a 200 response -> ``parse_completion`` (as the ordinary path: logprobs and weighted
    verdicts work the same);
  - a per-request error -> :class:`CallError` with ``retryable`` from its status as the
    ordinary provider decides (408, 409, 429, 5xx): the runner's retry puts it in a later
    batch;
  - a malformed line -> that request (its id read from the broken text when possible) fails
    visibly with a non-retryable CallError naming the batch and the line; the others are kept;
  - an output for an id the batch never held -> a warning, counted in ``stats["unknown"]``,
    ignored;
  - an expired batch (or one cancelled before this run attached to it) -> its requests without
    an output get a retryable CallError ("batch <id> expired: returned to pending") and go into
    a new batch; those that finished are kept. A batch cancelled while this run polls it
    (``arena batches cancel``) fails its unfinished requests without retry: the stage records
    them as call failures and the next run asks for them again. A batch that failed
    validation fails its requests without retry, with the provider's errors.

Resume: before a file is sent, the store is asked which of its requests already sit in a batch
of the same endpoint and model that is not yet ingested (a killed run's, or a sibling
worker's); those are attached to that batch (polled, or read at once when it has finished)
instead of being submitted again. A batch is marked ingested once all its results were handed
to the runner. Results of an attached batch that nobody has asked for yet are kept until they
are (the stage asks for every pending item), never paid for twice.

Claims: the stage's work claims (``arena.claims``) are renewed by the claim book's heartbeat
thread, which keeps running while calls await a batch, so a worker polling for hours keeps
its items. A worker that is killed loses its claims after a lease; whoever takes the items
over finds them in the open batch and attaches to it.

A run killed between recording and the provider's answer to ``POST /v1/batches`` leaves a
placeholder: the next run lists the provider's batches, finds the one created from that input
file and attaches to it, or, when none was created, closes the placeholder and submits its
requests. The API key is only given to the client; it is never logged, recorded or shown in
``repr``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from arena.llm import batch_store
from arena.llm.limits import PriceTable, worst_case_cost
from arena.llm.openai_provider import RETRYABLE_STATUS, build_body, parse_completion
from arena.llm.types import CallError, ChatRequest, ChatResult

log = logging.getLogger(__name__)

ENDPOINT = "/v1/chat/completions"
_CID = re.compile(r'"custom_id"\s*:\s*"([^"]+)"')
POLL_ERRORS = 5  # consecutive failed status polls before the waiting requests are failed
Outcome = Union[ChatResult, CallError, dict]  # dict: a 200 body parsed when it is asked for


@dataclass
class _Entry:
    futures: list[asyncio.Future]
    score_tokens: list[str]
    cost: float


@dataclass
class _Batch:
    row_id: Optional[int]
    provider_id: str
    ids: set[str]
    resumed: bool  # attached from the store, not submitted by this run
    ingested: bool = False
    stats: dict[str, int] = field(default_factory=dict)


class BatchProvider:
    """See the module docstring. ``store`` (an ``arena.store.Store``) records batches for
    resume; without one, batches live only as long as this process waits for them."""

    enforce_timeout = False  # a batch takes up to its completion window: not a call timeout

    def __init__(self, name: str, model: str, *, api_key: str, base_url: Optional[str] = None,
                 settings: Any = None, store: Any = None, price: Optional[PriceTable] = None,
                 extra_headers: Optional[dict[str, str]] = None,
                 extra_body: Optional[dict[str, Any]] = None,
                 max_tokens_param: str = "auto") -> None:
        from arena.config import BatchSettings
        from arena.identity import OPENAI_DEFAULT_URL

        self.name = name
        self.model = model
        self.base_url = base_url
        self.settings = settings or BatchSettings()
        self.preferred_concurrency: Optional[int] = self.settings.max_requests_per_file
        self.store = store
        self.price = price
        self.extra_headers = dict(extra_headers or {})
        self.extra_body = dict(extra_body or {})
        self.max_tokens_param = max_tokens_param
        self.endpoint = (base_url or OPENAI_DEFAULT_URL).rstrip("/")
        self.key = batch_store.batch_key(model, self.endpoint)
        self._api_key = api_key
        import openai  # here, not in the first call: the import alone takes ~0.5 s

        self._openai = openai
        self._client: Any = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self.stats = {"batches": 0, "lines": 0, "attached": 0, "ingested": 0, "unknown": 0,
                      "malformed": 0, "errors": 0}
        self._reset()

    def __repr__(self) -> str:  # never show the key
        return f"BatchProvider({self.name!r}, model={self.model!r}, base_url={self.base_url!r})"

    # -- state per event loop --------------------------------------------------------------
    def _reset(self) -> None:
        self._waiting: dict[str, _Entry] = {}
        self._pending: list[tuple[str, bytes]] = []
        self._pending_bytes = 0
        self._last_add = 0.0
        self._timer: Optional[asyncio.Task] = None
        self._tasks: set[asyncio.Task] = set()
        self._finishing: set[asyncio.Task] = set()  # store writes that must complete
        self._batches: dict[str, _Batch] = {}  # by provider batch id
        self._early: dict[str, Outcome] = {}  # results of attached batches not asked for yet

    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._client = None
            self._reset()
        return loop

    def _get_client(self) -> Any:
        if self._client is None:
            self._client = self._openai.AsyncOpenAI(
                api_key=self._api_key, base_url=self.base_url, max_retries=2, timeout=600.0,
                default_headers=self.extra_headers or None)
        return self._client

    def body(self, req: ChatRequest) -> dict[str, Any]:
        return build_body(req, self.model, max_tokens_param=self.max_tokens_param,
                          extra_body=self.extra_body)

    # -- the Provider protocol -------------------------------------------------------------
    async def generate(self, request: ChatRequest, timeout_s: float) -> ChatResult:
        loop = self._bind()
        body = json.dumps(self.body(request), separators=(",", ":"), ensure_ascii=False)
        cid = hashlib.sha256(body.encode("utf-8")).hexdigest()[:40]
        fut: asyncio.Future = loop.create_future()
        entry = self._waiting.get(cid)
        if entry is not None:  # the same body is already on its way
            entry.futures.append(fut)
            return await fut
        early = self._early.pop(cid, None)
        if early is not None:
            return self._outcome(early, request.score_tokens)
        line = (f'{{"custom_id":"{cid}","method":"POST","url":"{ENDPOINT}","body":{body}}}'
                .encode("utf-8"))
        if len(line) + 1 > self.settings.max_bytes_per_file:
            raise CallError(f"request of {len(line)} bytes does not fit a batch file "
                            f"(max_bytes_per_file={self.settings.max_bytes_per_file})",
                            retryable=False)
        cost = worst_case_cost(request, self.price) if self.price is not None else 0.0
        self._waiting[cid] = _Entry([fut], list(request.score_tokens), cost)
        self._add(cid, line)
        return await fut

    async def aclose(self) -> None:
        if self._finishing:
            await asyncio.gather(*self._finishing, return_exceptions=True)
        for t in [self._timer, *self._tasks]:
            if t is not None and not t.done():
                t.cancel()
        self._timer = None
        self._tasks = set()
        if self._client is not None:
            try:
                await self._client.close()
            except RuntimeError:  # its loop is gone
                pass
            self._client = None

    # -- the collector ---------------------------------------------------------------------
    def _add(self, cid: str, line: bytes) -> None:
        if self._pending and self._pending_bytes + len(line) + 1 > \
                self.settings.max_bytes_per_file:
            self._flush()
        self._pending.append((cid, line))
        self._pending_bytes += len(line) + 1
        self._last_add = time.monotonic()
        if len(self._pending) >= self.settings.max_requests_per_file:
            self._flush()
        elif self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(self._quiet())

    async def _quiet(self) -> None:
        while self._pending:
            wait = self._last_add + self.settings.quiet_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                self._flush()

    def _flush(self) -> None:
        entries, self._pending, self._pending_bytes = self._pending, [], 0
        if entries:
            self._spawn(self._submit(entries))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _submit(self, entries: list[tuple[str, bytes]]) -> None:
        cids = [c for c, _ in entries]
        try:
            entries = await self._attach_open(entries)
            if not entries:
                return
            cids = [c for c, _ in entries]
            data = b"\n".join(line for _, line in entries) + b"\n"
            del entries
            client = self._get_client()
            f = await client.files.create(file=("arena-batch.jsonl", data), purpose="batch")
            size = len(data)
            del data
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail_all(cids, self._error(exc, "submitting a batch"))
            return
        cost = sum(self._waiting[c].cost for c in cids if c in self._waiting) \
            if self.price is not None else None
        row_id = None
        if self.store is not None:
            try:  # recorded before the batch exists: a run killed at any point is found
                row_id = await asyncio.to_thread(
                    batch_store.record, self.store,
                    provider_batch_id=batch_store.placeholder_id(f.id), key=self.key,
                    model=self.model, endpoint=self.endpoint, status="submitting",
                    custom_ids=cids, input_file_id=f.id, cost=cost)
            except Exception as exc:
                self._fail_all(cids, CallError(f"could not record a batch in the store "
                                               f"(nothing submitted): {exc}", retryable=False))
                return
        try:
            b = await client.batches.create(input_file_id=f.id, endpoint=ENDPOINT,
                                            completion_window=self.settings.completion_window,
                                            metadata={"arena_input_file": f.id})
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            err = self._error(exc, "creating a batch")
            if row_id is not None:
                # a refused create made no batch: close the placeholder (its requests are
                # pending again); a lost answer may have made one, found by the next run
                if err.status is not None and err.status < 500:
                    await asyncio.to_thread(batch_store.abandon, self.store, row_id, str(err))
            self._fail_all(cids, err)
            return
        if row_id is not None:
            try:
                await asyncio.to_thread(batch_store.set_provider_id, self.store, row_id, b.id,
                                        b.status)
            except Exception as exc:  # the next run matches the placeholder by input file
                log.error("batch %s was created but its id could not be recorded: %s", b.id,
                          exc)
        self.stats["batches"] += 1
        self.stats["lines"] += len(cids)
        log.info("%s: batch %s submitted (%d requests, %d bytes)", self.name, b.id, len(cids),
                 size)
        batch = _Batch(row_id, b.id, set(cids), resumed=False)
        self._batches[b.id] = batch
        await self._collect(batch)

    async def _attach_open(self, entries: list[tuple[str, bytes]]
                           ) -> list[tuple[str, bytes]]:
        """Requests that sit in an open batch of the store are attached to it; the rest are
        returned (to be submitted)."""
        if self.store is None:
            return entries
        found, rows = await asyncio.to_thread(batch_store.open_batches_of, self.store,
                                              self.key, [c for c, _ in entries])
        if not found:
            return entries
        for rid, row in list(rows.items()):
            if batch_store.is_placeholder(row.provider_batch_id):
                real = await self._recover(row)
                if real is None:
                    del rows[rid]  # never created: its requests are submitted now
                else:
                    rows[rid] = real
        rest = []
        for cid, line in entries:
            rid = found.get(cid)
            row = rows.get(rid) if rid is not None else None
            known = self._batches.get(row.provider_batch_id) if row is not None else None
            if row is None or (known is not None and known.ingested):
                early = self._early.pop(cid, None)
                if early is not None:
                    self._resolve(cid, early)
                else:
                    rest.append((cid, line))
                continue
            self.stats["attached"] += 1
            if known is None:
                ids = set(await asyncio.to_thread(batch_store.custom_ids_of, self.store,
                                                  row.id))
                if row.provider_batch_id in self._batches:  # attached meanwhile
                    continue
                batch = _Batch(row.id, row.provider_batch_id, ids, resumed=True)
                self._batches[row.provider_batch_id] = batch
                log.info("%s: attaching to batch %s (status %s, submitted %s)", self.name,
                         row.provider_batch_id, row.status, row.submitted_at)
                self._spawn(self._collect(batch))
        return rest

    async def _recover(self, row: batch_store.BatchRow) -> Optional[batch_store.BatchRow]:
        """A batch recorded before it was created (its run stopped in between): find it at
        the provider by its input file (the newest batches are listed until one older than
        the record) and record its id; when there is none, close the record. Returns the
        row with the provider's id, or None when no batch was created."""
        client = self._get_client()
        since = row.submitted_at.timestamp() - 3600  # clocks of the two sides differ a bit
        found = None
        async for b in client.batches.list(limit=100):
            if b.input_file_id == row.input_file_id:
                found = b
                break
            if b.created_at is not None and b.created_at < since:
                break
        if found is None:
            log.info("%s: batch input %s was recorded but never created: submitting its "
                     "requests", self.name, row.input_file_id)
            await asyncio.to_thread(batch_store.abandon, self.store, row.id,
                                    "the run stopped before the batch was created")
            return None
        await asyncio.to_thread(batch_store.set_provider_id, self.store, row.id, found.id,
                                found.status)
        return dataclasses.replace(row, provider_batch_id=found.id, status=found.status)

    # -- polling and ingesting -------------------------------------------------------------
    async def _collect(self, batch: _Batch) -> None:
        client = self._get_client()
        errors = 0
        last: tuple[Any, ...] = ()
        while True:
            try:
                b = await client.batches.retrieve(batch.provider_id)
                errors = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                errors += 1
                if errors >= POLL_ERRORS:
                    self._fail_all(batch.ids, self._error(exc, f"polling batch "
                                                          f"{batch.provider_id}"))
                    return  # not ingested: the next attempt attaches to it again
                await asyncio.sleep(self.settings.poll_s)
                continue
            counts = b.request_counts
            done = (counts.completed, counts.failed) if counts is not None else (0, 0)
            state = (b.status, *done, b.output_file_id, b.error_file_id)
            if state != last and batch.row_id is not None and self.store is not None:
                await asyncio.to_thread(batch_store.update_status, self.store, batch.row_id,
                                        status=b.status, completed=done[0], failed=done[1],
                                        output_file_id=b.output_file_id,
                                        error_file_id=b.error_file_id,
                                        reason=_errors_text(b))
            last = state
            if b.status in batch_store.TERMINAL:
                break
            await asyncio.sleep(self.settings.poll_s)
        try:
            seen: set[str] = set()
            for which, file_id in (("output", b.output_file_id), ("error", b.error_file_id)):
                if file_id:
                    await self._ingest_file(batch, which, file_id, seen)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail_all(batch.ids, self._error(exc, f"reading the results of batch "
                                                  f"{batch.provider_id}"))
            return
        msg, kw = _missing(b, batch)
        missing = CallError(msg, **kw)
        for cid in batch.ids - seen:  # nobody asked for the others: they are simply pending
            if cid in self._waiting:
                self._resolve(cid, missing)
        batch.ingested = True  # set with no await after the last resolve (see _attach_open)
        batch.ids = set()  # memory stays flat over many batches
        self.stats["ingested"] += 1
        if batch.row_id is not None and self.store is not None:
            # awaited by aclose (not cancelled): the run may end as soon as the futures are
            # resolved, and the mark must still be written
            fin = asyncio.get_running_loop().create_task(asyncio.to_thread(
                batch_store.mark_ingested, self.store, batch.row_id))
            self._finishing.add(fin)
            fin.add_done_callback(self._finishing.discard)

    async def _ingest_file(self, batch: _Batch, which: str, file_id: str,
                           seen: set[str]) -> None:
        client = self._get_client()
        bid = batch.provider_id
        async with client.files.with_streaming_response.content(file_id) as resp:
            n = 0
            async for text in resp.iter_lines():
                n += 1
                if not text.strip():
                    continue
                try:
                    obj = json.loads(text)
                    cid = obj["custom_id"]
                except (ValueError, KeyError, TypeError):
                    m = _CID.search(text)
                    cid = m.group(1) if m else None
                    self.stats["malformed"] += 1
                    log.warning("batch %s %s file line %d is malformed%s", bid, which, n,
                                f" (request {cid})" if cid else " (no request id in it)")
                    if cid in batch.ids:
                        seen.add(cid)
                        self._resolve(cid, CallError(
                            f"batch {bid} {which} file line {n}: malformed JSON",
                            retryable=False))
                    continue
                if cid not in batch.ids:
                    self.stats["unknown"] += 1
                    log.warning("batch %s %s file line %d: unknown request id %r (ignored)",
                                bid, which, n, cid)
                    continue
                seen.add(cid)
                resp_obj = obj.get("response") or {}
                if resp_obj.get("status_code") == 200 and not obj.get("error"):
                    self._resolve(cid, resp_obj.get("body") or {}, resumed=batch.resumed)
                else:
                    self.stats["errors"] += 1
                    self._resolve(cid, _line_error(bid, resp_obj, obj.get("error")),
                                  resumed=batch.resumed)

    # -- futures ---------------------------------------------------------------------------
    def _resolve(self, cid: str, outcome: Outcome, *, resumed: bool = False) -> None:
        entry = self._waiting.pop(cid, None)
        if entry is None:
            if resumed:  # an attached batch's result the stage has not asked for yet
                self._early[cid] = outcome
            return
        for i, fut in enumerate(entry.futures):
            if fut.done():  # its caller was cancelled
                continue
            try:
                res = self._outcome(outcome, entry.score_tokens)
            except CallError as exc:
                fut.set_exception(exc)
                continue
            fut.set_result(res if i == 0 else dataclasses.replace(res))

    @staticmethod
    def _outcome(outcome: Outcome, score_tokens: list[str]) -> ChatResult:
        if isinstance(outcome, CallError):
            raise outcome
        if isinstance(outcome, ChatResult):
            return dataclasses.replace(outcome)
        return parse_completion(outcome, score_tokens or None)

    def _fail_all(self, cids: Any, exc: CallError) -> None:
        for cid in list(cids):
            if cid in self._waiting:
                self._resolve(cid, exc)

    def _error(self, exc: BaseException, doing: str) -> CallError:
        """An exception of the batch endpoints as a CallError classified like the ordinary
        provider's (status: 408/409/429/5xx retryable; connection errors retryable)."""
        openai = self._openai
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            return CallError(f"{doing}: HTTP {status}: {exc.message}",
                             retryable=status in RETRYABLE_STATUS or status >= 500,
                             status=status)
        if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError)):
            return CallError(f"{doing}: connection error: {exc}", retryable=True)
        return CallError(f"{doing}: {type(exc).__name__}: {exc}", retryable=False)


def _line_error(bid: str, resp: dict[str, Any], error: Any) -> CallError:
    """A per-request error line (non-200 response, or an ``error`` object) as a CallError."""
    status = resp.get("status_code") if isinstance(resp, dict) else None
    if isinstance(status, int) and status != 200:
        body = resp.get("body") or {}
        err = body.get("error") if isinstance(body, dict) else None
        msg = err.get("message") if isinstance(err, dict) else str(err or body)[:200]
        return CallError(f"batch {bid}: HTTP {status}: {msg}",
                         retryable=status in RETRYABLE_STATUS or status >= 500, status=status)
    code = error.get("code") if isinstance(error, dict) else None
    msg = error.get("message") if isinstance(error, dict) else str(error)
    return CallError(f"batch {bid}: {code or 'error'}: {msg}",
                     retryable=code in ("batch_expired", "batch_cancelled"))


def _missing(b: Any, batch: _Batch) -> tuple[str, dict[str, Any]]:
    """The error of a request the finished batch has no line for."""
    status = b.status
    if status == "expired":
        return f"batch {batch.provider_id} expired: returned to pending", {"retryable": True}
    if status == "cancelled":
        # cancelled before this run attached: resubmit now; cancelled while this run polled
        # it: the next run asks again (the cancel was meant to stop spending now)
        return (f"batch {batch.provider_id} cancelled: returned to pending",
                {"retryable": batch.resumed})
    if status == "failed":
        return f"batch {batch.provider_id} failed: {_errors_text(b) or 'no reason given'}", \
            {"retryable": False}
    return (f"batch {batch.provider_id} {status} without a result for this request",
            {"retryable": True})


def _errors_text(b: Any) -> Optional[str]:
    errs = getattr(b, "errors", None)
    data = getattr(errs, "data", None) or []
    text = "; ".join(f"{getattr(e, 'code', '')}: {getattr(e, 'message', '')}" for e in data)
    return text or None


__all__ = ["BatchProvider", "ENDPOINT"]
