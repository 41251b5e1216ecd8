"""Coverage of the bootstrap CIs: simulated tournaments with known strengths.

Each tournament: ``--models`` models with strengths drawn from N(0, 1) (natural scale), every
pair meets once on each of ``--questions`` questions in both display orders (the
``both_games`` policy), outcomes drawn from the BT model with ties (a tie takes probability
mass equally from both sides, so the expected score is exactly BT's win probability). The
true ratings on the Elo scale (mean 1000) are compared with the fitted ratings' CIs; the
figure printed is the share of (tournament, model) intervals that contain the truth. For a
95 % level it should be 93-97 %.

Correlation between the two orders of a battle can be simulated (``--order-copy R``: the
second order repeats the first one's outcome with probability R, else it is drawn afresh - the
marginal distribution, hence the truth, is unchanged). That is why the default resampling unit
is the question: the battle bootstrap under-covers when battles of a question are correlated.

``--strong S`` makes each verdict weigh 3 with probability S (as arena-hard weighs a strong
verdict, but independently of the outcome so that the weighted fit stays unbiased); ``--units`` then may include ``rows`` (arena-hard-auto's
bootstrap: a strong verdict's three rows resampled one by one). The three rows of a verdict
are one observation, so the rows bootstrap under-covers as S grows - the figure to quote
beside arena-hard's intervals.

Usage: python bench/coverage.py [--tournaments 200] [--rounds 1000] [--level 0.95]
       [--strong 0.0] [--units questions,battles]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arena.ratings.bt import SCALE, fit_bt  # noqa: E402


def tournament(rng: np.random.Generator, M: int, Q: int, order_copy: float,
               strong: float = 0.0) -> tuple[np.ndarray, ...]:
    strength = rng.normal(0.0, 1.0, M)
    i, j = np.triu_indices(M, 1)
    a1 = np.tile(i, Q)
    b1 = np.tile(j, Q)
    q1 = np.repeat(np.arange(Q), len(i))

    def draw(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-(strength[a] - strength[b])))
        tie = 0.3 * (1.0 - np.abs(2.0 * p - 1.0))  # keeps P(win) = (p - tie/2) / (1 - tie) valid
        win = rng.random(len(a)) < (p - tie / 2) / (1 - tie)
        return np.where(rng.random(len(a)) < tie, 0.5, np.where(win, 1.0, 0.0))
    s1 = draw(a1, b1)
    # the other display order of the same battle (stored with the sides swapped)
    fresh = 1.0 - draw(a1, b1)
    s2 = np.where(rng.random(len(a1)) < order_copy, 1.0 - s1, fresh)
    a = np.concatenate([a1, b1])
    b = np.concatenate([b1, a1])
    score = np.concatenate([s1, s2])
    q = np.concatenate([q1, q1])
    # the truth: BT strengths, centred like the fit (mean 1000 on the Elo scale)
    truth = SCALE * (strength - strength.mean()) + 1000.0
    # independent of the outcome (ties too): the weighted fit stays unbiased, only the
    # resampling differs (arena-hard's own weights, strong wins only, also bias the fit)
    weight = np.where(rng.random(len(a)) < strong, 3.0, 1.0)
    return a, b, score, q, truth, weight


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tournaments", type=int, default=200)
    ap.add_argument("--models", type=int, default=8)
    ap.add_argument("--questions", type=int, default=60)
    ap.add_argument("--order-copy", type=float, default=0.0)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--level", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--strong", type=float, default=0.0)
    ap.add_argument("--units", default="questions,battles")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    names = [f"m{k}" for k in range(args.models)]
    hits = {u: 0 for u in args.units.split(",")}
    width = {u: 0.0 for u in hits}
    total = 0
    t0 = time.perf_counter()
    for t in range(args.tournaments):
        a, b, s, q, truth, w = tournament(rng, args.models, args.questions, args.order_copy,
                                          args.strong)
        for unit in hits:
            res = fit_bt(a, b, s, names, weight=w, unit=q, rounds=args.rounds,
                         ci_level=args.level, resample=unit, seed=t)  # type: ignore[arg-type]
            hits[unit] += int(((res.ci_low <= truth) & (truth <= res.ci_high)).sum())
            width[unit] += float((res.ci_high - res.ci_low).sum())
        total += args.models
    dt = time.perf_counter() - t0
    print(f"{args.tournaments} tournaments x {args.models} models, {args.questions} questions, "
          f"both orders, order copy {args.order_copy:g}, strong share {args.strong:g}, "
          f"{args.rounds} bootstrap rounds, "
          f"level {args.level:.0%} ({dt:.1f} s)")
    for unit in hits:
        cov = hits[unit] / total
        se = math.sqrt(cov * (1 - cov) / total)
        print(f"  resampling {unit:<9}: coverage {cov:.1%} (+/- {se:.1%}), mean CI width "
              f"{width[unit] / total:.1f} Elo points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
