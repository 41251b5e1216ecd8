"""Category groups from the original viewer's category file.

The file maps a group name to a list of categories, with ``'*'`` as a catch-all::

    Text generation: [writing, role-play]
    Maths: [math]
    Other: ['*']

A category listed under no group falls into the ``'*'`` group when there is one, else keeps
its own name. Without a category file every category is its own group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

from arena.errors import InputError


class CategoryMap:
    """Maps raw question categories to display groups (identity when empty)."""

    def __init__(self, groups: Optional[dict[str, list[str]]] = None) -> None:
        self.groups: dict[str, list[str]] = dict(groups or {})
        self._lookup: dict[str, str] = {}
        self._catch_all: Optional[str] = None
        for group, cats in self.groups.items():
            for c in cats:
                if c == "*":
                    self._catch_all = group
                else:
                    self._lookup.setdefault(c, group)

    def group(self, category: str) -> str:
        if category in self._lookup:
            return self._lookup[category]
        return self._catch_all if self._catch_all is not None else category

    def apply(self, categories: Iterable[str]) -> list[str]:
        cache: dict[str, str] = {}
        out = []
        for c in categories:
            if c not in cache:
                cache[c] = self.group(c)
            out.append(cache[c])
        return out

    def key(self) -> tuple:
        """A hashable identity (for cache keys)."""
        return tuple((g, tuple(c)) for g, c in self.groups.items())  # CategoryMap(dict(key))

    def __bool__(self) -> bool:
        return bool(self.groups)


def load_category_map(path: Optional[Path]) -> CategoryMap:
    """Read a category file; raises InputError naming the file (and field) when malformed."""
    if path is None:
        return CategoryMap()
    try:
        data: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read category file: {exc.strerror or exc}", file=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"invalid YAML: {getattr(exc, 'problem', exc)}", file=path,
                         line=mark.line + 1 if mark else None) from None
    if data is None:
        return CategoryMap()
    if not isinstance(data, dict):
        raise InputError("a category file maps group names to lists of categories", file=path)
    groups: dict[str, list[str]] = {}
    for group, cats in data.items():
        if isinstance(cats, str):
            cats = [cats]
        if not isinstance(cats, list) or not all(isinstance(c, (str, int)) for c in cats):
            raise InputError("expected a list of category names", file=path, field=str(group))
        groups[str(group)] = [str(c) for c in cats]
    return CategoryMap(groups)
