"""The battle list: one row per battle, the verdicts behind each, disagreement flags, filters.

A **battle** is a question and an unordered pair of models (``arena.identity.battle_pair``
gives the pair's order, shown as model_a / model_b). Both display orders of one question, and
evalscope's swapped rows (``model_a``/``model_b`` exchanged, each with its own ``win``), are
the same battle; every outcome here is turned to the battle's own order.

Which verdicts count, and how the two orders merge, are not decided here:

- the verdicts that count are the rows of the ratings frame (``arena.ratings.selection.
  load_verdicts`` under the view's selection and run scope); other rows come in as
  ``left_out`` (failed, corrected, excluded annotators) and are listed, never counted;
- the two orders are paired by ``arena.ratings.battles.merge_orders``, the merge the
  leaderboard's ``tie_if_inconsistent`` policy uses: its ``agree`` flag is the battle's
  INCONSISTENT badge and the "orders" filter, and its merged score the merged outcome.

Flags per battle (on verdicts that count): ``orders`` (one judge's two orders disagree),
``human_judge`` (humans and machine judges gave no outcome in common), ``judge_judge`` (two
machine judges gave no outcome in common), ``annotators`` (two or more annotators, more than
one outcome). Pure numpy/pandas, tested without Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np
import pandas as pd

from arena.identity import judge_label
from arena.ratings.battles import merge_orders
from arena.ratings.selection import OUTCOME_NAMES, REAL_KINDS, VerdictFrame
from arena.viz.render import preview

ALL = "(all)"
DRY_KIND = "kind:dry-run"
OUTCOMES = [*OUTCOME_NAMES, "failed"]  # codes 0..4: A, B, TIE, BOTH_BAD, failed
FAILED = 4
OUTCOME_LABELS = {"A": "model_a wins", "B": "model_b wins", "TIE": "tie",
                  "BOTH_BAD": "both bad", "failed": "failed to parse"}
SHORT = {0: "A", 1: "B", 2: "tie", 3: "both bad", 4: "failed"}
DISAGREEMENTS = {"orders": "orders disagree (INCONSISTENT)", "human_judge": "human vs judge",
                 "judge_judge": "judge vs judge", "annotators": "annotator vs annotator"}
STATUS = ["counts", "failed", "corrected later", "annotator excluded", "not counted"]
KIND_NAMES = {"llm": "LLM judges", "human": "humans", "metric": "metric judges",
              "imported": "imported verdicts", "dry-run": "dry-run verdicts (DRY RUN)"}
_POPCOUNT = np.array([bin(i).count("1") for i in range(16)], dtype=np.int64)


def judge_choices(judges: Iterable[tuple[str, str]]) -> list[str]:
    """Selector values from (kind, label) pairs: all real judges, each real kind present, each
    judge by label; dry-run verdicts last, as a group and by label (never inside ALL)."""
    pairs = sorted(set(judges))
    real = [(k, j) for k, j in pairs if k != "dry-run"]
    dry = [j for k, j in pairs if k == "dry-run"]
    kinds = [k for k in REAL_KINDS if any(kind == k for kind, _ in real)]
    out = [ALL, *[f"kind:{k}" for k in kinds], *[j for _, j in real]]
    if dry:
        out += [DRY_KIND, *dry]
    return out


def judge_label_text(choice: str) -> str:
    if choice == ALL:
        return "all judges (no dry-run)"
    if choice.startswith("kind:"):
        kind = choice[len("kind:"):]
        return f"all {KIND_NAMES.get(kind, kind)}"
    return choice + ("  (DRY RUN)" if choice.startswith("dry-run:") else "")


def is_dry_choice(choice: str) -> bool:
    """Whether a judge selector value shows dry-run verdicts (and only them)."""
    return choice == DRY_KIND or choice.startswith("dry-run:")


@dataclass
class BattleIndex:
    """The battles of one view. ``table``: one row per battle (column ``battle``: the
    smallest stored battle id of the pair, used in links). ``votes``: one row per listed
    verdict (``outcome`` in the battle's order, code into ``OUTCOMES``; ``counts``; ``status``
    into ``STATUS``; ``game``/``agree``/``merged`` from the order merge, -1 / -1 / NaN for
    verdicts that do not count). ``alias``: any stored battle id of a pair -> ``battle``."""

    table: pd.DataFrame
    votes: pd.DataFrame
    alias: dict[int, int] = field(default_factory=dict)
    questions: dict[str, str] = field(default_factory=dict)  # question id -> text

    def key_of(self, battle: int) -> Optional[tuple[str, str, str]]:
        if battle not in self.table.index:
            return None
        r = self.table.loc[battle]
        return str(r["question_id"]), str(r["model_a"]), str(r["model_b"])


class _Vocab:
    """Names -> codes, extending a list of names first seen in the ratings frame."""

    def __init__(self, names: list[str]) -> None:
        self.names = list(names)
        self.pos = {n: i for i, n in enumerate(self.names)}

    def codes(self, values: Iterable[str]) -> np.ndarray:
        out = []
        for v in values:
            k = self.pos.get(v)
            if k is None:
                k = self.pos[v] = len(self.names)
                self.names.append(v)
            out.append(k)
        return np.array(out, dtype=np.int64)


def _left_out_codes(extra: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(outcome code in the row's own order, status code) of left-out rows."""
    names = {n: i for i, n in enumerate(OUTCOME_NAMES)}
    outcome = np.array([FAILED if st != "ok" or o not in names else names[o]
                        for o, st in zip(extra["outcome"], extra["parse_status"])],
                       dtype=np.int64)
    status = np.where(outcome == FAILED, 1, np.where(extra["superseded"].to_numpy(bool), 2,
                      np.where(extra["excluded"].to_numpy(bool), 3, 4)))
    return outcome, status.astype(np.int64)


def build_index(frame: VerdictFrame, left_out: pd.DataFrame, *, both_bad: str = "tie",
                groups: Optional[dict[str, str]] = None,
                questions: Optional[dict[str, str]] = None) -> BattleIndex:
    """The battle list of ``frame`` (pairwise verdicts that count) and ``left_out`` (pairwise
    rows of the same view that the frame does not hold; see ``data.left_out_rows``).
    ``groups`` maps raw categories to display groups; ``questions`` question id -> text (for
    the preview). Raises ValueError for an unknown ``both_bad``."""
    extra = left_out[~left_out["id"].isin(frame.id)] if len(left_out) else left_out
    n, e = len(frame), len(extra)
    qv, mv, cv = _Vocab(frame.questions), _Vocab(frame.models), _Vocab(frame.categories)
    jv = _Vocab(frame.judges)
    if e:
        eq, ea = qv.codes(extra["question_id"]), mv.codes(extra["model_a"])
        eb, ec = mv.codes(extra["model_b"]), cv.codes(extra["category"])
        ej = jv.codes(judge_label(f"{k}:{i}", fp) for k, i, fp in zip(
            extra["judge_kind"], extra["judge_id"], extra["fingerprint"]))
        eo, es = _left_out_codes(extra)
        efirst = np.array([0 if f == "A" else 1 if f == "B" else -1 for f in extra["first"]])
        e_i8 = lambda c: extra[c].fillna(-1).to_numpy(np.int64)  # noqa: E731
        eb_id, eann, eturn = e_i8("battle_id"), e_i8("annotator_id"), e_i8("turn")
        eid = extra["id"].to_numpy(np.int64)
    else:
        eq = ea = eb = ec = ej = eo = es = efirst = eb_id = eann = eturn = eid = \
            np.zeros(0, np.int64)
    cat = lambda x, y: np.concatenate([np.asarray(x, np.int64), y])  # noqa: E731
    q, a, b = cat(frame.question, eq), cat(frame.model_a, ea), cat(frame.model_b, eb)
    category, judge = cat(frame.category, ec), cat(frame.judge, ej)
    outcome, status = cat(frame.outcome, eo), cat(np.zeros(n), es)
    first, vid = cat(frame.first, efirst), cat(frame.id, eid)
    battle, ann, turn = cat(frame.battle, eb_id), cat(frame.annotator, eann), \
        cat(frame.turn, eturn)
    counts = np.zeros(n + e, dtype=bool)
    counts[:n] = True

    # the battle's own order: the pair sorted by name (arena.identity.battle_pair)
    rank = np.argsort(np.argsort(np.array(mv.names, dtype=object))) if mv.names else \
        np.zeros(0, np.int64)
    flip = rank[a] > rank[b] if len(a) else np.zeros(0, bool)
    lo, hi = np.where(flip, b, a), np.where(flip, a, b)
    outcome = np.where(flip & (outcome == 0), 1, np.where(flip & (outcome == 1), 0, outcome))
    first = np.where(first < 0, -1, np.where(flip, 1 - first, first))  # 0: model_a shown first
    M = max(len(mv.names), 1)
    ukey, g = np.unique((q * M + lo) * M + hi, return_inverse=True)
    g = g.reshape(-1)
    G = len(ukey)
    big = np.iinfo(np.int64).max
    bid = np.full(G, big, dtype=np.int64)
    np.minimum.at(bid, g, np.where(battle >= 0, battle, big))
    missing = bid == big  # verdicts without a battle row (should not happen): negative ids
    bid[missing] = -(np.flatnonzero(missing) + 1)

    # the leaderboard's merge of the two orders (rows of the frame only)
    game = np.full(n + e, -1, dtype=np.int64)
    agree = np.full(n + e, -1, dtype=np.int8)
    merged = np.full(n + e, np.nan)
    if n:
        m = merge_orders(frame, both_bad)  # type: ignore[arg-type]
        k = np.arange(len(m.row))
        s_lo = np.where(flip[m.row], 1.0 - m.score, m.score)
        for rows in (m.row, m.partner):
            game[rows], agree[rows], merged[rows] = k, m.agree, s_lo

    kinds = np.array([j.split(":", 1)[0] for j in jv.names], dtype=object)
    kind = kinds[judge] if len(judge) else np.zeros(0, dtype=object)
    human = kind == "human"
    bits = np.where(counts & (outcome >= 0) & (outcome < FAILED), 1 << np.clip(outcome, 0, 3), 0)
    hb = np.zeros(G, np.int64)
    mb = np.zeros(G, np.int64)
    np.bitwise_or.at(hb, g[human], bits[human])
    np.bitwise_or.at(mb, g[~human], bits[~human])
    flags = pd.DataFrame({
        "orders": np.bincount(g[agree == 0], minlength=G) > 0,
        "human_judge": (hb != 0) & (mb != 0) & ((hb & mb) == 0),
        "judge_judge": _judges_disagree(g, judge, bits, counts & ~human, G, len(jv.names)),
        "annotators": _annotators_disagree(g, ann, counts & human & (ann >= 0), hb, G),
    })
    tally = np.bincount(g * 5 + np.clip(outcome, 0, 4), minlength=G * 5).reshape(G, 5)
    first_row = np.unique(g, return_index=True)[1]  # the first listed row of each battle
    # categorical columns: no Python loop over battles (previews are made for shown rows)
    names = lambda codes, vocab: pd.Categorical.from_codes(codes, vocab.names)  # noqa: E731
    raw_cat = names(category[first_row], cv)
    table = pd.DataFrame({
        "battle": bid,
        "category": raw_cat.map(lambda c: (groups or {}).get(c, c)) if groups else raw_cat,
        "raw_category": raw_cat,
        "question_id": names(q[first_row], qv),
        "model_a": names(lo[first_row], mv),
        "model_b": names(hi[first_row], mv),
        "verdicts": np.bincount(g, minlength=G),
        "counted": np.bincount(g[counts], minlength=G),
        "failed": tally[:, FAILED],
        **{f"n_{OUTCOMES[c]}": tally[:, c] for c in range(5)},
    })
    table = pd.concat([table, flags], axis=1).sort_values("battle")
    table.index = pd.Index(table["battle"].to_numpy(), name="battle_id")
    votes = pd.DataFrame({
        "battle": bid[g], "id": vid, "judge": pd.Categorical.from_codes(judge, jv.names),
        "kind": kind, "outcome": outcome, "first": first, "counts": counts,
        "status": status, "game": game, "agree": agree, "merged": merged,
        "annotator": ann, "turn": turn})
    has = battle >= 0
    pairs = np.unique(np.stack([battle[has], bid[g][has]], axis=1), axis=0) if has.any() \
        else np.zeros((0, 2), np.int64)
    alias = dict(zip(pairs[:, 0].tolist(), pairs[:, 1].tolist()))
    return BattleIndex(table=table, votes=votes, alias=alias, questions=questions or {})


def list_view(rows: pd.DataFrame, questions: dict[str, str]) -> pd.DataFrame:
    """``rows`` of ``BattleIndex.table`` as the list shows them: a text preview of the
    question and the outcomes counted ("A 2 · tie 1"), made for these rows only."""
    out = rows.copy()
    out["question"] = [preview(questions.get(str(q), "")) for q in out["question_id"]]
    counts = out[[f"n_{o}" for o in OUTCOMES]].to_numpy()
    out["outcomes"] = [" · ".join(f"{SHORT[c]} {row[c]}" for c in range(5) if row[c])
                       for row in counts.tolist()]
    return out


def _judges_disagree(g: np.ndarray, judge: np.ndarray, bits: np.ndarray, rows: np.ndarray,
                     G: int, J: int) -> np.ndarray:
    """Battles where two machine judges gave no outcome in common."""
    out = np.zeros(G, dtype=bool)
    sel = rows & (bits != 0)
    if not sel.any():
        return out
    key = g[sel] * max(J, 1) + judge[sel]
    u, inv = np.unique(key, return_inverse=True)
    jb = np.zeros(len(u), np.int64)
    np.bitwise_or.at(jb, inv.reshape(-1), bits[sel])
    gg = u // max(J, 1)
    many = np.bincount(gg, minlength=G) >= 2
    # few battles have several judges: a plain loop over those is enough
    start = np.searchsorted(gg, np.flatnonzero(many))
    stop = np.searchsorted(gg, np.flatnonzero(many), side="right")
    for bi, s0, s1 in zip(np.flatnonzero(many).tolist(), start.tolist(), stop.tolist()):
        masks = jb[s0:s1].tolist()
        out[bi] = any(x & y == 0 for i, x in enumerate(masks) for y in masks[i + 1:])
    return out


def _annotators_disagree(g: np.ndarray, ann: np.ndarray, rows: np.ndarray, hb: np.ndarray,
                         G: int) -> np.ndarray:
    """Battles with two or more annotators whose outcomes are not all the same."""
    if not rows.any():
        return np.zeros(G, dtype=bool)
    pairs = np.unique(np.stack([g[rows], ann[rows]], axis=1), axis=0)
    n_ann = np.bincount(pairs[:, 0], minlength=G)
    return (n_ann >= 2) & (_POPCOUNT[hb & 15] > 1)


def vote_mask(votes: pd.DataFrame, choice: str) -> pd.Series:
    """Rows of ``votes`` admitted by a judge selector value (see ``judge_choices``)."""
    if choice == ALL or choice == DRY_KIND:
        return pd.Series(True, index=votes.index)
    if choice.startswith("kind:"):
        return votes["kind"] == choice[len("kind:"):]
    return votes["judge"] == choice


@dataclass(frozen=True)
class BattleFilter:
    """The battle list's filters; ``None``/empty means no filtering on that field."""

    category: Optional[str] = None  # a display group
    model: Optional[str] = None
    opponent: Optional[str] = None
    judge: str = ALL  # a judge selector value
    outcomes: tuple[str, ...] = ()  # names in OUTCOMES
    disagreements: tuple[str, ...] = ()  # keys of DISAGREEMENTS (any of them)
    hits: Optional[frozenset[int]] = None  # battles a text search found


def filter_battles(index: BattleIndex, f: BattleFilter) -> pd.DataFrame:
    """Rows of ``index.table`` that pass ``f``. Judge and outcome filters look at the
    verdicts: a battle passes when one listed verdict by the chosen judge(s) has one of the
    chosen outcomes (or when it has any verdict by them, without an outcome filter)."""
    t = index.table
    m = np.ones(len(t), dtype=bool)
    if f.category not in (None, ALL):
        m &= (t["category"] == f.category).to_numpy()
    for name in (f.model, f.opponent):
        if name not in (None, ALL):
            m &= ((t["model_a"] == name) | (t["model_b"] == name)).to_numpy()
    if f.disagreements:
        m &= t[list(f.disagreements)].any(axis=1).to_numpy()
    if f.hits is not None:
        m &= t["battle"].isin(f.hits).to_numpy()
    if f.judge not in (ALL, DRY_KIND) or f.outcomes:
        v = index.votes
        keep = vote_mask(v, f.judge).to_numpy()
        if f.outcomes:
            codes = [OUTCOMES.index(o) for o in f.outcomes if o in OUTCOMES]
            keep = keep & np.isin(v["outcome"].to_numpy(), codes)
        m &= t["battle"].isin(set(v["battle"].to_numpy()[keep].tolist())).to_numpy()
    return t[m]


def models_of(table: pd.DataFrame) -> list[str]:
    return sorted({str(m) for m in table["model_a"].unique()} |
                  {str(m) for m in table["model_b"].unique()})


__all__ = ["ALL", "DRY_KIND", "BattleIndex", "BattleFilter", "build_index", "filter_battles",
           "judge_choices", "judge_label_text", "is_dry_choice", "vote_mask", "models_of",
           "list_view",
           "OUTCOMES", "OUTCOME_LABELS", "DISAGREEMENTS", "STATUS"]
