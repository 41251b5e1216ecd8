"""The judge report printed after a reviews run.

Two parts, labelled as such:
- *this run*: items judged, calls sent (a follow-up turn is a call; the runner's retries are
  not), follow-ups, failed calls, parse failures, items the budget held back, tokens, and cost
  when the judge has a ``price`` (else "no price configured");
- *stored*: over every stored row of this judge (all runs; one fingerprint): rows, failed rows
  (and how many items are still without a usable verdict: the ``--retry-failed`` hint shows
  only while there are some), weighted verdicts and how many of them had under half the
  probability mass on the verdict tokens (``judges.weighted``), and the
  position statistics computed by ``arena.ratings.judge_stats.rater_stats`` -- position
  consistency (share of both-order pairs whose verdicts agree), first-position win rate (share
  of decisive verdicts won by the answer shown first; 0.5 = no bias) and tie rate. Failed rows
  never enter these statistics.

``stored_judge_stats(store, judge_id)`` is usable on its own (e.g. by report writers).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from sqlalchemy import func, select

from arena.store import Store
from arena.store.schema import Judgment


@dataclass
class StoredJudgeStats:
    judge_id: str
    rows: int = 0
    failed: int = 0
    pairwise: int = 0
    single: int = 0
    outstanding: int = 0  # items whose rows are all failed (no usable verdict yet)
    position_consistency: float = math.nan
    n_pairs: int = 0
    first_win_rate: float = math.nan
    n_decisive_ordered: int = 0
    tie_rate: float = math.nan
    templates: list[str] = field(default_factory=list)
    weighted: int = 0  # rows with a weighted (probability) verdict
    low_mass: int = 0  # ... whose verdict tokens held under half the probability mass


def stored_judge_stats(store: Store, judge_id: str, kind: str = "llm",
                       fingerprint: Optional[str] = None) -> StoredJudgeStats:
    """Counts and position statistics over every stored row of one judge (of one
    ``fingerprint`` when given: two fingerprints under one name are two judges)."""
    from arena.ratings.judge_stats import rater_stats
    from arena.ratings.selection import Selection, load_verdicts

    out = StoredJudgeStats(judge_id=judge_id)
    J = Judgment
    mine = [J.judge_id == judge_id, J.judge_kind == kind]
    if fingerprint is not None:
        mine.append(J.fingerprint == fingerprint)
    with store.begin() as conn:
        for status, is_pair, n in conn.execute(
                select(J.parse_status, J.model_b.is_not(None), func.count())
                .where(*mine)
                .group_by(J.parse_status, J.model_b.is_not(None))):
            out.rows += n
            if status != "ok":
                out.failed += n
            elif is_pair:
                out.pairwise += n
            else:
                out.single += n
        if out.failed:
            ok = select(J.cache_key).where(*mine, J.parse_status == "ok",
                                           J.cache_key.is_not(None))
            out.outstanding = conn.execute(
                select(func.count(func.distinct(J.cache_key))).where(
                    *mine, J.parse_status != "ok", J.cache_key.not_in(ok))).scalar_one()
        out.weighted, out.low_mass = conn.execute(
            select(func.count().filter(J.meta["weighted"].as_boolean().is_(True)),
                   func.count().filter(J.meta["verdict_low_mass"].as_boolean().is_(True)))
            .where(*mine, J.parse_status == "ok")).one()
        out.templates = sorted(v for v in conn.execute(
            select(J.template_version).where(*mine).distinct()).scalars() if v)
        if out.pairwise:
            frame = load_verdicts(conn, Selection(
                judge_kinds=(kind,), judge_ids=(judge_id,), with_lengths=False,
                fingerprints=(fingerprint,) if fingerprint else ()))
            stats = rater_stats(frame)
            if stats:
                s = stats[0]
                out.position_consistency, out.n_pairs = s.position_consistency, s.n_pairs
                out.first_win_rate, out.n_decisive_ordered = s.first_win_rate, \
                    s.n_decisive_ordered
                out.tie_rate = s.tie_rate
    return out


@dataclass
class JudgeReport:
    judge_id: str
    selection: Optional[str]
    run: dict[str, Any]
    stored: Optional[StoredJudgeStats]
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"judge_id": self.judge_id, "selection": self.selection, "run": self.run,
                "stored": asdict(self.stored) if self.stored else None,
                "warnings": list(self.warnings)}

    def render(self) -> str:
        r = self.run
        lines = [f"judge report: {self.judge_id}"]
        if self.selection:
            lines.append(f"  {self.selection}")
        cost = (f"{r['cost']:.4f} USD" if r["priced"] else "n/a (no price configured)")
        lines.append(f"  this run: {r['items']} items judged, {r['calls']} calls "
                     f"({r['followups']} follow-up turns), {r['call_failures']} failed calls, "
                     f"{r['parse_failures']} unparsable verdicts")
        lines.append(f"  tokens: {r['prompt_tokens']} prompt + {r['completion_tokens']} "
                     f"completion; cost: {cost}")
        if r.get("weighted"):
            lines.append(f"  weighted verdicts (verdict-token probabilities): "
                         f"{r.get('low_mass', 0)} this run held under half the probability "
                         f"mass on the verdict tokens")
        if r.get("skipped"):
            lines.append(f"  held back by the budget: {r['skipped']} items ({r['stopped']}); "
                         f"a rerun with a larger budget judges them")
        s = self.stored
        if s is not None:
            share = f" ({100 * s.failed / s.rows:.1f} %)" if s.rows else ""
            line = f"  stored: {s.rows} judgments, {s.failed} failed{share} (excluded from ratings"
            if s.outstanding:
                line += (f"; {s.outstanding} items have no usable verdict yet: rerun with "
                         f"--retry-failed")
            lines.append(line + ")")
            if s.pairwise:
                lines.append(f"  position consistency: {_pct(s.position_consistency)} of "
                             f"{s.n_pairs} both-order pairs agree")
                lines.append(f"  first-position win rate: {_pct(s.first_win_rate)} of "
                             f"{s.n_decisive_ordered} decisive verdicts (50 % = no bias)")
                lines.append(f"  tie rate: {_pct(s.tie_rate)} of {s.pairwise} verdicts")
            if s.weighted:
                share = f" ({100 * s.low_mass / s.weighted:.1f} %)"
                lines.append(f"  weighted verdicts: {s.weighted}, of which {s.low_mass}{share} "
                             f"had under half the probability mass on the verdict tokens "
                             f"(recorded, flagged verdict_low_mass)")
            if s.templates:
                lines.append(f"  template versions: {', '.join(s.templates)}")
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)


def _pct(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f} %"


def judge_report(judge: Any) -> JudgeReport:
    """The report of an ``LLMJudge`` after ``run_reviews`` (stats of this process + store)."""
    st = judge.stats
    run = {"items": st.items, "calls": st.calls, "followups": st.followups,
           "call_failures": st.call_failures, "parse_failures": st.parse_failures,
           "skipped": st.skipped, "stopped": st.stopped, "prompt_tokens": st.prompt_tokens,
           "completion_tokens": st.completion_tokens, "cost": st.cost, "priced": st.priced,
           "weighted": bool(getattr(judge, "weighted", False)), "low_mass": st.low_mass}
    sel = getattr(judge, "selection", None)
    stored = stored_judge_stats(judge.ctx.store, judge.judge_id,
                                fingerprint=getattr(judge, "fingerprint", None)) \
        if judge.ctx else None
    return JudgeReport(judge_id=judge.judge_id, selection=sel.describe() if sel else None,
                       run=run, stored=stored, warnings=list(sel.warnings) if sel else [])
