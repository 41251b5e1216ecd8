"""AlpacaEval's length-controlled win rate, with AlpacaEval's own instruction difficulties.

AlpacaEval 2 (``alpaca_eval.metrics.glm_winrate``, GLM ``length_controlled_v1``) fits, per model
against the baseline, a logistic regression of the soft label y = preference - 1 (1 = the model's
output preferred) on

    tanh(std_delta_len) + instruction_difficulty + the model term   (no intercept),

where ``std_delta_len`` = (baseline length - model length) / its sample standard deviation over
the model's battles (characters), and ``instruction_difficulty`` is read from AlpacaEval's
``instruction_difficulty.csv`` (columns: instruction index, instruction_difficulty). The fit is
AlpacaEval's: L1-penalised (liblinear), no intercept, C chosen by 5-fold grouped cross-validation
on the continuous log loss, each battle entered twice (label 1 with weight y, label 0 with weight
1 - y). The length-controlled win rate is the mean prediction with the length term set to 0,
x 100.

What differs from AlpacaEval: its fit also adds rows of two "gamed" baselines (verbose and
concise versions of the baseline, weight 0.2 / 2, from its hosted ``df_gamed.csv``), which this
module does not have; so on AlpacaEval's own data the figure is close to, not equal to, the
published one.

The instruction index is the question's position in the file it was imported from (AlpacaEval's
annotations and model outputs are written in the evaluation set's order). A battle whose
question has no difficulty, or whose answers have no length, is left out (and counted).

Errors: ``read_instruction_difficulty`` raises InputError naming the file, line and field.
"""

from __future__ import annotations

import csv
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from arena.errors import InputError
from arena.ratings.battles import Battles
from arena.ratings.winrate import preferences_vs

LC_OTHERS = "length-controlled win rate (difficulty estimated from the other models)"
LC_ALPACA = ("length-controlled win rate (AlpacaEval's GLM with its instruction_difficulty.csv; "
             "without its gamed-baseline regularisation)")


def read_instruction_difficulty(path: str | Path) -> dict[int, float]:
    """{instruction index: difficulty} from a CSV with a header; the first column is the index
    (AlpacaEval writes it unnamed or as ``index``), the difficulty column is
    ``instruction_difficulty``. Raises InputError for an unreadable file or bad values."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the instruction difficulties: {exc}", file=p) from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or "instruction_difficulty" not in rows[0]:
        raise InputError("expected a header with an instruction_difficulty column", file=p,
                         line=1, field="instruction_difficulty")
    col = rows[0].index("instruction_difficulty")
    out: dict[int, float] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            idx = int(row[0])
        except (ValueError, IndexError):
            raise InputError("expected an instruction index (an integer)", file=p, line=line,
                             field=rows[0][0] or "index") from None
        try:
            value = float(row[col])
        except (ValueError, IndexError):
            raise InputError("expected a number", file=p, line=line,
                             field="instruction_difficulty") from None
        if not math.isfinite(value):
            raise InputError("expected a finite number", file=p, line=line,
                             field="instruction_difficulty")
        out[idx] = value
    return out


def difficulty_by_question(source: Any, path: str | Path, question_ids: list[str]
                           ) -> dict[str, float]:
    """{question id: difficulty} for the given questions: each question's position in its
    source file (``Question.seq``) looked up in the CSV. ``source``: a Store or Connection."""
    from sqlalchemy import Connection, select

    from arena.store.schema import Question

    table = read_instruction_difficulty(path)
    wanted = list(dict.fromkeys(question_ids))
    out: dict[str, float] = {}

    def read(conn: Connection) -> None:
        for start in range(0, len(wanted), 900):
            part = wanted[start:start + 900]
            for qid, seq in conn.execute(select(Question.id, Question.seq)
                                         .where(Question.id.in_(part))):
                if seq in table:
                    out[qid] = table[seq]

    if isinstance(source, Connection):
        read(source)
    else:
        with source.begin() as conn:
            read(conn)
    return out


@dataclass
class GLMRow:
    model: str
    win_rate: float  # raw, mean(preference - 1) x 100 over the battles fitted
    lc_win_rate: float
    length_coef: float
    difficulty_coef: float
    model_coef: float
    n: int
    left_out: int  # battles without both lengths or a difficulty


def _logloss(y_true: np.ndarray, y_pred: np.ndarray,
             sample_weight: Optional[np.ndarray] = None) -> float:
    y_pred = np.clip(y_pred, 1e-15, 1 - 1e-15)
    ll = y_true * np.log(y_pred) + (1 - y_true) * np.log(1 - y_pred)
    if sample_weight is not None:
        ll = ll * sample_weight
    return float(-np.mean(ll))


def _logloss_continuous(y_true: np.ndarray, y_pred: np.ndarray, true_prob: np.ndarray,
                        true_sample_weight: Optional[np.ndarray] = None) -> float:
    # the duplicated rows carry their soft label in true_prob: undo the 0/1 expansion
    return _logloss(np.where(y_true == 1, true_prob, 1 - true_prob), y_pred,
                    true_sample_weight)


def _l1_kwargs(version: str) -> dict[str, Any]:
    """The pure-L1 penalty in the spelling of the installed scikit-learn (1.8 renamed it)."""
    major, minor = (int(x) for x in version.split(".")[:2])
    if (major, minor) >= (1, 8):
        return {"l1_ratios": (1.0,), "use_legacy_attributes": False}
    return {"penalty": "l1"}


def fit_soft_glm(X: np.ndarray, y: np.ndarray, n_splits: int = 5) -> Any:
    """AlpacaEval's ``fit_LogisticRegressionCV`` with probabilistic labels: returns the fitted
    sklearn model (``coef_``, ``predict_proba``)."""
    import sklearn
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import GroupKFold

    n = len(y)
    Xd = np.vstack([X, X])
    yd = np.concatenate([np.ones(n), np.zeros(n)])
    prob = np.concatenate([y, 1.0 - y])
    groups = np.concatenate([np.arange(n), np.arange(n)])
    # metadata routing only inside this block: the scorer needs the soft labels
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_scorer(_logloss_continuous, response_method="predict_proba",
                             greater_is_better=False).set_score_request(
            true_sample_weight=True, true_prob=True)
        model = LogisticRegressionCV(cv=GroupKFold(n_splits=n_splits), scoring=scorer,
                                     random_state=123, dual=False, solver="liblinear",
                                     fit_intercept=False, **_l1_kwargs(sklearn.__version__))
        model.set_fit_request(sample_weight=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # log(0) in folds with y in {0,1}
            model.fit(Xd, yd, sample_weight=prob, groups=groups, true_sample_weight=None,
                      true_prob=prob)
    return model


def alpaca_length_controlled(battles: Battles, baseline: str, difficulty: np.ndarray,
                             n_splits: int = 5) -> list[GLMRow]:
    """AlpacaEval's LC win rate of every model against ``baseline``; ``difficulty`` holds one
    value per battle (NaN = unknown). A model with fewer battles than ``n_splits`` (or
    without variation in its labels) gets no row. Raises ValueError for an unknown baseline."""
    if baseline not in battles.models:
        raise ValueError(f"baseline model {baseline!r} has no battles in this selection")
    b = battles.models.index(baseline)
    rows = []
    for m, name in enumerate(battles.models):
        if m == b:
            continue
        pref, idx = preferences_vs(battles, m, b)
        if len(idx) == 0:
            continue
        is_a = battles.model_a[idx] == m
        len_model = np.where(is_a, battles.len_a[idx], battles.len_b[idx])
        len_base = np.where(is_a, battles.len_b[idx], battles.len_a[idx])
        diff = np.asarray(difficulty, dtype=np.float64)[idx]
        ok = np.isfinite(len_model) & np.isfinite(len_base) & np.isfinite(diff)
        y = pref[ok] - 1.0
        if len(y) < max(n_splits, 2) or np.ptp(y) == 0:
            continue
        delta = len_base[ok] - len_model[ok]
        sd = delta.std(ddof=1)
        z = np.tanh(delta / sd) if sd > 0 else np.zeros_like(delta)
        X = np.column_stack([z, diff[ok], np.ones(len(y))])
        model = fit_soft_glm(X, y, n_splits)
        X0 = X.copy()
        X0[:, 0] = 0.0
        lc = float(model.predict_proba(X0)[:, 1].mean() * 100.0)
        c = model.coef_[0]
        rows.append(GLMRow(name, float(y.mean() * 100.0), lc, float(c[0]), float(c[1]),
                           float(c[2]), int(len(y)), int((~ok).sum())))
    return rows


__all__ = ["LC_OTHERS", "LC_ALPACA", "GLMRow", "read_instruction_difficulty",
           "difficulty_by_question", "alpaca_length_controlled", "fit_soft_glm"]
