"""The viewer given ``-c CONFIG`` counts exactly that config's run scope, and writes nothing;
without a config it draws one board per judge fingerprint and says so.

A real pipeline run fills the store: evalscope answer files, an LLM judge behind the fake
OpenAI-compatible server (real sockets), both display orders; a second judge configuration
(another temperature) is a second fingerprint under the same name.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from arena.config import load_config
from arena.leaderboard import build_boards
from arena.pipeline import run_pipeline
from arena.store import Store
from arena.store.schema import Answer, Battle, Judgment, Question
from arena.viz.render import plain
from fake_openai import FakeOpenAI
from viz_fixtures import VIZ

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "judges"))
from judge_fixtures import blocks  # noqa: E402  (the judge tests' prompt reader)

pytestmark = pytest.mark.db
WORD = {"alpha": "GOOD", "beta": "MID", "gamma": "BAD", "delta": "MID"}
QUESTIONS = [(1, "writing"), (2, "writing"), (3, "math"), (4, "math")]


def biased_judge(req: dict) -> str:
    """Prefers the better answer; with equal answers, the one shown first (position bias)."""
    b = blocks(req)
    q = {"GOOD": 2, "MID": 1, "BAD": 0}
    qa = next((v for k, v in q.items() if k in b["answer_a"]), 1)
    qb = next((v for k, v in q.items() if k in b["answer_b"]), 1)
    return f"Compared.\n[[{'A' if qa >= qb else 'B'}]]"


def write_config(tmp: Path, store_url: str, base_url: str, name: str,
                 models: tuple[str, ...], temperature: float = 0.0) -> Path:
    qfile = tmp / "question.jsonl"
    if not qfile.exists():
        qfile.write_text("".join(json.dumps({"question_id": q, "text": f"Question {q}?",
                                             "category": c}) + "\n" for q, c in QUESTIONS))
    for m in models:
        path = tmp / f"answer_{m}.jsonl"
        if not path.exists():
            path.write_text("".join(json.dumps({
                "question_id": q, "text": f"Question {q}?", "category": c, "model_id": m,
                "metadata": {}, "answer": f"{WORD[m]} answer {q} by {m}"}) + "\n"
                for q, c in QUESTIONS))
    lines = [f"name: {name}", f"store: {{url: '{store_url}'}}",
             "questions: [{file: question.jsonl, format: evalscope, source: qs}]", "models:"]
    lines += [f"  - {{name: {m}, backend: file, path: answer_{m}.jsonl, format: evalscope}}"
              for m in models]
    lines += ["generation: {concurrency: 4, max_retries: 0, backoff_base_s: 0.01}",
              "judge:", "  mode: pairwise-all", "  position_policy: tie_if_inconsistent",
              "  judges:",
              f"    - {{name: judge, backend: openai, model: judge-model, base_url: "
              f"'{base_url}', api_key_env: null, generation: {{temperature: {temperature}}}}}",
              "ratings: {bootstrap_rounds: 20, methods: [bt, winrate]}",
              f"report: {{dir: '{tmp / ('reports-' + name)}'}}"]
    path = tmp / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def counts(store: Store) -> dict[str, int]:
    with store.begin() as conn:
        return {t.__tablename__: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (Question, Answer, Battle, Judgment)}


def app(monkeypatch: pytest.MonkeyPatch, argv: list[str], **params: str) -> AppTest:
    monkeypatch.setattr(sys, "argv", ["viz.py", *argv])
    at = AppTest.from_file(str(VIZ), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def problems(at: AppTest) -> list[str]:
    return [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]


@pytest.fixture
def runs(tmp_path: Path, store_url: str, store: Store) -> dict[str, Path]:
    """Three configs run: three models; two models (a subset: every judgment reused); three
    models with another judge temperature (a second fingerprint). A fourth, never run, adds a
    model whose battles are not stored."""
    with FakeOpenAI(biased_judge) as srv:
        cfgs = {"three": write_config(tmp_path, store_url, srv.base_url, "three",
                                      ("alpha", "beta", "gamma")),
                "two": write_config(tmp_path, store_url, srv.base_url, "two",
                                    ("alpha", "beta")),
                "hot": write_config(tmp_path, store_url, srv.base_url, "hot",
                                    ("alpha", "beta", "gamma"), temperature=0.7)}
        for name in ("three", "two", "hot"):
            run_pipeline(load_config(cfgs[name]), progress=False)
        run_pipeline(load_config(cfgs["three"]), dry_run=True, progress=False)
        cfgs["four"] = write_config(tmp_path, store_url, srv.base_url, "four",
                                    ("alpha", "beta", "gamma", "delta"))
    from arena import formats

    with store.begin() as conn:  # delta's answers stored, never judged: no battle of delta
        formats.import_answers(conn, tmp_path / "answer_delta.jsonl", "evalscope",
                               model="delta", source="qs")
    with store.begin() as conn:
        assert not conn.execute(select(func.count()).select_from(Battle).where(
            (Battle.model_a == "delta") | (Battle.model_b == "delta"))).scalar_one()
    return cfgs


def test_a_config_counts_exactly_its_scope_and_nothing_is_written(
        runs: dict[str, Path], store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    before = counts(store)
    shown = {}
    for name in ("three", "two", "hot", "four"):
        at = app(monkeypatch, ["-c", str(runs[name])], page="leaderboard")
        assert problems(at) == [], name
        assert len(at.dataframe) == 1, "one board: the config's scope"
        lists = app(monkeypatch, ["-c", str(runs[name])], page="battles")
        shown[name] = (at.dataframe[0].value, [c.value for c in at.caption],
                       lists.dataframe[0].value)
    for page in ("categories", "matrices", "single", "judges", "length"):
        assert problems(app(monkeypatch, ["-c", str(runs["four"])], page=page)) == [], page
    # delta's answers are stored but none of its battles: the viewer planned them, stored none
    assert counts(store) == before
    for name, (table, captions, listed) in shown.items():
        boards, frame, _scope = build_boards(store, load_config(runs[name]).config)
        ref = boards["all"]
        assert list(table["model"]) == [r.model for r in ref.rows], name
        assert list(table["battles"]) == [r.n for r in ref.rows], name
        assert any(plain(f"{ref.n_verdicts} verdicts, {ref.n_battles} battles") in c
                   for c in captions), name
        assert any(plain(f"config {name!r}") in c for c in captions), name
        assert listed["counted"].sum() == len(frame) == ref.n_verdicts, name
    assert set(shown["two"][0]["model"]) == {"alpha", "beta"}
    assert "delta" not in set(shown["four"][0]["model"])  # no verdict on delta yet


def test_without_a_config_one_board_per_judge_fingerprint(
        runs: dict[str, Path], store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(monkeypatch, [], page="leaderboard")
    monkeypatch.setenv("ARENA_DB", load_config(runs["three"]).config.store.url or "")
    at = app(monkeypatch, [], page="leaderboard")
    assert problems(at) == []
    heads = [s.value for s in at.subheader]
    assert len(heads) == 2 and all(h.startswith(f"Judge {plain('llm:judge#')}") for h in heads)
    assert heads[0] != heads[1]  # one name, two fingerprints: two boards
    assert any("one board per judge fingerprint" in c.value for c in at.caption)
    hot = build_boards(store, load_config(runs["hot"]).config)[0]["all"]
    assert any(at.dataframe[i].value["battles"].sum() == sum(r.n for r in hot.rows)
               for i in range(2))


def test_a_config_dry_run_view_is_labelled_and_counts_its_dry_run_scope(
        runs: dict[str, Path], store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(runs["three"]).config
    ref = build_boards(store, cfg, dry_run=True)[0]["all"]
    at = app(monkeypatch, ["-c", str(runs["three"])], page="leaderboard", judge="kind:dry-run")
    assert problems(at) == []
    assert any("DRY RUN - random verdicts" in w.value for w in at.warning)
    assert list(at.dataframe[0].value["battles"]) == [r.n for r in ref.rows]
    real = build_boards(store, cfg)[0]["all"]
    at = app(monkeypatch, ["-c", str(runs["three"])], page="leaderboard")
    assert list(at.dataframe[0].value["battles"]) == [r.n for r in real.rows]
    assert not any("DRY RUN" in w.value for w in at.warning)
