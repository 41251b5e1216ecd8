"""Fixtures for the battle browser's tests (data built by ``viz_fixtures``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from arena.store import Store
from viz_fixtures import Filled, fill, write_paired_review, write_review_files


@pytest.fixture
def viz_store(store: Store) -> Iterator[Filled]:
    yield fill(store)


@pytest.fixture
def scratch_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temp folder (where review files' scratch stores go) inside tmp_path."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return tmp_path


@pytest.fixture
def review_files(scratch_tmp: Path) -> tuple[Path, Path]:
    """An evalscope-shaped review file (one row per battle) and a category mapping."""
    return write_review_files(scratch_tmp)


@pytest.fixture
def paired_review(scratch_tmp: Path) -> tuple[Path, dict[str, set[str]]]:
    """evalscope's shipped shape: each question twice, model_a / model_b swapped, each row
    with its own ``win``; plus one ``win_1`` / ``win_2`` record. Returns (file, facts)."""
    return write_paired_review(scratch_tmp)
