"""Stable identifiers and content hashes.

- A question without an id gets one derived from its content, so re-importing the same file
  yields the same ids.
- Question ids are namespaced by source: ``"<source>/<local id>"``.
- An answer's ``params_hash`` covers everything that changes the output; it is the cache key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_id(*parts: Any, length: int = 16) -> str:
    """A short stable id from content (hex sha256 prefix)."""
    return sha256_hex(canonical_json(list(parts)))[:length]


def question_id(source: str, local_id: str) -> str:
    return f"{source}/{local_id}"


def question_content_hash(turns: list[str], document_id: str | None) -> str:
    """Hash of a question's text: its turns (length-prefixed, so no two lists collide) and
    its document id. Hot in imports, hence no JSON encoding."""
    h = hashlib.sha256()
    for t in turns:
        b = str(t).encode("utf-8")
        h.update(b"%d:" % len(b))
        h.update(b)
    h.update(b"|doc:" + (document_id or "").encode("utf-8"))
    return h.hexdigest()


def document_id(text: str) -> str:
    return "doc-" + sha256_hex(text)[:32]


def params_hash(spec: dict[str, Any]) -> str:
    """Hash of the output-changing parts of a model spec (callers pick the parts)."""
    return sha256_hex(canonical_json(spec))[:32]
