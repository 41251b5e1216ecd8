"""AlpacaEval: instructions, model_outputs.json, annotations.json.

Shapes (JSON arrays; JSON Lines are read too):
- questions ``{instruction, dataset}``: no id, so the id is derived from the text;
- answers ``[{instruction, output, generator, dataset}]`` matched to stored questions by text
  (in any source); the questions a file carries that are not stored yet are created, in
  ``--source`` or ``alpaca_eval``. A file with several generators selects one with ``--model``;
- verdicts ``[{instruction, output_1, generator_1, output_2, generator_2, annotator,
  preference, raw_completion}]``: preference in [1, 2], 1 = output_1 preferred, 2 = output_2,
  1.5 a draw, fractions in between (AlpacaEval 2's weighted annotator). It is stored as is in
  ``Judgment.preference`` (model_a = generator_1: the same convention, ``arena.rules.
  preference``) with ``outcome`` the nearest discrete outcome; ratings use the fraction.
  AlpacaEval 1's legacy ``preference: 0`` is a draw (1.5); the summary says how many. A missing
  preference is a failed verdict (never a tie); a value outside {0} U [1, 2] is bad input. The
  question (created in ``--source`` or ``alpaca_eval`` when absent) and both outputs are stored
  from the record; a self-battle (generator_1 == generator_2) is kept and flagged
  ``meta.self_battle``.
The file does not record which output the annotator saw first, so ``first`` is left empty.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import Connection

from arena.formats import query
from arena.formats.query import ExportFilter
from arena.formats.records import write_json
from arena.formats.registry import Ctx, Reader, Writer, register_reader, register_writer
from arena.formats.resolve import check_single_model, store_answers
from arena.formats.verdicts import CarriedQuestion, carried_answers, drop_stored, \
    ensure_questions, store_verdicts, verdict_key
from arena.identity import answer_content_hash
from arena.rules.preference import LEGACY_DRAW, nearest_outcome, normalise
from arena.store.ingest import AnswerRecord, ImportSummary, QuestionRecord, add_questions

FMT = "alpaca-eval"
SOURCE = "alpaca_eval"  # where questions carried by outputs and annotations are created


@dataclass
class _Ctx(Ctx):
    """The reader's context with AlpacaEval's default source for the questions it creates."""

    def default_source(self) -> str:
        return self.source or SOURCE


def _own(ctx: Ctx) -> _Ctx:
    # the same transaction, file, options and summary object: only the default source differs
    return _Ctx(**{f.name: getattr(ctx, f.name) for f in fields(ctx)})


def _carried(rec: Any, instr: str) -> CarriedQuestion:
    ds = rec.data.get("dataset")
    return CarriedQuestion(rec, None, [instr], category=ds if isinstance(ds, str) else "",
                           meta={"dataset": ds} if ds else {})


def _is_question(d: dict[str, Any]) -> bool:
    return isinstance(d.get("instruction"), str) and "output" not in d and "output_1" not in d


def _is_outputs(d: dict[str, Any]) -> bool:
    return isinstance(d.get("instruction"), str) and "output" in d and "output_1" not in d


def _is_annotation(d: dict[str, Any]) -> bool:
    return isinstance(d.get("instruction"), str) and "output_1" in d and "output_2" in d


def load_questions(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    recs = []
    for rec in f:
        dataset = f.opt(rec, "dataset", str, "")
        meta = {k: v for k, v in rec.data.items() if k not in ("instruction",)}
        recs.append(QuestionRecord(turns=[f.req(rec, "instruction")], category=dataset,
                                   meta=meta, line=rec.line))
    return add_questions(ctx.conn, recs, ctx.default_source(), file=ctx.path)


def load_outputs(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    ae = _own(ctx)
    names = []
    for rec in f:
        g = rec.data.get("generator")
        if g is None and ctx.model is None:
            raise f.error("missing generator (or pass --model)", rec, "generator")
        names.append((rec, str(g) if g is not None else ctx.model))
    pick = check_single_model(ctx, names, "generator", multi=True)
    chosen = [(rec, n) for rec, n in names if pick is None or n == pick]
    first_of: dict[str, int] = {}
    items: list[CarriedQuestion] = []
    for rec, _ in chosen:
        instr = f.req(rec, "instruction")
        if instr not in first_of:
            first_of[instr] = len(items)
            items.append(_carried(rec, instr))
    qids = ensure_questions(ae, items, field_name="instruction")
    out = []
    for rec, name in chosen:
        qid = qids.get(first_of[rec.data["instruction"]])
        if qid is None:
            continue
        output = f.req(rec, "output")
        out.append(AnswerRecord(question_id=qid, model=ctx.model or name, turns=[output]))
    store_answers(ae, out)
    return ctx.summary


def _preference(ctx: Ctx, rec: Any) -> tuple[Optional[float], Optional[str], bool]:
    """(preference in [1, 2] or None, error text for a missing one, was the legacy draw 0)."""
    p = rec.data.get("preference")
    if p is None or (isinstance(p, float) and math.isnan(p)) or p == "":
        return None, "no preference in the annotation", False
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise ctx.file.error(f"expected a number in [1, 2], got {p!r}", rec, "preference")
    try:
        value = normalise(p)
    except ValueError:
        raise ctx.file.error(f"preference {p!r} is outside [1, 2] (0 = AlpacaEval 1's draw)",
                             rec, "preference") from None
    return value, None, float(p) == LEGACY_DRAW


def load_annotations(ctx: Ctx) -> ImportSummary:
    f = ctx.file
    first_of: dict[str, int] = {}
    items: list[CarriedQuestion] = []
    req = f.req
    for rec in f:
        instr = req(rec, "instruction")
        if instr not in first_of:
            first_of[instr] = len(items)
            items.append(_carried(rec, instr))
    ae = _own(ctx)
    qids = ensure_questions(ae, items, field_name="instruction")
    # (question, model, version): the same generator may carry different texts for one
    # instruction (two result files imported together); each text is its own answer version
    answers: dict[tuple[str, str, str], AnswerRecord] = {}
    legacy = 0
    rows: list[dict[str, Any]] = []
    default_judge = ctx.judge
    for rec in f:
        d = rec.data
        qid = qids.get(first_of[d["instruction"]])
        if qid is None:
            continue
        g1, g2 = str(req(rec, "generator_1", (str, int))), str(req(rec, "generator_2", (str, int)))
        versions = []
        for g, key in ((g1, "output_1"), (g2, "output_2")):
            out = d.get(key)
            if not isinstance(out, str):
                raise f.error("expected the output text", rec, key)
            v = answer_content_hash([out])
            versions.append(v)
            answers.setdefault((qid, g, v), AnswerRecord(question_id=qid, model=g, turns=[out]))
        p, err, was_legacy = _preference(ctx, rec)
        legacy += was_legacy
        judge = default_judge or str(d.get("annotator") or "alpaca-eval")
        raw = d.get("raw_completion")
        if raw is not None and not isinstance(raw, str):
            raw = json.dumps(raw, ensure_ascii=False)
        meta: dict[str, Any] = {"self_battle": True} if g1 == g2 else {}
        rows.append({"question_id": qid, "judge_id": judge, "mode": "pairwise-baseline",
                     "model_a": g1, "model_b": g2, "first": None, "policy": "random_order",
                     "outcome": nearest_outcome(p) if p is not None else None,
                     "preference": p,
                     "raw_output": raw, "parse_status": "ok" if p is not None else "failed",
                     "error": err, "meta": meta,
                     "cache_key": verdict_key(ctx, judge, qid, g1, g2, p, raw),
                     "_version_a": versions[0], "_version_b": versions[1]})
    rows = drop_stored(ae, rows)  # a re-import stops here
    needed = {(r["question_id"], r[f"model_{s}"], r[f"_version_{s}"]) for r in rows
              for s in ("a", "b")}
    carried_answers(ae, [a for k, a in answers.items() if k in needed])
    store_verdicts(ae, rows, checked=True)
    if legacy:
        ctx.summary.notes.append(f"{legacy} preference(s) 0 (AlpacaEval 1's code for a draw) "
                                 f"imported as draws (1.5)")
    selfb = sum(1 for r in rows if r["meta"])
    if selfb:
        ctx.summary.notes.append(f"{selfb} self-battle(s) kept and flagged meta.self_battle")
    return ctx.summary


# ---- exports ----------------------------------------------------------------------------

def _dataset(meta: Any, category: str) -> str:
    return (meta or {}).get("dataset") or category or ""


def write_questions(conn: Connection, out: Path, flt: ExportFilter) -> int:
    return write_json(out, [{"instruction": q["turns"][0], "dataset": _dataset(q["meta"],
                                                                                q["category"])}
                            for q in query.questions(conn, flt)])


def write_outputs(conn: Connection, out: Path, flt: ExportFilter) -> int:
    return write_json(out, [{"instruction": a["question_turns"][0], "output": a["turns"][0],
                             "generator": a["model"],
                             "dataset": _dataset(a["question_meta"], a["category"])}
                            for a in query.answers(conn, flt)])


PREF = {"A": 1.0, "B": 2.0, "TIE": 1.5, "BOTH_BAD": 1.5}


def annotation_rows(conn: Connection, flt: ExportFilter) -> list[dict[str, Any]]:
    rows = []
    for v in query.verdicts(conn, flt, mode="pair"):
        pref = v["preference"]  # the fractional verdict, at full precision
        if pref is None and v["outcome"] is not None:
            pref = PREF[v["outcome"]]
        rows.append({"instruction": v["question_turns"][0],
                     "output_1": v["answer_a"][0] if v["answer_a"] else None,
                     "generator_1": v["model_a"],
                     "dataset": v["category"],
                     "output_2": v["answer_b"][0] if v["answer_b"] else None,
                     "generator_2": v["model_b"], "annotator": v["judge_id"],
                     "preference": pref, "raw_completion": v["raw_output"]})
    return rows


def write_annotations(conn: Connection, out: Path, flt: ExportFilter) -> int:
    return write_json(out, annotation_rows(conn, flt))


register_reader(Reader(FMT, "questions", "[{instruction, dataset}]", _is_question,
                       load_questions))
register_reader(Reader(FMT, "answers", "model_outputs.json [{instruction, output, generator, "
                       "dataset}]", _is_outputs, load_outputs))
register_reader(Reader(FMT, "verdicts", "annotations.json [{instruction, output_1, output_2, "
                       "generator_1, generator_2, preference}]", _is_annotation,
                       load_annotations))
register_writer(Writer(FMT, "questions", "[{instruction, dataset}] JSON", write_questions))
register_writer(Writer(FMT, "answers", "model_outputs.json", write_outputs))
register_writer(Writer(FMT, "verdicts", "annotations.json", write_annotations))
