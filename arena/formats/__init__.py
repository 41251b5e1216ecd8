"""File formats of the anchors: import into the store, export from it.

Public API (every import runs inside the caller's transaction, so an error writes nothing):

- ``import_questions(conn, path, fmt="auto", source=None)``: a question file; ``source`` is
  the id namespace (default: the file's stem).
- ``import_answers(conn, path, fmt="auto", model=None, source=None)``: answers of a
  ``backend: file`` model. ``model`` overrides the file's model id; ``source`` is the
  question namespace (None: match local ids in every source, ambiguity is an error).
- ``import_file(conn, path, fmt="auto", as_=None, model=None, source=None, judge=None)``:
  anything (questions, answers, references, verdicts), detected from the records.
- ``export(conn, what, fmt, out, flt)``: questions, answers, references, verdicts, battles or
  a leaderboard, in a named format.
Each returns an ``ImportSummary`` (or a row count) and raises ``InputError`` naming file,
line and field for bad input. ``detect`` says what a file is without writing anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from sqlalchemy import Connection

from arena.errors import InputError
from arena.formats import registry
from arena.formats.query import ExportFilter
from arena.formats.records import read_records
from arena.formats.registry import (FORMAT_NAMES, KINDS, Ctx, Reader, canonical_format,
                                    describe_formats, source_from_path)
from arena.gcpause import no_gc
from arena.store.ingest import ImportSummary

# Each module registers its readers and writers on import.
from arena.formats import (alpacaeval, arenahard, chatbot_arena, evalscope,  # noqa: E402,F401
                           fastchat, leaderboards, leval, longbench, longbench_write)


def detect(path: str | Path, fmt: str = "auto", as_: Optional[str] = None) -> Reader:
    """The reader that fits ``path`` (raises InputError when none or two formats fit)."""
    return registry.detect(read_records(path), fmt, as_)


def import_file(conn: Connection, path: str | Path, fmt: str = "auto", as_: Optional[str] = None,
                model: Optional[str] = None, source: Optional[str] = None,
                judge: Optional[str] = None, baseline: Optional[str] = None,
                dry: bool = False) -> ImportSummary:
    """Import one file of any supported kind. The summary's notes start with what was
    detected. ``judge`` names the judge of verdict files that carry none; ``baseline`` the
    baseline model of arena-hard judgment files that do not name it. ``dry=True`` (answer
    files) writes nothing and reports the answer versions the file holds, for the questions
    already stored."""
    if source is not None and (not source or "/" in source):
        raise InputError(f"source name {source!r} must be non-empty and contain no '/'",
                         file=path, field="source")
    with no_gc():
        file = read_records(path)
        reader = registry.detect(file, fmt, as_)
        if dry and reader.kind != "answers":
            raise ValueError(f"a dry import reads answer files only, not {reader.kind}")
        ctx = Ctx(conn=conn, file=file, fmt=reader.format, kind=reader.kind, source=source,
                  model=model, judge=judge, baseline=baseline, dry=dry)
        summary = reader.load(ctx)
    if summary is not ctx.summary:  # question loaders return add_questions' own summary
        summary.notes = ctx.summary.notes + summary.notes
        summary.skipped += ctx.summary.skipped
    summary.notes.insert(0, f"detected {reader.format} {reader.kind} ({reader.shape}), "
                            f"{len(file)} record(s)")
    return summary


def import_questions(conn: Connection, path: str | Path, fmt: str = "auto",
                     source: Optional[str] = None) -> ImportSummary:
    return import_file(conn, path, fmt, "questions", source=source)


def import_answers(conn: Connection, path: str | Path, fmt: str = "auto",
                   model: Optional[str] = None, source: Optional[str] = None,
                   dry: bool = False) -> ImportSummary:
    return import_file(conn, path, fmt, "answers", model=model, source=source, dry=dry)


def import_references(conn: Connection, path: str | Path, fmt: str = "auto",
                      source: Optional[str] = None) -> ImportSummary:
    return import_file(conn, path, fmt, "references", source=source)


def import_verdicts(conn: Connection, path: str | Path, fmt: str = "auto",
                    source: Optional[str] = None, judge: Optional[str] = None,
                    baseline: Optional[str] = None) -> ImportSummary:
    return import_file(conn, path, fmt, "verdicts", source=source, judge=judge,
                       baseline=baseline)


def export(conn: Connection, what: str, fmt: str, out: str | Path,
           flt: Optional[ExportFilter] = None) -> int:
    """Write stored rows to ``out``; returns the number of records written."""
    writer = registry.find_writer(fmt, what)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    return writer.write(conn, Path(out), flt or ExportFilter())


__all__ = ["import_file", "import_questions", "import_answers", "import_references",
           "import_verdicts", "export", "detect", "ExportFilter", "FORMAT_NAMES", "KINDS",
           "canonical_format", "describe_formats", "source_from_path"]
