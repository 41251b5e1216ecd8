"""Adaptive next pair vs breadth-first: verdicts needed until the ranking is right enough.

Simulated annotation of a pairwise task over ``--models`` models (default 20, every pair,
``--questions`` items per pair, overlap 1):

- truth: each run draws the models' Elo strengths from N(0, ``--spread``) (seeded);
- annotators: ``--annotators`` simulated annotators with known strengths (reliabilities from 1
  down to ``1 - --noise``): a reliable verdict follows Bradley-Terry on the true strengths,
  with ``--ties`` ties; an unreliable one is a random A / B / tie. They take turns.
- breadth-first: items in task order, as ``annotate.assign`` hands them out without the
  setting (with overlap 1 that visits the pairs round-robin);
- adaptive: every ``--every`` verdicts the plan is made by ``annotate.adaptive.plan_from_arrays``
  (the function the claim uses: ``arena.ratings.bt.fit_bt`` with bootstrap, pair values, the
  stop rule) and each pair is drawn by ``Plan.pick``, as ``annotate.assign`` draws it;
- after every ``--every`` verdicts the ranking (``fit_bt`` ratings) is compared with the
  truth (Kendall tau); a run's figure is the number of verdicts when tau first reaches
  ``--target`` (0.9). A run that never gets there (items exhausted, or the stop rule closed
  every pair first) counts as every item of the task (the worst case), and is reported.

Prints the median over ``--runs`` (20) runs of both, on the same seeds, and the reduction.

Usage: python bench/adaptive.py [--runs 20] [--models 20] [--target 0.9] [--spread 400]
       [--noise 0.4] [--seed 0]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scipy.stats import kendalltau  # noqa: E402

from annotate import adaptive  # noqa: E402
from arena.ratings.bt import fit_bt  # noqa: E402


class Annotators:
    """Simulated annotators with known strengths (reliabilities), taking turns."""

    def __init__(self, truth: np.ndarray, k: int, noise: float, ties: float,
                 rng: np.random.Generator) -> None:
        self.truth, self.rng, self.ties = truth, rng, ties
        self.reliability = np.linspace(1.0, 1.0 - noise, k)
        self.turn = 0

    def verdict(self, i: int, j: int) -> float:
        """The score of model i against j: 1 win, 0.5 tie, 0 loss."""
        r = self.reliability[self.turn % len(self.reliability)]
        self.turn += 1
        if self.rng.random() > r:
            return float(self.rng.choice([0.0, 0.5, 1.0]))
        if self.rng.random() < self.ties:
            return 0.5
        p = 1.0 / (1.0 + 10.0 ** ((self.truth[j] - self.truth[i]) / 400.0))
        return 1.0 if self.rng.random() < p else 0.0


def run(policy: str, seed: int, args: argparse.Namespace) -> tuple[Optional[int], int]:
    """(verdicts when tau first reached the target or None, verdicts given)."""
    rng = np.random.default_rng(seed)
    truth = np.random.default_rng(10_000 + seed).normal(0.0, args.spread, args.models)
    models = [f"model-{k:02d}" for k in range(args.models)]
    pairs = list(itertools.combinations(range(args.models), 2))
    names = [(models[i], models[j]) for i, j in pairs]
    left = {p: args.questions for p in names}  # items of each pair not yet given
    annot = Annotators(truth, args.annotators, args.noise, args.ties, rng)
    cfg = adaptive.Settings(enabled=True, ci_level=args.ci, cap=args.cap, refresh=args.every)
    a: list[int] = []
    b: list[int] = []
    s: list[float] = []
    plan: Optional[adaptive.Plan] = None
    stopped: dict[tuple[str, str], tuple[str, str]] = {}
    budget = len(pairs) * args.questions
    for t in range(budget):
        if t and t % args.every == 0:
            ratings = fit_bt(np.array(a), np.array(b), np.array(s), models, rounds=0).rating
            if kendalltau(ratings, truth).statistic >= args.target:
                return t, t
            if policy == "adaptive":
                plan = adaptive.plan_from_arrays(0, models, np.array(a), np.array(b),
                                                 np.array(s), names, cfg, stopped=stopped,
                                                 seed=seed * 100_003 + t)
                stopped.update({k: (p.status, p.reason) for k, p in plan.pairs.items()
                                if p.status == "cap"})  # final; separation is judged afresh
                if plan.finished:  # every pair stopped before the ranking got there
                    return None, budget
        if policy == "breadth-first":
            pair = names[t % len(names)]
        else:
            open_ = [p for p in names if left[p] > 0]
            pair = plan.pick(rng, open_) if plan is not None else \
                open_[int(rng.integers(len(open_)))]
            if pair is None:  # the open pairs ran out of items
                return None, budget
        left[pair] -= 1
        i, j = models.index(pair[0]), models.index(pair[1])
        if rng.random() < 0.5:  # the side shown first: irrelevant to BT, as in the app
            i, j = j, i
        a.append(i)
        b.append(j)
        s.append(annot.verdict(i, j))
    return None, budget


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--questions", type=int, default=100, help="items per pair")
    ap.add_argument("--target", type=float, default=0.9, help="Kendall tau to reach")
    ap.add_argument("--spread", type=float, default=400.0, help="sd of true Elo strengths")
    ap.add_argument("--annotators", type=int, default=5)
    ap.add_argument("--noise", type=float, default=0.4,
                    help="the least reliable annotator answers at random this often")
    ap.add_argument("--ties", type=float, default=0.1)
    ap.add_argument("--every", type=int, default=10, help="verdicts between plan refreshes")
    ap.add_argument("--ci", type=float, default=adaptive.DEFAULT_CI, help="stop rule CI level")
    ap.add_argument("--cap", type=int, default=adaptive.DEFAULT_CAP, help="per-pair cap")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # fit_bt's "MLE does not exist" notes on early fits

    print(f"{args.models} models (Elo ~ N(0, {args.spread:g})), {args.annotators} annotators "
          f"(reliability 1 .. {1 - args.noise:g}, ties {args.ties:g}), {args.questions} items "
          f"per pair; verdicts until Kendall tau >= {args.target:g}; {args.runs} runs")
    results: dict[str, list[int]] = {}
    missed: dict[str, int] = {}
    for policy in ("breadth-first", "adaptive"):
        t0 = time.perf_counter()
        got = []
        for r in range(args.runs):
            reached, given = run(policy, args.seed + r, args)
            got.append(reached if reached is not None else given)
            missed[policy] = missed.get(policy, 0) + (reached is None)
        results[policy] = got
        print(f"{policy:>13}: median {statistics.median(got):7.0f} verdicts  (runs: "
              f"{' '.join(map(str, got))}; {missed[policy]} never reached it; "
              f"{time.perf_counter() - t0:.0f} s)", flush=True)
    bf, ad = statistics.median(results["breadth-first"]), statistics.median(results["adaptive"])
    paired = statistics.median(a / b for a, b in zip(results["adaptive"],
                                                      results["breadth-first"]))
    print(f"adaptive needs {100 * (1 - ad / bf):.0f}% fewer verdicts (medians; the median "
          f"per-run ratio is {paired:.2f}); goal: at least 30% fewer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
