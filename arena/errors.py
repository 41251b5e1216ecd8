"""Errors the user can act on. Entry points print them in one line and exit non-zero.

Every error names where the problem is: a file and line and field for input, a key and file
for configs, a model for backends.
"""

from __future__ import annotations

from pathlib import Path


class ArenaError(Exception):
    """Base class: a problem the user can fix; the CLI prints ``str(err)`` and exits 2."""


class InputError(ArenaError):
    """Bad input data. ``where`` is ``file:line`` (line 1-based) and ``field`` the offending key."""

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        self.detail = message
        parts = []
        if self.file:
            parts.append(self.file + (f":{line}" if line is not None else ""))
        elif line is not None:
            parts.append(f"line {line}")
        if field:
            parts.append(f"field '{field}'")
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ConfigError(ArenaError):
    """Bad configuration: names the config file and the key path."""


class BackendUnavailable(ArenaError):
    """A backend that cannot run here (not installed, not built, no key, no network)."""


class BudgetExceeded(ArenaError):
    """A configured cap (max_calls / max_cost) stopped the run cleanly."""


class StageFailed(ArenaError):
    """A stage ran and produced nothing usable (every answer or every judgment failed). The
    message is the one-line summary; stored work is kept and a rerun retries. Exit code 1."""

    exit_code = 1
