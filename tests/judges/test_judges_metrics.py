"""Metric formulas against hand-computed values."""

from __future__ import annotations

import pytest

from judges import metrics as M


def test_normalize_answer() -> None:
    assert M.normalize_answer("The  Cat, sat!") == "cat sat"
    assert M.normalize_answer("An apple a day") == "apple day"


def test_exact_match() -> None:
    assert M.exact_match("The Eiffel Tower.", ["eiffel tower"]) == 100.0
    assert M.exact_match("Eiffel", ["eiffel tower"]) == 0.0
    assert M.exact_match("Paris", ["London", "paris!"]) == 100.0  # best over references
    assert M.exact_match("", ["x"]) == 0.0


def test_token_f1_hand_computed() -> None:
    # pred tokens: [cat, sat, on, mat] (articles dropped); ref: [cat, is, on, mat]
    # common = cat, on, mat = 3; P = 3/4, R = 3/4; F1 = 0.75
    assert M.token_f1("The cat sat on the mat", ["A cat is on the mat"]) == pytest.approx(75.0)
    # pred [red, red, blue], ref [red, green]: common = min counts red 1 -> 1
    # P = 1/3, R = 1/2, F1 = 2*(1/6)/(5/6) = 0.4
    assert M.token_f1("red red blue", ["red green"]) == pytest.approx(40.0)
    assert M.token_f1("nothing shared", ["other words"]) == 0.0
    assert M.token_f1("   ", ["x"]) == 0.0  # empty output scores 0
    assert M.token_f1("red green", ["blue", "red green"]) == pytest.approx(100.0)


def test_token_f1_counts_cjk_characters() -> None:
    # pred chars: 我 爱 北 京 ; ref: 我 爱 上 海 -> common 2, P = R = 1/2 -> 50
    assert M.token_f1("我爱北京", ["我爱上海"]) == pytest.approx(50.0)


def test_lcs_length() -> None:
    assert M.lcs_length("ABCBDAB", "BDCABA") == 4
    assert M.lcs_length([], ["a"]) == 0


def test_rouge_l_hand_computed() -> None:
    # pred: police killed the gunman (4); ref: police kill the gunman (4)
    # LCS = police, the, gunman = 3; P = R = 3/4 -> F = 75
    assert M.rouge_l("police killed the gunman", ["police kill the gunman"]) == \
        pytest.approx(75.0)
    # pred: the cat was found under the bed (7); ref: the cat was under the bed (6)
    # LCS = 6; P = 6/7, R = 1 -> F = 2*(6/7)/(13/7) = 12/13
    assert M.rouge_l("The cat was found under the bed.", ["the cat was under the bed"]) == \
        pytest.approx(100 * 12 / 13)
    assert M.rouge_l("", ["the cat"]) == 0.0
    assert M.rouge_l("!!!", ["the cat"]) == 0.0  # no tokens at all
    assert M.rouge_l("a b", ["x y", "a b"]) == pytest.approx(100.0)


def test_count_words_as_longbench_write() -> None:
    assert M.count_words("Hello, world! It's 2024.") == 4  # Hello world It s
    assert M.count_words("我爱你 and you") == 5


@pytest.mark.parametrize("words,required,expected", [
    (100, 100, 100.0),
    (130, 100, 100 * (1 - 0.3 / 3)),   # longer: 1 - (1.3 - 1)/3 = 0.9
    (400, 100, 0.0),                   # 4x too long: 1 - 3/3 = 0
    (50, 100, 100 * (1 - 1.0 / 2)),    # shorter: 1 - (2 - 1)/2 = 0.5
    (25, 100, 0.0),                    # 4x too short: max(0, 1 - 3/2) = 0
    (0, 100, 0.0),                     # empty output scores 0
])
def test_length_score(words: int, required: int, expected: float) -> None:
    text = " ".join(["word"] * words)
    assert M.length_score(text, required) == pytest.approx(expected)


def test_metric_misuse_is_an_error_not_a_score() -> None:
    with pytest.raises(ValueError):
        M.token_f1("x", [])
    with pytest.raises(ValueError):
        M.length_score("x", 0)
