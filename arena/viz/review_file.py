"""The original viewer's input: an evalscope review / battle JSONL file shown without a store.

``streamlit run viz.py -- --review-file battle.jsonl --category-file category_mapping.yaml``

The file is read by the project's own evalscope importer (``arena.formats.import_file``, format
``evalscope``, kind ``verdicts``: ``win`` or ``win_1`` / ``win_2``, ``scores``,
``review_text``, ``question``, ``output_a`` / ``output_b``; an unreadable ``win`` is a failed
verdict, never a tie), exactly as ``arena import`` stores it, into a scratch SQLite store in
the temp folder (named by the file's content hash, built once, read-only afterwards), so every
page of the viewer works on it unchanged and the user's arena store is not touched. Questions
get the source ``review``.

Pairing the two orders is not done here: evalscope's battle files write each question twice,
once in each order (``model_a`` / ``model_b`` swapped, each row with its ``win``); the viewer's
battles are unordered pairs (``arena.viz.filters``), so both rows are one battle with two
games, as on the leaderboard.

Errors: bad JSON or a missing / ill-typed field raises ``InputError`` naming the file, the line
and the field; nothing is kept from a file that fails.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Optional

from arena.store import Store

log = logging.getLogger(__name__)

SOURCE = "review"
FORMAT = "evalscope"


def scratch_url(path: Path, folder: Optional[Path] = None) -> str:
    """Where the scratch store for this file's content lives (a SQLite URL)."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:24]
    base = folder or Path(tempfile.gettempdir()) / "arena-viz"
    return f"sqlite:///{base / f'review-{digest}.db'}"


# what SQLite (WAL) and the store's migration lock leave beside a database file
SIDE_FILES = ("-wal", "-shm", ".lock")


def build_scratch_store(path: Path, folder: Optional[Path] = None) -> str:
    """Load ``path`` into its scratch store (once per content) and return the store URL.

    Built in a temporary file and renamed into place, so a half-built store is never shown;
    a file that fails to import leaves nothing behind (raises InputError naming it).
    """
    from arena import formats

    url = scratch_url(path, folder)
    target = Path(url[len("sqlite:///"):])
    if target.exists():
        return url
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=target.stem, suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        store = Store.open(f"sqlite:///{tmp}")
        try:
            with store.begin() as conn:
                summary = formats.import_file(conn, path, FORMAT, "verdicts", source=SOURCE)
        finally:
            store.close()
        for suffix in SIDE_FILES:
            Path(str(tmp) + suffix).unlink(missing_ok=True)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        for suffix in SIDE_FILES:
            Path(str(tmp) + suffix).unlink(missing_ok=True)
    log.info("review file %s loaded into %s: %s", path, target, "; ".join(summary.notes))
    return url
