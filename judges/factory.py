"""Which judges a run uses: the first usable LLM judge of ``judge.judges`` plus metric judges.

Selection (``select_llm_judge``): the entries of ``judge.judges`` are tried in order; an
``openai`` entry is usable when the environment variable named by ``api_key_env`` is set (or
``api_key_env`` is null: an endpoint without keys); a ``transformers`` entry is always usable
(whether the model loads is found out when judging starts, with a plain error). The run logs
which judge it uses and why the earlier ones were passed over, and warns when the judge is also
one of the candidate models (a judge tends to prefer its own answers).

``build_judge(cfg)`` is what ``arena.pipeline`` calls; it returns a list of judges (LLM first,
then one per metric). No usable judge and no metrics raises a plain ``ConfigError`` /
``BackendUnavailable`` naming what to set.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Union

from arena.config import ArenaConfig, OpenAIModel, TransformersModel
from arena.errors import BackendUnavailable, ConfigError
from arena.llm.limits import Budget
from arena.llm.runner import RunnerSettings

log = logging.getLogger(__name__)

JudgeSpec = Union[OpenAIModel, TransformersModel]


@dataclass
class Selection:
    spec: Optional[JudgeSpec]
    passed_over: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.spec is None:
            return "no usable LLM judge"
        s = self.spec
        where = f" at {s.base_url}" if isinstance(s, OpenAIModel) and s.base_url else ""
        out = f"judge: {s.name} ({s.backend} {s.model}{where})"
        if self.passed_over:
            out += "; passed over: " + "; ".join(self.passed_over)
        return out


def usable(spec: Any, environ: Mapping[str, str]) -> Optional[str]:
    """None when ``spec`` can judge here, else the reason it cannot."""
    if isinstance(spec, OpenAIModel):
        if spec.api_key_env and not environ.get(spec.api_key_env):
            return f"{spec.name}: {spec.api_key_env} is not set"
        return None
    if isinstance(spec, TransformersModel):
        return None
    return f"{getattr(spec, 'name', spec)}: backend {getattr(spec, 'backend', '?')} cannot judge"


def self_preference(spec: JudgeSpec, cfg: ArenaConfig) -> Optional[str]:
    """A warning when the judge model is also a candidate (same name or same model id)."""
    for m in cfg.enabled_models:
        same_model = getattr(m, "model", None) == spec.model and \
            getattr(m, "backend", None) == spec.backend
        if m.name == spec.name or same_model:
            return (f"the judge {spec.name} ({spec.model}) is also the candidate {m.name}: "
                    f"judges tend to prefer their own answers (self-preference); consider "
                    f"another judge")
    return None


def select_llm_judge(cfg: ArenaConfig, environ: Optional[Mapping[str, str]] = None) -> Selection:
    env = os.environ if environ is None else environ
    passed: list[str] = []
    for spec in cfg.judge.judges:
        if not spec.enabled:
            passed.append(f"{spec.name}: enabled is false")
            continue
        why = usable(spec, env)
        if why is None:
            warn = self_preference(spec, cfg)  # type: ignore[arg-type]
            return Selection(spec=spec, passed_over=passed,  # type: ignore[arg-type]
                             warnings=[warn] if warn else [])
        passed.append(why)
    return Selection(spec=None, passed_over=passed)


def runner_settings(cfg: ArenaConfig, spec: JudgeSpec) -> RunnerSettings:
    rs = RunnerSettings.from_config(cfg.generation, spec)
    if cfg.judge.concurrency:
        rs.concurrency = cfg.judge.concurrency
    return rs


def check_judge_entries(cfg: ArenaConfig) -> None:
    """Every ``judge.judges`` entry must be a backend that can judge (its fingerprint is
    computable). Raises ConfigError naming the key."""
    for i, spec in enumerate(cfg.judge.judges):
        if not isinstance(spec, (OpenAIModel, TransformersModel)):
            raise ConfigError(f"judge.judges[{i}] ({spec.name}): backend "
                              f"{getattr(spec, 'backend', '?')!r} cannot judge; use openai or "
                              f"transformers (a judge fingerprint needs a model)")


def build_judge(cfg: ArenaConfig, environ: Optional[Mapping[str, str]] = None, *,
                quiet: bool = False) -> list[Any]:
    """The judges of a run (see module docstring); logs the choice and any warning.

    ``quiet=True`` (leaderboards, viewers: identifying the judge, not running it) logs
    nothing and, when no entry is usable here, identifies the first enabled entry: its
    fingerprint does not need the key."""
    from judges.llm import LLMJudge
    from judges.metric_judge import MetricJudge

    check_judge_entries(cfg)
    out: list[Any] = []
    if cfg.judge.judges:
        sel = select_llm_judge(cfg, environ)
        if sel.spec is None and quiet:
            enabled = [j for j in cfg.judge.judges if j.enabled]
            if enabled:
                sel = Selection(spec=enabled[0], passed_over=sel.passed_over)  # type: ignore
        if sel.spec is None:
            raise BackendUnavailable("no usable judge in judge.judges (" +
                                     "; ".join(sel.passed_over) + "); set the key, add a "
                                     "transformers judge, or run with --dry-run")
        if not quiet:
            log.info("%s", sel.describe())
            for w in sel.warnings:
                log.warning("%s", w)
        judge = LLMJudge(sel.spec, cfg.judge, runner_settings(cfg, sel.spec),
                         budget=Budget(max_calls=cfg.generation.max_calls,
                                       max_cost=cfg.generation.max_cost),
                         fixed_concurrency=bool(cfg.judge.concurrency or
                                                getattr(sel.spec, "max_concurrency", None)))
        judge.selection = sel  # type: ignore[attr-defined]
        out.append(judge)
    for name in dict.fromkeys(cfg.judge.metrics):
        out.append(MetricJudge(name))
    if not out:
        raise ConfigError("judge.judges and judge.metrics are both empty: name an LLM judge "
                          "(backend openai or transformers) or a metric, or run with --dry-run")
    return out
