"""Validation of everything a client sends, before it reaches a query.

A bad value is an ``InputError`` naming the field; the app answers 400 with that message and
writes nothing. Checks, all cheap enough for every request:

- text (form fields, query arguments, URL parts, JSON strings and keys): no NUL (PostgreSQL
  cannot store it), no lone UTF-16 surrogates (not encodable as UTF-8), at most
  ``MAX_FIELD`` characters unless a view allows more;
- numbers in URLs (``<int:...>``) and id fields: 0 to ``MAX_ID`` (the databases' integer);
- JSON bodies: an object, nested at most ``MAX_DEPTH`` deep, finite numbers only (``NaN`` and
  ``Infinity`` are not JSON numbers and would be written back out as bare ``NaN``).

``check_request`` is the app's before_request hook (after the login and role checks, so a
request that is refused anyway is never read); ``json_body`` parses a JSON request.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Optional

from flask import request

from arena.errors import InputError

MAX_ID = 2 ** 31 - 1
MAX_FIELD = 100_000  # characters in any one form field or argument (guidelines are the largest)
MAX_DEPTH = 16
_BAD = re.compile("[\x00\ud800-\udfff]")


def check_text(value: str, field: str, max_len: int = MAX_FIELD) -> str:
    """``value`` unchanged when it is storable text of at most ``max_len`` characters."""
    m = _BAD.search(value)
    if m is not None:
        what = "a NUL character" if m.group(0) == "\x00" else "an unpaired surrogate"
        raise InputError(f"contains {what} at position {m.start()}; send plain text",
                         field=field)
    if len(value) > max_len:
        raise InputError(f"is {len(value)} characters long; at most {max_len}", field=field)
    return value


def int_field(raw: Any, field: str, lo: int = 0, hi: int = MAX_ID,
              default: Optional[int] = None) -> Optional[int]:
    """A whole number from ``lo`` to ``hi`` (``default`` when the field is empty)."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return default
    if len(text) > 20 or not re.fullmatch(r"[+-]?\d+", text):
        raise InputError(f"expected a whole number from {lo} to {hi}, got {text[:40]!r}",
                         field=field)
    n = int(text)
    if not lo <= n <= hi:
        raise InputError(f"expected a whole number from {lo} to {hi}, got {n}", field=field)
    return n


def float_field(raw: Any, field: str, lo: float, hi: float) -> Optional[float]:
    """A finite number from ``lo`` to ``hi``, or None for a missing / empty value."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise InputError("expected a number", field=field)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise InputError(f"expected a number, got {str(raw)[:40]!r}", field=field) from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise InputError(f"expected a number from {lo:g} to {hi:g}, got {str(raw)[:40]}",
                         field=field)
    return value


def _walk(value: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InputError(f"JSON is nested more than {MAX_DEPTH} levels deep", field=path)
    if isinstance(value, str):
        check_text(value, path)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"{value} is not a number", field=path)
    elif isinstance(value, dict):
        for k, v in value.items():
            check_text(k, f"{path}.{k[:40]}" if path else "key")
            _walk(v, f"{path}.{k}" if path else k, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk(v, f"{path}[{i}]", depth + 1)


def json_body() -> dict[str, Any]:
    """The request's JSON object, checked as above. Raises InputError (field ``body`` for a
    body that is not a JSON object)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except RecursionError:
        raise InputError(f"JSON is nested more than {MAX_DEPTH} levels deep",
                         field="body") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"not JSON: {str(exc)[:120]}", field="body") from None
    if not isinstance(data, dict):
        raise InputError("send a JSON object", field="body")
    _walk(data, "", 0)
    return data


def check_request() -> None:
    """before_request: URL numbers in range, and every query argument and form field
    storable text. Raises InputError (turned into a 400 by the app)."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and not 0 <= value <= MAX_ID:
            raise InputError(f"{value} is out of range (ids go up to {MAX_ID})", field=name)
        if isinstance(value, str):
            check_text(value, name, 1000)
    for name, value in request.args.items(multi=True):
        check_text(name, "query argument name", 200)
        check_text(value, name)
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            check_text(name, "form field name", 200)
            check_text(value, name)
