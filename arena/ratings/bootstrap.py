"""The bootstrap of Bradley-Terry ratings: Poisson re-weighting of aggregated unit types.

Each resampling unit (a question, a battle or a row) gets an independent Poisson(1) weight -
the Poisson bootstrap, asymptotically the same as resampling n of n with replacement. Units
with identical contributions were merged into types by ``arena.ratings.pairs.aggregate``; a
type of c units gets one Poisson(c) draw (``arena.ratings.poisson``), exactly the sum of its
units' weights, so a round costs O(types) draws plus one sparse product, never O(battles).

``round_sums`` yields the per-pair sums of the rounds, chunk by chunk, from the seed: the same
rounds for every caller (the benchmark refits them with scipy as a reference).
``bootstrap_thetas`` fits them: rounds whose resample leaves a model with no wins or no losses
get the same normal prior as a full fit that needs it; all rounds of a chunk are fitted together
by the chord iteration of ``arena.ratings.bt_rounds`` (O(pairs) per step and round), and the
rounds it hands back are refitted by exact batched Newton.
"""

from __future__ import annotations

from typing import Iterator, Optional

import numpy as np

from scipy import sparse
from threadpoolctl import threadpool_limits

from arena.ratings.bt import DEFAULT_PRIOR_SD, SCALE, PairData, fit_thetas
from arena.ratings.bt_rounds import RoundFitter
from arena.ratings.poisson import poisson_rows

CHUNK_BYTES = 8 * 2**20  # one (P x chunk) float64 array: small enough to stay in cache
DRAW_BYTES = 32 * 2**20  # the (types x chunk) float32 draws
OUT_BYTES = 2 * 2**20  # a row block of the per-pair sums, while it is being summed


def chunk_size(pd: PairData, rounds: int) -> int:
    """Rounds per chunk: a (P x chunk) float64 array within ``CHUNK_BYTES`` (the fit's
    elementwise passes then run from cache: fastest at 500 models) and the draws within
    ``DRAW_BYTES``; at most 512."""
    P, T = len(pd.pair_i), pd.type_count.shape[0]
    return int(max(1, min(rounds, 512, CHUNK_BYTES // (8 * max(P, 1)),
                          DRAW_BYTES // (4 * max(T, 1)))))


def round_sums(pd: PairData, rounds: int, seed: int, chunk: Optional[int] = None
               ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(first round, s, n) per chunk: the rounds' per-pair sums as (P x r) float64 arrays."""
    rng = np.random.default_rng(seed)
    chunk = chunk or chunk_size(pd, rounds)
    # (P x T) in CSC form: the product walks the types in order and adds each type's row of
    # weights into the small (P x r) result. float32 halves the memory traffic and is exact
    # while sums are multiples of 0.5 below 2**24; fractional scores keep float64.
    dt = np.float32 if pd.half_scores else np.float64
    P = len(pd.pair_i)
    # s and n stacked: one pass over the draws gives both
    both = sparse.vstack([pd.type_s.T, pd.type_n.T]).tocsc().astype(dt)
    both.eliminate_zeros()  # losses of the lower index add nothing to its score: skip them
    # each type adds its row of draws into the rows of the pairs it touches, scattered over
    # the result: in row blocks whose part of the result stays in cache (~2 MiB), the same
    # product runs 2-3x faster at 200+ models (measured), the draws streamed once per block
    rows = max(1024, OUT_BYTES // (np.dtype(dt).itemsize * chunk))
    blocks = [(lo, both[lo:lo + rows].tocsc()) for lo in range(0, 2 * P, rows)] \
        if 2 * P > rows else [(0, both)]
    for start in range(0, rounds, chunk):
        r = min(chunk, rounds - start)
        mt = poisson_rows(rng, pd.type_count, r)
        if dt is np.float64:
            mt = mt.astype(np.float64)
        sn = np.empty((2 * P, r))
        for lo, block in blocks:
            sn[lo:lo + block.shape[0]] = block @ mt
        yield start, sn[:P], sn[P:]


def bootstrap_thetas(pd: PairData, theta: np.ndarray, rounds: int, seed: int,
                     prior_all: bool = False, prior_sd: float = DEFAULT_PRIOR_SD,
                     chunk: Optional[int] = None, tol: float = 1e-9) -> np.ndarray:
    """``rounds`` Poisson-bootstrap replicates of the units, each fitted from the full-data
    estimate ``theta``. Returns (rounds x M) natural-scale coefficients (mean zero per row)."""
    lam_prior = (SCALE / prior_sd) ** 2
    out = np.empty((rounds, pd.n_models))
    # many small (M x M) @ (M x chunk) products: BLAS threads cost more than they save there,
    # and on a busy machine they spin (measured 3x slower on two shared cores)
    with threadpool_limits(1, user_api="blas"):
        fitter = RoundFitter(pd.pair_i, pd.pair_j, pd.n_models, theta, pd.n,
                             lam_prior if prior_all else 0.0)
        for start, s, n in round_sums(pd, rounds, seed, chunk):
            r = s.shape[1]
            won, lost = fitter.points(s, n)
            prior = np.full(r, prior_all) | ((won <= 0) | (lost <= 0)).any(axis=0)
            lam = np.where(prior, lam_prior, 0.0)
            th, done = fitter.fit(s, n, lam, tol=tol)
            if not done.all():
                bad = np.flatnonzero(~done)
                th[:, bad] = fit_thetas(pd, np.ascontiguousarray(s[:, bad].T),
                                        np.ascontiguousarray(n[:, bad].T), prior[bad],
                                        prior_sd, theta0=theta, tol=tol).T
            out[start:start + r] = th.T
    return out


__all__ = ["bootstrap_thetas", "round_sums", "chunk_size"]
