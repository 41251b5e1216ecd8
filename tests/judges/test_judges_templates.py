"""Template files: choice by category / reference / turns, versions, strict placeholders."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.errors import ConfigError
from judges import templates as tpl
from judges.prompts import PromptItem, PromptSettings, build, choose

S = PromptSettings(scale="abc")


def item(**kw) -> PromptItem:
    base = dict(question_turns=["What is 2 + 2?"], shown=[["four"], ["4"]], category="generic")
    base.update(kw)
    return PromptItem(**base)


def test_every_shipped_body_loads_with_every_fitting_scale() -> None:
    versions = set()
    for kind, scales in (("pairwise", tpl.PAIRWISE_SCALES), ("single", tpl.SINGLE_SCALES)):
        for scale in scales:
            for ref in (False, True):
                for multi in (False, True):
                    t = tpl.load(kind, scale, reference=ref, multi=multi, criteria=["Clarity"])
                    assert t.system and t.user and t.followup
                    assert "{{verdict_format}}" not in t.user
                    versions.add(t.version)
    assert len(versions) == 2 * 2 * 3 + 2 * 2 * 2  # every combination has its own version


def test_choice_by_category_reference_and_turns() -> None:
    assert choose(S, item()).name == "pairwise"
    # math with a reference: reference-guided
    assert choose(S, item(category="math", reference=["4"])).name == "pairwise-ref"
    # math without a reference: plain
    assert choose(S, item(category="math")).name == "pairwise"
    # a reference in a category not listed for references is not used
    assert choose(S, item(category="writing", reference=["x"])).name == "pairwise"
    # coding has its own template file
    assert choose(S, item(category="coding")).name == "pairwise@coding"
    two = dict(question_turns=["a", "b"], shown=[["1", "2"], ["3", "4"]])
    assert choose(S, item(**two)).name == "pairwise-multi"
    assert choose(S, item(**two, turn=1)).name == "pairwise"  # judged up to turn 1 only
    assert choose(S, item(**two, category="reasoning", reference=["r1", "r2"])).name == \
        "pairwise-ref-multi"
    single = PromptSettings(scale="rating")
    assert choose(single, item(shown=[["4"]])).name == "single"
    assert choose(single, item(shown=[["4"]], category="math", reference=["4"])).name == \
        "single-ref"


def test_rendered_prompt_holds_answers_in_shown_order_and_reference() -> None:
    t, msgs = build(S, item(category="math", reference=["It is 4."],
                            shown=[["FIRST-ANSWER"], ["SECOND-ANSWER"]]))
    assert [m["role"] for m in msgs] == ["system", "user"]
    user = msgs[1]["content"]
    assert user.index("FIRST-ANSWER") < user.index("SECOND-ANSWER")
    assert "<answer_a>\nFIRST-ANSWER\n</answer_a>" in user
    assert "It is 4." in user and "[[A]]" in user and "What is 2 + 2?" in user
    assert "{{" not in user


def test_multi_turn_prompt_shows_the_dialogue_and_document() -> None:
    it = item(question_turns=["Q1?", "Q2?"], shown=[["a1", "a2"], ["b1"]],
              document="LONG DOCUMENT TEXT")
    _, msgs = build(S, it)
    user = msgs[1]["content"]
    for s in ("Q1?", "Q2?", "a1", "a2", "b1", "LONG DOCUMENT TEXT"):
        assert s in user
    assert "(no reply)" in user  # b answered one turn of two: shown as missing, not empty
    _, msgs1 = build(S, PromptItem(**{**it.__dict__, "turn": 1}))
    assert "Q2?" not in msgs1[1]["content"] and "a2" not in msgs1[1]["content"]


def test_answer_text_is_never_expanded_as_a_placeholder() -> None:
    _, msgs = build(S, item(shown=[["{{answer_b}}"], ["real b"]]))
    user = msgs[1]["content"]
    assert "<answer_a>\n{{answer_b}}\n</answer_a>" in user


def test_version_changes_with_scale_settings_and_file_text(tmp_path: Path) -> None:
    v1 = tpl.load("single", "rating", score_max=10).version
    assert tpl.load("single", "rating", score_max=5).version != v1
    r1 = tpl.load("single", "rubric", criteria=["A", "B"]).version
    assert tpl.load("single", "rubric", criteria=["A", "C"]).version != r1
    # A custom folder overrides one file; the rest come from the shipped folder.
    (tmp_path / "single.txt").write_text(
        "--- system\nBe brief.\n--- user\nQ: {{question}}\nA: {{answer}}\n{{verdict_format}}\n")
    t = tpl.load("single", "rating", templates_dir=tmp_path)
    assert t.version != v1 and t.files[0] == str(tmp_path / "single.txt")
    assert t.files[1].startswith(str(tpl.SHIPPED_DIR))
    (tmp_path / "single.txt").write_text(
        "--- system\nBe very brief.\n--- user\nQ: {{question}}\nA: {{answer}}\n"
        "{{verdict_format}}\n")
    assert tpl.load("single", "rating", templates_dir=tmp_path).version != t.version


@pytest.mark.parametrize("text,why", [
    ("--- system\nx\n--- user\n{{question}} {{verdict_format}}\n", "missing placeholder"),
    ("--- system\nx\n--- user\n{{answer}} {{verdict_format}} {{colour}}\n", "unknown placeholder"),
    ("preamble\n--- system\nx\n--- user\n{{answer}} {{verdict_format}}\n", "must start"),
    ("--- user\n{{answer}} {{verdict_format}}\n", "missing section"),
])
def test_broken_custom_templates_are_config_errors(tmp_path: Path, text: str, why: str) -> None:
    (tmp_path / "single.txt").write_text(text)
    with pytest.raises(ConfigError, match=why):
        tpl.load("single", "rating", templates_dir=tmp_path)


def test_scale_must_fit_the_mode() -> None:
    with pytest.raises(ConfigError, match="does not fit pairwise"):
        tpl.load("pairwise", "rating")
    with pytest.raises(ConfigError, match="does not fit single"):
        tpl.load("single", "abc")
    with pytest.raises(ConfigError, match="not a folder"):
        tpl.load("single", "rating", templates_dir=Path("/nonexistent/templates"))
