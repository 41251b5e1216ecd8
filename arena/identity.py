"""What makes a stored result *the same result*: answer versions, judge fingerprints, and the
identity (cache key) of one judgment. Every stage imports these; nothing here touches the store.

- **Answer version** (``Answer.params_hash``): a generated answer is identified by the hash of
  everything that produced it (``answer_params_hash``: backend, model id/path + revision,
  endpoint, system prompt, chat template, generation parameters, prompt format); an imported
  answer (``backend: file``, ``arena import``, answers carried by verdict files) by the hash of
  its text (``answer_content_hash``). A changed answer file is therefore a new version, stored
  beside the old one, never a silent no-op.
- **Judge fingerprint** (``Judgment.fingerprint``): the hash of everything that changes a
  judge's output (backend, model id/path and revision, endpoint, system prompt, generation
  parameters, the template set, scale, score range, criteria, weighting). The judge name is a
  label; two fingerprints under one name are two judges.
- **Judgment key** (``Judgment.cache_key``, unique among usable rows in the database): the
  fingerprint, the template version, the answer versions *in the order shown* and the turn.
  Not the mode and not which model is called ``model_a``: pairwise-all and pairwise-baseline
  share every judgment they have in common.
- **Battles are unordered**: ``battle_pair`` puts the two model names in one canonical order.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping, Optional, Sequence

from arena.ids import canonical_json, sha256_hex

# Bump when the way prompts are built from questions changes (it changes every answer).
PROMPT_FORMAT = 1
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
CONTENT_PREFIX = "c-"  # content versions read apart from parameter hashes at a glance
FINGERPRINT_LEN = 32
SHORT = 10  # characters of a fingerprint shown beside a judge name


def answer_content_hash(turns: Sequence[Any]) -> str:
    """The version of an imported answer: a hash of its turns (length-prefixed, so no two
    lists of turns collide). 34 characters, starting with ``c-``."""
    h = hashlib.sha256()
    for t in turns:
        b = str(t).encode("utf-8")
        h.update(b"%d:" % len(b))
        h.update(b)
    return CONTENT_PREFIX + h.hexdigest()[:32]


def is_content_version(version: str) -> bool:
    return version.startswith(CONTENT_PREFIX)


def answer_params_hash(spec: Any) -> str:
    """The version of the answers a generating model spec (openai / transformers) produces.

    Covers backend, model, system prompt, generation parameters, prompt format; for openai the
    endpoint and extra body; for transformers the revision, chat template, input window and the
    GGUF file. Never API keys, concurrency, batch size or prices (they do not change the text).
    """
    backend = spec.backend
    part: dict[str, Any] = {
        "backend": backend, "model": spec.model, "system_prompt": spec.system_prompt,
        "generation": spec.generation.model_dump(mode="json"), "prompt_format": PROMPT_FORMAT,
    }
    if backend == "openai":
        part["base_url"] = endpoint_of(spec)
        part["extra_body"] = spec.extra_body
    elif backend == "transformers":
        part["revision"] = spec.revision
        part["chat_template"] = spec.chat_template
        part["max_input_tokens"] = spec.max_input_tokens
        gguf = getattr(spec, "gguf_file", None)
        if gguf:  # only when set, so the versions of existing specs stay what they were
            part["gguf_file"] = gguf
    return sha256_hex(canonical_json(part))[:32]


def endpoint_of(spec: Any) -> str:
    """An openai spec's endpoint, normalised (None = the official API)."""
    return (getattr(spec, "base_url", None) or OPENAI_DEFAULT_URL).rstrip("/")


def fingerprint(parts: Mapping[str, Any]) -> str:
    """The fingerprint of a judge described by ``parts`` (a JSON-able mapping that must carry
    a ``kind``). Raises ValueError when ``kind`` is missing: a judge must say what it is."""
    if not parts.get("kind"):
        raise ValueError("a judge fingerprint needs the judge's kind")
    return sha256_hex(canonical_json(dict(parts)))[:FINGERPRINT_LEN]


def model_judge_parts(spec: Any) -> dict[str, Any]:
    """What a model-based judge's output depends on through its model entry (no secrets)."""
    backend = getattr(spec, "backend", None)
    if backend not in ("openai", "transformers"):
        raise ValueError(f"judge {getattr(spec, 'name', spec)!r}: backend {backend!r} cannot "
                         f"judge (use openai or transformers)")
    out: dict[str, Any] = {"backend": backend, "model": spec.model,
                           "system_prompt": spec.system_prompt,
                           "generation": spec.generation.model_dump(mode="json")}
    if backend == "openai":
        out.update(endpoint=endpoint_of(spec), extra_body=spec.extra_body)
    else:
        out.update(revision=spec.revision, chat_template=spec.chat_template, dtype=spec.dtype)
        gguf = getattr(spec, "gguf_file", None)
        if gguf:
            out["gguf_file"] = gguf
    return out


def short(fp: Optional[str]) -> str:
    """The shown part of a fingerprint ("" for none: human verdicts have no fingerprint)."""
    return (fp or "")[:SHORT]


def judge_label(judge_id: str, fp: Optional[str]) -> str:
    """How a judge is named on boards and in reports: ``name#fingerprint``."""
    return f"{judge_id}#{short(fp)}" if fp else judge_id


def judgment_key(fp: str, template_version: Optional[str], shown: Sequence[Optional[int]],
                 turn: Optional[int]) -> str:
    """The identity of one machine judgment: judge fingerprint, template version, the answer
    versions (answer row ids) in the order they were shown, and the turn (None = the whole
    dialogue). A single-mode item shows one answer."""
    return sha256_hex(canonical_json([fp, template_version, list(shown), turn]))[:40]


def battle_pair(model_a: str, model_b: str) -> tuple[str, str]:
    """The canonical (stored) order of a battle's two models."""
    return (model_a, model_b) if model_a <= model_b else (model_b, model_a)


__all__ = ["answer_content_hash", "answer_params_hash", "fingerprint", "model_judge_parts",
           "judgment_key", "battle_pair", "judge_label", "short", "endpoint_of",
           "is_content_version", "PROMPT_FORMAT"]
