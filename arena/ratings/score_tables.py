"""Per-dataset score tables in the seeds' layouts, from the metric judges' verdicts.

Input: single-mode verdicts of metric judges (``judge_kind='metric'``, judge id
``metric:<name>``: ``judges.metric_judge``), scores on 0..100; a question's *task* is its
category (L-Eval imports name it after the task, LongBench after the dataset).

- ``leval-exam`` (exact match), ``leval-f1`` (token F1), ``leval-rouge`` (ROUGE-L): L-Eval's
  leaderboard CSVs - ``Model``, one column per task of that table that has verdicts (L-Eval's
  tasks in its order), then the mean of the task columns (``Avg``, ``F1 avg``, ``ROUGE-L
  avg``). L-Eval's ROUGE cells are R-1/R-2/R-L; the project computes ROUGE-L only, so the cells
  hold R-L and the average says so. Verdicts of the table's metric on other tasks (another
  L-Eval table's, or not L-Eval's) are left out and noted.
- ``longbench``: LongBench's per-category table - ``Model, Avg`` and the six categories
  (single-doc QA, multi-doc QA, summarisation, few-shot learning, synthetic, code); a category
  is the mean of its datasets' scores, ``Avg`` the mean of the categories (LongBench's
  averages). Each dataset is scored with the metric LongBench uses where the project has it
  (QA: token F1; summarisation, SAMSum: ROUGE-L; classification, counting and retrieval: exact
  match, which is close to but not LongBench's own scoring); code completion (edit similarity)
  and any dataset without its metric use the first metric judge present, noted in the table.

A cell is the mean over the model's scored answers of that task (every answer of a task weighs
the same, as the seeds average); a model without verdicts on a task has an empty cell, and
its average is over the columns it has (noted). Nothing raises for missing data: an empty
table says so in ``notes``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LEVAL_TASKS = {
    "leval-exam": ["coursera", "gsm100", "quality", "topic_retrieval_longchat", "tpo",
                   "sci_fi", "codeU"],
    "leval-f1": ["financial_qa", "legal_contract_qa", "multidoc_qa", "narrative_qa",
                 "natural_question", "scientific_qa"],
    "leval-rouge": ["gov_report_summ", "news_summ", "paper_assistant", "patent_summ",
                    "review_summ", "tv_show_summ", "meeting_summ"],
}
LEVAL_ALIASES = {"topic_retrieval": "topic_retrieval_longchat"}  # the leaderboard's name
LEVAL_METRIC = {"leval-exam": "exact_match", "leval-f1": "token_f1", "leval-rouge": "rouge_l"}
LEVAL_AVG = {"leval-exam": "Avg", "leval-f1": "F1 avg", "leval-rouge": "ROUGE-L avg"}

LONGBENCH_CATEGORIES = {
    "Single-Doc QA": ["narrativeqa", "qasper", "multifieldqa_en", "multifieldqa_zh"],
    "Multi-Doc QA": ["hotpotqa", "2wikimqa", "musique", "dureader"],
    "Summarization": ["gov_report", "qmsum", "multi_news", "vcsum"],
    "Few-shot Learning": ["trec", "triviaqa", "samsum", "lsht"],
    "Synthetic": ["passage_count", "passage_retrieval_en", "passage_retrieval_zh"],
    "Code": ["lcc", "repobench-p"],
}
# LongBench's metric per dataset, as the project's metric judge (None: not available)
LONGBENCH_METRIC = {
    **{d: "token_f1" for d in ("narrativeqa", "qasper", "multifieldqa_en", "multifieldqa_zh",
                               "hotpotqa", "2wikimqa", "musique", "triviaqa")},
    **{d: "rouge_l" for d in ("dureader", "gov_report", "qmsum", "multi_news", "vcsum",
                              "samsum")},
    **{d: "exact_match" for d in ("trec", "lsht", "passage_count", "passage_retrieval_en",
                                  "passage_retrieval_zh")},
    "lcc": None, "repobench-p": None,
}
FALLBACK = ("token_f1", "rouge_l", "exact_match")
FORMATS = ("leval-exam", "leval-f1", "leval-rouge", "longbench")


@dataclass
class ScoreTable:
    layout: str
    columns: list[str]  # after "Model"
    rows: dict[str, dict[str, float]] = field(default_factory=dict)  # model -> column -> value
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # scored answers per cell
    notes: list[str] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        return [{"Model": m, **{c: vals.get(c) for c in self.columns}}
                for m, vals in self.rows.items()]


def _metric_scores(frame: Any) -> dict[str, dict[str, dict[str, list[float]]]]:
    """{metric: {task: {model: [scores]}}} from a single-mode frame of metric verdicts."""
    out: dict[str, dict[str, dict[str, list[float]]]] = {}
    if len(frame) == 0:
        return out
    judge_names = np.array(frame.judges, dtype=object)[frame.judge]
    cats = np.array(frame.categories, dtype=object)[frame.category]
    models = np.array(frame.models, dtype=object)[frame.model_a]
    for j, c, m, s in zip(judge_names.tolist(), cats.tolist(), models.tolist(),
                          frame.score_a.tolist()):
        kind, _, jid = j.partition(":")
        if kind != "metric" or not math.isfinite(s):
            continue
        metric = jid.split(":", 1)[1] if jid.startswith("metric:") else jid
        out.setdefault(metric, {}).setdefault(c, {}).setdefault(m, []).append(float(s))
    return out


def _mean(xs: list[float]) -> float:
    return float(sum(xs) / len(xs))


def leval_table(frame: Any, layout: str) -> ScoreTable:
    """One of L-Eval's leaderboards (``leval-exam``, ``leval-f1``, ``leval-rouge``)."""
    metric = LEVAL_METRIC[layout]
    by_task = {LEVAL_ALIASES.get(t, t): v
               for t, v in _metric_scores(frame).get(metric, {}).items()}
    own = LEVAL_TASKS[layout]
    others = {t for k, ts in LEVAL_TASKS.items() if k != layout for t in ts}
    cols = [t for t in own if t in by_task]
    table = ScoreTable(layout, cols + [LEVAL_AVG[layout]])
    skipped = sorted(t for t in by_task if t in others)
    if skipped:
        table.notes.append(f"{metric} verdicts on {', '.join(skipped)} belong to another "
                           f"L-Eval table and are left out")
    foreign = sorted(t for t in by_task if t not in own and t not in others)
    if foreign:
        table.notes.append(f"{metric} verdicts on tasks L-Eval does not have are left out: "
                           f"{', '.join(t or '(no category)' for t in foreign)}")
    if not cols:
        table.notes.append(f"no {metric} verdicts from the metric judge on any task")
        return table
    if layout == "leval-rouge":
        table.notes.append("cells are ROUGE-L (L-Eval prints R-1/R-2/R-L)")
    _fill(table, {t: by_task[t] for t in cols}, cols, LEVAL_AVG[layout])
    return table


def longbench_table(frame: Any) -> ScoreTable:
    """LongBench's per-category averages (``Model, Avg`` and the six categories)."""
    scores = _metric_scores(frame)
    cats = list(LONGBENCH_CATEGORIES)
    table = ScoreTable("longbench", ["Avg", *cats])
    datasets: dict[str, dict[str, float]] = {}  # dataset -> model -> mean
    for cat, names in LONGBENCH_CATEGORIES.items():
        for d in names:
            for name in (d, d + "_e"):  # LongBench-E
                want = LONGBENCH_METRIC[d]
                metric = want if want and name in scores.get(want, {}) else next(
                    (m for m in FALLBACK if name in scores.get(m, {})), None)
                if metric is None:
                    continue
                if metric != want:
                    table.notes.append(f"{name}: scored with {metric} (LongBench uses "
                                       f"{'edit similarity' if want is None else want})")
                datasets[name] = {m: _mean(v) for m, v in scores[metric][name].items()}
    if not datasets:
        table.notes.append("no metric verdicts on any LongBench dataset")
        return table
    models = sorted({m for v in datasets.values() for m in v})
    for m in models:
        row: dict[str, float] = {}
        for cat, names in LONGBENCH_CATEGORIES.items():
            vals = [datasets[n][m] for d in names for n in (d, d + "_e")
                    if n in datasets and m in datasets[n]]
            if vals:
                row[cat] = _mean(vals)
        if row:
            row["Avg"] = _mean([row[c] for c in cats if c in row])
            if len([c for c in cats if c in row]) < len(cats):
                table.notes.append(f"{m}: Avg over the categories it has")
            table.rows[m] = row
    table.rows = dict(sorted(table.rows.items(), key=lambda kv: (-kv[1]["Avg"], kv[0])))
    return table


def _fill(table: ScoreTable, by_task: dict[str, dict[str, list[float]]], cols: list[str],
          avg: str) -> None:
    models = sorted({m for v in by_task.values() for m in v})
    for m in models:
        row = {t: _mean(by_task[t][m]) for t in cols if m in by_task[t]}
        row[avg] = _mean([row[t] for t in cols if t in row])
        if len(row) - 1 < len(cols):
            table.notes.append(f"{m}: {avg} over the tasks it has")
        table.rows[m] = row
        table.counts[m] = {t: len(by_task[t][m]) for t in cols if m in by_task[t]}
    table.rows = dict(sorted(table.rows.items(), key=lambda kv: (-kv[1][avg], kv[0])))


def score_table(frame: Any, layout: str) -> ScoreTable:
    """The table ``layout`` (one of ``FORMATS``) over a single-mode frame. Raises ValueError
    for another layout."""
    if layout in LEVAL_TASKS:
        return leval_table(frame, layout)
    if layout == "longbench":
        return longbench_table(frame)
    raise ValueError(f"unknown score table {layout!r} ({', '.join(FORMATS)})")


def format_score_table(table: ScoreTable, fmt: str = "csv", nd: int = 2) -> str:
    """CSV (the seeds' layout), Markdown, JSON or a terminal table; notes go to Markdown,
    JSON and the terminal table (not into the CSV). Raises ValueError for another format."""
    head = ["Model", *table.columns]
    cell = lambda v: "" if v is None else f"{v:.{nd}f}"  # noqa: E731
    rows = [[m, *[cell(vals.get(c)) for c in table.columns]] for m, vals in table.rows.items()]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(head)
        w.writerows(rows)
        return buf.getvalue()
    if fmt == "json":
        return json.dumps({"layout": table.layout, "columns": head, "rows": table.records(),
                           "answers": table.counts, "notes": table.notes}, indent=2) + "\n"
    if fmt in ("md", "markdown"):
        out = [f"## {table.layout}", "", *[f"- {n}" for n in table.notes], "",
               "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out) + "\n"
    if fmt == "table":
        cells = [head] + rows
        widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
        lines = [table.layout, *table.notes]
        for k, r in enumerate(cells):
            lines.append("  ".join(c.ljust(wd) if i == 0 else c.rjust(wd)
                                   for i, (c, wd) in enumerate(zip(r, widths))).rstrip())
            if k == 0:
                lines.append("  ".join("-" * wd for wd in widths))
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown format {fmt!r} (table, md, csv or json)")


__all__ = ["ScoreTable", "score_table", "leval_table", "longbench_table",
           "format_score_table", "FORMATS", "LEVAL_TASKS", "LONGBENCH_CATEGORIES"]
