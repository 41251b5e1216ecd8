"""The battle list: per-battle summaries, disagreement flags and the filters over them.

Pure pandas over the frame from ``arena.viz.data.load_verdicts`` (one row per judgment), so it
is tested without Streamlit. A verdict is *usable* when it is pairwise, parsed (``ok``), not
superseded by a correction and has an outcome; failed verdicts are still listed (outcome filter
"failed") because a failure is a value to look at, not to hide.

Disagreement flags, per battle, computed on usable verdicts:
- ``orders``: a two-order pair of ``arena.rules.orders`` (one judge, annotator, turn and
  template, both display orders) is inconsistent by that module's rule (position bias made
  visible);
- ``human_llm``: the battle has human and LLM verdicts and no human outcome equals any LLM
  outcome;
- ``annotators``: two or more annotators gave verdicts and they are not all the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np
import pandas as pd

from arena.rules.orders import codes_of, consistent, pair_orders, score_of_lower
from arena.rules.outcomes import OUTCOME_CODES, verdict_score
from arena.rules.verdict_kinds import REAL_KINDS, usable as _usable

ALL = "(all)"
OUTCOME_LABELS = {"A": "model_a wins", "B": "model_b wins", "TIE": "tie",
                  "BOTH_BAD": "both bad", "failed": "failed to parse"}
DISAGREEMENTS = {"orders": "two orders of one judge", "human_llm": "human vs LLM judge",
                 "annotators": "annotator vs annotator"}


def judge_key(kind: str, judge_id: str) -> str:
    return f"{kind}:{judge_id}"


def judge_choices(judges: Iterable[tuple[str, str]]) -> list[str]:
    """Selector values from (kind, id) pairs: all real judges, each real kind present, then
    each judge as ``kind:id``. Dry-run judges are offered only by name, never in a group."""
    pairs = sorted(set(judges))
    kinds = [k for k in REAL_KINDS if any(kind == k for kind, _ in pairs)]
    return [ALL, *[f"kind:{k}" for k in kinds], *[judge_key(k, j) for k, j in pairs]]


def judge_label(choice: str) -> str:
    names = {"llm": "LLM judges", "human": "humans", "metric": "metric judges",
             "imported": "imported verdicts"}
    if choice == ALL:
        return "all judges (no dry-run)"
    if choice.startswith("kind:"):
        kind = choice[len("kind:"):]
        return f"all {names.get(kind, kind)}"
    return choice


def judge_mask(df: pd.DataFrame, choice: str) -> pd.Series:
    """Rows admitted by a judge selector value (see ``judge_choices``)."""
    if choice == ALL:
        return df["judge_kind"].isin(REAL_KINDS)
    if choice.startswith("kind:"):
        return df["judge_kind"] == choice[len("kind:"):]
    kind, _, jid = choice.partition(":")
    return (df["judge_kind"] == kind) & (df["judge_id"] == jid)


def usable(df: pd.DataFrame) -> pd.Series:
    """Pairwise rows that count (``arena.rules.verdict_kinds.usable``)."""
    return df["battle_id"].notna() & pd.Series(
        _usable(df["parse_status"] == "ok", df["superseded"], df["outcome"].notna()),
        index=df.index)


def order_flips(ok: pd.DataFrame) -> set[int]:
    """Battle ids of the verdicts in an inconsistent two-order pair (``arena.rules.orders``)."""
    if ok.empty:
        return set()
    n = len(ok)
    models = codes_of(list(ok["model_a"]) + list(ok["model_b"]))
    a, b = models[:n], models[n:]
    first = ok["first"].map({"A": 0, "B": 1}).fillna(-1).to_numpy(dtype=np.int64)
    ann = ok["annotator_id"].fillna(-1).to_numpy(dtype=np.int64)
    turn = ok["turn"].fillna(-1).to_numpy(dtype=np.int64)
    judge = codes_of(list(zip(ok["judge_kind"], ok["judge_id"])))
    pairs = pair_orders(codes_of(list(ok["question_id"])), a, b, first, turn, judge, ann,
                        codes_of(list(ok["template_version"])), ok["id"].to_numpy())
    pref = ok["preference"].to_numpy(dtype=np.float64) if "preference" in ok else None
    score = verdict_score(ok["outcome"].map(OUTCOME_CODES).to_numpy(), pref)
    sx = score_of_lower(score[pairs.x], a[pairs.x], pairs.lo[pairs.x])
    sy = score_of_lower(score[pairs.y], a[pairs.y], pairs.lo[pairs.y])
    bad = ~consistent(sx, sy)
    bid = ok["battle_id"].astype(int).to_numpy()
    return set(bid[pairs.x[bad]].tolist()) | set(bid[pairs.y[bad]].tolist())


def disagreement_flags(df: pd.DataFrame) -> pd.DataFrame:
    """Per battle id: boolean columns ``orders``, ``human_llm``, ``annotators``."""
    ok = df[usable(df)]
    battles = pd.Index(sorted(set(df.loc[df["battle_id"].notna(), "battle_id"].astype(int))),
                       name="battle_id")
    out = pd.DataFrame(False, index=battles, columns=list(DISAGREEMENTS))
    if ok.empty:
        return out
    keyed = ok.assign(battle_id=ok["battle_id"].astype(int))
    out.loc[out.index.isin(list(order_flips(ok))), "orders"] = True

    hum = keyed.loc[keyed["judge_kind"] == "human", ["battle_id", "outcome"]].drop_duplicates()
    llm = keyed.loc[keyed["judge_kind"] == "llm", ["battle_id", "outcome"]].drop_duplicates()
    both = set(hum["battle_id"]) & set(llm["battle_id"])
    agree = set(hum.merge(llm, on=["battle_id", "outcome"])["battle_id"])
    out.loc[out.index.isin(list(both - agree)), "human_llm"] = True

    h = keyed[keyed["judge_kind"] == "human"]
    who = h["annotator_id"].astype("Int64").astype(str).where(h["annotator_id"].notna(),
                                                             h["judge_id"])
    hg = h.assign(_who=who).groupby("battle_id")
    ann = pd.DataFrame({"who": hg["_who"].nunique(), "outcomes": hg["outcome"].nunique()})
    multi = ann[(ann["who"] >= 2) & (ann["outcomes"] > 1)]
    out.loc[out.index.isin(multi.index), "annotators"] = True
    return out


def battle_table(df: pd.DataFrame, groups: Optional[dict[str, str]] = None) -> pd.DataFrame:
    """One row per battle: id, category (grouped), question, models, verdict summary, counts
    and the disagreement flags. ``groups`` maps raw categories to display groups."""
    pw = df[df["battle_id"].notna()].copy()
    if pw.empty:
        return pd.DataFrame(columns=["battle_id", "category", "question_id", "model_a",
                                     "model_b", "verdicts", "n", "failed", *DISAGREEMENTS])
    pw["battle_id"] = pw["battle_id"].astype(int)
    shown = ~pw["superseded"]
    tag = np.where(pw["parse_status"] == "ok", pw["outcome"].fillna("?"), "failed")
    pw["_tag"] = pw["judge_kind"].astype(str) + ":" + pw["judge_id"].astype(str) + "=" + tag
    g = pw[shown].groupby("battle_id")
    first = pw.drop_duplicates("battle_id").set_index("battle_id")
    table = pd.DataFrame({
        "category": first["category"].map(groups) if groups else first["category"],
        "raw_category": first["category"],
        "question_id": first["question_id"],
        "model_a": first["model_a"],
        "model_b": first["model_b"],
    })
    joined: dict[int, list[str]] = {}
    sub = pw[shown]
    for b, t in zip(sub["battle_id"].tolist(), sub["_tag"].tolist()):  # 10x faster than agg
        joined.setdefault(b, []).append(t)
    table["verdicts"] = pd.Series({b: " · ".join(ts) for b, ts in joined.items()}, dtype=object)
    table["n"] = g.size()
    table["failed"] = pw[shown & (pw["parse_status"] != "ok")].groupby("battle_id").size()
    table[["n", "failed"]] = table[["n", "failed"]].fillna(0).astype(int)
    table["verdicts"] = table["verdicts"].fillna("")
    flags = disagreement_flags(df)
    table = table.join(flags, how="left").fillna({k: False for k in DISAGREEMENTS})
    table.index.name = "battle_id"
    return table.reset_index()


@dataclass(frozen=True)
class BattleFilter:
    """The battle list's filters; ``None``/empty means no filtering on that field."""

    category: Optional[str] = None  # a display group
    model: Optional[str] = None
    opponent: Optional[str] = None
    judge: str = ALL  # a judge selector value
    outcomes: tuple[str, ...] = ()  # "A", "B", "TIE", "BOTH_BAD", "failed"
    disagreements: tuple[str, ...] = ()  # keys of DISAGREEMENTS (any of them)


def filter_battles(table: pd.DataFrame, df: pd.DataFrame, f: BattleFilter) -> pd.DataFrame:
    """Rows of ``battle_table`` that pass ``f``. Judge and outcome filters look at the
    verdicts themselves: a battle passes when one verdict by the chosen judge(s) has one of
    the chosen outcomes (or when it has any verdict by them, without an outcome filter)."""
    m = pd.Series(True, index=table.index)
    if f.category not in (None, ALL):
        m &= table["category"] == f.category
    if f.model not in (None, ALL):
        m &= (table["model_a"] == f.model) | (table["model_b"] == f.model)
    if f.opponent not in (None, ALL):
        m &= (table["model_a"] == f.opponent) | (table["model_b"] == f.opponent)
    if f.disagreements:
        m &= table[list(f.disagreements)].any(axis=1)
    if f.judge != ALL or f.outcomes:
        v = df[df["battle_id"].notna() & ~df["superseded"] & judge_mask(df, f.judge)]
        if f.outcomes:
            tag = v["outcome"].where(v["parse_status"] == "ok", "failed")
            v = v[tag.isin(list(f.outcomes))]
        m &= table["battle_id"].isin(set(v["battle_id"].astype(int)))
    return table[m]


def models_in(df: pd.DataFrame) -> list[str]:
    names: Iterable[str] = pd.concat([df["model_a"], df["model_b"].dropna()]).unique()
    return sorted(str(n) for n in names)
