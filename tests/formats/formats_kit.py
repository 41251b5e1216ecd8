"""Small fixtures in each anchor's shape (written for these tests) and a store snapshot.

``write(tmp_path, name, rows)`` writes JSON Lines (``.jsonl``) or a JSON array (``.json``).
``snapshot(store)`` returns the stored rows without surrogate ids and timestamps, so two
stores (or a store before and after a round trip) compare with ``==``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from arena.store import Store
from arena.store.schema import Answer, Document, Judgment, Question, Reference


def write(folder: Path, name: str, rows: list[dict[str, Any]]) -> Path:
    path = folder / name
    if name.endswith(".json"):
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    else:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                        encoding="utf-8")
    return path


# ---- evalscope ----------------------------------------------------------------------------
EVAL_Q = [{"question_id": 1, "text": "Name three prime numbers.", "category": "math",
           "difficulty": "easy"},
          {"question_id": 2, "text": "Write a haiku about rain.", "category": "writing"},
          {"question_id": 3, "text": "What is a linked list?", "category": "coding"}]


def eval_answers(model: str) -> list[dict[str, Any]]:
    return [{**q, "model_id": model, "metadata": {}, "answer": f"{model} on {q['question_id']}"}
            for q in EVAL_Q]


EVAL_REVIEW = [
    {"model_a": "alpha", "model_b": "beta", "scores": [8.0, 6.0], "win": "model_a",
     "anony": True, "tstamp": 1700000000.5, "language": "en", "question_id": 1,
     "category": "math", "question": EVAL_Q[0]["text"], "review_text": "8 6\nA is better"},
    {"model_a": "alpha", "model_b": "beta", "scores": [-1, -1], "win": "error",
     "anony": True, "tstamp": 1700000001.0, "language": "NA", "question_id": 2,
     "category": "writing", "question": EVAL_Q[1]["text"], "review_text": "no idea"},
    {"model_a": "alpha", "model_b": "beta", "win_1": "model_b", "win_2": "tie", "anony": True,
     "tstamp": 1700000002.0, "language": "NA", "question_id": 3, "category": "coding",
     "question": EVAL_Q[2]["text"], "review_text_1": "[[B]]", "review_text_2": "[[C]]"},
    {"model": "alpha", "score": 7, "anony": True, "tstamp": 1700000003.0, "language": "NA",
     "question_id": 1, "category": "math", "question": EVAL_Q[0]["text"],
     "review_text": "Rating: [[7]]"},
]

EVAL_BATTLE = [
    {"model_a": "v1", "model_b": "v2", "scores": [10.0, 10.0], "win": "tie", "anony": True,
     "tstamp": 1688612110.5, "language": "NA", "question_id": 1, "category": "arith",
     "question": "1+200*300 = ?", "output_a": "60001", "output_b": "60001"},
    {"model_a": "v1", "model_b": "v2", "scores": [7.0, 9.0], "win": "model_b", "anony": True,
     "tstamp": 1688612117.25, "language": "NA", "question_id": 2, "category": "translate",
     "question": "Say 'door delivery' in French.", "output_a": "livraison",
     "output_b": "livraison à domicile"},
]

# ---- FastChat / MT-bench ----------------------------------------------------------------------
MT_Q = [{"question_id": 81, "category": "writing", "source": "handwritten",
         "turns": ["Write a travel note about Lisbon.", "Now make every sentence start with A."]},
        {"question_id": 101, "category": "reasoning",
         "turns": ["You overtake the second runner. What is your place?", "And the last?"],
         "reference": ["Second.", "That is impossible."]}]


def mt_answers(model: str) -> list[dict[str, Any]]:
    return [{"question_id": q["question_id"], "answer_id": f"{model}-{q['question_id']}",
             "model_id": model, "choices": [{"index": 0, "turns": [f"{model} t1", f"{model} t2"]}],
             "tstamp": 1686286924.5} for q in MT_Q]


MT_REF = [{"question_id": 101, "answer_id": "r101", "model_id": "gpt-4",
           "choices": [{"index": 0, "turns": ["Second place.", "Cannot overtake the last."]}],
           "tstamp": 1686286924.0}]

MT_JUDGMENT = [
    {"question_id": 81, "model_1": "alpha", "model_2": "beta", "g1_winner": "model_1",
     "g2_winner": "model_2", "judge": ["gpt-4", "pair-v2"], "g1_user_prompt": "...",
     "g1_judgment": "[[A]]", "g2_user_prompt": "...", "g2_judgment": "[[A]]", "turn": 1,
     "tstamp": 1687000000.0},
    {"question_id": 101, "model_1": "alpha", "model_2": "beta", "g1_winner": "error",
     "g2_winner": "tie", "judge": ["gpt-4", "pair-math-v1"], "g1_judgment": "unclear",
     "g2_judgment": "[[C]]", "turn": 1, "tstamp": 1687000001.0},
    {"question_id": 81, "model": "alpha", "judge": ["gpt-4", "single-v1"], "user_prompt": "...",
     "judgment": "Rating: [[8]]", "score": 8, "turn": 1, "tstamp": 1687000002.0},
    {"question_id": 81, "model": "beta", "judge": ["gpt-4", "single-v1"], "user_prompt": "...",
     "judgment": "no rating here", "score": -1, "turn": 2, "tstamp": 1687000003.0},
]

# ---- arena-hard -----------------------------------------------------------------------------
AH_Q = [{"uid": "u1", "category": "arena-hard-v0.1", "cluster": "Sorting",
         "prompt": "Sort [3, 1, 2] in Python."},
        {"uid": "u2", "category": "arena-hard-v0.1", "cluster": "Poems",
         "prompt": "Write a limerick about cats."}]
AH_Q_TURNS = [{"question_id": "t1", "category": "hard", "cluster": "X",
               "turns": [{"content": "First ask."}, {"content": "Second ask."}]}]


def ah_answers(model: str) -> list[dict[str, Any]]:
    return [{"uid": q["uid"], "ans_id": f"{model}-{q['uid']}", "model": model,
             "messages": [{"role": "user", "content": q["prompt"]},
                          {"role": "assistant", "content": {"answer": f"{model}: {q['uid']}"}}],
             "tstamp": 1720000000.0} for q in AH_Q]


AH_OLD_ANSWER = [{"question_id": "u1", "answer_id": "x", "model_id": "old-model",
                  "choices": [{"index": 0, "turns": [{"content": "sorted()", "token_len": 3}]}],
                  "tstamp": 1710000000.0}]

AH_JUDGMENT = [
    {"uid": "u1", "model": "alpha", "baseline": "base", "judge": "gpt-4-1106-preview",
     "games": [{"user_prompt": "...", "judgment": "B is better [[B>A]]", "score": "B>A"},
               {"user_prompt": "...", "judgment": "A much better [[A>>B]]", "score": "A>>B"}]},
    {"uid": "u2", "model": "alpha", "baseline": "base", "judge": "gpt-4-1106-preview",
     "games": [{"user_prompt": "...", "judgment": "tie [[A=B]]", "score": "A=B"},
               {"user_prompt": "...", "judgment": "cannot decide", "score": None}]},
]

# ---- AlpacaEval -----------------------------------------------------------------------------
AE_Q = [{"instruction": "Give me a pasta recipe.", "dataset": "helpful_base"},
        {"instruction": "Explain recursion to a child.", "dataset": "koala"}]


def ae_outputs(model: str) -> list[dict[str, Any]]:
    return [{"instruction": q["instruction"], "output": f"{model} answer {i}",
             "generator": model, "dataset": q["dataset"]} for i, q in enumerate(AE_Q)]


def ae_annotation(i: int, g1: str, g2: str, pref: Any) -> dict[str, Any]:
    q = AE_Q[i]
    return {"instruction": q["instruction"], "output_1": f"{g1} answer {i}", "generator_1": g1,
            "dataset": q["dataset"], "output_2": f"{g2} answer {i}", "generator_2": g2,
            "annotator": "weighted_alpaca_eval_gpt4_turbo", "preference": pref,
            "price_per_example": 0.01, "time_per_example": 1.2, "raw_completion": f"m{i}"}


AE_ANN = [ae_annotation(0, "base", "alpha", 2.0), ae_annotation(1, "base", "alpha", 1.5),
          ae_annotation(0, "base", "beta", 1.0), ae_annotation(1, "base", "beta", None),
          ae_annotation(1, "base", "base", 1.5), ae_annotation(0, "base", "gamma", 1.3)]

# ---- L-Eval ---------------------------------------------------------------------------------
LEVAL_DOCS = [
    {"instructions": ["Who is Cara?", "Summarise the story."], "outputs": ["A singer.", "S1."],
     "input": "Document one. " * 20, "source": "movie_qa", "evaluation": "LLM"},
    {"instructions": ["Who is Cara?"], "outputs": ["A pilot."], "input": "Document two. " * 20,
     "source": "movie_qa", "evaluation": "LLM"},
]
LEVAL_PRED = [
    {"query": "Who is Cara?", "gt": "A pilot.", "m100k_pred": "She flies.", "evaluation": "LLM"},
    {"query": "Who is Cara?", "gt": "A singer.", "m100k_pred": "She sings.", "evaluation": "LLM"},
    {"query": "Summarise the story.", "gt": "S1.", "m100k_pred": "A story.", "evaluation": "LLM"},
    {"query": "Who wrote it?", "gt": "?", "m100k_pred": "Nobody.", "evaluation": "LLM"},
]

# ---- LongBench / LongBench-Write ------------------------------------------------------------
LB_Q = [{"input": "Which city?", "context": "Long passage about Paris. " * 10,
         "answers": ["Paris"], "length": 120, "dataset": "hotpotqa", "language": "en",
         "all_classes": None, "_id": "lb1"},
        {"input": "Which class?", "context": "Long passage about Paris. " * 10,
         "answers": ["B", "b"], "length": 120, "dataset": "hotpotqa", "language": "en",
         "all_classes": ["A", "B"], "_id": "lb2"}]
LB_PRED = [{"pred": "Paris.", "answers": ["Paris"], "all_classes": None, "length": 120},
           {"pred": "B", "answers": ["B", "b"], "all_classes": ["A", "B"], "length": 120}]
LBW_Q = [{"prompt": "Write a 100-word note on tea.", "type": "Community Forum", "length": 100},
         {"prompt": "Write 300 words on rivers.", "type": "Popular Science", "length": 300}]
DIMS = {"Relevance": 5, "Accuracy": 4, "Coherence": 3, "Clarity": 5, "Breadth and Depth": 2,
        "Reading Experience": 5}
LBW_JUDGED = [
    {**LBW_Q[0], "response_length": 90, "response": "Tea is " * 45, "scores": DIMS,
     "score_l": 80.0},
    {**LBW_Q[1], "response_length": 5, "response": "Rivers flow.",
     "scores": {"Relevance": 4, "Accuracy": "n/a"}},
    {"Relevance": 81.25, "total": 70.0},  # the summary line LongWriter appends
]


def snapshot(store: Store) -> dict[str, Any]:
    """Stored rows minus surrogate ids, timestamps and per-import bookkeeping."""
    with store.begin() as conn:
        docs = dict(conn.execute(select(Document.id, Document.text)).all())
        qs = sorted((r.id, r.source, r.local_id, r.category, json.dumps(r.turns),
                     docs.get(r.document_id), json.dumps(r.meta, sort_keys=True))
                    for r in conn.execute(select(Question)))
        answers = {r.id: (r.question_id, r.model) for r in conn.execute(select(Answer))}
        ans = sorted((r.question_id, r.model, r.params_hash, json.dumps(r.turns),
                      json.dumps(r.reasoning)) for r in conn.execute(select(Answer)))
        refs = sorted((r.question_id, r.author, json.dumps(r.turns))
                      for r in conn.execute(select(Reference)))
        js = sorted((r.mode, r.question_id, r.model_a, r.model_b or "", r.first or "",
                     r.turn or 0, r.judge_kind, r.judge_id, r.template_version or "",
                     r.policy or "", r.outcome or "", r.strength or 0, r.score_a or 0,
                     r.score_b or 0, json.dumps(r.scores, sort_keys=True), r.raw_output or "",
                     r.parse_status, json.dumps(r.meta, sort_keys=True),
                     answers.get(r.answer_a_id) is not None, answers.get(r.answer_b_id) is not None)
                    for r in conn.execute(select(Judgment)))
    return {"questions": qs, "answers": ans, "references": refs, "judgments": js}
