"""The answers stage: generate the missing answers of every enabled openai/transformers model.

``run_answers(store, cfg, limit=, categories=, progress=, question_ids=)`` reads stored
questions (the config's sources, or ``question_ids``), skips the (question, model, params
hash) answers already stored, and asks each model for the rest through
:class:`arena.llm.runner.CallRunner`. Each answer is stored in its own transaction as soon as
its last turn returns (``origin="generated"``), so a killed run loses only calls in flight and
a rerun requests only what is missing. ``backend: file`` models are not touched here (the
pipeline imports their answers).

- Multi-turn (MT-bench): turn 2 is asked with the model's own turn-1 answer in the dialogue.
- A question with a document: the first user message is the document text, a blank line,
  then the turn; a local model whose window is too small gets the document cut in the middle
  (LongBench) and the answer records ``truncated``.
- A call that still fails after retries is stored as an ``AnswerFailure`` row (error and
  attempts), listed in the report and tried again on the next run; never an empty answer.
- Budget: the estimate (calls, tokens, cost with ``price``) is logged before each model runs;
  ``generation.max_calls`` / ``generation.max_cost`` stop the run cleanly (answers in flight
  are stored; the rest are neither answered nor failed, and ``report.stopped`` says why).

``arena.identity.answer_params_hash(spec)`` is the answer version and cache key (what it covers is
documented there).

Fails with :class:`arena.errors.BackendUnavailable` (before any call) when a model's backend
cannot run here (missing package, unset API key env var, model that cannot be loaded).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Union

from sqlalchemy import Connection, select

from arena import ids
from arena.identity import answer_params_hash
from arena.config import ArenaConfig, OpenAIModel, TransformersModel
from arena.errors import BackendUnavailable
from arena.llm.factory import make_provider, price_of
from arena.llm.limits import Budget, Estimate, PriceTable
from arena.llm.progress import Progress
from arena.llm.runner import CallRunner, RunnerSettings, run_sync
from arena.llm.types import ChatRequest, ChatResult, Provider
from arena.store import Store
from arena.claims import ClaimBook, ClaimedSource
from arena.llm.shared_budget import make_budget
from arena.llm.writer import ResultWriter
from arena.store.ingest import AnswerRecord, ensure_models, existing_answer_keys
from arena.store.schema import Answer, AnswerFailure, Document, Question, utcnow

log = logging.getLogger(__name__)

GenSpec = Union[OpenAIModel, TransformersModel]
MAX_LISTED_FAILURES = 20


def public_spec(spec: Any) -> dict[str, Any]:
    """The model entry as stored with its answers: no headers (they may hold tokens)."""
    return spec.model_dump(mode="json", exclude={"extra_headers"})


@dataclass
class QuestionRow:
    id: str
    category: str
    turns: list[str]
    document: Optional[str] = None


@dataclass
class ModelReport:
    model: str
    params_hash: str
    selected: int = 0
    already: int = 0
    generated: int = 0
    failed: int = 0
    skipped: int = 0
    estimate: Optional[Estimate] = None
    cost: float = 0.0

    def line(self) -> str:
        s = (f"{self.model}: {self.generated} generated, {self.already} already stored, "
             f"{self.failed} failed")
        if self.skipped:
            s += f", {self.skipped} not requested (budget)"
        if self.cost:
            s += f", {self.cost:.4f} USD"
        return s


@dataclass
class GenerationReport:
    """What the answers stage did; ``str()`` is the summary printed at the end of a run."""

    models: list[ModelReport] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (model, qid, error)
    stopped: Optional[str] = None  # the budget cap that stopped the run
    calls: int = 0

    @property
    def generated(self) -> int:
        return sum(m.generated for m in self.models)

    @property
    def failed(self) -> int:
        return sum(m.failed for m in self.models)

    def __str__(self) -> str:
        if not self.models:
            return "answers: no openai/transformers models enabled"
        lines = [f"answers: {self.generated} generated, {self.failed} failed, {self.calls} calls"]
        lines += ["  " + m.line() for m in self.models]
        if self.stopped:
            lines.append(f"  stopped by the budget: {self.stopped}; a rerun continues where "
                         f"this one stopped")
        if self.failures:
            lines.append(f"  failed (stored as failures, retried on the next run):")
            for model, qid, err in self.failures[:MAX_LISTED_FAILURES]:
                lines.append(f"    {model} {qid}: {err}")
            if len(self.failures) > MAX_LISTED_FAILURES:
                lines.append(f"    ... and {len(self.failures) - MAX_LISTED_FAILURES} more")
        return "\n".join(lines)


# -- questions -------------------------------------------------------------------------------
def load_questions(conn: Connection, qids: Sequence[str]) -> list[QuestionRow]:
    """The questions with these ids (in the given order), documents joined."""
    rows: dict[str, QuestionRow] = {}
    doc_of: dict[str, str] = {}
    for start in range(0, len(qids), 500):
        chunk = list(qids[start:start + 500])
        for qid, cat, turns, doc_id in conn.execute(
                select(Question.id, Question.category, Question.turns, Question.document_id)
                .where(Question.id.in_(chunk))):
            rows[qid] = QuestionRow(qid, cat or "", [str(t) for t in turns])
            if doc_id:
                doc_of[qid] = doc_id
    need = sorted(set(doc_of.values()))
    texts: dict[str, str] = {}
    for start in range(0, len(need), 200):
        for doc_id, text in conn.execute(select(Document.id, Document.text).where(
                Document.id.in_(need[start:start + 200]))):
            texts[doc_id] = text
    for qid, doc_id in doc_of.items():
        rows[qid].document = texts.get(doc_id)
    return [rows[q] for q in qids if q in rows]


def select_question_ids(conn: Connection, cfg: ArenaConfig, *, limit: Optional[int],
                        categories: Optional[list[str]]) -> list[str]:
    from arena.pairing import selected_questions  # the pipeline's one definition of "selected"

    return selected_questions(conn, cfg, limit=limit, categories=categories)


def first_user_message(q: QuestionRow, turn: str) -> str:
    return f"{q.document}\n\n{turn}" if q.document else turn


def request_params(spec: GenSpec) -> dict[str, Any]:
    g = spec.generation
    return dict(max_new_tokens=g.max_new_tokens, temperature=g.temperature, top_p=g.top_p,
                top_k=g.top_k, stop=list(g.stop), seed=g.seed,
                repetition_penalty=g.repetition_penalty, do_sample=g.do_sample)


def estimate_for(spec: GenSpec, questions: Sequence[QuestionRow],
                 price: Optional[PriceTable]) -> Estimate:
    """Calls and tokens before the run; later turns count earlier answers at full length."""
    mnt = spec.generation.max_new_tokens
    sys_chars = len(spec.system_prompt or "")
    calls = prompt = 0
    for q in questions:
        chars = sys_chars + len(q.document or "")
        for t, turn in enumerate(q.turns):
            chars += len(turn)
            calls += 1
            prompt += chars // 4 + t * mnt
    out = calls * mnt
    cost = price.cost(prompt, out) if price is not None else None
    return Estimate(calls, prompt, out, cost, batch=bool(price is not None and price.batch))


# -- one model -------------------------------------------------------------------------------
@dataclass
class _Outcome:
    record: Optional[AnswerRecord] = None
    error: Optional[str] = None
    attempts: int = 0
    skipped: bool = False
    calls: int = 0


async def _answer(runner: CallRunner, spec: GenSpec, ph: str, q: QuestionRow) -> _Outcome:
    messages: list[dict[str, str]] = []
    if spec.system_prompt:
        messages.append({"role": "system", "content": spec.system_prompt})
    doc_index = len(messages) if q.document else None
    params = request_params(spec)
    results: list[ChatResult] = []
    for t, turn in enumerate(q.turns):
        content = first_user_message(q, turn) if t == 0 else turn
        messages.append({"role": "user", "content": content})
        req = ChatRequest(messages=list(messages), key=f"{q.id}#{t + 1}", truncatable=doc_index,
                          **params)
        res = await runner.call(req)
        if res.skipped:
            return _Outcome(skipped=True, calls=len(results))
        turn_tag = f"turn {t + 1}: " if len(q.turns) > 1 else ""
        if not res.ok:
            return _Outcome(error=f"{turn_tag}{res.error}", attempts=res.attempts,
                            calls=len(results) + 1)
        if not (res.text or "").strip():
            return _Outcome(error=f"{turn_tag}empty answer (finish_reason={res.finish_reason})",
                            attempts=res.attempts, calls=len(results) + 1)
        results.append(res)
        messages.append({"role": "assistant", "content": res.text or ""})
    reasoning = [r.reasoning for r in results]
    finishes = [r.finish_reason for r in results]
    record = AnswerRecord(
        question_id=q.id, model=spec.name, turns=[r.text or "" for r in results],
        params_hash=ph, origin="generated",
        reasoning=reasoning if any(x is not None for x in reasoning) else None,
        finish_reason="length" if "length" in finishes else finishes[-1] if finishes else None,
        prompt_tokens=_sum([r.prompt_tokens for r in results]),
        completion_tokens=_sum([r.completion_tokens for r in results]),
        latency_s=_sum([r.latency_s for r in results]),
        truncated=any(r.truncated for r in results),
        meta={"backend": spec.backend, "finish_reasons": finishes,
              "attempts": [r.attempts for r in results]})
    return _Outcome(record=record, calls=len(results))


def _sum(xs: list[Any]) -> Any:
    vals = [x for x in xs if x is not None]
    return sum(vals) if vals else None


def answer_work_key(model: str, params_hash: str, question_id: str) -> str:
    """The claim key of one answer to generate (``arena.claims``)."""
    return "a:" + ids.sha256_hex(f"{model}\0{params_hash}\0{question_id}")[:40]


def answers_done(model: str, params_hash: str, by_key: dict[str, str], since: Any
                 ) -> Callable[[Connection, list[str]], set[str]]:
    """The claim ``done`` check of one model's answers: stored, or tried (failed) by another
    worker of this round since ``since``."""

    def done(conn: Connection, keys: list[str]) -> set[str]:
        qids = [by_key[k] for k in keys]
        have = set(conn.execute(select(Answer.question_id).where(
            Answer.model == model, Answer.params_hash == params_hash,
            Answer.question_id.in_(qids))).scalars())
        have |= set(conn.execute(select(AnswerFailure.question_id).where(
            AnswerFailure.model == model, AnswerFailure.params_hash == params_hash,
            AnswerFailure.question_id.in_(qids), AnswerFailure.created_at >= since)).scalars())
        return {k for k in keys if by_key[k] in have}

    return done


def _run_model(cfg: ArenaConfig, spec: GenSpec, provider: Provider, todo: list[QuestionRow],
               ph: str, budget: Budget, mr: ModelReport, report: GenerationReport,
               progress: bool, book: ClaimBook, writer: ResultWriter) -> None:
    """Generate ``todo`` for one model: claimed chunk by chunk (other workers take the rest),
    every outcome handed to the one result writer as it arrives."""
    price = price_of(spec)
    settings = RunnerSettings.from_config(cfg.generation, spec, provider)
    runner = CallRunner(provider, settings, budget=budget, price=price)
    bar = Progress(len(todo), spec.name, enabled=progress)
    spent_before = budget.spent
    key_of = {q.id: answer_work_key(spec.name, ph, q.id) for q in todo}
    source = ClaimedSource(book, todo, key=lambda q: key_of[q.id],
                           done=answers_done(spec.name, ph, {v: k for k, v in key_of.items()},
                                             book.started),
                           # one claim statement at most 1,000 keys (a batch model's
                           # concurrency is a whole file's worth)
                           chunk=max(64, min(settings.concurrency, 1000)),
                           stop=lambda: budget.stopped is not None,
                           writer=writer, backlog=settings.concurrency)

    def on_done(q: QuestionRow, out: _Outcome) -> None:
        key = key_of[q.id]
        if out.record is not None:
            writer.put("answer", out.record, key)  # committed as it arrives: a crash keeps it
            mr.generated += 1
        elif out.skipped:
            writer.put("release", None, key)  # not sent: the key goes back at once
            mr.skipped += 1
        else:
            writer.put("answer_failure", {
                "question_id": q.id, "model": spec.name, "params_hash": ph, "error": out.error,
                "attempts": max(1, out.attempts), "created_at": utcnow()}, key)
            mr.failed += 1
            report.failures.append((spec.name, q.id, out.error or "unknown error"))
        report.calls += out.calls
        bar.tick(failed=out.error is not None,
                 tokens=(out.record.completion_tokens or 0) if out.record is not None else 0)

    async def main() -> None:
        try:
            await runner.amap_source(source, lambda q: _answer(runner, spec, ph, q), on_done)
        finally:
            await provider.aclose()

    try:
        run_sync(main())
    finally:
        bar.close()
        mr.cost = budget.spent - spent_before
        mr.already += source.done_elsewhere  # stored by another worker meanwhile


def run_answers(store: Store, cfg: ArenaConfig, *, limit: Optional[int] = None,
                categories: Optional[list[str]] = None, progress: bool = True,
                question_ids: Optional[list[str]] = None) -> GenerationReport:
    """Generate and store every missing answer; see the module docstring."""
    report = GenerationReport()
    specs: list[GenSpec] = [m for m in cfg.enabled_models
                            if isinstance(m, (OpenAIModel, TransformersModel))]
    if not specs:
        return report
    with store.begin() as conn:
        if question_ids is not None:
            qids = list(question_ids)[:limit] if limit is not None else list(question_ids)
        else:
            qids = select_question_ids(conn, cfg, limit=limit,
                                       categories=categories or cfg.generation.categories or None)
        questions = load_questions(conn, qids)
        ensure_models(conn, {s.name: {"backend": s.backend, "spec": public_spec(s)}
                             for s in specs})
    # Keys and packages are checked for every model before the first call is paid for.
    openai_providers = {s.name: make_provider(s, store=store) for s in specs
                        if isinstance(s, OpenAIModel)}
    _check_transformers(specs)
    budget = make_budget(store, f"{cfg.name}/answers", cfg.generation.max_calls,
                         cfg.generation.max_cost, lease_s=cfg.generation.lease_s)
    try:
        _answer_models(store, cfg, specs, questions, openai_providers, budget, report, progress)
    finally:
        budget.close()
    report.stopped = budget.stopped
    return report


def _answer_models(store: Store, cfg: ArenaConfig, specs: list[GenSpec],
                   questions: list[QuestionRow], openai_providers: dict[str, Provider],
                   budget: Budget, report: GenerationReport, progress: bool) -> None:
    for spec in specs:
        ph = answer_params_hash(spec)
        with store.begin() as conn:
            have = existing_answer_keys(conn, spec.name, ph)
        todo = [q for q in questions if q.id not in have]
        mr = ModelReport(spec.name, ph, selected=len(questions), already=len(questions) - len(todo))
        report.models.append(mr)
        if not todo:
            continue
        if budget.stopped:
            mr.skipped = len(todo)
            continue
        mr.estimate = estimate_for(spec, todo, price_of(spec))
        log.info("%s: %d questions to answer; estimate: %s", spec.name, len(todo), mr.estimate)
        provider = openai_providers.get(spec.name) or make_provider(spec)
        book = ClaimBook(store, lease_s=cfg.generation.lease_s)
        writer = ResultWriter(store, release=book.release)
        try:
            _run_model(cfg, spec, provider, todo, ph, budget, mr, report, progress, book,
                       writer)
        finally:
            try:
                writer.close()
            finally:
                book.close()
        del provider  # a local model's memory is freed before the next one loads


def _check_transformers(specs: Sequence[GenSpec]) -> None:
    if not any(isinstance(s, TransformersModel) for s in specs):
        return
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        names = ", ".join(s.name for s in specs if isinstance(s, TransformersModel))
        raise BackendUnavailable(f"models {names} use backend transformers, which needs torch "
                                 f"and transformers ({exc.name} is missing): "
                                 f"pip install -e '.[hf]'") from None


__all__ = ["run_answers", "answer_params_hash", "GenerationReport", "ModelReport"]
