"""The format registry: which readers and writers exist, and auto-detection.

A *reader* is one shape of one anchor's file (format name + what it holds: questions, answers,
references or verdicts) with a ``sniff`` test on a record's keys. Detection runs every sniff
on the file's first record (a format and a kind given together skip it): one match is used
and reported; matches from two formats raise an error asking for ``--format``; two kinds of
one format ask for ``--as``. A *writer* exports one kind of stored rows in one format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from sqlalchemy import Connection

from arena.errors import InputError
from arena.formats.records import RecordFile
from arena.store.ingest import ImportSummary

KINDS = ("questions", "answers", "references", "verdicts")
EXPORT_KINDS = ("questions", "answers", "references", "verdicts", "battles", "leaderboard")

# Canonical names first; aliases users of each tool will type.
FORMAT_NAMES = ("evalscope", "mtbench", "arena-hard", "alpaca-eval", "leval", "longbench",
                "longbench-write", "chatbot-arena")
ALIASES = {"fastchat": "mtbench", "mt-bench": "mtbench", "mt_bench": "mtbench",
           "arenahard": "arena-hard", "arena_hard": "arena-hard", "alpacaeval": "alpaca-eval",
           "alpaca_eval": "alpaca-eval", "l-eval": "leval", "longbench_write": "longbench-write",
           "longwriter": "longbench-write", "llmuses": "evalscope",
           "chatbot_arena": "chatbot-arena", "lmsys": "chatbot-arena"}
EXPORT_ONLY = ("csv", "json", "markdown")


@dataclass
class Ctx:
    """What a reader needs: the open transaction, the parsed file and the user's options."""

    conn: Connection
    file: RecordFile
    fmt: str
    kind: str
    source: Optional[str] = None  # explicit namespace (--source)
    model: Optional[str] = None  # --model: the config's name for the answers' model
    judge: Optional[str] = None  # --judge: judge id for verdict files that carry none
    baseline: Optional[str] = None  # --baseline: arena-hard judgments that do not name it
    summary: ImportSummary = field(default_factory=ImportSummary)
    # read, match and version the records but write nothing (readers of a config's scope:
    # the answer versions a file holds now, on a read-only connection)
    dry: bool = False

    @property
    def path(self) -> str:
        return self.file.path

    def default_source(self) -> str:
        return self.source or source_from_path(self.path)


@dataclass(frozen=True)
class Reader:
    format: str
    kind: str
    shape: str  # one line for --help and the detection message
    sniff: Callable[[dict[str, Any]], bool]
    load: Callable[[Ctx], ImportSummary]


@dataclass(frozen=True)
class Writer:
    format: str
    what: str
    shape: str
    write: Callable[..., int]  # (conn, out_path, filters) -> rows written


READERS: list[Reader] = []
WRITERS: list[Writer] = []


def register_reader(reader: Reader) -> Reader:
    READERS.append(reader)
    return reader


def register_writer(writer: Writer) -> Writer:
    WRITERS.append(writer)
    return writer


def canonical_format(name: str, *, export: bool = False) -> str:
    """Map a user-typed format name to its canonical name; raise InputError when unknown."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    known = FORMAT_NAMES + (EXPORT_ONLY if export else ())
    if key not in known:
        raise InputError(f"unknown format {name!r}; known: {', '.join(known)}", field="format")
    return key


def source_from_path(path: str | Path) -> str:
    """The default question namespace: the file's stem with no '/' (and no dots' suffixes)."""
    stem = Path(path).name
    for suffix in (".jsonl", ".json", ".csv"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    stem = re.sub(r"[/\\\s]+", "_", stem).strip("_.") or "questions"
    return stem


def detect(file: RecordFile, fmt: str = "auto", kind: Optional[str] = None) -> Reader:
    """Choose the reader for ``file``. Raises InputError when nothing or two formats fit."""
    if kind is not None and kind not in KINDS:
        raise InputError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}", field="as")
    if not file.records:
        raise InputError("the file holds no records", file=file.path)
    cands = READERS
    if fmt and fmt != "auto":
        fmt = canonical_format(fmt)
        cands = [r for r in cands if r.format == fmt]
    if kind:
        cands = [r for r in cands if r.kind == kind]
    if not cands:
        raise InputError(f"format {fmt} has no reader for {kind}; readers: "
                         + ", ".join(f"{r.format}/{r.kind}" for r in READERS), file=file.path)
    first = file.records[0]
    if len(cands) == 1 and fmt and fmt != "auto":
        # Told exactly what it is: the reader's own checks name any bad field and line.
        return cands[0]
    fits = [r for r in cands if _safe_sniff(r, first.data)]
    if not fits:
        keys = ", ".join(sorted(first.data)[:12])
        wanted = "; ".join(f"{r.format}/{r.kind}: {r.shape}" for r in cands)
        raise InputError(f"does not match any known shape (its fields: {keys}). Expected one "
                         f"of: {wanted}", file=file.path, line=first.line)
    formats = sorted({r.format for r in fits})
    if len(formats) > 1:
        raise InputError(f"the file fits several formats ({', '.join(formats)}); pass "
                         f"--format NAME", file=file.path)
    if len(fits) > 1:
        kinds = {r.kind: r for r in fits}
        # A model_answer-shaped file is answers unless its name says it holds references.
        if set(kinds) == {"answers", "references"}:
            name = Path(file.path).name.lower()
            return kinds["references"] if "reference" in name else kinds["answers"]
        raise InputError(f"the file fits {formats[0]} as {', '.join(sorted(kinds))}; pass "
                         f"--as KIND", file=file.path)
    return fits[0]


def _safe_sniff(reader: Reader, data: dict[str, Any]) -> bool:
    try:
        return bool(reader.sniff(data))
    except Exception:  # a sniff that trips over odd data simply does not match
        return False


def find_writer(fmt: str, what: str) -> Writer:
    fmt = canonical_format(fmt, export=True)
    if what not in EXPORT_KINDS:
        raise InputError(f"unknown export {what!r}; one of {', '.join(EXPORT_KINDS)}",
                         field="what")
    for w in WRITERS:
        if w.format == fmt and w.what == what:
            return w
    have = ", ".join(w.format for w in WRITERS if w.what == what)
    raise InputError(f"no {fmt} exporter for {what}; {what} exports to: {have}", field="format")


def describe_formats() -> str:
    """A table of readers and writers for --help and docs/formats.md."""
    lines = []
    for name in FORMAT_NAMES + EXPORT_ONLY:
        reads = [r.kind for r in READERS if r.format == name]
        writes = [w.what for w in WRITERS if w.format == name]
        lines.append(f"  {name:16} import: {', '.join(dict.fromkeys(reads)) or '-'}; "
                     f"export: {', '.join(dict.fromkeys(writes)) or '-'}")
    return "\n".join(lines)
