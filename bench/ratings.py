"""Ratings speed and memory: BT + 1,000 bootstrap rounds on 1 M battles, beside a plain
per-round scipy L-BFGS fit of the same rounds.

For 50, 200 and 500 models (strengths ~ N(0, 1), random pairs, 10 % ties) and two resampling
units - ``battles`` (every battle its own unit) and ``questions`` (10 battles per question,
~100 k questions) - each configuration runs in its own process and prints:

- ``ours``: wall and CPU seconds of ``arena.ratings.bt.fit_bt(..., rounds=1000)`` (aggregation,
  the full fit, the draws and the batched fit of every round), and the process's peak
  resident memory (``ru_maxrss``, input arrays and the interpreter included) measured right
  after it;
- ``reference``: the same rounds (``arena.ratings.bootstrap.round_sums`` from the same seed),
  each fitted on its own by ``scipy.optimize.minimize(method="L-BFGS-B")`` from zero on the
  per-pair likelihood with its analytic gradient, at scipy's default tolerances - what a
  plain implementation does - timed over the fits only; for 500 models only ``--ref-rounds-500`` rounds are fitted and the time
  is extrapolated to 1,000 (said in the output);
- ``max |d| Elo``: the largest difference between our bootstrap ratings and the reference's on
  the rounds both fitted (L-BFGS stops at its own tolerance, so this bounds both errors).

Goals (issue 14): 50 models <= 1 s, 200 <= 3 s, 500 <= 15 s, peak <= 1.5 GB on this 2-core
machine. A second, short table keeps the other figures of this benchmark: online Elo and the
style-controlled BT on 1 M battles (50 models).

Usage: python bench/ratings.py [--models 50,200,500] [--units battles,questions]
       [--rounds 1000] [--repeat 3] [--ref-rounds-500 20] [--no-reference] [--no-extras]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N_BATTLES = 1_000_000
GOALS = {50: 1.0, 200: 3.0, 500: 15.0}
PEAK_GOAL_MIB = 1536


def simulate(M: int, n: int = N_BATTLES, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, M)
    a = rng.integers(0, M, n)
    b = (a + rng.integers(1, M, n)) % M
    p = 1.0 / (1.0 + np.exp(-(strength[a] - strength[b])))
    u = rng.random(n)
    score = np.where(u < 0.9 * p, 1.0, np.where(u < 0.9 * p + 0.1, 0.5, 0.0))
    return {"a": a, "b": b, "score": score, "q": np.arange(n) // 10,
            "la": rng.uniform(100, 2000, n), "lb": rng.uniform(100, 2000, n)}


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def lbfgs_round(pair_i: np.ndarray, pair_j: np.ndarray, M: int, s: np.ndarray, n: np.ndarray,
                lam: float) -> np.ndarray:
    """A plain fit of one round: L-BFGS on the per-pair negative log likelihood (+ the same
    normal prior when the round needs it), from zero; returns mean-zero natural ratings."""
    from scipy.optimize import minimize

    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        d = x[pair_i] - x[pair_j]
        lp, lq = -np.logaddexp(0.0, -d), -np.logaddexp(0.0, d)
        r = s - n * np.exp(lp)
        g = -(np.bincount(pair_i, weights=r, minlength=M) -
              np.bincount(pair_j, weights=r, minlength=M)) + lam * x
        return float(-(s * lp + (n - s) * lq).sum() + 0.5 * lam * (x @ x)), g - g.mean()

    # scipy's default tolerances: a plain fit (ours is exact to 1e-9 natural units)
    opt = minimize(f, np.zeros(M), jac=True, method="L-BFGS-B",
                   options={"maxiter": 15000, "maxfun": 15000})
    return opt.x - opt.x.mean()


def child(M: int, unit: str, rounds: int, ref_rounds: int, repeat: int = 3) -> dict[str, Any]:
    from arena.ratings.bootstrap import round_sums
    from arena.ratings.bt import DEFAULT_PRIOR_SD, SCALE, aggregate, fit_bt

    names = [f"m{k}" for k in range(M)]
    warm = simulate(M, 20_000, seed=1)  # imports and first-call costs stay out
    fit_bt(warm["a"], warm["b"], warm["score"], names, unit=warm["q"], rounds=4,
           resample=unit)  # type: ignore[arg-type]
    d = simulate(M)
    rss_before = _peak_mib()
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        res = fit_bt(d["a"], d["b"], d["score"], names, unit=d["q"], rounds=rounds,
                     resample=unit, seed=0)  # type: ignore[arg-type]
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    wall, cpu = float(np.median(walls)), float(np.median(cpus))
    out: dict[str, Any] = {"models": M, "unit": unit, "rounds": rounds, "wall": wall,
                           "cpu": cpu, "walls": walls, "peak_mib": _peak_mib(),
                           "rss_before_mib": rss_before,
                           "finite": bool(np.isfinite(res.ci_low).all()),
                           "regularized": res.regularized}
    if ref_rounds <= 0:
        return out
    # the same rounds: aggregation and draws as fit_bt made them (seed 0)
    pd = aggregate(d["a"], d["b"], d["score"], np.ones(len(d["a"])), M,
                   d["q"] if unit == "questions" else None, rows=unit == "rows")
    lam_prior = (SCALE / DEFAULT_PRIOR_SD) ** 2
    ref, fit_s, done = [], 0.0, 0
    from arena.ratings.bt import needs_prior

    for _start, s, n in round_sums(pd, rounds, 0):
        prior = needs_prior(pd, s.T, n.T) | res.regularized
        for k in range(s.shape[1]):
            if done >= ref_rounds:
                break
            t = time.perf_counter()
            th = lbfgs_round(pd.pair_i, pd.pair_j, M, s[:, k], n[:, k],
                             lam_prior if prior[k] else 0.0)
            fit_s += time.perf_counter() - t
            ref.append(SCALE * th + 1000.0)
            done += 1
        if done >= ref_rounds:
            break
    ours = res.samples[:done]
    out.update(ref_rounds=done, ref_fit_s=fit_s, ref_1000_s=fit_s / done * rounds,
               max_diff_elo=float(np.abs(ours - np.vstack(ref)).max()))
    return out


def extras(rounds: int) -> list[str]:
    from arena.ratings.battles import Battles
    from arena.ratings.elo import online_elo
    from arena.ratings.length import style_bt

    d = simulate(50)
    names = [f"m{k}" for k in range(50)]
    lines = []
    t = time.perf_counter()
    online_elo(d["a"], d["b"], d["score"], 50)
    lines.append(f"  online Elo, 1 M battles, 50 models: {time.perf_counter() - t:.2f} s")
    b = Battles.from_arrays(names, d["a"], d["b"], d["score"], question=d["q"], len_a=d["la"],
                            len_b=d["lb"])
    style_bt(b)  # imports scipy.stats
    t = time.perf_counter()
    style_bt(b)
    lines.append(f"  style-controlled BT + cluster-robust CIs, 1 M battles, 50 models: "
                 f"{time.perf_counter() - t:.2f} s")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="50,200,500")
    ap.add_argument("--units", default="battles,questions")
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--ref-rounds-500", type=int, default=20)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--no-extras", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="runs of ours per configuration "
                    "(the median is printed)")
    ap.add_argument("--child", nargs=5, metavar=("M", "UNIT", "ROUNDS", "REF", "REPEAT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        M, unit, rounds, ref, repeat = args.child
        print(json.dumps(child(int(M), unit, int(rounds), int(ref), int(repeat))))
        return 0
    print(f"BT + {args.rounds} bootstrap rounds on {N_BATTLES:,} battles: each configuration "
          f"in a fresh process, ours the median of {args.repeat} runs (wall and CPU), the "
          f"reference one run, in the same process")
    head = (f"{'models':>6}  {'unit':<9}  {'ours s':>7}  {'CPU s':>6}  {'peak MiB':>8}  "
            f"{'goal':>5}  {'reference s':>12}  {'ref rounds':>10}  {'speed-up':>8}  "
            f"{'max |d| Elo':>11}")
    print(head)
    print("-" * len(head))
    failed = []
    for M in [int(x) for x in args.models.split(",")]:
        for unit in args.units.split(","):
            ref = 0 if args.no_reference else (args.ref_rounds_500 if M >= 500 else args.rounds)
            got = subprocess.run([sys.executable, __file__, "--child", str(M), unit,
                                  str(args.rounds), str(ref), str(args.repeat)],
                                 capture_output=True, text=True, check=True)
            r = json.loads(got.stdout.strip().splitlines()[-1])
            goal = GOALS.get(M)
            ok = (goal is None or r["wall"] <= goal) and r["peak_mib"] <= PEAK_GOAL_MIB
            if not ok:
                failed.append(f"{M}/{unit}")
            refs = refr = sp = diff = "-"
            if ref:
                extrap = r["ref_rounds"] < args.rounds
                refs = f"{r['ref_1000_s']:.1f}" + ("*" if extrap else "")
                refr = str(r["ref_rounds"])
                sp = f"{r['ref_1000_s'] / r['wall']:.0f}x"
                diff = f"{r['max_diff_elo']:.1e}"
            print(f"{M:>6}  {unit:<9}  {r['wall']:>7.2f}  {r['cpu']:>6.2f}  "
                  f"{r['peak_mib']:>8.0f}  {('<=' + format(goal, 'g')) if goal else '':>5}  "
                  f"{refs:>12}  {refr:>10}  {sp:>8}  {diff:>11}", flush=True)
    if not args.no_reference and any(int(x) >= 500 for x in args.models.split(",")):
        print(f"* reference fitted on {args.ref_rounds_500} of the {args.rounds} rounds and "
              f"extrapolated linearly to {args.rounds}")
    print(f"peak MiB: the process's maximum resident memory after our fit (input arrays and "
          f"the interpreter included); goal <= {PEAK_GOAL_MIB} MiB")
    print("goals " + ("met" if not failed else "missed: " + ", ".join(failed)))
    if not args.no_extras:
        print("other figures:")
        for line in extras(args.rounds):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
