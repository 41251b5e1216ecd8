"""Run scope (issue: leaderboards count exactly what the config asked for).

One store, several configs in turn, a fake OpenAI-compatible judge over real sockets. Each test
is a user's report turned into a check: a disabled model leaves the board; a changed answer
file is a new version and only it is judged; a judge with new parameters is a second
fingerprint; pairwise-baseline after pairwise-all reuses every judgment and counts like a
fresh store; a judge failing on everything exits non-zero; a missing key stops the run before
any answer is paid for; per-category exclusions are per category.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest
from sqlalchemy import func, select

from arena.config import load_config
from arena.errors import BackendUnavailable, ConfigError, InputError, StageFailed
from arena.leaderboard import build_boards
from arena.pipeline import run_pipeline
from arena.store import Store
from arena.store.schema import Answer, Judgment
from fake_openai import FakeOpenAI

sys.path.insert(0, str(Path(__file__).resolve().parent / "judges"))
from judge_fixtures import blocks  # noqa: E402  (the judge tests' prompt reader)

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.db

WORD = {"alpha": "GOOD", "beta": "MID", "gamma": "BAD"}
QUESTIONS = [(1, "writing"), (2, "writing"), (3, "math"), (4, "math")]


def quality(text: str) -> int:
    return 2 if "GOOD" in text else 0 if "BAD" in text else 1


def judge_reply(req: dict) -> str:
    b = blocks(req)
    qa, qb = quality(b["answer_a"]), quality(b["answer_b"])
    v = "A" if qa > qb else "B" if qb > qa else "C"
    return f"Compared.\n[[{v}]]"


def write_answers(tmp: Path, model: str, word: Optional[str] = None, tag: str = "") -> Path:
    path = tmp / f"answer_{model}.jsonl"
    with open(path, "w") as f:
        for qid, cat in QUESTIONS:
            f.write(json.dumps({"question_id": qid, "text": f"Question {qid}?", "category": cat,
                                "model_id": model, "metadata": {},
                                "answer": f"{word or WORD[model]} answer {qid}{tag}"}) + "\n")
    return path


def write_config(tmp: Path, store_url: str, base_url: str, *, name: str = "scope",
                 models: tuple[str, ...] = ("alpha", "beta", "gamma"),
                 disabled: tuple[str, ...] = (), mode: str = "pairwise-all",
                 policy: str = "both_games", temperature: float = 0.0,
                 key_env: Optional[str] = None, extra_judge: str = "") -> Path:
    qfile = tmp / "question.jsonl"
    if not qfile.exists():
        with open(qfile, "w") as f:
            for qid, cat in QUESTIONS:
                f.write(json.dumps({"question_id": qid, "text": f"Question {qid}?",
                                    "category": cat}) + "\n")
    for m in models:
        if not (tmp / f"answer_{m}.jsonl").exists():
            write_answers(tmp, m)
    lines = [f"name: {name}", f"store: {{url: '{store_url}'}}",
             "questions: [{file: question.jsonl, format: evalscope, source: qs}]", "models:"]
    for m in models:
        lines.append(f"  - {{name: {m}, backend: file, path: answer_{m}.jsonl, format: evalscope,"
                     f" enabled: {'false' if m in disabled else 'true'}}}")
    lines += ["generation: {concurrency: 4, max_retries: 0, backoff_base_s: 0.01}",
              "judge:", f"  mode: {mode}", f"  position_policy: {policy}"]
    if mode == "pairwise-baseline":
        lines.append("  baseline: gamma")
    key = f"api_key_env: {key_env}" if key_env else "api_key_env: null"
    lines += ["  judges:",
              f"    - {{name: judge, backend: openai, model: judge-model, base_url: '{base_url}',"
              f" {key}, generation: {{temperature: {temperature}}}}}"]
    if extra_judge:
        lines.append(extra_judge)
    lines += ["ratings: {bootstrap_rounds: 20, methods: [bt, winrate]}",
              f"report: {{dir: '{tmp / ('reports-' + name)}'}}"]
    path = tmp / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def board_models(text: str) -> set[str]:
    return {m for m in WORD if any(line.split()[1:2] == [m] for line in text.splitlines()
                                   if line.strip()[:1].isdigit())}


def test_a_disabled_model_leaves_the_board(tmp_path: Path, store_url: str) -> None:
    with FakeOpenAI(judge_reply) as srv:
        all_three = write_config(tmp_path, store_url, srv.base_url, name="three")
        res = run_pipeline(load_config(all_three), progress=False)
        assert board_models(res.leaderboard) == {"alpha", "beta", "gamma"}
        two = write_config(tmp_path, store_url, srv.base_url, name="two", disabled=("gamma",))
        srv.reset()
        res = run_pipeline(load_config(two), progress=False)
        assert srv.count() == 0  # every judgment of the two-model config was already stored
        assert board_models(res.leaderboard) == {"alpha", "beta"}, res.leaderboard
        assert "counted: 8 verdicts" in res.leaderboard  # 4 questions x 2 orders, one pair
        manifest = json.loads((tmp_path / "reports-two" / "leaderboard.manifest.json")
                              .read_text())
        assert set(manifest["scope"]["models"]) == {"alpha", "beta"}
        assert manifest["counts"]["excluded"]["out_of_scope"] == 16


def test_a_changed_answer_file_is_a_new_version_and_only_it_is_judged(
        tmp_path: Path, store_url: str) -> None:
    with FakeOpenAI(judge_reply) as srv:
        cfg = write_config(tmp_path, store_url, srv.base_url, models=("alpha", "beta"))
        run_pipeline(load_config(cfg), progress=False)
        assert srv.count() == 8
        # beta's answers are rewritten: now they say GOOD and alpha's MID would lose ties
        write_answers(tmp_path, "beta", word="GOOD", tag=" (revised)")
        write_answers(tmp_path, "alpha", word="MID")
        srv.reset()
        res = run_pipeline(load_config(cfg), progress=False)
        text = "\n".join(res.messages)
        assert "answers of beta from answer_beta.jsonl: 4 new, 0 already stored; 4 answers " \
               "changed" in text
        assert srv.count() == 8  # the new versions are judged, once
        prompts = "\n".join(json.dumps(r) for r in srv.requests)
        assert "(revised)" in prompts
        assert board_models(res.leaderboard) == {"alpha", "beta"}
        first = [ln for ln in res.leaderboard.splitlines() if ln.strip().startswith("1 ")]
        assert first and "beta" in first[0], res.leaderboard  # the new text won
        assert "counted: 8 verdicts" in res.leaderboard
        s = Store.open(store_url)
        with s.begin() as conn:
            n_answers = conn.execute(select(func.count()).select_from(Answer)).scalar_one()
            n_judgments = conn.execute(select(func.count()).select_from(Judgment)).scalar_one()
            old = conn.execute(select(Answer.id).where(Answer.model == "beta")
                               .order_by(Answer.id).limit(4)).scalars().all()
            on_old = conn.execute(select(func.count()).select_from(Judgment).where(
                Judgment.answer_b_id.in_(old) | Judgment.answer_a_id.in_(old))).scalar_one()
        s.close()
        assert n_answers == 16 and n_judgments == 16  # old versions and verdicts stay
        assert on_old == 8  # ... attributed to the version they judged


def test_new_judge_parameters_are_a_second_fingerprint(tmp_path: Path, store_url: str,
                                                       capsys) -> None:
    with FakeOpenAI(judge_reply) as srv:
        cool = write_config(tmp_path, store_url, srv.base_url, name="cool",
                            models=("alpha", "beta"), temperature=0.3)
        warm = write_config(tmp_path, store_url, srv.base_url, name="warm",
                            models=("alpha", "beta"), temperature=0.9)
        r1 = run_pipeline(load_config(cool), progress=False)
        r2 = run_pipeline(load_config(warm), progress=False)
        assert srv.count() == 16  # a new judge is judged anew
        for res in (r1, r2):
            assert "counted: 8 verdicts" in res.leaderboard, res.leaderboard
        s = Store.open(store_url)
        with s.begin() as conn:
            fps = conn.execute(select(Judgment.fingerprint, func.count()).group_by(
                Judgment.fingerprint)).all()
        s.close()
        assert len(fps) == 2 and {n for _, n in fps} == {8}
        m1 = json.loads((tmp_path / "reports-cool" / "leaderboard.manifest.json").read_text())
        m2 = json.loads((tmp_path / "reports-warm" / "leaderboard.manifest.json").read_text())
        f1 = m1["scope"]["judges"][0]["fingerprint"]
        f2 = m2["scope"]["judges"][0]["fingerprint"]
        assert f1 != f2 and {f1, f2} == {fp for fp, _ in fps}
        assert m1["judges"][0].startswith("llm:judge#") and m1["judges"] != m2["judges"]
        # without a config: one board per fingerprint, never one over both
        from arena.cli import main as arena_main

        capsys.readouterr()
        assert arena_main(["leaderboard", "--db", store_url, "--no-files"]) == 0
        out = capsys.readouterr().out
        titles = [ln for ln in out.splitlines() if ln.startswith("Leaderboard - ")]
        assert sorted(titles) == sorted(f"Leaderboard - all, judge llm:judge#{fp[:10]}"
                                        for fp in (f1, f2)), out
        assert out.count("counted: 8 verdicts") == 2 and "one board per judge fingerprint" in out
        # `arena export -c` writes the config's scope only
        out_file = tmp_path / "cool-verdicts.jsonl"
        assert arena_main(["export", "verdicts", "--format", "evalscope", str(out_file),
                           "-c", str(cool), "--db", store_url]) == 0
        assert len(out_file.read_text().splitlines()) == 8
        both = tmp_path / "all-verdicts.jsonl"
        assert arena_main(["export", "verdicts", "--format", "evalscope", str(both),
                           "--db", store_url]) == 0
        assert len(both.read_text().splitlines()) == 16


def test_baseline_after_all_pairs_reuses_every_judgment(tmp_path: Path, store_url: str,
                                                        tmp_path_factory) -> None:
    with FakeOpenAI(judge_reply) as srv:
        allp = write_config(tmp_path, store_url, srv.base_url, name="allpairs")
        run_pipeline(load_config(allp), progress=False)
        assert srv.count() == 24  # 4 questions x 3 pairs x 2 orders
        base = write_config(tmp_path, store_url, srv.base_url, name="base",
                            mode="pairwise-baseline")
        srv.reset()
        res = run_pipeline(load_config(base), progress=False)
        assert srv.count() == 0  # every baseline judgment was already stored
        shared = res.leaderboard
        # the same config on a fresh store: the same counts and the same win rates
        fresh_dir = tmp_path_factory.mktemp("fresh")
        fresh_url = f"sqlite:///{fresh_dir / 'fresh.db'}"
        fresh = write_config(tmp_path, fresh_url, srv.base_url, name="basefresh",
                             mode="pairwise-baseline")
        res2 = run_pipeline(load_config(fresh), progress=False)
        assert srv.count() == 16
    def body(text: str) -> list[str]:
        return [ln for ln in text.splitlines()
                if ln.strip()[:1].isdigit() or ln.startswith("counted")]

    # (models with equal ratings may be listed in either order)
    assert sorted(body(shared)) == sorted(body(res2.leaderboard)), (shared, res2.leaderboard)
    assert "counted: 16 verdicts" in shared


def test_a_judge_that_fails_everywhere_exits_non_zero(tmp_path: Path, store_url: str) -> None:
    with FakeOpenAI("I will not say.") as srv:
        cfg = write_config(tmp_path, store_url, srv.base_url, models=("alpha", "beta"))
        proc = subprocess.run([sys.executable, str(ROOT / "run_arena.py"), "-c", str(cfg),
                               "--no-progress"], capture_output=True, text=True, timeout=300,
                              cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "judge judge failed on 8 of 8 items: " in proc.stderr


def test_an_unreachable_judge_fails_the_run_with_one_line(tmp_path: Path,
                                                           store_url: str) -> None:
    cfg = write_config(tmp_path, store_url, "http://127.0.0.1:9/v1", models=("alpha", "beta"))
    with pytest.raises(BackendUnavailable, match="judge: endpoint http://127.0.0.1:9/v1 is not "
                                                 "reachable"):
        run_pipeline(load_config(cfg), progress=False)


def test_a_missing_judge_key_stops_before_any_answer_call(tmp_path: Path, store_url: str,
                                                          monkeypatch) -> None:
    monkeypatch.delenv("UNSET_JUDGE_KEY", raising=False)
    with FakeOpenAI("an answer") as srv:
        cfg = write_config(tmp_path, store_url, srv.base_url, models=("alpha",),
                           key_env="UNSET_JUDGE_KEY")
        text = cfg.read_text().replace(
            "models:\n",
            f"models:\n  - {{name: api-model, backend: openai, model: m, base_url: "
            f"'{srv.base_url}', api_key_env: null}}\n")
        cfg.write_text(text)
        with pytest.raises(BackendUnavailable, match="UNSET_JUDGE_KEY is not set"):
            run_pipeline(load_config(cfg), progress=False)
        assert srv.count() == 0  # no answer was paid for


def test_per_category_boards_count_their_own_exclusions(tmp_path: Path,
                                                         store_url: str) -> None:
    def flaky(req: dict) -> str:  # no verdict on question 3 (a math one), follow-up included
        if "Question 3?" in json.dumps(req["messages"]):
            return "Hmm."
        return judge_reply(req)

    with FakeOpenAI(flaky) as srv:
        cfg = write_config(tmp_path, store_url, srv.base_url, models=("alpha", "beta"))
        res = run_pipeline(load_config(cfg), progress=False)
    boards, frame, _ = build_boards(Store.open(store_url), load_config(cfg).config)
    assert boards["math"].counts["failed"] == 2  # question 3, both orders
    assert boards["writing"].counts["failed"] == 0
    assert boards["all"].counts["failed"] == 2
    counted = [ln for ln in res.leaderboard.split("Leaderboard - writing", 1)[1].splitlines()
               if ln.startswith("counted")][0]
    assert "failed" not in counted, counted


def test_bad_input_names_where_and_writes_nothing(tmp_path: Path, store_url: str) -> None:
    with FakeOpenAI(judge_reply) as srv:
        cfg = write_config(tmp_path, store_url, srv.base_url, models=("alpha", "beta"))
        run_pipeline(load_config(cfg), progress=False)
        # an answer file that changes a question's text
        path = tmp_path / "answer_beta.jsonl"
        lines = path.read_text().splitlines()
        rec = json.loads(lines[1])
        rec["text"] = "A different question?"
        lines[1] = json.dumps(rec)
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(InputError, match=r"answer_beta.jsonl:2, field 'question text'"):
            run_pipeline(load_config(cfg), progress=False)
        # a model with no stored answers and no backend to make them
        stored = write_config(tmp_path, store_url, srv.base_url, name="stored",
                              models=("alpha",))
        stored.write_text(stored.read_text().replace(
            "models:\n", "models:\n  - {name: nobody, backend: store}\n"))
        with pytest.raises(ConfigError, match="'nobody' \\(backend store\\) has no stored"):
            run_pipeline(load_config(stored), progress=False)
        # a judge whose fingerprint cannot be computed (a backend that cannot judge)
        nojudge = write_config(tmp_path, store_url, srv.base_url, name="nojudge",
                               models=("alpha",))
        nojudge.write_text(nojudge.read_text().replace(
            "  judges:\n", "  judges:\n    - {name: filejudge, backend: file, path: x.jsonl}\n"))
        with pytest.raises(ConfigError, match=r"judge.judges\[0\] \(filejudge\): backend "
                                              r"'file' cannot judge"):
            run_pipeline(load_config(nojudge), progress=False)
    s = Store.open(store_url)
    with s.begin() as conn:
        assert conn.execute(select(func.count()).select_from(Answer)).scalar_one() == 8
    s.close()


def test_a_reader_sees_a_changed_file_as_it_is_now_and_writes_nothing(tmp_path: Path,
                                                                      store_url: str) -> None:
    from arena.scope import read_only_versions
    from arena.identity import answer_content_hash

    with FakeOpenAI(judge_reply) as srv:
        cfg_path = write_config(tmp_path, store_url, srv.base_url, models=("alpha", "beta"))
        run_pipeline(load_config(cfg_path), progress=False)
    write_answers(tmp_path, "beta", word="GOOD", tag=" (revised)")
    cfg = load_config(cfg_path).config
    s = Store.open(store_url)
    try:
        with s.read() as conn:
            before = conn.execute(select(func.count()).select_from(Answer)).scalar_one()
        versions = read_only_versions(s, cfg, [f"qs/{q}" for q, _ in QUESTIONS])
        with s.read() as conn:
            after = conn.execute(select(func.count()).select_from(Answer)).scalar_one()
    finally:
        s.close()
    assert versions["beta"]["qs/1"] == answer_content_hash(["GOOD answer 1 (revised)"])
    assert versions["alpha"]["qs/1"] == answer_content_hash(["GOOD answer 1"])
    assert before == after == 8  # the new versions are not stored by a reader
