"""Original (evalscope arena-mode) configs: paths as the original resolved them, answer files
written by the original read as answers, strict keys and types, the shipped sample shapes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arena.config import FileModel, TransformersModel, load_config
from arena.errors import ConfigError
from arena.pipeline import run_pipeline
from arena.store import Store
from arena.store.schema import Answer, Judgment

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "samples"

QUESTIONS = [("How do I boil an egg?", "generic"), ("What is 12 * 7?", "math"),
             ("Name a prime above 50.", "math"), ("Write a haiku about rain.", "writing")]


def write_data(root: Path, models: list[str]) -> None:
    """registry/data/ under ``root``: a question file and one answer file per model, in the
    shapes the original read and wrote."""
    data = root / "registry" / "data"
    (data / "arena" / "answers").mkdir(parents=True, exist_ok=True)
    with open(data / "question.jsonl", "w", encoding="utf-8") as f:
        for i, (text, cat) in enumerate(QUESTIONS, 1):
            f.write(json.dumps({"question_id": i, "text": text, "category": cat}) + "\n")
    for m in models:
        with open(data / "arena" / "answers" / f"answer_{m}.jsonl", "w", encoding="utf-8") as f:
            for i, (text, cat) in enumerate(QUESTIONS, 1):
                f.write(json.dumps({"question_id": i, "text": text, "category": cat,
                                    "model_id": f"org/{m}", "metadata": {},
                                    "answer": f"{m} answers question {i}." * i}) + "\n")


def original_config(models: list[str], mode: str = "pairwise", extra_model: str = "",
                    extra_reviews: str = "") -> str:
    lines = ["question_file: registry/data/question.jsonl", "answers_gen:"]
    for m in models:
        lines += [f"  {m}:", f"    model_id_or_path: org/{m}", "    revision: v1.0.0",
                  "    precision: torch.float16", "    enable: true",
                  "    template_type: default-generation", "    generation_config:",
                  "      do_sample: true", "      max_new_tokens: 64", "      top_k: 20",
                  "      temperature: 0.3",
                  f"    output_file: registry/data/arena/answers/answer_{m}.jsonl"]
        if extra_model:
            lines.append(extra_model)
    lines += ["reviews_gen:", "  enable: true", "  reviewer:",
              "    ref: evalscope.evaluator.reviewer.auto_reviewer:AutoReviewerGpt4",
              "    args:", "      max_tokens: 256", "      temperature: 0.2",
              f"      mode: {mode}", "      position_bias_mitigation: swap_position",
              "      fn_completion_parser: lmsys_parser",
              "  prompt_file: registry/data/prompt_template/prompt_templates.jsonl",
              "  target_answers: NULL",
              "  review_file: registry/data/arena/reviews/review_gpt4.jsonl"]
    if extra_reviews:
        lines.append(extra_reviews)
    lines += ["rating_gen:", "  enable: true", "  metrics: ['elo']",
              "  report_file: registry/data/arena/reports/elo_rating_origin.csv"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's working directory holding registry/ (as `cd evalscope` did); the config
    lives elsewhere, so only the working directory makes its relative paths resolve."""
    work = tmp_path / "work"
    work.mkdir()
    write_data(work, ["alpha", "beta"])
    monkeypatch.chdir(work)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return work


def counts(url: str) -> dict[str, int]:
    s = Store.open(url)
    with s.begin() as conn:
        out = {"answers": conn.execute(select(func.count()).select_from(Answer)).scalar_one(),
               "judgments": conn.execute(select(func.count()).select_from(Judgment)
                                         ).scalar_one()}
    s.close()
    return out


@pytest.mark.db
def test_original_config_with_output_files_runs_without_a_hub(workdir: Path, tmp_path: Path,
                                                              store_url: str) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    cfg_path = conf / "cfg_arena.yaml"
    cfg_path.write_text(original_config(["alpha", "beta"]))
    loaded = load_config(cfg_path)
    models = loaded.config.models
    assert [type(m) for m in models] == [FileModel, FileModel]
    assert [m.path for m in models] == [
        workdir / "registry" / "data" / "arena" / "answers" / f"answer_{n}.jsonl"
        for n in ("alpha", "beta")]
    assert loaded.config.questions[0].file == workdir / "registry" / "data" / "question.jsonl"
    notes = "\n".join(loaded.legacy_notes)
    assert "answers are read from output_file" in notes
    assert "hub id" not in notes  # nothing is read as a hub id: no model is loaded

    # The original's entry point, in a fresh interpreter: a leaderboard, and neither torch nor
    # transformers was ever imported (no model loaded, no hub touched).
    probe = ("import sys\nfrom arena.cli import main\n"
             "rc = main(['run', '-c', sys.argv[1], '--dry-run', '--db', sys.argv[2], "
             "'--no-progress'])\n"
             "print('LOADED', sorted(m for m in ('torch', 'transformers', 'huggingface_hub', "
             "'modelscope') if m in sys.modules))\nsys.exit(rc)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", probe, str(cfg_path), store_url], cwd=workdir,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LOADED []" in proc.stdout
    assert "alpha" in proc.stdout and "beta" in proc.stdout
    assert "DRY RUN" in proc.stdout.upper()
    first = counts(store_url)
    assert first == {"answers": 8, "judgments": 8}  # 4 questions x 1 pair x 2 orders
    report = workdir / "registry" / "data" / "arena" / "reports"
    assert any(p.name.startswith("elo_rating_origin") for p in report.iterdir())

    # A rerun imports nothing new and judges nothing again.
    result = run_pipeline(load_config(cfg_path), db=store_url, dry_run=True, progress=False)
    imported = [m for m in result.messages if m.startswith("answers of ")]
    assert len(imported) == 2 and all("0 new, 4 already stored" in m for m in imported), imported
    assert counts(store_url) == first
    assert result.leaderboard and "alpha" in result.leaderboard


@pytest.mark.db
def test_original_pairwise_baseline_config_with_a_baseline_file(workdir: Path,
                                                                store_url: str) -> None:
    write_data(workdir, ["davinci"])
    cfg = workdir / "cfg.yaml"
    cfg.write_text(original_config(["alpha", "beta"], mode="pairwise_baseline",
                                   extra_reviews="  baseline_file: registry/data/arena/answers/"
                                   "answer_davinci.jsonl").replace(
        "  metrics: ['elo']", "  metrics: ['pairwise']\n  baseline_model: org/davinci"))
    loaded = load_config(cfg)
    assert loaded.config.judge.baseline == "org/davinci"  # the baseline file's own model id
    assert loaded.config.ratings.baseline == "org/davinci"
    result = run_pipeline(loaded, db=store_url, dry_run=True, progress=False)
    assert counts(store_url) == {"answers": 12, "judgments": 16}  # 2 pairs x 4 q x 2 orders
    assert result.leaderboard and "org/davinci" in result.leaderboard


def test_missing_output_file_keeps_the_transformers_model(workdir: Path) -> None:
    cfg = workdir / "cfg.yaml"
    cfg.write_text(original_config(["alpha", "gamma"]))  # gamma wrote no answers
    loaded = load_config(cfg)
    alpha, gamma = loaded.config.models
    assert isinstance(alpha, FileModel)
    assert isinstance(gamma, TransformersModel) and gamma.model == "org/gamma"
    assert gamma.generation.max_new_tokens == 64 and gamma.dtype == "float16"
    notes = "\n".join(loaded.legacy_notes)
    assert "'org/gamma' is read as a Hugging Face hub id" in notes
    assert "answer_gamma.jsonl' does not exist" in notes


def test_working_directory_wins_over_the_config_folder(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    work, conf = tmp_path / "work", tmp_path / "conf"
    write_data(work, ["alpha", "beta"])
    write_data(conf, ["alpha", "beta"])
    cfg = conf / "cfg.yaml"
    (work / "ckpt").mkdir()
    (conf / "ckpt").mkdir()
    cfg.write_text(original_config(["alpha", "beta"]).replace(
        "answers_gen:\n", "answers_gen:\n  local:\n    model_id_or_path: ./ckpt\n", 1))
    monkeypatch.chdir(work)
    c = load_config(cfg).config
    assert c.questions[0].file == work / "registry" / "data" / "question.jsonl"
    assert c.models[0].model == str(work / "ckpt")  # a local folder, as the original read it
    assert c.models[1].path.parent == work / "registry" / "data" / "arena" / "answers"
    # The config's folder is the fallback when the working directory does not hold them.
    monkeypatch.chdir(tmp_path)
    c = load_config(cfg).config
    assert c.questions[0].file == conf / "registry" / "data" / "question.jsonl"
    assert c.models[2].path == conf / "registry" / "data" / "arena" / "answers" / \
        "answer_beta.jsonl"
    assert c.models[0].model == str(conf / "ckpt")


def test_project_registry_is_searched_before_the_config_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = sorted((ROOT / "registry" / "data").glob("*.jsonl"))[0]
    rel = shipped.relative_to(ROOT)
    (tmp_path / rel).parent.mkdir(parents=True)
    shutil.copy(shipped, tmp_path / rel)  # the config folder has a copy too
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"question_file: {rel}\nanswers_gen: {{}}\n")
    monkeypatch.chdir(tmp_path / "registry")  # the cwd does not hold it
    loaded = load_config(cfg)
    assert loaded.config.questions[0].file == shipped
    # No reviewer class named: the original skipped the reviews, and so does the mapping.
    assert loaded.config.judge.enabled is False
    assert any("reviewer.ref is not set" in n for n in loaded.legacy_notes)


def test_missing_input_names_key_and_every_path_tried(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    work, conf = tmp_path / "work", tmp_path / "conf"
    work.mkdir()
    conf.mkdir()
    cfg = conf / "cfg.yaml"
    cfg.write_text(original_config(["alpha"], mode="pairwise_baseline",
                                   extra_reviews="  baseline_file: answers/davinci.jsonl"))
    monkeypatch.chdir(work)
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    msg = str(err.value)
    q = "registry/data/question.jsonl"
    assert f"cfg.yaml: key 'question_file': file '{q}' not found" in msg
    for base in (work, ROOT, conf):
        assert str(base / q) in msg
    assert "key 'reviews_gen.baseline_file'" in msg and str(conf / "answers/davinci.jsonl") in msg
    assert "Traceback" not in msg


@pytest.mark.parametrize("edit, expected", [
    (("    enable: true", "    enable: true\n    colour: red"),
     "unknown key 'answers_gen.alpha.colour'"),
    (("      top_k: 20", "      top_k: 20\n      max_new_token: 5"),
     "unknown key 'answers_gen.alpha.generation_config.max_new_token'"),
    (("      max_new_tokens: 64", "      max_new_tokens: abc"),
     "key 'answers_gen.alpha.generation_config.max_new_tokens': expected an integer"),
    (("    enable: true", "    enable: maybe"),
     "key 'answers_gen.alpha.enable': expected true or false"),
    (("  enable: true\n  reviewer:", "  enable: maybe\n  reviewer:"),
     "key 'reviews_gen.enable': expected true or false"),
    (("      temperature: 0.2", "      temperature: warm"),
     "key 'reviews_gen.reviewer.args.temperature': expected a number"),
    (("      mode: pairwise", "      mode: pairwise\n      style: loud"),
     "unknown key 'reviews_gen.reviewer.args.style'"),
    (("    args:", "    colour: red\n    args:"), "unknown key 'reviews_gen.reviewer.colour'"),
    (("  review_file:", "  reviw_file: x\n  review_file:"), "unknown key 'reviews_gen.reviw_file'"),
    (("  metrics: ['elo']", "  metrics: elo"), "key 'rating_gen.metrics': expected a list"),
    (("  metrics: ['elo']", "  metrics: ['elo', 'glicko']"),
     "key 'rating_gen.metrics.1': unknown metric 'glicko'"),
    (("  metrics: ['elo']", "  metrics: ['elo']\n  colour: red"),
     "unknown key 'rating_gen.colour'"),
    (("rating_gen:", "store: {url: 'sqlite:///x.db'}\nrating_gen:"), "unknown key 'store'"),
    (("      mode: pairwise", "      mode: tournament"),
     "key 'reviews_gen.reviewer.args.mode': unknown mode 'tournament'"),
])
def test_unknown_keys_and_wrong_types_name_file_and_key(workdir: Path, edit: tuple[str, str],
                                                        expected: str) -> None:
    cfg = workdir / "cfg.yaml"
    text = original_config(["alpha"])
    assert edit[0] in text
    cfg.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(ConfigError, match=r"cfg\.yaml: " + expected.replace("[", r"\[")
                       .replace("(", r"\(").replace(".", r"\.")):
        load_config(cfg)


def test_wrong_shapes_and_all_errors_of_one_file_in_one_error(workdir: Path) -> None:
    cfg = workdir / "cfg.yaml"
    cfg.write_text("question_file: registry/data/question.jsonl\nanswers_gen: [a, b]\n")
    with pytest.raises(ConfigError, match=r"cfg\.yaml: key 'answers_gen': expected a mapping"):
        load_config(cfg)
    text = original_config(["alpha"]).replace("    generation_config:\n      do_sample: true\n"
                                              "      max_new_tokens: 64\n      top_k: 20\n"
                                              "      temperature: 0.3\n",
                                              "    generation_config: 5\n    colour: red\n")
    text = text.replace("  metrics: ['elo']", "  metrics: elo")
    cfg.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    lines = str(err.value).splitlines()
    assert lines == [
        f"{cfg}: unknown key 'answers_gen.alpha.colour'",
        f"{cfg}: key 'answers_gen.alpha.generation_config': expected a mapping, got 5",
        f"{cfg}: key 'rating_gen.metrics': expected a list of strings, got 'elo'"]


def test_not_honoured_keys_stay_notes(workdir: Path) -> None:
    cfg = workdir / "cfg.yaml"
    cfg.write_text(original_config(["alpha", "beta"]).replace(
        "      fn_completion_parser: lmsys_parser",
        "      fn_completion_parser: my_parser\n      api_key: sk-secret-value").replace(
        "      top_k: 20", "      top_k: 20\n      num_beams: 2"))
    loaded = load_config(cfg)
    notes = "\n".join(loaded.legacy_notes)
    assert "fn_completion_parser 'my_parser' is not available" in notes
    assert "generation_config.num_beams is not supported" in notes
    assert "reviews_gen.prompt_file is not used" in notes
    assert "api_key is not read from configs" in notes and "sk-secret-value" not in notes
    assert loaded.config.judge.position_policy.value == "tie_if_inconsistent"


@pytest.mark.skipif(not SAMPLES.exists(), reason="shared samples not beside the checkout")
@pytest.mark.parametrize("name", ["arena", "single", "pairwise_baseline"])
def test_shipped_sample_shapes_convert(name: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    src = SAMPLES / f"evalscope_cfg_{name}.yaml"
    monkeypatch.chdir(tmp_path)
    # What the sample names, in the working directory (no answer files: they generate).
    write_data(tmp_path, [])
    (tmp_path / "registry/data/arena/answers/answer_text_davinci_003.jsonl").write_text("")
    loaded = load_config(src)
    cfg = loaded.config
    assert cfg.questions[0].file == tmp_path / "registry" / "data" / "question.jsonl"
    assert [m.name for m in cfg.enabled_models][:2] == ["chatglm3-6b", "Qwen-7B"]
    assert all(isinstance(m, TransformersModel) for m in cfg.models[:3])
    assert cfg.report.dir == tmp_path / "registry" / "data" / "arena" / "reports"
    mode = {"arena": "pairwise-all", "single": "single",
            "pairwise_baseline": "pairwise-baseline"}[name]
    assert cfg.judge.mode.value == mode
    if name == "pairwise_baseline":
        assert cfg.judge.baseline == "text_davinci_003" and cfg.models[-1].path == \
            tmp_path / "registry/data/arena/answers/answer_text_davinci_003.jsonl"
    # The same file converts with the working directory lacking its data: notes, not errors.
    monkeypatch.chdir(tmp_path / "registry")
    from arena.cli import main as arena_main

    out = tmp_path / "native.yaml"
    assert arena_main(["config", "convert", str(src), "-o", str(out)]) == 0
    assert "not found (tried" in out.read_text()
