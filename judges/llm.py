"""The LLM judge: prompt from a template, one call through the shared runner, strict parsing.

For each work item (``arena.reviews.JudgeItem``) the judge builds the prompt (template chosen
by category / reference / turns; answers in the order shown), calls the judge model through
``arena.llm.runner.CallRunner`` (concurrency, rate limits, retries, budget) and parses the
reply on the configured scale. When the reply has no parsable verdict it sends *one* follow-up
turn (the template's ``followup`` text) asking the judge to finish with a verdict; when that
fails too, the row is stored as ``parse_status='failed'`` with the raw output of both replies
and the parser's reason. A call that fails after the runner's retries is a failed row with the
error. A call the budget refused is not a row at all: nothing was judged, the next run does it.

With weighted verdicts (``judge.weighted``, the default for local judges; ``judges.weighted``)
the prompt asks for the verdict token alone and the judge reads its probabilities instead of
parsing text: one call, no follow-up, and the row holds a fractional ``preference`` (pairwise)
or an expected score (single) with the probabilities in ``meta``.

The judge's identity is its ``fingerprint`` (``judge_fingerprint``): the model entry (backend,
model, revision, endpoint, system prompt, generation parameters), the template set, scale,
score range, criteria and reference categories. It is stored on every row and is part of every
judgment key, so a changed judge setting is a new judge, judged anew, never merged with the
old one's verdicts.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional, Union

from arena.config import JudgeConfig, OpenAIModel, TransformersModel
from arena.identity import fingerprint, model_judge_parts
from arena.llm.limits import Budget, PriceTable
from arena.llm.runner import CallRunner, RunnerSettings, run_sync
from arena.llm.types import ChatRequest, ChatResult, Provider
from arena.types import Mode, ParseStatus
from judges import parsing
from judges import weighted as weighting
from judges.context import StoreContext
from judges.prompts import PromptItem
from judges.prompts import PromptSettings, build, choose, template_key
from judges.templates import Template

log = logging.getLogger(__name__)

JudgeSpec = Union[OpenAIModel, TransformersModel]
FOLLOWUP_MARK = "\n\n--- follow-up reply ---\n"


def prompt_settings(jc: JudgeConfig, weighted: bool = False) -> PromptSettings:
    return PromptSettings(scale=jc.scale, score_max=jc.score_max,
                          criteria=tuple(jc.criteria),
                          reference_categories=tuple(jc.reference_categories),
                          templates_dir=jc.templates_dir, weighted=weighted)


def judge_fingerprint(spec: JudgeSpec, jc: JudgeConfig, *, weighted: bool = False) -> str:
    """The fingerprint of an LLM judge (see the module docstring). Raises ValueError for a
    model entry whose backend cannot judge, or templates that cannot be read."""
    from judges.templates import set_version

    return fingerprint({"kind": "llm", **model_judge_parts(spec), "scale": jc.scale,
                        "score_max": jc.score_max, "criteria": list(jc.criteria),
                        "reference_categories": sorted(jc.reference_categories),
                        "templates": set_version(jc.templates_dir), "weighted": weighted})


@dataclass
class CallStats:
    """What this judge spent in this process (the judge report adds stored-row statistics)."""

    items: int = 0
    calls: int = 0  # calls sent (a follow-up is a call; retries are not)
    followups: int = 0
    call_failures: int = 0  # calls that failed after the runner's retries
    parse_failures: int = 0  # items stored as failed because no verdict could be parsed
    low_mass: int = 0  # weighted verdicts whose tokens held under half the probability mass
    skipped: int = 0  # items the budget did not let through
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    priced: bool = False
    stopped: Optional[str] = None
    started: Optional[float] = None  # perf_counter() at the first call of this judge
    finished: Optional[float] = None  # ... and when its last item was stored

    @property
    def seconds(self) -> Optional[float]:
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started

    def add(self, res: ChatResult, cost: float) -> None:
        self.calls += 1
        self.prompt_tokens += res.prompt_tokens or 0
        self.completion_tokens += res.completion_tokens or 0
        self.cost += cost
        if not res.ok:
            self.call_failures += 1


class LLMJudge:
    """An LLM judge over one model spec; implements ``arena.reviews.Judge``.

    ``provider`` may be given (a built provider); otherwise ``arena.llm.factory.make_provider``
    builds one on the first ``judge`` call. ``bind(store)`` must be called before use (the
    reviews stage does it) so the judge can read questions and answers.
    """

    kind = "llm"

    def __init__(self, spec: JudgeSpec, judge_cfg: JudgeConfig,
                 runner_settings: Optional[RunnerSettings] = None, *,
                 budget: Optional[Budget] = None, provider: Optional[Provider] = None,
                 followup: bool = True, fixed_concurrency: bool = False) -> None:
        self.spec = spec
        self.judge_cfg = judge_cfg
        self.judge_id = spec.name
        self.weighted = weighting.enabled(judge_cfg, spec)
        self.candidates = (weighting.candidates(judge_cfg.scale, judge_cfg.score_max)
                           if self.weighted else [])
        self.settings = prompt_settings(judge_cfg, self.weighted)
        self.runner_settings = runner_settings or RunnerSettings()
        self.budget = budget or Budget()
        self.price = _price(spec)
        self.followup = followup
        # A local batched backend wants many calls in flight (its batcher groups them) unless
        # the config fixed the number (judge.concurrency or the entry's max_concurrency).
        self.fixed_concurrency = fixed_concurrency
        self._provider = provider
        self.ctx: Optional[StoreContext] = None
        self.store: Any = None
        self._templates: dict[tuple[str, bool, bool, str], Template] = {}
        self.fingerprint = judge_fingerprint(spec, judge_cfg, weighted=self.weighted)
        self.stats = CallStats(priced=self.price is not None)

    # -- the Judge protocol -------------------------------------------------------------------
    def bind(self, store: Any) -> None:
        self.ctx = StoreContext(store)
        self.store = store  # a batch-mode provider records its batches there

    def prepare(self, items: list[Any]) -> None:
        """Read the questions of all items in bulk (planning asks for every item's template)."""
        self._context().load_questions(it.question_id for it in items)

    def _context(self) -> StoreContext:
        if self.ctx is None:
            raise RuntimeError("LLMJudge.bind(store) must be called before judging")
        return self.ctx

    def prompt_item(self, item: Any) -> PromptItem:
        """The prompt view of a reviews work item: answers in the order shown."""
        ctx = self._context()
        q = ctx.question(item.question_id)
        if item.mode == Mode.SINGLE.value:
            shown = [ctx.answer(item.answer_a_id)]
        else:
            a, b = ctx.answer(item.answer_a_id), ctx.answer(item.answer_b_id)
            shown = [a, b] if item.first != "B" else [b, a]
        return PromptItem(question_turns=q.turns, shown=shown, category=q.category,
                          document=ctx.document(q.document_id), reference=q.reference,
                          turn=item.turn)

    def template(self, item: Any) -> Template:
        """The template of a work item (cached per template-deciding facts: planning asks
        for every item's version, and a run may have tens of thousands of items)."""
        ctx = self._context()
        q = ctx.question(item.question_id)
        # Only the facts that choose the template are needed here, not the answer texts.
        n = 1 if item.mode == Mode.SINGLE.value else 2
        probe = PromptItem(question_turns=q.turns, shown=[[]] * n, category=q.category,
                           reference=q.reference, turn=item.turn)
        key = template_key(self.settings, probe)
        t = self._templates.get(key)
        if t is None:
            t = self._templates[key] = choose(self.settings, probe)
        return t

    def template_version(self, item: Any) -> Optional[str]:
        return self.template(item).version

    def judge(self, items: list[Any], emit: Callable[[dict[str, Any]], None],
              source: Any = None) -> None:
        """Judge ``items`` (all of them, or, with ``source``, those it hands out: the reviews
        stage passes an ``arena.claims.ClaimedSource`` so concurrent workers split them)."""
        run_sync(self.ajudge(items, emit, source))

    # -- the work -----------------------------------------------------------------------------
    def provider(self) -> Provider:
        if self._provider is None:
            from arena.llm.factory import make_provider

            self._provider = make_provider(self.spec, store=self.store)
        return self._provider

    def request(self, messages: list[dict[str, str]], key: str) -> ChatRequest:
        g = self.spec.generation
        msgs = messages
        if self.spec.system_prompt:
            msgs = [{"role": "system", "content": self.spec.system_prompt}] + \
                [m for m in messages if m["role"] != "system"]
        if self.weighted:
            # One output token, its probabilities read, nothing sampled.
            return ChatRequest(messages=msgs, max_new_tokens=1, temperature=0.0,
                               score_tokens=list(self.candidates), key=key)
        return ChatRequest(messages=msgs, max_new_tokens=g.max_new_tokens,
                           temperature=g.temperature, top_p=g.top_p, top_k=g.top_k,
                           stop=list(g.stop), seed=g.seed, key=key)

    async def ajudge(self, items: list[Any], emit: Callable[[dict[str, Any]], None],
                     source: Any = None) -> None:
        from arena.reviews import base_row

        ctx = self._context()
        ctx.load_questions(it.question_id for it in items)
        ctx.load_answers([x for it in items for x in (it.answer_a_id, it.answer_b_id)])
        ctx.load_documents(ctx.question(it.question_id).document_id for it in items)
        provider = self.provider()
        settings = self.runner_settings
        preferred = getattr(provider, "preferred_concurrency", None)
        # A batch judge fills a file's worth at once (judge.concurrency is for live calls);
        # only the entry's own max_concurrency limits it.
        batch = getattr(self.spec, "batch_settings", None) is not None and \
            not getattr(self.spec, "max_concurrency", None)
        if preferred and (batch or not self.fixed_concurrency):
            settings = replace(settings, concurrency=preferred)
        runner = CallRunner(provider, settings, budget=self.budget, price=self.price,
                            desc=f"judge {self.judge_id}")

        async def one(item: Any) -> None:
            template, messages = build(self.settings, self.prompt_item(item),
                                       self.template(item))
            row = base_row(self, item)
            row["template_version"] = template.version
            row = await self._judge_one(runner, item, template, messages, row)
            if row is not None:
                # The stage's emit hands the row to the result writer's queue (it commits in
                # its own thread): a commit never stalls the calls in flight.
                emit(row)
            # Nothing is returned: rows are stored, not kept (memory stays flat).

        if self.price is not None and items:
            log.info("judge %s: %d items; estimate: %s", self.judge_id, len(items),
                     self.estimate(items))
        self.stats.started = self.stats.started or time.perf_counter()
        try:
            if source is None:
                await runner.amap(items, one)
            else:
                await runner.amap_source(source, one)
        finally:
            self.stats.finished = time.perf_counter()
            self.stats.stopped = runner.stopped
            if runner.stopped:
                log.warning("judge %s stopped by the budget: %s", self.judge_id, runner.stopped)
            await provider.aclose()

    def estimate(self, items: list[Any], sample: int = 50) -> Any:
        """The before-the-run estimate of one call per item (follow-ups not counted) at the
        judge's prices (batch prices for a batch judge), from the prompts of the first
        ``sample`` items scaled to all of them: building every prompt twice would cost more
        than the estimate is worth."""
        from arena.llm.limits import Estimate, estimate

        part = items[:sample]
        reqs = [self.request(build(self.settings, self.prompt_item(it), self.template(it))[1],
                             "") for it in part]
        e = estimate(reqs, self.price)
        k = len(items) / max(1, len(part))
        return Estimate(len(items), int(e.prompt_tokens * k), int(e.max_output_tokens * k),
                        e.max_cost * k if e.max_cost is not None else None, batch=e.batch)

    async def _call(self, runner: CallRunner, req: ChatRequest) -> ChatResult:
        res = await runner.call(req)
        if not res.skipped:
            from arena.llm.limits import result_cost

            self.stats.add(res, result_cost(req, res, self.price))
        return res

    async def _judge_one(self, runner: CallRunner, item: Any, template: Any,
                         messages: list[dict[str, str]], row: dict[str, Any]
                         ) -> Optional[dict[str, Any]]:
        key = row["cache_key"]
        req = self.request(messages, key)
        if self.weighted:
            req.prefill = template.prefill
        res = await self._call(runner, req)
        if res.skipped:
            self.stats.skipped += 1
            return None
        self.stats.items += 1
        usage = _usage(res)
        if not res.ok:
            # Nothing was judged: stored apart as a call failure, retried by a plain rerun.
            row = _failed(row, raw=None, error=f"judge call failed: {res.error}", meta=usage)
            row["call_failed"] = True
            return row
        if self.weighted:
            return self._weighted_row(item, res, row, usage)
        verdict = self.parse(res.text)
        raw = res.text
        if not verdict.ok and self.followup:
            first_error = verdict.error
            follow = ChatRequest(**{**req.__dict__, "messages": req.messages + [
                {"role": "assistant", "content": res.text or ""},
                {"role": "user", "content": template.followup}], "key": key + ":followup"})
            res2 = await self._call(runner, follow)
            self.stats.followups += 1
            usage = _merge_usage(usage, _usage(res2))
            usage["followup"] = True
            if res2.skipped or not res2.ok:
                why = "not sent" if res2.skipped else f"failed: {res2.error}"
                self.stats.parse_failures += 1
                return _failed(row, raw=raw, error=f"{first_error}; follow-up call {why}",
                               meta=usage)
            raw = (res.text or "") + FOLLOWUP_MARK + (res2.text or "")
            verdict2 = self.parse(res2.text)
            if not verdict2.ok:
                self.stats.parse_failures += 1
                return _failed(row, raw=raw, error=f"{first_error}; after follow-up: "
                               f"{verdict2.error}", meta=usage)
            # The reasoning is in the first reply; the verdict came in the second.
            verdict = parsing.Verdict(**{**verdict2.__dict__,
                                         "rationale": (res.text or "").strip()})
        elif not verdict.ok:
            self.stats.parse_failures += 1
            return _failed(row, raw=raw, error=verdict.error, meta=usage)
        row.update(verdict_columns(item.mode, verdict, item.first))
        row.update(raw_output=raw, parse_status=ParseStatus.OK.value, meta=usage)
        return row

    def _weighted_row(self, item: Any, res: ChatResult, row: dict[str, Any],
                      usage: dict[str, Any]) -> dict[str, Any]:
        """The row of a weighted verdict (see ``judges.weighted``)."""
        probs, source = res.token_probs, "probabilities"
        if probs is None:  # an endpoint that returned no logprobs: its one-token text
            probs, source = weighting.from_text(res.text, self.candidates), "text"
        if probs is None or not sum(probs.values()) > 0:
            self.stats.parse_failures += 1
            what = "no logprobs and a reply" if source == "text" else "a reply"
            return _failed(row, raw=res.text, error=f"weighted verdict: {what} in which no "
                           f"verdict token ({', '.join(self.candidates)}) has any probability",
                           meta={**usage, "verdict_probs": probs, "weighted": True})
        v = weighting.verdict(item.mode, probs, item.first)
        cols = weighting.columns(item.mode, v)
        meta = {**usage, **cols.pop("meta"), "verdict_source": source}
        if v.low_mass:
            self.stats.low_mass += 1
        row.update(cols)
        row.update(raw_output=res.text, parse_status=ParseStatus.OK.value, meta=meta,
                   rationale=None)
        return row

    def parse(self, text: Optional[str]) -> parsing.Verdict:
        return parsing.parse(self.settings.scale, text, score_max=self.settings.score_max,
                             criteria=self.settings.criteria)

    def summary(self) -> str:
        from judges.report import judge_report

        return judge_report(self).render()


def verdict_columns(mode: str, v: parsing.Verdict, first: Optional[str]) -> dict[str, Any]:
    """Judgment columns of a parsed verdict: pairwise in model terms, single as scores."""
    if mode == Mode.SINGLE.value:
        return {"score_a": v.score_1, "scores": v.scores, "rationale": v.rationale or None}
    terms = parsing.to_model_terms(v, first or "A")
    return {"outcome": terms.outcome.value if terms.outcome else None,
            "strength": terms.strength, "score_a": terms.score_a, "score_b": terms.score_b,
            "rationale": v.rationale or None}


def _failed(row: dict[str, Any], *, raw: Optional[str], error: Optional[str],
            meta: dict[str, Any]) -> dict[str, Any]:
    # No outcome, no score: a failed judgment is visible and never counts as a verdict.
    row.update(outcome=None, strength=None, score_a=None, score_b=None, scores=None,
               preference=None, raw_output=raw, parse_status=ParseStatus.FAILED.value, error=error, meta=meta)
    return row


def _usage(res: ChatResult) -> dict[str, Any]:
    return {"calls": 0 if res.skipped else 1, "prompt_tokens": res.prompt_tokens,
            "completion_tokens": res.completion_tokens, "attempts": res.attempts,
            "latency_s": round(res.latency_s, 4) if res.latency_s is not None else None,
            "finish_reason": res.finish_reason}


def _merge_usage(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    def add(x: Any, y: Any) -> Any:
        return None if x is None and y is None else (x or 0) + (y or 0)

    return {"calls": a["calls"] + b["calls"],
            "prompt_tokens": add(a["prompt_tokens"], b["prompt_tokens"]),
            "completion_tokens": add(a["completion_tokens"], b["completion_tokens"]),
            "attempts": add(a["attempts"], b["attempts"]),
            "latency_s": add(a["latency_s"], b["latency_s"]),
            "finish_reason": b["finish_reason"]}


def _price(spec: JudgeSpec) -> Optional[PriceTable]:
    from arena.llm.factory import price_of  # batch judges are priced at batch prices

    return price_of(spec)
