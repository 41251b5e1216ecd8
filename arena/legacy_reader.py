"""Reading one original arena-mode config: typed key access and path search.

``LegacyReader`` collects every key error of one file (``errors``, each naming the key path in
the original's terms) and the notes on what cannot be honoured (``notes``); the caller raises
one ``ConfigError`` with all errors. ``arena.legacy_config`` does the mapping itself.

Path search: the original joined a relative path with its package folder and was run from the
folder holding ``registry/``. ``candidates`` tries, in order, the working directory, this
project's root (the folder holding ``registry/``) and the config file's folder.
"""

from __future__ import annotations

import os
import reprlib
from pathlib import Path
from typing import Any, Callable, Optional

# This project's root: the folder holding registry/ (the original's package registry).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "number": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "str": ("a string", lambda v: isinstance(v, str)),
    "map": ("a mapping", lambda v: isinstance(v, dict)),
    "list": ("a list of strings", lambda v: isinstance(v, list) and
             all(isinstance(x, str) for x in v)),
}


def _show(value: Any) -> str:
    return reprlib.repr(value)


class LegacyReader:
    """Reads one original config: collects key errors (all of them) and notes."""

    def __init__(self, path: Path | str, strict_files: bool) -> None:
        self.path = path
        self.base = Path(str(path)).resolve().parent
        self.strict_files = strict_files
        self.errors: list[str] = []
        self.notes: list[str] = []

    def section(self, data: dict[str, Any], key: str, where: str,
                known: Optional[set[str]]) -> dict[str, Any]:
        """data[key] as a mapping whose keys are all in ``known`` (None: any key); {} when
        absent or null."""
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.errors.append(f"key '{where}': expected a mapping, got {_show(value)}")
            return {}
        if known is not None:
            self.known(value, where, known)
        return value

    def known(self, value: dict[str, Any], where: str, known: set[str]) -> None:
        for k in value:
            if k not in known:
                self.errors.append(f"unknown key '{where}.{k}'" if where else
                                   f"unknown key '{k}'")

    def get(self, data: dict[str, Any], key: str, where: str, kind: str,
            default: Any = None) -> Any:
        """data[key] when of ``kind`` (null / absent: ``default``); else record an error."""
        value = data.get(key)
        if value is None:
            return default
        what, ok = TYPES[kind]
        if not ok(value):
            self.errors.append(f"key '{where}': expected {what}, got {_show(value)}")
            return default
        return value

    def candidates(self, raw: str) -> list[Path]:
        p = Path(os.path.expanduser(raw))
        if p.is_absolute():
            return [p]
        bases = [Path.cwd()]
        if (PROJECT_ROOT / "registry").is_dir():
            bases.append(PROJECT_ROOT)
        bases.append(self.base)
        return list(dict.fromkeys((b / p).resolve() for b in bases))

    def find(self, raw: str) -> tuple[Optional[Path], list[Path]]:
        """(the first existing candidate of ``raw`` or None, every candidate tried)."""
        tried = self.candidates(raw)
        return next((c for c in tried if c.exists()), None), tried

    def input_file(self, raw: str, where: str) -> str:
        """An input the run reads: its absolute path; none existing is an error naming every
        path tried (``convert`` without strict files: a note, written under the cwd)."""
        found, tried = self.find(raw)
        if found is not None:
            return str(found)
        listed = ", ".join(str(t) for t in tried)
        if self.strict_files:
            self.errors.append(f"key '{where}': file '{raw}' not found; tried {listed}")
        else:
            self.notes.append(f"{where}: file '{raw}' not found (tried {listed}); written as "
                              f"{tried[0]}")
        return str(tried[0])
