"""The pipeline: questions -> answers -> reviews -> ratings, each stage resumable.

``run_arena.py -c CONFIG`` and ``arena run -c CONFIG`` both land in ``run_pipeline``. Every
stage reads what earlier stages stored and appends its own rows, skipping stored work, so a
rerun after Ctrl-C or ``kill -9`` resumes and a rerun of a finished config does nothing.

Stages:
- inputs (always, idempotent): the config's question and reference files, and the answer files
  of ``backend: file`` models (each text stored under its own version: a changed file is a new
  version, and this run uses the file as it is now);
- preflight (before any paid call): the judge is chosen and every generating model's and the
  judge's backend is checked (keys set, endpoints reachable, local models present);
- ``answers``: ``openai`` and ``transformers`` models generate the answers still missing;
- ``reviews``: battles are planned and judged (``--dry-run``: seeded random verdicts);
- ``ratings``: the leaderboard of this config's run scope (``arena.scope``) is printed and the
  report files written.

A stage that produced nothing usable (every answer of a model failed, or the judge failed on
every item it tried) stops the run with ``StageFailed``: one summary line, exit code 1.
"""

from __future__ import annotations

import argparse
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from arena.config import ArenaConfig, FileModel, LoadedConfig, load_config
from arena.errors import ArenaError, BackendUnavailable, BudgetExceeded, StageFailed
from arena.pairing import selected_questions, source_name
from arena.scope import Versions, file_versions, fixed_versions, model_versions
from arena.store import Store, open_store

log = logging.getLogger(__name__)

STAGES = ("answers", "reviews", "ratings")
GENERATING = ("openai", "transformers")  # backends the answers stage calls


@dataclass
class PipelineResult:
    store_url: str
    messages: list[str] = field(default_factory=list)
    leaderboard: Optional[str] = None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", required=True, help="arena config YAML (native or original "
                   "arena-mode schema)")
    p.add_argument("--db", help="store URL (overrides ARENA_DB and the config's store.url)")
    p.add_argument("--dry-run", action="store_true",
                   help="real answers, seeded random verdicts (never in a real leaderboard)")
    p.add_argument("--stages", default=",".join(STAGES),
                   help="comma-separated subset of: answers,reviews,ratings (default: all)")
    p.add_argument("--limit", type=int, help="only the first N questions (a cheap first try)")
    p.add_argument("--categories", help="comma-separated categories to keep")
    p.add_argument("--retry-failed", action="store_true",
                   help="judge again the items whose judgments all failed to parse")
    p.add_argument("--worker", action="store_true",
                   help="one of several processes on this config's store (this machine or "
                   "others): claim and do answers and reviews, leave the leaderboard to a "
                   "final plain run (see docs/scaling.md)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the arena pipeline (same as run_arena.py)")
    add_arguments(p)
    p.set_defaults(func=run_from_args)


def parse_stages(text: str) -> list[str]:
    stages = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in stages if s not in STAGES]
    if bad or not stages:
        raise ArenaError(f"--stages: unknown stage(s) {', '.join(bad) or '(none)'}; "
                         f"choose from {', '.join(STAGES)}")
    return stages


def run_from_args(args: argparse.Namespace) -> int:
    loaded = load_config(args.config)
    cats = [c for c in (args.categories or "").split(",") if c] or None
    stages = parse_stages(args.stages)
    if args.worker:
        stages = [st for st in stages if st != "ratings"]
    result = run_pipeline(loaded, db=args.db, dry_run=args.dry_run,
                          stages=stages, limit=args.limit,
                          categories=cats, retry_failed=args.retry_failed,
                          progress=not args.no_progress)
    # Stage messages went to the log as they happened (stderr); stdout gets the leaderboard.
    if result.leaderboard:
        print(result.leaderboard)
    return 0


def run_pipeline(loaded: LoadedConfig, *, db: Optional[str] = None, dry_run: bool = False,
                 stages: Sequence[str] = STAGES, limit: Optional[int] = None,
                 categories: Optional[list[str]] = None, retry_failed: bool = False,
                 progress: bool = True) -> PipelineResult:
    """Run the requested stages in order. Raises ArenaError with a plain message when a stage
    cannot run (bad input, a backend that is not available: found before any paid call) and
    StageFailed when one produced nothing usable; stored work is kept."""
    cfg = loaded.config
    if categories:
        cfg = cfg.model_copy(update={"generation": cfg.generation.model_copy(
            update={"categories": categories})})
    for note in loaded.legacy_notes:
        log.warning("config %s: %s", loaded.path, note)
    store = open_store(db, cfg.store.url)
    result = PipelineResult(store_url=store.describe())
    _say(result, f"store: {store.describe()}")
    try:
        import_questions(store, cfg, result)
        files = import_file_answers(store, cfg, result)
        judges = None
        if "reviews" in stages and (cfg.judge.enabled or dry_run):
            judges = _as_list(build_judge(cfg, dry_run=dry_run))
        preflight(cfg, stages, judges)
        if "answers" in stages:
            answers_stage(store, cfg, result, limit=limit, progress=progress)
        with store.begin() as conn:
            qids = selected_questions(conn, cfg)
            versions = model_versions(cfg, qids, fixed_versions(conn, cfg, qids, files))
        if "reviews" in stages:
            if judges is None:
                _say(result, "reviews: judge.enabled is false; skipped")
            else:
                reviews_stage(store, cfg, result, judges, limit=limit,
                              retry_failed=retry_failed, progress=progress, versions=versions)
        if "ratings" in stages:
            result.leaderboard = ratings_stage(store, cfg, dry_run=dry_run, judges=judges,
                                               versions=versions)
    finally:
        store.close()
    return result


def _as_list(judges: Any) -> list[Any]:
    return judges if isinstance(judges, list) else [judges]


def _say(result: PipelineResult, msg: str) -> None:
    log.info("%s", msg)
    result.messages.append(msg)


def import_questions(store: Store, cfg: ArenaConfig, result: PipelineResult) -> None:
    from arena import formats

    for q in cfg.questions:
        with store.begin() as conn:
            summary = formats.import_questions(conn, q.file, q.format, source_name(q))
        _say(result, f"questions {q.file.name} (source {source_name(q)}): {summary}")
    for r in cfg.references:
        with store.begin() as conn:
            summary = formats.import_file(conn, r.file, fmt=r.format, as_="references",
                                          source=source_name(r))
        _say(result, f"references {r.file.name}: {summary}")


def import_file_answers(store: Store, cfg: ArenaConfig, result: PipelineResult
                        ) -> dict[str, dict[str, str]]:
    """Import every enabled ``backend: file`` model's answers (idempotent; a changed text is a
    new version). Returns {model: {question id: version}}: what this run uses."""
    out: dict[str, dict[str, str]] = {}
    for spec in cfg.enabled_models:
        if isinstance(spec, FileModel):
            with store.begin() as conn:
                out[spec.name], summary = file_versions(conn, cfg, spec)
            _say(result, f"answers of {spec.name} from {spec.path.name}: {summary}")
    return out


def preflight(cfg: ArenaConfig, stages: Sequence[str], judges: Optional[list[Any]]) -> None:
    """Check, before any paid call, every backend this run will call (``arena.preflight``)."""
    from arena.preflight import require_backends

    specs: list[Any] = []
    if "answers" in stages:
        specs += [m for m in cfg.enabled_models if m.backend in GENERATING]
    for judge in judges or []:
        spec = getattr(judge, "spec", None)
        if spec is not None:
            specs.append(spec)
    require_backends(specs)


def answers_stage(store: Store, cfg: ArenaConfig, result: PipelineResult, *,
                  limit: Optional[int], progress: bool) -> None:
    if not any(m.backend in GENERATING for m in cfg.enabled_models):
        return
    try:
        from arena.generate import run_answers
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("arena"):
            raise BackendUnavailable("the openai/transformers answer backends are not built yet; "
                                     "use backend: file models") from None
        raise
    report = run_answers(store, cfg, limit=limit, categories=cfg.generation.categories or None,
                         progress=progress)
    _say(result, str(report))
    if report.stopped:
        # A budget cap is a clean stop: later stages would work on an incomplete answer set.
        raise BudgetExceeded(f"answers stage stopped by the budget ({report.stopped}); stored "
                             "answers are kept and a rerun continues where this one stopped")
    dead = [m for m in report.models if m.failed and m.generated + m.already == 0]
    if dead:
        errors = {model: err for model, _q, err in reversed(report.failures)}
        raise StageFailed("; ".join(
            f"answers: model {m.model} failed on {m.failed} of "
            f"{m.selected} questions: {errors.get(m.model, 'unknown error')}" for m in dead) +
            " (nothing to judge for it; stored answers are kept and a rerun retries the "
            "failures)")


def build_judge(cfg: ArenaConfig, *, dry_run: bool):  # type: ignore[no-untyped-def]
    """The judge for this run: dry-run, or what cfg.judge selects (LLM or metric)."""
    if dry_run:
        from judges.dryrun import DryRunJudge

        return DryRunJudge(seed=cfg.judge.seed, score_max=cfg.judge.score_max)
    try:
        from judges.factory import build_judge as build
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("judges"):
            raise BackendUnavailable("LLM and metric judges are not built yet; run with "
                                     "--dry-run") from None
        raise
    return build(cfg)


def reviews_stage(store: Store, cfg: ArenaConfig, result: PipelineResult, judges: list[Any], *,
                  limit: Optional[int], retry_failed: bool, progress: bool,
                  versions: Optional[Versions] = None) -> None:
    from arena.identity import judge_label
    from arena.reviews import run_reviews

    for judge in judges:
        _say(result, f"judge: {judge_label(judge.judge_id, judge.fingerprint)} ({judge.kind})")
        report = run_reviews(store, cfg, judge, limit=limit, retry_failed=retry_failed,
                             run_id=uuid.uuid4().hex[:12], progress=progress, versions=versions)
        _say(result, str(report))
        summary = getattr(judge, "summary", None)
        if callable(summary):
            _say(result, summary())
        why = report.nothing_usable()
        if why:
            raise StageFailed(why + " (stored work is kept; a rerun retries the failed calls, "
                              "--retry-failed re-judges unparsable verdicts)")


def ratings_stage(store: Store, cfg: ArenaConfig, *, dry_run: bool,
                  judges: Optional[list[Any]] = None, versions: Optional[Versions] = None) -> str:
    """The leaderboard of the config's run scope, judged by ``judges`` (default: the ones the
    reviews stage would select)."""
    from arena.leaderboard import run_ratings_stage, scope_judges
    from arena.scope import build_scope

    if judges is None:
        judges = scope_judges(cfg, dry_run=dry_run)
    scope = build_scope(store, cfg, judges, versions=versions,
                        categories=cfg.generation.categories or None)
    return run_ratings_stage(store, cfg, dry_run=dry_run, scope=scope)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of run_arena.py."""
    from arena.cli import run_command, setup_logging

    parser = argparse.ArgumentParser(prog="run_arena.py", description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("-v", "--verbose", action="count", default=0)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    return run_command(run_from_args, args)
