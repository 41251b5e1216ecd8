"""Stores and files for the battle browser's tests, written through the project's ingest API.

``fill``: 4 models, 12 questions in 3 categories, every pair battled on every question, an LLM
judge in both orders (some orders disagree), two human annotators on some battles (some
disagree with each other and with the LLM), one failed judgment, dry-run verdicts, a corrected
(superseded) verdict, single-mode scores, and an answer made of HTML and script.
``write_review_files`` / ``write_paired_review``: evalscope review files (written here; the
shipped samples are references only).
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from arena.store import Store
from arena.store.annotation_schema import User
from arena.store.ingest import (AnswerRecord, QuestionRecord, add_answers, add_judgments,
                                add_questions, ensure_models, insert_ignore)
from arena.store.schema import Answer, Battle, Judgment

ROOT = Path(__file__).resolve().parents[2]
VIZ = ROOT / "viz.py"
MODELS = ["alpha", "beta", "gamma", "delta"]
STRENGTH = {"alpha": 3.0, "beta": 2.0, "gamma": 1.0, "delta": 0.0}
CATEGORIES = ["math", "writing", "coding"]
XSS = '<script>alert("x")</script><img src=x onerror="alert(1)"> **bold**'


@dataclass
class Filled:
    url: str
    battle_ids: dict[tuple[str, str, str], int] = field(default_factory=dict)
    xss_battle: int = 0
    failed_battle: int = 0
    order_flip_battles: set[int] = field(default_factory=set)
    annotator_split_battles: set[int] = field(default_factory=set)
    human_llm_split_battles: set[int] = field(default_factory=set)
    superseded_id: int = 0


def fill(store: Store, *, seed: int = 7, n_questions: int = 12) -> Filled:
    rng = random.Random(seed)
    out = Filled(url=store.url)
    with store.begin() as conn:
        qs = [QuestionRecord(turns=[f"Question {i}: explain item {i}."], local_id=str(i),
                             category=CATEGORIES[i % 3]) for i in range(n_questions)]
        add_questions(conn, qs, "t")
        ensure_models(conn, {m: {} for m in MODELS})
        answers = []
        for i in range(n_questions):
            for m in MODELS:
                text = f"{m} answers question {i} " + "word " * (5 + 3 * MODELS.index(m))
                if i == 0 and m == "delta":
                    text = XSS
                answers.append(AnswerRecord(question_id=f"t/{i}", model=m, turns=[text]))
        add_answers(conn, answers)
        pairs = list(itertools.combinations(MODELS, 2))
        insert_ignore(conn, Battle.__table__, [
            {"question_id": f"t/{i}", "model_a": a, "model_b": b}
            for i in range(n_questions) for a, b in pairs], ["question_id", "model_a", "model_b"])
        out.battle_ids = {(q, a, b): bid for bid, q, a, b in conn.execute(
            select(Battle.id, Battle.question_id, Battle.model_a, Battle.model_b))}
        ans = {(q, m): aid for aid, q, m in conn.execute(
            select(Answer.id, Answer.question_id, Answer.model))}
        conn.execute(User.__table__.insert(), [
            {"username": "ann1", "pseudonym": "annotator-1", "role": "annotator"},
            {"username": "ann2", "pseudonym": "annotator-2", "role": "annotator"}])
        users = dict(conn.execute(select(User.username, User.id)).all())
        rows = []

        def base(q: str, a: str, b: str) -> dict:
            return {"mode": "pairwise-all", "battle_id": out.battle_ids[(q, a, b)],
                    "question_id": q, "model_a": a, "model_b": b,
                    "answer_a_id": ans[(q, a)], "answer_b_id": ans[(q, b)]}

        for i in range(n_questions):
            q = f"t/{i}"
            for a, b in pairs:
                bid = out.battle_ids[(q, a, b)]
                better = "A" if STRENGTH[a] > STRENGTH[b] else "B"
                o1 = better if rng.random() < 0.8 else rng.choice(["A", "B", "TIE"])
                o2 = o1 if rng.random() < 0.7 else ("TIE" if o1 != "TIE" else better)
                if o1 != o2:
                    out.order_flip_battles.add(bid)
                for first, o in (("A", o1), ("B", o2)):
                    rows.append({**base(q, a, b), "first": first, "judge_kind": "llm",
                                 "judge_id": "judge-x", "template_version": "v1",
                                 "outcome": o, "rationale": f"Because **{o}** is better.",
                                 "raw_output": f"[[{o}]]"})
                rows.append({**base(q, a, b), "first": "A", "judge_kind": "dry-run",
                             "judge_id": "dry-run", "outcome": rng.choice("AB")})
        # humans on question 1 and 2 battles
        for i in (1, 2):
            q = f"t/{i}"
            for a, b in pairs:
                bid = out.battle_ids[(q, a, b)]
                h1 = "A" if STRENGTH[a] > STRENGTH[b] else "B"
                h2 = h1 if (a, b) != ("alpha", "beta") else "BOTH_BAD"
                if i == 2 and (a, b) == ("alpha", "gamma"):
                    h1 = h2 = "B"  # both humans against the (mostly consistent) LLM judge
                if h1 != h2:
                    out.annotator_split_battles.add(bid)
                for user, o in (("ann1", h1), ("ann2", h2)):
                    rows.append({**base(q, a, b), "first": "A" if user == "ann1" else "B",
                                 "judge_kind": "human", "judge_id": f"human:{user}",
                                 "annotator_id": users[user], "round": 1, "outcome": o,
                                 "comment": "looked at both", "time_on_task_s": 12.5,
                                 "submission_id": f"{user}-{bid}"})
        # a failed LLM judgment, kept with its raw output
        a, b = pairs[0]
        out.failed_battle = out.battle_ids[("t/3", a, b)]
        rows.append({**base("t/3", a, b), "first": "A", "judge_kind": "llm",
                     "judge_id": "judge-x", "template_version": "v1", "outcome": None,
                     "parse_status": "failed", "raw_output": "I cannot decide <b>at all</b>",
                     "error": "no verdict found"})
        out.xss_battle = out.battle_ids[("t/0", "alpha", "delta")]
        # single-mode scores
        for i in range(n_questions):
            for m in MODELS:
                rows.append({"mode": "single", "answer_id": ans[(f"t/{i}", m)],
                             "question_id": f"t/{i}", "model_a": m, "judge_kind": "llm",
                             "judge_id": "judge-x", "template_version": "v1",
                             "score_a": 5.0 + STRENGTH[m] + rng.random(), "raw_output": "ok"})
        keys = sorted({k for r in rows for k in r})  # one executemany needs uniform keys
        add_judgments(conn, [{k: r.get(k, 'ok' if k == 'parse_status' else None) for k in keys}
                             for r in rows])
    # a corrected human verdict: the first row is superseded by the second
    with store.begin() as conn:
        bid = out.battle_ids[("t/5", "beta", "gamma")]
        common = {"mode": "pairwise-all", "battle_id": bid, "question_id": "t/5",
                  "model_a": "beta", "model_b": "gamma", "first": "A", "judge_kind": "human",
                  "judge_id": "human:ann1", "annotator_id": users["ann1"], "round": 1}
        add_judgments(conn, [{**common, "outcome": "B", "submission_id": "wrong-1"}])
        wrong = conn.execute(select(Judgment.id).where(
            Judgment.submission_id == "wrong-1")).scalar_one()
        add_judgments(conn, [{**common, "outcome": "A", "submission_id": "fix-1",
                              "supersedes_id": wrong}])
        out.superseded_id = int(wrong)
    # humans vs the LLM: battles with human verdicts where no human outcome equals an LLM one
    # (outcomes of one battle share its orientation here; the superseded row does not count)
    final = [r for r in rows if r.get("parse_status", "ok") == "ok" and r.get("battle_id")
             and r["judge_kind"] in ("human", "llm")]
    final.append({**common, "outcome": "A"})
    by_battle: dict[int, tuple[set, set]] = {}
    for r in final:
        h, llm = by_battle.setdefault(r["battle_id"], (set(), set()))
        (h if r["judge_kind"] == "human" else llm).add(r["outcome"])
    for bid_, (h, llm) in by_battle.items():
        if h and llm and not (h & llm):
            out.human_llm_split_battles.add(int(bid_))
    return out


def write_review_files(folder: Path) -> tuple[Path, Path]:
    """An evalscope-shaped battle file (one row per battle) and a category mapping."""
    lines = [
        {"model_a": "m1", "model_b": "m2", "scores": [8.0, 6.0], "win": "model_a",
         "question_id": 1, "category": "algebra", "question": "What is 2+2?",
         "output_a": "4", "output_b": "5"},
        {"model_a": "m1", "model_b": "m2", "scores": [5.0, 9.0], "win": "model_b",
         "question_id": 2, "category": "poetry", "question": "Write a haiku.",
         "output_a": "roses", "output_b": "<script>alert(1)</script>an old pond"},
        {"model_a": "m2", "model_b": "m3", "scores": [7.0, 7.0], "win": "tie",
         "question_id": 3, "category": "algebra", "question": "Solve x+1=3.",
         "output_a": "x=2", "output_b": "x = 2"},
        {"model_a": "m1", "model_b": "m3", "win_1": "model_a", "win_2": "model_b",
         "question_id": 4, "category": "chat", "question": "Hello?",
         "output_a": "Hi", "output_b": "Hello", "review_text_1": "Both fine.",
         "review_text_2": "Hello is warmer."},
        {"model_a": "m1", "model_b": "m3", "win": "??", "question_id": 5,
         "category": "chat", "question": "Bye?", "output_a": "bye", "output_b": "ciao"},
    ]
    review = folder / "battle.jsonl"
    review.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    cats = folder / "category_mapping.yaml"
    cats.write_text("Maths: [algebra]\nWriting: ['poetry']\nOther: ['*']\n", encoding="utf-8")
    return review, cats


PAIRED_OUTPUTS = {
    ("1", "m1"): "Paris is the capital.", ("1", "m2"): "It is Lyon.",
    ("2", "m1"): "Delivery at the door", ("2", "m2"): "Deliver goods to the door",
    ("3", "m1"): "Seven.", ("3", "m2"): "Seven, said the zebra.",
    ("4", "m1"): "A long answer about rivers.", ("4", "m2"): "Short.",
    ("5", "m1"): "Hi there", ("5", "m3"): "Hello friend",
}


def write_paired_review(folder: Path) -> tuple[Path, dict[str, set[str]]]:
    """Questions 1-4 twice (swapped rows, each with its ``win``), question 5 as one
    ``win_1``/``win_2`` record. Questions 2 and 4 are inconsistent (the position won both
    times), 1 and 3 consistent, 5 consistent. ``facts``: question ids by property."""
    def row(q: str, a: str, b: str, win: str, cat: str) -> dict:
        return {"model_a": a, "model_b": b, "scores": [7.0, 8.0], "win": win, "anony": True,
                "tstamp": 1688612110.0 + int(q) + (0.5 if a == "m2" else 0),
                "language": "NA", "question_id": int(q), "category": cat,
                "question": f"Question {q}?", "output_a": PAIRED_OUTPUTS[(q, a)],
                "output_b": PAIRED_OUTPUTS[(q, b)], "review_text": f"review of {q} {a}-{b}"}

    lines = [
        row("1", "m1", "m2", "model_a", "knowledge"), row("1", "m2", "m1", "model_b", "knowledge"),
        row("2", "m1", "m2", "model_b", "translation"),
        row("2", "m2", "m1", "model_b", "translation"),  # second shown wins twice
        row("3", "m1", "m2", "tie", "maths"), row("3", "m2", "m1", "tie", "maths"),
        row("4", "m1", "m2", "model_a", "writing"),
        row("4", "m2", "m1", "model_a", "writing"),  # first shown wins twice
        {"model_a": "m1", "model_b": "m3", "win_1": "model_b", "win_2": "model_b",
         "question_id": 5, "category": "chat", "question": "Question 5?",
         "output_a": PAIRED_OUTPUTS[("5", "m1")], "output_b": PAIRED_OUTPUTS[("5", "m3")],
         "review_text_1": "m3 is friendlier.", "review_text_2": "m3 again."},
    ]
    path = folder / "battle_both_orders.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n",
                    encoding="utf-8")
    return path, {"inconsistent": {"review/2", "review/4"},
                  "consistent": {"review/1", "review/3", "review/5"}}


EVIL_MODEL = "[evil](http://198.51.100.7/x)"
EVIL_CATEGORY = "**stem** [cat](http://198.51.100.7/c)"
REMOTE_IMAGE = "http://198.51.100.7/pixel.png"
BROWSER_MODELS = ["alpha-7b", "beta-13b", "gamma-70b", "delta-3b", "epsilon-1b", EVIL_MODEL]
BROWSER_CATEGORIES = ["math", "coding", "writing", "reasoning", "roleplay", EVIL_CATEGORY]
LONG_CODE = "```python\nprint('" + "x" * 400 + "')\n```"


@dataclass
class BrowserFilled:
    url: str
    image_battle: int = 0  # a battle whose model_a answer holds a remote image and long code
    evil_battle: int = 0  # a battle of the model named like a markdown link


def fill_browser(store: Store, *, n_questions: int = 24, seed: int = 3) -> BrowserFilled:
    """6 models (one named like a markdown link), 6 categories (one with markdown), an LLM
    judge in both orders (a position bias on close pairs), single-mode scores; the answers
    of question 0 hold a remote image, raw HTML with one, and a very long code line."""
    rng = random.Random(seed)
    skill = {m: s for m, s in zip(BROWSER_MODELS, [2.0, 1.2, 3.0, 0.4, -0.5, 0.8])}
    out = BrowserFilled(url=store.url)
    with store.begin() as conn:
        add_questions(conn, [QuestionRecord(
            turns=[f"Question {i}: how would you explain topic {i} to a student?"],
            local_id=str(i), category=BROWSER_CATEGORIES[i % len(BROWSER_CATEGORIES)])
            for i in range(n_questions)], "b")
        ensure_models(conn, {m: {} for m in BROWSER_MODELS})
        answers = []
        for i in range(n_questions):
            for m in BROWSER_MODELS:
                # (no model name inside the text: names must be the only place it appears)
                text = f"Model {BROWSER_MODELS.index(m) + 1} explains topic {i}. " + \
                    "More detail. " * rng.randint(2, 30)
                if i == 0 and m == "alpha-7b":
                    text = (f"Here is a chart: ![chart]({REMOTE_IMAGE})\n\n"
                            f'<img src="{REMOTE_IMAGE}?raw=1">\n\n{LONG_CODE}\n\nDone.')
                answers.append(AnswerRecord(question_id=f"b/{i}", model=m, turns=[text]))
        add_answers(conn, answers)
        pairs = list(itertools.combinations(sorted(BROWSER_MODELS), 2))
        insert_ignore(conn, Battle.__table__, [
            {"question_id": f"b/{i}", "model_a": a, "model_b": b}
            for i in range(n_questions) for a, b in pairs], ["question_id", "model_a", "model_b"])
        bids = {(q, a, b): bid for bid, q, a, b in conn.execute(
            select(Battle.id, Battle.question_id, Battle.model_a, Battle.model_b))}
        ans = {(q, m): aid for aid, q, m in conn.execute(
            select(Answer.id, Answer.question_id, Answer.model))}
        rows = []
        for i in range(n_questions):
            q = f"b/{i}"
            for a, b in pairs:
                gap = skill[a] - skill[b]
                for first in ("A", "B"):
                    if (abs(gap) < 0.9 and rng.random() < 0.5) or \
                            (i == 0 and {a, b} == {"alpha-7b", "gamma-70b"}):
                        o = first  # position bias: the answer shown first wins
                    else:
                        p = 1 / (1 + 10 ** (-gap / 1.5))
                        o = "A" if rng.random() < p else "B"
                    rows.append({"mode": "pairwise-all", "battle_id": bids[(q, a, b)],
                                 "question_id": q, "model_a": a, "model_b": b,
                                 "answer_a_id": ans[(q, a)], "answer_b_id": ans[(q, b)],
                                 "first": first, "judge_kind": "llm", "judge_id": "judge-x",
                                 "template_version": "v1", "outcome": o,
                                 "rationale": "The answer shown **"
                                              + ("first" if o == first else "second")
                                              + "** is clearer.", "raw_output": f"[[{o}]]"})
            for m in BROWSER_MODELS:
                rows.append({"mode": "single", "answer_id": ans[(q, m)], "question_id": q,
                             "model_a": m, "judge_kind": "llm", "judge_id": "judge-x",
                             "template_version": "v1",
                             "score_a": round(min(10, max(1, 6 + skill[m] + rng.gauss(0, 1))),
                                              1), "rationale": "Scored.", "raw_output": "ok"})
        keys = sorted({k for r in rows for k in r})
        add_judgments(conn, [{k: r.get(k, 'ok' if k == 'parse_status' else None) for k in keys}
                             for r in rows])
        lo, hi = sorted(["alpha-7b", "gamma-70b"])
        out.image_battle = bids[("b/0", lo, hi)]
        lo, hi = sorted(["alpha-7b", EVIL_MODEL])
        out.evil_battle = bids[("b/1", lo, hi)]
    return out
