"""Leaderboards from the store: verdicts -> battles -> ratings -> tables and report files.

API (used by the pipeline, the viewer and the annotation dashboard)::

    frame = load_verdicts(store_or_conn, Selection.from_config(cfg.ratings))   # VerdictFrame
    settings = LeaderboardSettings.from_config(cfg)                            # or by hand
    board = compute_leaderboard(frame, settings, category=None)                # Leaderboard
    board.rows            # [ModelStanding(model, rank, bt, ci_low, ci_high, elo, win_rate, n,
                          #   n_wins, n_draws, n_losses, baseline_win_rate, baseline_se,
                          #   lc_win_rate, style_bt, style_ci_low, style_ci_high,
                          #   score, score_ci_low, score_ci_high, criteria)]
    board.win_rate, board.count, board.predicted   # M x M matrices over board.models
    boards = compute_leaderboards(frame, settings)  # {"all": ..., "<category>": ...}
    text = format_board(board, "table" | "md" | "csv" | "json")
    text = run_ratings_stage(store, cfg, dry_run=False)   # prints + writes report files

``compute_leaderboard`` never raises for missing data: an empty selection gives a board with
no rows and ``board.empty_reason``. Dry-run verdicts only enter a board built with
``Selection.from_config(..., dry_run=True)``, and such a board is labelled "DRY RUN - random
verdicts". Every board records what it used (``board.describe()``), and each written report
gets a manifest beside it (config hash, project version, judges, templates, seeds, counts).

CLI: ``arena leaderboard [-c CONFIG] [--db URL] [--format table|csv|json|md] [--dry-run]
[--no-files] [--min-battles N]``; ``--format arena-hard|leval-exam|leval-f1|leval-rouge|
longbench`` and ``--by-category`` print the seeds' layouts and the rank table
(``arena.ratings.views``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import numpy as np

from arena import __version__
from arena.ratings import bt as bt_mod
from arena.ratings.battles import Battles, build_battles
from arena.ratings.elo import online_elo
from arena.ratings.length import length_controlled, style_bt
from arena.ratings.report import format_board, to_jsonable
from arena.ratings.selection import Selection, VerdictFrame, load_verdicts
from arena.ratings.single import score_table
from arena.ratings.winrate import (expected_vs_all, overall_win_rate, pairwise_matrices,
                                   vs_baseline)
from arena.types import Mode, PositionPolicy

log = logging.getLogger(__name__)

DRY_RUN_LABEL = "DRY RUN - random verdicts"


@dataclass
class LeaderboardSettings:
    """Everything that changes the numbers; recorded with every board."""

    mode: str = "pairwise"  # pairwise | single
    policy: str = PositionPolicy.TIE_IF_INCONSISTENT.value
    both_bad: str = "tie"
    strong_weight: int = 1
    methods: tuple[str, ...] = ("bt", "elo", "winrate")
    rounds: int = 1000
    ci_level: float = 0.95
    resample_unit: str = "questions"
    seed: int = 0
    anchor: Optional[str] = None
    anchor_value: float = 1000.0
    elo_k: float = 4.0
    baseline: Optional[str] = None
    prior_sd: float = bt_mod.DEFAULT_PRIOR_SD
    per_category: bool = True
    dry_run: bool = False
    min_battles: int = 0  # models with fewer battles are left out (with their battles)
    instruction_difficulty: Optional[str] = None  # AlpacaEval's instruction_difficulty.csv
    # question id -> difficulty, resolved against the store by ``with_difficulty``
    question_difficulty: Optional[dict[str, float]] = field(default=None, repr=False)

    def with_difficulty(self, store: Any, question_ids: list[str]) -> "LeaderboardSettings":
        """These settings with ``question_difficulty`` read from ``instruction_difficulty``
        for the given questions (a no-op without the file). Raises InputError for a bad
        file."""
        if not self.instruction_difficulty:
            return self
        from dataclasses import replace

        from arena.ratings.alpaca_glm import difficulty_by_question

        return replace(self, question_difficulty=difficulty_by_question(
            store, self.instruction_difficulty, question_ids))

    @classmethod
    def from_config(cls, cfg: Any, *, dry_run: bool = False) -> "LeaderboardSettings":
        r = cfg.ratings
        policy = r.position_policy or cfg.judge.position_policy
        return cls(mode="single" if cfg.judge.mode == Mode.SINGLE else "pairwise",
                   policy=PositionPolicy(policy).value, both_bad=r.both_bad,
                   strong_weight=int(r.strong_weight), methods=tuple(r.methods),
                   rounds=r.bootstrap_rounds, ci_level=r.ci_level,
                   resample_unit=r.resample_unit, seed=r.seed,
                   anchor=r.anchor.model if r.anchor else None,
                   anchor_value=r.anchor.value if r.anchor else 1000.0, elo_k=r.elo_k,
                   baseline=r.baseline or cfg.judge.baseline, prior_sd=r.prior_sd,
                   per_category=r.per_category, dry_run=dry_run,
                   min_battles=r.min_battles,
                   instruction_difficulty=str(r.instruction_difficulty)
                   if r.instruction_difficulty else None)


@dataclass
class ModelStanding:
    model: str
    rank: int
    n: int
    bt: Optional[float] = None
    ci_low: Optional[float] = None
    ci_high: Optional[float] = None
    elo: Optional[float] = None
    win_rate: Optional[float] = None  # share of points over all its battles, x 100
    bt_expected: Optional[float] = None  # BT-predicted mean win rate vs the others, x 100
    n_wins: Optional[int] = None  # against the baseline
    n_draws: Optional[int] = None
    n_losses: Optional[int] = None
    baseline_win_rate: Optional[float] = None
    baseline_se: Optional[float] = None
    lc_win_rate: Optional[float] = None
    style_bt: Optional[float] = None
    style_ci_low: Optional[float] = None
    style_ci_high: Optional[float] = None
    style_rank: Optional[int] = None  # rank (UB) under style control
    discrete_win_rate: Optional[float] = None  # vs the baseline: (wins + draws / 2) / n x 100
    avg_length: Optional[int] = None  # vs the baseline: int(mean characters of its answers)
    score: Optional[float] = None  # single mode
    score_ci_low: Optional[float] = None
    score_ci_high: Optional[float] = None
    criteria: dict[str, float] = field(default_factory=dict)


@dataclass
class Leaderboard:
    category: str
    settings: LeaderboardSettings
    selection: Selection
    counts: dict[str, int]
    rows: list[ModelStanding] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    win_rate: Optional[np.ndarray] = None
    count: Optional[np.ndarray] = None
    predicted: Optional[np.ndarray] = None
    n_verdicts: int = 0
    n_battles: int = 0
    battle_notes: dict[str, int] = field(default_factory=dict)
    judges: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    empty_reason: Optional[str] = None
    style_length_coef: Optional[float] = None
    scope: str = ""  # what the board counts: a config's run scope, or one judge without one
    lc_method: Optional[str] = None  # which length-controlled win rate the board shows
    question_ids: list[str] = field(default_factory=list, repr=False)  # frame.questions
    left_out_models: dict[str, int] = field(default_factory=dict)  # below min_battles: battles
    samples: Optional[np.ndarray] = field(default=None, repr=False)  # bootstrap ratings

    @property
    def label(self) -> str:
        return DRY_RUN_LABEL if self.settings.dry_run else ""

    def describe(self) -> dict[str, Any]:
        """What the board used: method, policy, anchor, CI, counts (for headers and reports)."""
        s = self.settings
        return {
            "label": self.label, "category": self.category, "mode": s.mode,
            "method": ("Bradley-Terry MLE, Elo scale (400/ln 10 x coefficient)"
                       if s.mode == "pairwise" else "mean score with Student t CI"),
            "position_policy": s.policy, "ties": "0.5", "both_bad": s.both_bad,
            "strong_weight": s.strong_weight,
            "anchor": f"{s.anchor} = {s.anchor_value:g}" if s.anchor else "mean 1000",
            "ci": f"{s.ci_level:.0%} percentile bootstrap, {s.rounds} rounds, resampling "
                  f"{s.resample_unit}, seed {s.seed}" if s.mode == "pairwise"
                  else f"{s.ci_level:.0%} t interval",
            "elo_k": s.elo_k, "baseline": s.baseline, "methods": list(s.methods),
            "verdicts_used": self.n_verdicts, "battles": self.n_battles,
            "excluded": {k: v for k, v in self.counts.items()
                         if k not in ("rows", "included", "out_of_scope") and v},
            "out_of_scope": self.counts.get("out_of_scope", 0),
            "battle_notes": {k: v for k, v in self.battle_notes.items() if v},
            "judges": self.judges, "template_versions": self.templates,
            "warnings": self.warnings, "scope": self.scope,
            "rank": bt_mod.RANK_UB if s.mode == "pairwise" else
            "rank = 1 + the number of models whose lower CI bound is above this model's upper "
            "CI bound",
            "length_controlled": self.lc_method,
            "min_battles": s.min_battles,
            "left_out_models": dict(self.left_out_models),
        }


def _opt(x: Any) -> Optional[float]:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def compute_leaderboard(frame: VerdictFrame, settings: LeaderboardSettings,
                        category: Optional[str] = None) -> Leaderboard:
    """One board over ``frame`` (or its ``category`` part). Never raises for empty data."""
    sub = frame if category is None else frame.for_category(category)
    board = Leaderboard(category=category or "all", settings=settings, selection=frame.selection,
                        counts=frame.counts_for(category), n_verdicts=len(sub),
                        judges=sub.used_judges() if len(sub) else [],
                        templates=sub.used_templates() if len(sub) else [],
                        question_ids=list(frame.questions))
    if len(sub) == 0:
        board.empty_reason = "no verdicts yet" if frame.counts.get("rows", 0) == 0 else \
            "no verdicts pass the selection"
        return board
    if settings.mode == "single":
        return _single(board, sub, settings)
    battles = build_battles(sub, settings.policy, both_bad=settings.both_bad,  # type: ignore
                            strong_weight=settings.strong_weight)
    board.battle_notes = battles.notes
    if settings.min_battles > 0:
        battles = _min_battles(board, battles, settings.min_battles)
    battles = battles.compact()
    board.n_battles = len(battles)
    if len(battles) == 0 or bool((battles.model_a == battles.model_b).all()):
        board.empty_reason = "no battles between two different models"
        return board
    return _pairwise(board, battles, settings)


def _min_battles(board: Leaderboard, battles: Battles, k: int) -> Battles:
    """Leave out the models with fewer than ``k`` battles (counted before leaving any out),
    with all their battles; the board lists them."""
    M = len(battles.models)
    n = np.bincount(battles.model_a, minlength=M) + np.bincount(battles.model_b, minlength=M)
    low = (n < k) & (n > 0)
    if not low.any():
        return battles
    board.left_out_models = {battles.models[m]: int(n[m]) for m in np.flatnonzero(low)}
    board.warnings.append(f"left out (fewer than {k} battles): " + ", ".join(
        f"{m} ({c})" for m, c in board.left_out_models.items()))
    return battles.subset(~(low[battles.model_a] | low[battles.model_b]))


def _pairwise(board: Leaderboard, battles: Battles, s: LeaderboardSettings) -> Leaderboard:
    models = battles.models
    anchor = s.anchor
    if anchor is not None and anchor not in models:
        board.warnings.append(f"anchor model {anchor!r} has no battles here; ratings are "
                              f"centred at mean 1000 instead")
        anchor = None
    res = bt_mod.fit_bt(battles.model_a, battles.model_b, battles.score, models,
                        weight=battles.weight, unit=battles.question,
                        rounds=s.rounds if "bt" in s.methods else 0, ci_level=s.ci_level,
                        resample=s.resample_unit, seed=s.seed,  # type: ignore[arg-type]
                        anchor=anchor, anchor_value=s.anchor_value, prior_sd=s.prior_sd)
    board.warnings.extend(res.warnings)
    board.samples = res.samples
    elo = online_elo(battles.model_a, battles.model_b, battles.score, len(models), k=s.elo_k,
                     weight=battles.weight) if "elo" in s.methods else None
    share, n = overall_win_rate(battles)
    board.models = list(models)
    board.win_rate, board.count = pairwise_matrices(battles)
    board.predicted = bt_mod.predicted_win_rates(res.rating)
    expected = expected_vs_all(board.predicted)
    rows = {m: ModelStanding(model=m, rank=int(res.rank[i]), n=int(n[i]), bt=_opt(res.rating[i]),
                             ci_low=_opt(res.ci_low[i]), ci_high=_opt(res.ci_high[i]),
                             elo=_opt(elo[i]) if elo is not None else None,
                             win_rate=_opt(share[i] * 100.0),
                             bt_expected=_opt(expected[i] * 100.0))
            for i, m in enumerate(models)}
    if s.baseline and ("winrate" in s.methods or "length_controlled" in s.methods):
        if s.baseline not in models:
            board.warnings.append(f"baseline {s.baseline!r} has no battles here")
        else:
            for r in vs_baseline(battles, s.baseline):
                st = rows[r.model]
                st.n_wins, st.n_draws, st.n_losses = r.n_wins, r.n_draws, r.n_losses
                st.baseline_win_rate, st.baseline_se = _opt(r.win_rate), _opt(r.standard_error)
                st.discrete_win_rate, st.avg_length = _opt(r.discrete_win_rate), r.avg_length
            if "length_controlled" in s.methods:
                _length_controlled(board, battles, s, rows)
    elif "length_controlled" in s.methods:
        board.warnings.append("length-controlled win rate needs a baseline (ratings.baseline)")
    if "style_bt" in s.methods:
        try:
            sty = style_bt(battles, ci_level=s.ci_level, anchor=anchor,
                           anchor_value=s.anchor_value)
        except ValueError as exc:
            board.warnings.append(f"style-controlled BT: {exc}")
        else:
            board.warnings.extend(sty.warnings)
            board.style_length_coef = sty.length_coef
            for i, m in enumerate(sty.models):
                rows[m].style_bt = _opt(sty.rating[i])
                rows[m].style_ci_low, rows[m].style_ci_high = _opt(sty.ci_low[i]), \
                    _opt(sty.ci_high[i])
                rows[m].style_rank = int(sty.rank[i])
    board.rows = sorted(rows.values(), key=lambda r: (r.rank, -(r.bt or -math.inf), r.model))
    return board


def _length_controlled(board: Leaderboard, battles: Battles, s: LeaderboardSettings,
                       rows: dict[str, ModelStanding]) -> None:
    """AlpacaEval's GLM when the instruction difficulties are known, else the LC win rate
    with difficulty estimated from the other models; the board names which."""
    from arena.ratings.alpaca_glm import LC_ALPACA, LC_OTHERS, alpaca_length_controlled

    assert s.baseline is not None
    if s.instruction_difficulty and s.question_difficulty is None:
        board.warnings.append("ratings.instruction_difficulty is set but was not read against "
                              "the store (LeaderboardSettings.with_difficulty); using the "
                              "difficulty estimated from the other models")
    if s.question_difficulty is not None:
        qids = board.question_ids
        diff = np.array([s.question_difficulty.get(qids[q], np.nan) if 0 <= q < len(qids)
                         else np.nan for q in battles.question.tolist()])
        glm = alpaca_length_controlled(battles, s.baseline, diff)
        board.lc_method = LC_ALPACA
        if not glm:
            board.warnings.append("length-controlled win rate: no battle has both answer "
                                  "lengths and an instruction difficulty")
        left = sum(r.left_out for r in glm)
        if left:
            board.warnings.append(f"length-controlled win rate: {left} battles without both "
                                  f"lengths or an instruction difficulty left out")
        for g in glm:
            rows[g.model].lc_win_rate = _opt(g.lc_win_rate)
        return
    board.lc_method = LC_OTHERS
    lc = length_controlled(battles, s.baseline)
    if not lc:
        board.warnings.append("length-controlled win rate: no answer lengths")
    for r in lc:
        rows[r.model].lc_win_rate = _opt(r.lc_win_rate)


def _single(board: Leaderboard, sub: VerdictFrame, s: LeaderboardSettings) -> Leaderboard:
    table = score_table(sub.model_a, sub.score_a, sub.models, ci_level=s.ci_level,
                        criteria=sub.scores)
    board.models = [m for m, k in zip(table.models, table.n) if k > 0]
    board.n_battles = 0
    rows = []
    for i, m in enumerate(table.models):
        if table.n[i] == 0:
            continue
        rows.append(ModelStanding(
            model=m, rank=int(table.rank[i]), n=int(table.n[i]), score=_opt(table.mean[i]),
            score_ci_low=_opt(table.ci_low[i]), score_ci_high=_opt(table.ci_high[i]),
            criteria={k: float(v[i]) for k, v in table.criteria.items() if math.isfinite(v[i])}))
    if not rows:
        board.empty_reason = "no scored verdicts"
    board.rows = sorted(rows, key=lambda r: (r.rank, -(r.score or -math.inf), r.model))
    return board


def compute_leaderboards(frame: VerdictFrame, settings: LeaderboardSettings
                         ) -> dict[str, Leaderboard]:
    """"all" plus one board per category (when ``settings.per_category`` and there are two or
    more categories)."""
    boards = {"all": compute_leaderboard(frame, settings)}
    cats = frame.used_categories() if len(frame) else []
    if settings.per_category and len(cats) > 1:
        for c in sorted(cats):
            boards[c or "(none)"] = compute_leaderboard(frame, settings, category=c)
    return boards


def _manifest(cfg: Any, boards: dict[str, Leaderboard], frame: VerdictFrame,
              store_desc: str, files: list[str], scope: Any = None) -> dict[str, Any]:
    top = boards.get("all") or next(iter(boards.values()))
    judges = sorted({j for b in boards.values() for j in b.judges})
    return {
        "project_version": __version__, "config_hash": cfg.config_hash(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "store": store_desc, "label": top.label,
        "selection": {"mode": frame.selection.mode,
                      "judge_kinds": list(frame.selection.judge_kinds),
                      "judge_ids": list(frame.selection.judge_ids),
                      "template_versions": list(frame.selection.template_versions)},
        "scope": scope.manifest(cfg) if scope is not None else None,
        "scope_note": top.scope,
        "judges": judges,
        "judge_fingerprints": {name: fp for name, fp in frame.fingerprints.items()
                               if name in judges},
        "template_versions": sorted({t for b in boards.values() for t in b.templates}),
        "seeds": {"bootstrap": top.settings.seed, "judge": getattr(cfg.judge, "seed", None)},
        "counts": {"included": frame.counts.get("included", 0),
                   "excluded": {k: v for k, v in frame.counts.items()
                                if k not in ("rows", "included")},
                   "rows_considered": frame.counts.get("rows", 0),
                   "battles": top.n_battles,
                   "per_category": {c: {"included": b.counts.get("included", 0),
                                        "excluded": {k: v for k, v in b.counts.items()
                                                     if k not in ("rows", "included") and v}}
                                    for c, b in boards.items() if c != "all"}},
        "settings": to_jsonable({k: v for k, v in top.settings.__dict__.items()
                                 if k != "question_difficulty"}),  # the file is named instead
        "categories": list(boards), "files": files,
    }


def write_reports(boards: dict[str, Leaderboard], cfg: Any, frame: VerdictFrame,
                  store_desc: str, scope: Any = None) -> list[Path]:
    """Write <dir>/<name>[-dry-run].{md,csv,json} and a .manifest.json beside them, each file
    replaced atomically (written to a temp name, then renamed)."""
    out_dir = Path(cfg.report.dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    top = next(iter(boards.values()))
    stem = cfg.report.name + ("-dry-run" if top.settings.dry_run else "")
    written = []
    for fmt in cfg.report.formats:
        path = out_dir / f"{stem}.{fmt}"
        _atomic_write(path, format_board(list(boards.values()), fmt))
        written.append(path)
    manifest = out_dir / f"{stem}.manifest.json"
    _atomic_write(manifest, json.dumps(_manifest(cfg, boards, frame, store_desc,
                                                 [p.name for p in written], scope),
                                       indent=2) + "\n")
    written.append(manifest)
    return written


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def build_boards(store: Any, cfg: Any, *, dry_run: bool = False, scope: Any = None,
                 judge: Optional[str] = None
                 ) -> tuple[dict[str, Leaderboard], VerdictFrame, Any]:
    """The boards of ``cfg``'s run scope (``arena.scope``): its questions, answer versions,
    planned pairs and orders, and the fingerprint of the judge it selects (``judge`` names a
    ``judge.judges`` entry instead of the first usable one). Returns (boards, frame, scope).
    Raises ConfigError / BackendUnavailable when the config names no judge that can be
    identified."""
    from arena.scope import build_scope

    settings = LeaderboardSettings.from_config(cfg, dry_run=dry_run)
    if scope is None:
        scope = build_scope(store, cfg, scope_judges(cfg, dry_run=dry_run, name=judge),
                            categories=cfg.generation.categories or None)
    selection = replace(Selection.from_config(cfg.ratings, dry_run=dry_run,
                                              mode=settings.mode),  # type: ignore[arg-type]
                        scope=scope)
    frame = load_verdicts(store, selection)
    settings = settings.with_difficulty(store, frame.questions)  # AlpacaEval's LC, if given
    boards = compute_leaderboards(frame, settings)
    note = scope_note(cfg, scope)
    for b in boards.values():
        b.scope = note
    top = boards["all"]
    if top.empty_reason and frame.counts.get("out_of_scope"):
        top.empty_reason += (f"; {frame.counts['out_of_scope']} stored verdicts are outside "
                             f"this config's scope (other judges, answer versions or pairs)")
    return boards, frame, scope


def scope_judges(cfg: Any, *, dry_run: bool = False, name: Optional[str] = None) -> list[Any]:
    """The judges whose verdicts a config's board counts: the dry-run judge, or the LLM judge
    the reviews stage would select (or the ``judge.judges`` entry called ``name``) plus the
    metric judges. Builds no provider and makes no call."""
    from arena.pipeline import build_judge

    if dry_run:
        return [build_judge(cfg, dry_run=True)]
    if not cfg.judge.judges and not cfg.judge.metrics:
        return []  # human verdicts only
    if name is not None:
        entries = [j for j in cfg.judge.judges if j.name == name]
        if not entries:
            from arena.errors import ConfigError

            raise ConfigError(f"--judge {name!r}: no judge.judges entry has that name "
                              f"(entries: {', '.join(j.name for j in cfg.judge.judges)})")
        cfg = cfg.model_copy(update={"judge": cfg.judge.model_copy(update={
            "judges": [entries[0].model_copy(update={"enabled": True})]})})
    from judges.factory import build_judge as build

    return build(cfg, quiet=True)


def scope_note(cfg: Any, scope: Any) -> str:
    judges = ", ".join(j.label for j in scope.judges) or "human verdicts only"
    return (f"config {cfg.name!r}: {len(scope.question_ids)} questions, "
            f"{len(cfg.enabled_models)} enabled models (one answer version each), judge "
            f"{judges}")


NO_SCOPE = "no run scope (no config, or a config that names no models): every stored verdict"


def build_unscoped_boards(store: Any, cfg: Any, *, dry_run: bool = False
                          ) -> tuple[dict[str, Leaderboard], VerdictFrame]:
    """Boards without a run scope. One judge in the store: the usual boards (all + per
    category). Several: one board per judge fingerprint (human verdicts together), each
    labelled, never one board over judges that happen to share a name."""
    settings = LeaderboardSettings.from_config(cfg, dry_run=dry_run)
    frame = load_verdicts(store, Selection.from_config(
        cfg.ratings, dry_run=dry_run, mode=settings.mode))  # type: ignore[arg-type]
    settings = settings.with_difficulty(store, frame.questions)  # AlpacaEval's LC, if given
    groups = judge_groups(frame)
    if len(groups) <= 1:
        boards = compute_leaderboards(frame, settings)
        for b in boards.values():
            b.scope = NO_SCOPE
        return boards, frame
    boards = {}
    for name, mask in groups.items():
        b = compute_leaderboard(frame.subset(mask), settings)
        b.category = f"all, judge {name}"
        b.counts = {"rows": int(mask.sum()), "included": int(mask.sum())}
        b.scope = NO_SCOPE + "; one board per judge fingerprint (pass -c CONFIG for a run's scope)"
        boards[b.category] = b
    return boards, frame


def judge_groups(frame: VerdictFrame) -> dict[str, np.ndarray]:
    """Row masks per judge: each machine or imported judge (name and fingerprint) alone, all
    human verdicts together."""
    out: dict[str, np.ndarray] = {}
    human = np.zeros(len(frame), dtype=bool)
    for i, name in enumerate(frame.judges):
        mask = frame.judge == i
        if not mask.any():
            continue
        if name.split(":", 1)[0].startswith("human"):
            human |= mask
        else:
            out[name] = mask
    if human.any():
        out["human annotators"] = human
    return out


def board_set(store: Any, cfg: Any, *, dry_run: bool = False, scope: Any = None,
              judge: Optional[str] = None) -> tuple[dict[str, Leaderboard], VerdictFrame, Any]:
    """The boards a config asks for: its run scope's (``build_boards``), or, for a config
    that names no models, the unscoped boards (``build_unscoped_boards``; scope None)."""
    if scope is None and not cfg.models:
        boards, frame = build_unscoped_boards(store, cfg, dry_run=dry_run)
        return boards, frame, None
    return build_boards(store, cfg, dry_run=dry_run, scope=scope, judge=judge)


def run_ratings_stage(store: Any, cfg: Any, *, dry_run: bool = False,
                      fmt: str = "table", write_files: bool = True, scope: Any = None,
                      judge: Optional[str] = None) -> str:
    """Build the config's leaderboards, write the report files (unless there is nothing to
    rate) and return the printed text. Never raises for "no verdicts yet": the text says so.
    A config that names no models has no run scope (``build_unscoped_boards``)."""
    boards, frame, scope = board_set(store, cfg, dry_run=dry_run, scope=scope, judge=judge)
    text = format_board(list(boards.values()), fmt)
    if all(b.empty_reason for b in boards.values()):
        return text
    if write_files and cfg.report.formats:
        paths = write_reports(boards, cfg, frame, store.describe(), scope)
        if fmt == "table":
            text += "\nreport: " + ", ".join(str(p) for p in paths) + "\n"
    return text


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("leaderboard", help="print the leaderboard and write the report",
                              description="Ratings from the stored verdicts (Bradley-Terry with "
                              "bootstrap CIs, Elo, win rates) per category; writes the report "
                              "files and their manifest into report.dir.")
    p.add_argument("-c", "--config", help="config file: the board counts exactly its run scope "
                   "(without one: a board per judge fingerprint over every stored verdict)")
    p.add_argument("--db", help="store URL (overrides ARENA_DB and store.url)")
    p.add_argument("--format", choices=["table", "csv", "json", "md", "arena-hard", "leval-exam",
                                        "leval-f1", "leval-rouge", "longbench"],
                   default="table",
                   help="table, csv, json, md; or a seed's layout: arena-hard (score (-low, "
                        "+high) vs the baseline), leval-exam / leval-f1 / leval-rouge / "
                        "longbench (per-task tables from the metric judges); these print "
                        "only and write no report files")
    p.add_argument("--by-category", action="store_true",
                   help="print the rank (UB) of every model in every category (--format "
                        "table, csv, md or json)")
    p.add_argument("--min-battles", type=int, default=None, metavar="N",
                   help="leave out models with fewer than N battles (ratings.min_battles)")
    p.add_argument("--dry-run", action="store_true",
                   help="rate only the dry-run (random) verdicts, labelled as such")
    p.add_argument("--no-files", action="store_true", help="print only; write no report files")
    p.add_argument("--judge", help="with -c: the judge.judges entry whose verdicts to rate "
                   "(default: the first usable one, as the reviews stage picks)")
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    from arena.config import ArenaConfig, load_config
    from arena.store import open_store

    cfg = load_config(args.config).config if args.config else ArenaConfig()
    if getattr(args, "min_battles", None) is not None:
        cfg.ratings.min_battles = args.min_battles
    store = open_store(args.db, cfg.store.url)
    try:
        if args.judge and not cfg.models:
            from arena.errors import ConfigError

            raise ConfigError("--judge needs -c CONFIG naming models (without a run scope "
                              "every judge fingerprint gets its own board)")
        if getattr(args, "by_category", False) or args.format in _VIEW_FORMATS:
            return _cli_view(args, store, cfg)
        print(run_ratings_stage(store, cfg, dry_run=args.dry_run, fmt=args.format,
                                write_files=not args.no_files, judge=args.judge), end="")
    finally:
        store.close()
    return 0


_VIEW_FORMATS = ("arena-hard", "leval-exam", "leval-f1", "leval-rouge", "longbench")


def _cli_view(args: argparse.Namespace, store: Any, cfg: Any) -> int:
    """The seeds' layouts and the rank table (``arena.ratings.views``): print only."""
    import sys

    from arena.ratings.views import render

    try:
        text, notes = render(store, cfg, args.format, by_category=args.by_category,
                             dry_run=args.dry_run)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(text, end="")
    return 0


__all__ = ["LeaderboardSettings", "ModelStanding", "Leaderboard", "Selection", "VerdictFrame",
           "load_verdicts", "compute_leaderboard", "compute_leaderboards", "format_board",
           "run_ratings_stage", "write_reports", "build_boards", "add_parser", "DRY_RUN_LABEL"]
