"""Reading record files (JSON Lines, a JSON array, CSV) with the line each record starts on.

Every importer reads through here so that a bad record is reported as ``file:line, field``.
A malformed JSON line, a top-level value that is not an object, or an unreadable file raises
``InputError``; nothing is skipped silently.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

from arena.errors import InputError


@dataclass
class Rec:
    """One record: its 1-based starting line and its fields."""

    line: int
    data: dict[str, Any]


class RecordFile:
    """A file's records plus helpers that raise InputError naming file, line and field."""

    def __init__(self, path: str | Path, records: list[Rec], container: str) -> None:
        self.path = str(path)
        self.records = records
        self.container = container  # "jsonl" | "json" | "csv"

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.records)

    def error(self, message: str, rec: Optional[Rec] = None, field: Optional[str] = None
              ) -> InputError:
        return InputError(message, file=self.path, line=rec.line if rec else None, field=field)

    def req(self, rec: Rec, key: str, types: type | tuple[type, ...] = str) -> Any:
        """A required field of the given type(s); ints are accepted where str is asked for
        ids only through ``req_id``."""
        if key not in rec.data or rec.data[key] is None:
            raise self.error("missing required field", rec, key)
        value = rec.data[key]
        if not isinstance(value, types) or isinstance(value, bool) and bool not in _tuple(types):
            raise self.error(f"expected {_names(types)}, got {type(value).__name__}", rec, key)
        return value

    def opt(self, rec: Rec, key: str, types: type | tuple[type, ...] = str,
            default: Any = None) -> Any:
        value = rec.data.get(key)
        if value is None:
            return default
        if not isinstance(value, types):
            raise self.error(f"expected {_names(types)}, got {type(value).__name__}", rec, key)
        return value

    def req_id(self, rec: Rec, key: str) -> str:
        """An id field: a non-empty string or an integer, returned as text."""
        value = self.req(rec, key, (str, int))
        text = str(value).strip()
        if not text:
            raise self.error("empty id", rec, key)
        return text

    def str_list(self, rec: Rec, key: str, *, required: bool = True) -> list[str]:
        value = rec.data.get(key)
        if value is None:
            if required:
                raise self.error("missing required field", rec, key)
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error("expected a list of strings", rec, key)
        return value


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _names(types: type | tuple[type, ...]) -> str:
    names = {"str": "text", "int": "an integer", "float": "a number", "list": "a list",
             "dict": "an object", "bool": "true/false"}
    return " or ".join(names.get(t.__name__, t.__name__) for t in _tuple(types))


def read_records(path: str | Path) -> RecordFile:
    """Read a .jsonl / .json / .csv file. Raises InputError for unreadable or malformed input."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=p) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file: {exc}", file=p) from None
    if p.suffix.lower() == ".csv":
        return RecordFile(p, _read_csv(text), "csv")
    stripped = text.lstrip()
    if stripped.startswith("["):
        return RecordFile(p, _read_json_array(text, p), "json")
    if p.suffix.lower() == ".json" and stripped.startswith("{") and _single_object(text):
        return RecordFile(p, [Rec(1, json.loads(text))], "json")
    return RecordFile(p, _read_jsonl(text, p), "jsonl")


def _single_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False


def _read_jsonl(text: str, path: Path) -> list[Rec]:
    out: list[Rec] = []
    loads = json.loads
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno})", file=path,
                             line=n) from None
        if not isinstance(obj, dict):
            raise InputError(f"expected a JSON object, got {type(obj).__name__}", file=path,
                             line=n)
        out.append(Rec(n, obj))
    return out


def _read_json_array(text: str, path: Path) -> list[Rec]:
    """Decode a top-level array element by element, remembering where each one starts."""
    dec = json.JSONDecoder()
    out: list[Rec] = []
    idx = text.index("[") + 1
    line, counted = 1, 0
    n = len(text)
    ws = " \t\r\n"
    while True:
        while idx < n and text[idx] in ws:
            idx += 1
        if idx < n and text[idx] == "]":
            break
        line += text.count("\n", counted, idx)
        counted = idx
        try:
            obj, idx = dec.raw_decode(text, idx)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg})", file=path, line=exc.lineno) from None
        if not isinstance(obj, dict):
            raise InputError(f"expected a JSON object, got {type(obj).__name__}", file=path,
                             line=line)
        out.append(Rec(line, obj))
        while idx < n and text[idx] in ws:
            idx += 1
        if idx < n and text[idx] == ",":
            idx += 1
            continue
        if idx < n and text[idx] == "]":
            break
        line += text.count("\n", counted, idx)
        raise InputError("not valid JSON (expected ',' or ']' after an element)", file=path,
                         line=line)
    return out


def _read_csv(text: str) -> list[Rec]:
    reader = csv.DictReader(io.StringIO(text))
    return [Rec(n + 2, dict(row)) for n, row in enumerate(reader)]


def is_missing(value: Any) -> bool:
    """None, NaN or an empty string: how the anchors write 'no value'."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def write_json(path: str | Path, rows: list[dict[str, Any]]) -> int:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(rows, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    return len(rows)
