"""Fixtures for the battle browser's tests (data built by ``viz_fixtures.fill``)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from arena.store import Store
from viz_fixtures import Filled, fill


@pytest.fixture
def viz_store(store: Store) -> Iterator[Filled]:
    yield fill(store)


@pytest.fixture
def review_files(tmp_path: Path) -> tuple[Path, Path]:
    """An evalscope-shaped battle file and category mapping (written here, not copied)."""
    import json

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
         "output_a": "Hi", "output_b": "Hello", "review_text": "Both fine."},
        {"model_a": "m1", "model_b": "m3", "win": "??", "question_id": 5,
         "category": "chat", "question": "Bye?", "output_a": "bye", "output_b": "ciao"},
    ]
    review = tmp_path / "battle.jsonl"
    review.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    cats = tmp_path / "category_mapping.yaml"
    cats.write_text("Maths: [algebra]\nWriting: ['poetry']\nOther: ['*']\n", encoding="utf-8")
    return review, cats
