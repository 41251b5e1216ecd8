"""Metric judges: reference-based single-mode scores stored as ``judge_kind='metric'`` rows.

One judge per metric named in ``judge.metrics`` (``exact_match``, ``token_f1``, ``rouge_l``,
``length_score``); judge id ``metric:<name>``; ``template_version`` is ``<name>-v<VERSION>`` so a
change of formula is a new version. Metric judges always judge single answers (``mode`` below
tells the reviews stage to plan single items whatever ``judge.mode`` is).

- Reference metrics need a stored reference (``references`` table); a question without one is
  not applicable: no row (not a failure, not a zero).
- ``length_score`` needs the required length in words from the question's meta:
  ``required_length``, or ``length`` for questions without a document (LongBench-Write's field;
  LongBench's own ``length`` is the context length, and its questions have a document).
- Multi-turn: each turn is scored against the reference's same turn; the row's ``score_a`` is
  the mean over scored turns (``meta.turn_scores`` keeps them). ``turn`` set on the item scores
  that turn only. An answer missing a turn scores 0 for it (empty output scores 0).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from arena.identity import fingerprint
from arena.types import Mode, ParseStatus
from judges import metrics
from judges.context import QuestionInfo, StoreContext

log = logging.getLogger(__name__)


def required_length(q: QuestionInfo) -> Optional[float]:
    meta = q.meta or {}
    value = meta.get("required_length")
    if value is None and not q.document_id:
        value = meta.get("length")
    try:
        v = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return v if v and v > 0 else None


class MetricJudge:
    """Implements ``arena.reviews.Judge`` for one metric."""

    kind = "metric"
    mode = Mode.SINGLE

    def __init__(self, metric: str) -> None:
        if metric not in metrics.METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(metrics.METRICS)}")
        self.metric = metric
        self.judge_id = f"metric:{metric}"
        self.fingerprint = fingerprint({"kind": self.kind, "metric": metric,
                                        "version": metrics.VERSION})
        self.ctx: Optional[StoreContext] = None
        self.not_applicable = 0
        self.scored = 0

    def bind(self, store: Any) -> None:
        self.ctx = StoreContext(store)

    def prepare(self, items: list[Any]) -> None:
        if self.ctx is not None:
            self.ctx.load_questions(it.question_id for it in items)

    def template_version(self, item: Any) -> Optional[str]:
        return f"{self.metric}-v{metrics.VERSION}"

    def _turn_indices(self, q: QuestionInfo, item: Any, n_ref: Optional[int]) -> list[int]:
        n = len(q.turns) if n_ref is None else min(len(q.turns), n_ref)
        if item.turn is not None:
            return [item.turn - 1] if item.turn - 1 < n else []
        return list(range(n))

    def score(self, q: QuestionInfo, answer: list[str], item: Any) -> Optional[dict[str, Any]]:
        """Scores for one answer, or None when the metric does not apply to this question."""
        if self.metric == "length_score":
            need = required_length(q)
            if need is None:
                return None
            idx = self._turn_indices(q, item, None)
            per = [metrics.length_score(answer[i] if i < len(answer) else "", need) for i in idx]
        else:
            if not q.references:
                return None
            fn = metrics.REFERENCE_METRICS[self.metric]
            longest = max(len(r) for r in q.references)
            idx = self._turn_indices(q, item, longest)
            per = []
            for i in idx:
                refs = [r[i] for r in q.references if i < len(r) and r[i] and r[i].strip()]
                if not refs:
                    continue
                per.append(fn(answer[i] if i < len(answer) else "", refs))
        if not per:
            return None
        return {"score": sum(per) / len(per), "turn_scores": [round(x, 6) for x in per]}

    def judge(self, items: list[Any], emit: Callable[[dict[str, Any]], None]) -> None:
        from arena.reviews import base_row

        if self.ctx is None:
            raise RuntimeError("MetricJudge.bind(store) must be called before judging")
        ctx = self.ctx
        ctx.load_questions(it.question_id for it in items)
        ctx.load_answers(it.answer_a_id for it in items)
        for item in items:
            q = ctx.question(item.question_id)
            result = self.score(q, ctx.answer(item.answer_a_id), item)
            if result is None:
                self.not_applicable += 1
                continue
            self.scored += 1
            row = base_row(self, item)
            row.update(score_a=result["score"], parse_status=ParseStatus.OK.value,
                       meta={"turn_scores": result["turn_scores"]})
            emit(row)

    def summary(self) -> str:
        s = f"{self.judge_id}: {self.scored} answers scored"
        if self.not_applicable:
            why = ("no required length in the question" if self.metric == "length_score"
                   else "no reference")
            s += f", {self.not_applicable} not applicable ({why})"
        return s
