"""Where the app keeps its private files, outside the code checkout, readable by its user only.

- The instance folder (the secret key): ``INSTANCE_PATH`` in the test config, else the
  environment's ``ARENA_INSTANCE``, else ``$XDG_DATA_HOME/arena/annotate`` (default
  ``~/.local/share/arena/annotate``), created with mode 0700. Flask's own default (an
  ``instance/`` folder beside the package) would put the key into the code checkout.
- The SQLite store: the one resolver names it (``--db`` > ``ARENA_DB`` > config > default).
  ``protect_sqlite`` creates a missing file with mode 0600 before SQLite opens it, narrows an
  existing group- or world-readable file (and its ``-wal`` / ``-shm`` files; SQLite gives new
  ones the database file's mode) to 0600, and warns when the file lies inside the code
  checkout, where it would be copied, committed or served along with the code.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any, Mapping, Optional

from sqlalchemy import make_url

log = logging.getLogger(__name__)

INSTANCE_ENV = "ARENA_INSTANCE"
CHECKOUT = Path(__file__).resolve().parent.parent  # the folder holding the annotate package


def instance_dir(test_config: Optional[Mapping[str, Any]] = None,
                 environ: Optional[Mapping[str, str]] = None) -> Path:
    """The instance folder (absolute; created with mode 0700 when a file is first written
    into it, by ``annotate.security.load_secret_key``)."""
    env = os.environ if environ is None else environ
    chosen = (test_config or {}).get("INSTANCE_PATH") or env.get(INSTANCE_ENV)
    if chosen:
        folder = Path(chosen).expanduser()
    else:
        base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        folder = Path(base) / "arena" / "annotate"
    return folder.resolve()


def inside_checkout(path: Path) -> bool:
    """Whether ``path`` lies in the source checkout this code runs from (an installed package
    has no ``setup.py`` beside it and is never a checkout)."""
    if not (CHECKOUT / "setup.py").exists():
        return False
    try:
        path.resolve().relative_to(CHECKOUT)
    except ValueError:
        return False
    return True


def _narrow(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        try:
            path.chmod(0o600)
            log.info("%s was readable by others (mode %o); now 0600", path, mode)
        except OSError as exc:
            log.warning("%s is readable by others (mode %o) and cannot be narrowed: %s",
                        path, mode, exc)


def protect_sqlite(url: str) -> Optional[Path]:
    """For a SQLite file URL: make the file (and its WAL files) mode 0600; return its path.

    Other URLs (PostgreSQL, in-memory SQLite) return None and change nothing.
    """
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" \
            or database.startswith("file:"):
        return None
    path = Path(database).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass  # another process created it a moment ago
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        _narrow(p)
    if inside_checkout(path):
        log.warning("the store %s lies inside the code checkout %s: keep it in a data folder "
                    "(--db / ARENA_DB / store.url), e.g. %s", path, CHECKOUT,
                    Path.home() / ".local" / "share" / "arena" / "arena.db")
    return path
