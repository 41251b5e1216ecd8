"""Metric judges: reference-based scores for single mode, as L-Eval / LongBench / LongBench-Write.

All scores are on 0..100 (the scale those benchmarks report). Every metric takes the prediction
and a list of acceptable references and returns the best score over the references (as
LongBench's and L-Eval's ``max over ground truths``). An empty prediction scores 0, never an
error value; an empty reference list is a caller bug (``ValueError``).

- ``exact_match``: SQuAD-style normalised equality (lower case, no punctuation, no articles
  a/an/the, single spaces); 100 or 0. L-Eval's option-letter heuristics for multiple-choice
  files are not reproduced.
- ``token_f1``: token F1 over normalised tokens (LongBench ``qa_f1_score``). CJK characters
  count as one token each (LongBench uses jieba word segmentation for Chinese; this is close
  but not identical).
- ``rouge_l``: ROUGE-L F-measure over tokens (longest common subsequence; precision = LCS /
  prediction tokens, recall = LCS / reference tokens, harmonic mean), with the ``rouge_score``
  tokenisation L-Eval uses (lower case, runs of [a-z0-9]); CJK characters are tokens too.
  LongBench's ``rouge`` package scores summary-level union-LCS over '.'-split sentences with
  unique-word counts; on single-sentence text without repeated words the two agree.
- ``length_score``: LongBench-Write's length score with x the required length and y the
  output length in words (CJK characters + English words):
  ``100*max(0, 1-(y/x-1)/3)`` when y > x, else ``100*max(0, 1-(x/y-1)/2)``; y = 0 scores 0.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Callable, Sequence

VERSION = "1"  # bump when a formula or tokeniser changes: part of each metric judgment's key

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_ROUGE_TOKEN = re.compile(f"[a-z0-9]+|[{_CJK}]")
_EN_WORD = re.compile(r"\b[a-zA-Z]+\b")


def normalize_answer(text: str) -> str:
    """Lower case, drop ASCII punctuation and the articles a/an/the, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    for word in normalize_answer(text).split():
        if _CJK_CHAR.search(word):
            # Split mixed words so every CJK character stands alone.
            out.extend(t for t in re.split(f"([{_CJK}])", word) if t)
        else:
            out.append(word)
    return out


def _best(fn: Callable[[str, str], float], prediction: str, references: Sequence[str]) -> float:
    if not references:
        raise ValueError("a metric needs at least one reference")
    if not prediction or not prediction.strip():
        return 0.0
    return max(fn(prediction, r) for r in references)


def _em(pred: str, ref: str) -> float:
    return 100.0 if normalize_answer(pred) == normalize_answer(ref) else 0.0


def exact_match(prediction: str, references: Sequence[str]) -> float:
    return _best(_em, prediction, references)


def _f1(pred: str, ref: str) -> float:
    p, r = _tokens(pred), _tokens(ref)
    common = Counter(p) & Counter(r)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(r)
    return 100.0 * 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, references: Sequence[str]) -> float:
    return _best(_f1, prediction, references)


def rouge_tokens(text: str) -> list[str]:
    return _ROUGE_TOKEN.findall(text.lower())


def lcs_length(x: Sequence[str], y: Sequence[str]) -> int:
    """Length of the longest common subsequence (O(len(x)*len(y)) time, O(len(y)) memory)."""
    if len(x) < len(y):
        x, y = y, x
    prev = [0] * (len(y) + 1)
    for xi in x:
        cur = [0]
        for j, yj in enumerate(y, 1):
            cur.append(prev[j - 1] + 1 if xi == yj else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def _rouge_l(pred: str, ref: str) -> float:
    p, r = rouge_tokens(pred), rouge_tokens(ref)
    if not p or not r:
        return 0.0
    lcs = lcs_length(p, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 100.0 * 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, references: Sequence[str]) -> float:
    return _best(_rouge_l, prediction, references)


def count_words(text: str) -> int:
    """Words as LongBench-Write counts them: CJK characters plus English words."""
    return len(_CJK_CHAR.findall(text)) + len(_EN_WORD.findall(text))


def length_score(prediction: str, required: float) -> float:
    """LongBench-Write length score; ``required`` is the asked-for length in words (> 0)."""
    if not required or required <= 0:
        raise ValueError(f"required length must be positive, got {required!r}")
    y = count_words(prediction or "")
    x = float(required)
    if y == 0:
        return 0.0
    if y > x:
        return 100.0 * max(0.0, 1.0 - (y / x - 1.0) / 3.0)
    return 100.0 * max(0.0, 1.0 - (x / y - 1.0) / 2.0)


REFERENCE_METRICS: dict[str, Callable[[str, Sequence[str]], float]] = {
    "exact_match": exact_match,
    "token_f1": token_f1,
    "rouge_l": rouge_l,
}
METRICS = (*REFERENCE_METRICS, "length_score")
