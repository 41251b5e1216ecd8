"""Run scope: exactly what a config's leaderboard counts.

A config selects questions (its question sets, categories), models (the enabled ones), one
answer *version* per (question, model) and a judge (its fingerprint). Its board counts only:

- machine verdicts whose judgment key is one the config's reviews stage plans (so the judge's
  fingerprint, the selected answer versions, the pairs its mode plans and the display orders
  its position policy asks for), each once;
- human verdicts on the selected answer versions of the planned battles (or answers, in single
  mode), any display order;
- imported verdicts on the selected answer versions, when ``ratings.judge_kinds`` admits them.

``model_versions`` is the one definition of "the version a config selects": a generating model
(openai / transformers) selects its current parameter hash; a ``backend: file`` model selects
the answers its file holds now (the hash of each text); a ``backend: store`` model its latest
stored version per question (``stored_versions``). ``file_versions`` reads a file the way
the answers stage imports it: stored (answers stage) or as a dry import that writes nothing
(``read_only_versions``: ratings, viewer, dashboard never write).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

from sqlalchemy import Connection, select

from arena.config import ArenaConfig, FileModel, StoredModel
from arena.errors import ConfigError
from arena.identity import answer_params_hash, judge_label
from arena.rules.verdict_kinds import MACHINE_KINDS

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

Versions = dict[str, dict[str, str]]  # model -> question id -> answer version


def single_source(cfg: ArenaConfig) -> Optional[str]:
    """The question namespace of a config with one question source (answer files name local
    ids), else None (ids are then looked up in every source)."""
    from arena.pairing import source_name

    names = {source_name(q) for q in cfg.questions}
    return names.pop() if len(names) == 1 else None


def file_versions(conn: Connection, cfg: ArenaConfig, spec: FileModel, *, dry: bool = False
                  ) -> tuple[dict[str, str], Any]:
    """Import ``spec``'s answer file in ``conn``'s transaction (``dry``: read and version it,
    write nothing); return ({question id: version}, the import summary). Raises InputError /
    ConfigError naming the file for bad input."""
    from arena import formats

    summary = formats.import_answers(conn, spec.path, spec.format, model=spec.name,
                                     source=single_source(cfg), dry=dry)
    return {q: v for (q, m), v in summary.answer_versions.items() if m == spec.name}, summary


def stored_versions(conn: Connection, spec: StoredModel, question_ids: list[str]
                    ) -> dict[str, str]:
    """{question id: version} of a ``backend: store`` model: per question its latest stored
    answer. Raises ConfigError when it has none for the selected questions (it has no backend
    that could make them)."""
    from arena.store.schema import Answer

    wanted = set(question_ids)
    out: dict[str, str] = {}
    rows = conn.execute(select(Answer.question_id, Answer.params_hash).where(
        Answer.model == spec.name).order_by(Answer.created_at, Answer.id))
    for qid, ph in rows:
        if qid in wanted:
            out[qid] = ph  # later rows win: the latest version
    if not out and question_ids:
        raise ConfigError(f"model {spec.name!r} (backend store) has no stored answers for the "
                          f"{len(question_ids)} selected questions and no backend to make them: "
                          f"import its answers (arena import FILE --model {spec.name}) or give "
                          f"it a backend (file, openai, transformers)")
    return out


def fixed_versions(conn: Connection, cfg: ArenaConfig, question_ids: list[str],
                   files: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """``files`` (what ``file_versions`` gave each file model) plus the stored models'."""
    out = {k: dict(v) for k, v in files.items()}
    for spec in cfg.enabled_models:
        if isinstance(spec, StoredModel):
            out[spec.name] = stored_versions(conn, spec, question_ids)
    return out


def model_versions(cfg: ArenaConfig, question_ids: list[str],
                   fixed: Mapping[str, Mapping[str, str]]) -> Versions:
    """{model: {question id: version}} for the enabled models. ``fixed`` holds the versions of
    the file and stored models (``fixed_versions``; a model missing from it selects nothing);
    generating models select their parameter hash."""
    out: Versions = {}
    for spec in cfg.enabled_models:
        if isinstance(spec, (FileModel, StoredModel)):
            out[spec.name] = dict(fixed.get(spec.name, {}))
        else:
            h = answer_params_hash(spec)
            out[spec.name] = {q: h for q in question_ids}
    return out


def read_only_versions(store: Any, cfg: ArenaConfig, question_ids: list[str]) -> Versions:
    """``model_versions`` without writing: each answer file is read through its importer in a
    dry import inside a read-only transaction, so a changed file is seen as it is now."""
    files: dict[str, dict[str, str]] = {}
    specs = [m for m in cfg.enabled_models if isinstance(m, FileModel)]
    with store.read() as conn:
        for spec in specs:
            files[spec.name], _ = file_versions(conn, cfg, spec, dry=True)
        fixed = fixed_versions(conn, cfg, question_ids, files)
    return model_versions(cfg, question_ids, fixed)


@dataclass
class JudgeScope:
    """One judge of a config: its label, fingerprint, mode and the keys it plans."""

    judge_id: str
    kind: str
    fingerprint: str
    mode: str
    keys: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        return judge_label(self.judge_id, self.fingerprint)


@dataclass
class VerdictScope:
    """What ``arena.ratings.selection.load_verdicts`` admits for a config (see module doc).

    ``keys``: judgment keys of the config's machine judges; ``pairs``: unordered answer-id
    pairs of the planned battles (human and imported pairwise verdicts); ``answers``: answer
    ids of the planned single items (human and imported single verdicts)."""

    keys: set[str] = field(default_factory=set)
    pairs: set[tuple[int, int]] = field(default_factory=set)
    answers: set[int] = field(default_factory=set)
    judges: list[JudgeScope] = field(default_factory=list)
    question_ids: list[str] = field(default_factory=list)
    versions: Versions = field(default_factory=dict)
    answer_ids: dict[tuple[str, str], int] = field(default_factory=dict)

    def mask(self, kinds: Sequence[str], keys: Sequence[Optional[str]],
             answer_a: Sequence[Optional[int]], answer_b: Optional[Sequence[Optional[int]]]
             ) -> "np.ndarray":
        """Which rows (given column-wise) this scope admits: a machine verdict (kind llm,
        metric, dry-run) by its judgment key; a human or imported one by the answer versions
        it judged (``answer_b`` None: single-mode rows). The one definition of "in scope",
        used by leaderboards, exports, the viewer and the dashboard."""
        import numpy as np

        n = len(kinds)
        machine = np.fromiter((k in MACHINE_KINDS for k in kinds), dtype=bool, count=n)
        by_key = np.fromiter((k in self.keys for k in keys), dtype=bool, count=n)
        if answer_b is None:
            answers = self.answers
            by_answers = np.fromiter((a in answers for a in answer_a), dtype=bool, count=n)
        else:
            pairs = self.pairs
            by_answers = np.fromiter(
                ((a, b) in pairs if a is not None and b is not None and a <= b else (b, a) in pairs
                 for a, b in zip(answer_a, answer_b)), dtype=bool, count=n)
        return np.where(machine, by_key, by_answers)

    def manifest(self, cfg: ArenaConfig) -> dict[str, Any]:
        """The scope as the report manifest lists it (no secrets)."""
        from arena.pairing import source_name
        from arena.ids import canonical_json, sha256_hex

        models = {}
        for spec in cfg.enabled_models:
            per_q = {q: v for q, v in self.versions.get(spec.name, {}).items()
                     if (q, spec.name) in self.answer_ids}
            distinct = sorted(set(per_q.values()))
            entry: dict[str, Any] = {"backend": spec.backend, "answers": len(per_q)}
            if isinstance(spec, (FileModel, StoredModel)):
                if isinstance(spec, FileModel):
                    entry["file"] = str(spec.path)
                entry["versions_digest"] = sha256_hex(canonical_json(sorted(per_q.items())))[:32]
                if len(distinct) <= 20:
                    entry["versions"] = distinct
            else:
                entry["params_hash"] = distinct[0] if distinct else answer_params_hash(spec)
            models[spec.name] = entry
        return {"question_sets": [{"file": str(q.file), "source": source_name(q)}
                                  for q in cfg.questions],
                "questions": len(self.question_ids),
                "categories": list(cfg.generation.categories),
                "models": models,
                "judges": [{"judge": j.judge_id, "kind": j.kind, "fingerprint": j.fingerprint,
                            "mode": j.mode, "planned_judgments": len(j.keys)}
                           for j in self.judges],
                "position_policy": cfg.judge.position_policy.value}


def build_scope(store: Any, cfg: ArenaConfig, judges: list[Any], *,
                versions: Optional[Versions] = None,
                categories: Optional[list[str]] = None, create: bool = True) -> VerdictScope:
    """The scope of ``cfg`` judged by ``judges`` (objects with ``judge_id``, ``kind``,
    ``fingerprint`` and ``template_version(item)``, as ``arena.reviews.Judge``). Plans the
    items exactly as the reviews stage does (battles are created when missing: a battle is a
    grouping of two answers, not a result; ``create=False`` writes nothing, for readers such
    as the viewer). Never raises for an empty store."""
    from arena.pairing import selected_questions
    from arena.reviews import cache_key, plan_items
    from arena.types import Mode

    with store.begin() as conn:
        qids = selected_questions(conn, cfg, categories=categories)
    if versions is None:
        versions = read_only_versions(store, cfg, qids)
    scope = VerdictScope(question_ids=qids, versions=versions)
    for judge in judges:
        bind = getattr(judge, "bind", None)
        if callable(bind):
            bind(store)
        mode = getattr(judge, "mode", None)
        items = plan_items(store, cfg, mode=mode, versions=versions, question_ids=qids,
                           create=create)
        prepare = getattr(judge, "prepare", None)
        if callable(prepare):
            prepare(items)
        js = JudgeScope(judge.judge_id, judge.kind, judge.fingerprint,
                        Mode(mode or cfg.judge.mode).value)
        for it in items:
            js.keys.add(cache_key(judge, it))
            if it.answer_b_id is None:
                scope.answers.add(it.answer_a_id)
            else:
                scope.pairs.add((min(it.answer_a_id, it.answer_b_id),
                                 max(it.answer_a_id, it.answer_b_id)))
        scope.keys |= js.keys
        scope.judges.append(js)
    if not judges:  # humans only: the planned battles of the config's mode
        items = plan_items(store, cfg, versions=versions, question_ids=qids, create=create)
        for it in items:
            if it.answer_b_id is None:
                scope.answers.add(it.answer_a_id)
            else:
                scope.pairs.add((min(it.answer_a_id, it.answer_b_id),
                                 max(it.answer_a_id, it.answer_b_id)))
    with store.begin() as conn:
        from arena.pairing import answer_map

        scope.answer_ids = answer_map(conn, cfg, qids, versions)
    return scope


__all__ = ["model_versions", "file_versions", "stored_versions", "fixed_versions", "read_only_versions", "build_scope",
           "VerdictScope", "JudgeScope", "single_source", "Versions"]
