"""Judge test fixtures live in ``judge_fixtures`` (importable by name); this exposes them."""

from judge_fixtures import filled  # noqa: F401 - a pytest fixture
