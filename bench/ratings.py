"""Ratings speed and memory: BT fit + bootstrap, online Elo, style-controlled BT.

Prints, for 100 k, 1 M and 10 M battles among 50 models (simulated with known strengths):

- BT fit + 1,000 bootstrap rounds, for three shapes of data:
  ``arena-log``  every battle its own prompt (Chatbot Arena vote logs): unit = question = battle;
  ``offline``    every pair judged on each question in both orders (MT-bench / arena-hard shape):
                 ~N / 2,450 questions, resampled as questions;
  ``clustered``  10 battles per question, resampled as questions (the hardest case: ~N / 10
                 distinct question patterns);
- online Elo over the same battles;
- the style-controlled BT fit (length covariate, cluster-robust CIs) once per size.

Time is wall clock of the call; memory is the peak of numpy/Python allocations during a second,
traced run of the call (tracemalloc; numpy reports its buffers to it) - the input arrays are
not counted. Elo's memory is not traced (tracing slows its Python loop; it holds three lists).

Usage: python bench/ratings.py [--sizes 100000,1000000,10000000] [--rounds 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arena.ratings.battles import Battles  # noqa: E402
from arena.ratings.bt import fit_bt  # noqa: E402
from arena.ratings.elo import online_elo  # noqa: E402
from arena.ratings.length import style_bt  # noqa: E402

M = 50


def simulate(n: int, shape: str, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, M)
    if shape == "offline":
        i, j = np.triu_indices(M, 1)
        per_q = 2 * len(i)
        n_q = max(1, n // per_q)
        a = np.tile(np.concatenate([i, j]), n_q)[:n]
        b = np.tile(np.concatenate([j, i]), n_q)[:n]
        q = np.repeat(np.arange(n_q), per_q)[:n]
        if len(a) < n:  # pad the last partial question
            extra = n - len(a)
            a = np.concatenate([a, np.resize(np.concatenate([i, j]), extra)])
            b = np.concatenate([b, np.resize(np.concatenate([j, i]), extra)])
            q = np.concatenate([q, np.full(extra, n_q)])
    else:
        a = rng.integers(0, M, n)
        b = (a + rng.integers(1, M, n)) % M
        q = np.arange(n) if shape == "arena-log" else np.arange(n) // 10
    p = 1.0 / (1.0 + np.exp(-(strength[a] - strength[b])))
    u = rng.random(n)
    score = np.where(u < 0.9 * p, 1.0, np.where(u < 0.9 * p + 0.1, 0.5, 0.0))
    la = rng.uniform(100, 2000, n)
    lb = rng.uniform(100, 2000, n)
    return {"a": a, "b": b, "q": q, "score": score, "la": la, "lb": lb}


def measure(fn: Callable[[], Any], memory: bool = True) -> tuple[float, float, float, Any]:
    """(wall seconds and CPU seconds of an untraced run, peak MiB of a second, traced run,
    result). Tracing slows Python loops a lot, so the times never come from the traced run.
    CPU time is printed too because on a shared machine wall time includes waiting for a core."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    if not memory:
        return dt, cpu, float("nan"), out
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return dt, cpu, peak / 2**20, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000,10000000")
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--shapes", default="arena-log,offline,clustered")
    args = ap.parse_args()
    names = [f"m{k}" for k in range(M)]
    warm = simulate(5000, "clustered")  # imports and first-call costs stay out of the figures
    fit_bt(warm["a"], warm["b"], warm["score"], names, unit=warm["q"], rounds=10)
    style_bt(Battles.from_arrays(names, warm["a"], warm["b"], warm["score"], question=warm["q"],
                                 len_a=warm["la"], len_b=warm["lb"]))  # imports scipy.stats
    print(f"{'battles':>10}  {'shape':<10}  {'what':<26}  {'wall s':>7}  {'CPU s':>7}  "
          f"{'peak MiB':>8}")
    for n in [int(x) for x in args.sizes.split(",")]:
        for shape in args.shapes.split(","):
            d = simulate(n, shape)
            dt, cpu, mem, res = measure(lambda: fit_bt(d["a"], d["b"], d["score"], names,
                                                  unit=d["q"], rounds=args.rounds,
                                                  resample="questions", seed=0))
            assert np.isfinite(res.ci_low).all()
            print(f"{n:>10}  {shape:<10}  {'BT + ' + str(args.rounds) + ' bootstrap':<26}  "
                  f"{dt:>7.2f}  {cpu:>7.2f}  {mem:>8.0f}", flush=True)
            if shape == "arena-log":
                dt, cpu, mem, _ = measure(lambda: online_elo(d["a"], d["b"], d["score"], M),
                                          memory=False)
                print(f"{n:>10}  {shape:<10}  {'online Elo':<26}  {dt:>7.2f}  {cpu:>7.2f}  "
                      f"{'-':>8}", flush=True)
                battles = Battles.from_arrays(names, d["a"], d["b"], d["score"],
                                              question=d["q"], len_a=d["la"], len_b=d["lb"])
                dt, cpu, mem, _ = measure(lambda: style_bt(battles))
                print(f"{n:>10}  {shape:<10}  {'style-controlled BT + CIs':<26}  {dt:>7.2f}  "
                      f"{cpu:>7.2f}  {mem:>8.0f}", flush=True)
            del d
    return 0


if __name__ == "__main__":
    sys.exit(main())
