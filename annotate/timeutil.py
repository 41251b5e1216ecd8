"""Time helpers: the store may hand back naive datetimes (SQLite); all of ours are UTC."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional


def as_utc(dt: Optional[datetime]) -> Optional[datetime]:
    """``dt`` as an aware UTC datetime (naive values from SQLite are UTC by convention)."""
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)
