"""Judge prompt templates: load the files in ``judges/templates/`` and choose one per item.

A template file is plain text split into sections by lines ``--- <name>``. A prompt body
(``pairwise.txt``, ``single-ref-multi.txt``, ...) has ``system`` and ``user`` sections; a verdict
fragment (``verdict-<scale>.txt``) has ``instructions`` (inserted at ``{{verdict_format}}``) and
``followup`` (the one extra turn sent when the judge's reply has no parsable verdict).

Choice (``choose``): body name = ``pairwise`` or ``single``, plus ``-ref`` when the question's
category is reference-guided and a reference exists, plus ``-multi`` when the judged dialogue has
more than one turn; a file ``<name>@<category>.txt`` wins over ``<name>.txt`` for that category.
A ``templates_dir`` from the config is searched before the shipped folder, file by file.

A template's *version* is the sha256 (first 16 hex) of its instantiated text: the body with the
verdict fragment, ``score_max`` and the rubric criteria filled in, before any question or answer.
Editing a file, or changing the scale, criteria or score range, gives a new version, so cached
judgments of the old prompt are not reused and ratings can be filtered by version.

Placeholders are ``{{name}}``; filling is a single pass, so an answer that itself contains
``{{answer_b}}`` is never expanded. Unknown or missing placeholders raise ``ConfigError`` naming
the file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

from arena.errors import ConfigError
from arena.ids import sha256_hex

SHIPPED_DIR = Path(__file__).resolve().parent / "templates"

PAIRWISE_SCALES = ("abc", "five_level", "score_pair")
SINGLE_SCALES = ("rating", "rubric")

_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
_SECTION = re.compile(r"^--- ([a-z_]+)\s*$", re.MULTILINE)

# Placeholders each kind of body must contain (so a custom template cannot silently drop an
# answer), and the ones it may contain.
_REQUIRED = {
    ("pairwise", False): {"answer_a", "answer_b", "verdict_format"},
    ("pairwise", True): {"conversation_a", "conversation_b", "verdict_format"},
    ("single", False): {"answer", "verdict_format"},
    ("single", True): {"conversation", "verdict_format"},
}
_ALLOWED_ITEM = {"question", "answer_a", "answer_b", "answer", "reference", "conversation_a",
                 "conversation_b", "conversation", "reference_conversation", "verdict_format"}
_ALLOWED_FRAGMENT = {"score_max", "criteria", "criteria_example"}


@dataclass(frozen=True)
class Template:
    """An instantiated template: body + verdict fragment with static values filled in."""

    name: str  # e.g. "pairwise-ref" or "single@coding"
    scale: str
    system: str
    user: str  # still holds the per-item placeholders ({{question}}, {{answer_a}}, ...)
    followup: str
    version: str
    files: tuple[str, ...]
    prefill: str = ""  # weighted: the start of the reply, for backends that can be given it

    def render(self, values: Mapping[str, str]) -> list[dict[str, str]]:
        """The chat messages for one item. ``values`` must cover the user section's placeholders."""
        missing = sorted(set(_PLACEHOLDER.findall(self.user)) - set(values))
        if missing:
            raise ConfigError(f"template {self.name}: no value for {', '.join(missing)}")
        msgs = []
        if self.system.strip():
            msgs.append({"role": "system", "content": self.system.strip()})
        msgs.append({"role": "user", "content": fill(self.user, values).strip()})
        return msgs


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace ``{{name}}`` in one pass; placeholders without a value are left as they are."""
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values
                            else m.group(0), text)


def parse_sections(text: str, file: str) -> dict[str, str]:
    """Split a template file into ``{section: text}``; text before the first marker is an error."""
    parts = _SECTION.split(text)
    if parts[0].strip():
        raise ConfigError(f"{file}: template text must start with a '--- <section>' line")
    sections: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2]):
        if name in sections:
            raise ConfigError(f"{file}: section '{name}' appears twice")
        sections[name] = body.strip("\n")
    return sections


def _find(name: str, dirs: Sequence[Path]) -> Optional[Path]:
    for d in dirs:
        p = d / f"{name}.txt"
        if p.is_file():
            return p
    return None


@lru_cache(maxsize=256)
def _read(path: Path, mtime: float) -> str:  # mtime in the key: an edited file is re-read
    return path.read_text(encoding="utf-8")


def _load_text(path: Path) -> str:
    try:
        return _read(path, path.stat().st_mtime)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read template: {exc.strerror or exc}") from None


def search_dirs(templates_dir: Optional[Path]) -> tuple[Path, ...]:
    if templates_dir is not None and not Path(templates_dir).is_dir():
        raise ConfigError(f"judge.templates_dir: {templates_dir} is not a folder")
    return tuple(p for p in (templates_dir, SHIPPED_DIR) if p is not None)


def body_name(kind: str, *, reference: bool, multi: bool) -> str:
    return kind + ("-ref" if reference else "") + ("-multi" if multi else "")


def load(kind: str, scale: str, *, reference: bool = False, multi: bool = False,
         category: str = "", score_max: int = 10, criteria: Iterable[str] = (),
         templates_dir: Optional[Path] = None, weighted: bool = False) -> Template:
    """Load and instantiate the template for one kind of item.

    ``kind`` is "pairwise" or "single"; ``scale`` must fit it (``abc``/``five_level``/
    ``score_pair`` for pairwise, ``rating``/``rubric`` for single). Raises ConfigError for a
    mismatched scale, a missing file, or a template with wrong placeholders.

    ``weighted`` uses the fragment ``verdict-<scale>-weighted.txt``: its ``instructions`` ask
    for the verdict token alone, its ``system`` section (when present) replaces the body's
    system prompt (which asks for reasoning first), its optional ``prefill`` opens the reply of
    local judges (so the next token is the verdict), and it needs no ``followup``.
    """
    criteria = tuple(criteria)
    return _load_cached(kind, scale, reference, multi, category, score_max, criteria,
                        search_dirs(templates_dir), weighted)


def _load_cached(kind: str, scale: str, reference: bool, multi: bool, category: str,
                 score_max: int, criteria: tuple[str, ...], dirs: tuple[Path, ...],
                 weighted: bool = False) -> Template:
    if kind == "pairwise" and scale not in PAIRWISE_SCALES:
        raise ConfigError(f"judge.scale '{scale}' does not fit pairwise judging; use one of "
                          f"{', '.join(PAIRWISE_SCALES)}")
    if kind == "single" and scale not in SINGLE_SCALES:
        raise ConfigError(f"judge.scale '{scale}' does not fit single judging; use one of "
                          f"{', '.join(SINGLE_SCALES)}")
    base = body_name(kind, reference=reference, multi=multi)
    path = None
    name = base
    if category:
        name = f"{base}@{category}"
        path = _find(name, dirs)
    if path is None:
        name = base
        path = _find(base, dirs)
    if path is None:
        raise ConfigError(f"no judge template '{base}.txt' in {', '.join(map(str, dirs))}")
    frag_name = f"verdict-{scale}" + ("-weighted" if weighted else "")
    frag_path = _find(frag_name, dirs)
    if frag_path is None:
        raise ConfigError(f"no verdict template '{frag_name}.txt' in "
                          f"{', '.join(map(str, dirs))}")
    body = parse_sections(_load_text(path), str(path))
    frag = parse_sections(_load_text(frag_path), str(frag_path))
    for sec in ("system", "user"):
        if sec not in body:
            raise ConfigError(f"{path}: missing section '--- {sec}'")
    for sec in ("instructions",) if weighted else ("instructions", "followup"):
        if sec not in frag:
            raise ConfigError(f"{frag_path}: missing section '--- {sec}'")
    used = set(_PLACEHOLDER.findall(body["system"] + body["user"]))
    unknown = used - _ALLOWED_ITEM
    if unknown:
        raise ConfigError(f"{path}: unknown placeholder(s) {', '.join(sorted(unknown))}")
    need = _REQUIRED[(kind, multi)] | ({"reference_conversation"} if reference and multi else
                                       {"reference"} if reference else set())
    if need - used:
        raise ConfigError(f"{path}: missing placeholder(s) "
                          f"{', '.join('{{' + n + '}}' for n in sorted(need - used))}")
    frag.setdefault("followup", "")
    frag_used = set(_PLACEHOLDER.findall(frag["instructions"] + frag["followup"] +
                                         frag.get("system", "")))
    if frag_used - _ALLOWED_FRAGMENT:
        raise ConfigError(f"{frag_path}: unknown placeholder(s) "
                          f"{', '.join(sorted(frag_used - _ALLOWED_FRAGMENT))}")
    static = {"score_max": str(score_max), "criteria": "\n".join(f"- {c}" for c in criteria),
              "criteria_example": json.dumps({c: 4 for c in criteria}, ensure_ascii=False)}
    instructions = fill(frag["instructions"], static)
    followup = fill(frag["followup"], static)
    system = fill(frag["system"] if "system" in frag else body["system"],
                  {**static, "verdict_format": instructions})
    user = fill(body["user"], {"verdict_format": instructions})
    prefill = frag.get("prefill", "").strip()
    version = sha256_hex("\0".join([system, user, followup] + ([prefill] if prefill else [])))[:16]
    if weighted:
        name += "+weighted"
    return Template(name=name, scale=scale, system=system, user=user, followup=followup,
                    version=version, files=(str(path), str(frag_path)), prefill=prefill)


def available(templates_dir: Optional[Path] = None) -> list[str]:
    """Names of every template file found (for ``--help`` style listings and tests)."""
    names: set[str] = set()
    for d in search_dirs(templates_dir):
        names |= {p.stem for p in d.glob("*.txt")}
    return sorted(names)


def set_version(templates_dir: Optional[Path] = None) -> str:
    """The version of the whole template set a judge may choose from: a hash of every template
    file's name and text, the config's ``templates_dir`` taking precedence file by file.
    Editing any template is a new judge fingerprint (``arena.identity``)."""
    chosen: dict[str, Path] = {}
    for d in search_dirs(templates_dir):
        for p in sorted(d.glob("*.txt")):
            chosen.setdefault(p.name, p)
    parts = [f"{name}\0{_load_text(path)}" for name, path in sorted(chosen.items())]
    return sha256_hex("\0\0".join(parts))[:16]
