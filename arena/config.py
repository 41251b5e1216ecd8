"""The native config schema (pydantic, unknown keys rejected) and its loader.

Every field here is documented in docs/config.md; a test fails when one is
missing. Relative paths resolve against the config file's folder. Secrets are never values in
a config: an endpoint names the environment variable that holds its key (``api_key_env``).

Loading an original arena-mode config (``answers_gen`` / ``reviews_gen`` / ``rating_gen``) goes
through ``arena.legacy_config`` and returns the native equivalent plus a list of what could not
be honoured.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from arena.errors import ConfigError
from arena.types import Mode, PositionPolicy


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class StoreConfig(Strict):
    url: Optional[str] = None


class QuestionSource(Strict):
    file: Path
    format: str = "auto"
    source: Optional[str] = None  # namespace for ids; defaults to the file's stem


class GenerationParams(Strict):
    """Generation parameters; all of them are part of an answer's cache key."""

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: Optional[int] = None
    do_sample: Optional[bool] = None  # transformers: defaults to temperature > 0
    stop: list[str] = Field(default_factory=list)
    seed: Optional[int] = None
    repetition_penalty: Optional[float] = None


class Price(Strict):
    """USD per million tokens, used for cost estimates and the ``max_cost`` cap."""

    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    # Batch API prices (``batch: true``); unset = half the ordinary ones, as OpenAI charges.
    batch_input_per_mtok: Optional[float] = Field(None, ge=0)
    batch_output_per_mtok: Optional[float] = Field(None, ge=0)


MAX_BATCH_REQUESTS = 50_000  # OpenAI's limit per batch input file
MAX_BATCH_BYTES = 200 * 1024 * 1024


class BatchSettings(Strict):
    """OpenAI's Batch API for an ``openai`` model or judge (``arena.llm.batch_provider``):
    requests are written to input files, submitted as batches and polled; results arrive
    within ``completion_window`` at batch prices."""

    enabled: bool = True
    completion_window: str = "24h"
    max_requests_per_file: int = Field(MAX_BATCH_REQUESTS, ge=1, le=MAX_BATCH_REQUESTS)
    max_bytes_per_file: int = Field(MAX_BATCH_BYTES, ge=1024, le=MAX_BATCH_BYTES)
    poll_s: float = Field(60.0, gt=0)
    # a file is sent when no new request arrived for this long (the runner fills it first)
    quiet_s: float = Field(0.5, gt=0)


class ModelBase(Strict):
    name: str
    enabled: bool = True
    system_prompt: Optional[str] = None
    generation: GenerationParams = Field(default_factory=GenerationParams)

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if not v or not v.strip():
            raise ValueError("model name must not be empty")
        return v


class FileModel(ModelBase):
    """Answers read from a file (evalscope, FastChat, arena-hard, AlpacaEval, L-Eval...)."""

    backend: Literal["file"]
    path: Path
    format: str = "auto"


class StoredModel(ModelBase):
    """Answers already in the store (``arena import``, another config's run), no backend to
    make more. Per question the model's latest stored version is used; a model with no stored
    answer for the selected questions is an error naming it."""

    backend: Literal["store"]


class OpenAIModel(ModelBase):
    """Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, SGLang, ...)."""

    backend: Literal["openai"]
    model: str
    base_url: Optional[str] = None  # None = the official API
    api_key_env: Optional[str] = "OPENAI_API_KEY"
    extra_headers: dict[str, str] = Field(default_factory=dict)
    extra_body: dict[str, Any] = Field(default_factory=dict)
    # "max_tokens" or "max_completion_tokens" (o-series and newer models want the latter);
    # "auto" picks by model name.
    max_tokens_param: Literal["auto", "max_tokens", "max_completion_tokens"] = "auto"
    max_concurrency: Optional[int] = None  # overrides generation.concurrency for this model
    rpm: Optional[float] = None  # requests per minute
    tpm: Optional[float] = None  # tokens per minute
    price: Optional[Price] = None
    # "openai": the official client; "fast": the lean HTTP/1.1 path (arena.llm.fast_http);
    # "auto": fast for plain http:// endpoints (self-hosted servers), official otherwise.
    http_client: Literal["auto", "openai", "fast"] = "auto"
    # OpenAI's Batch API: ``true`` (defaults) or settings; not part of the answer version or
    # the judge fingerprint (same model, same outputs, half the price, later).
    batch: Union[bool, BatchSettings] = False

    @property
    def batch_settings(self) -> Optional[BatchSettings]:
        """The batch settings when batch mode is on, else None."""
        b = self.batch
        if b is True:
            return BatchSettings()
        if isinstance(b, BatchSettings) and b.enabled:
            return b
        return None


class TransformersModel(ModelBase):
    """A local Hugging Face transformers model: a hub id, a local folder, or a file inside an
    installed package (``package:<distribution>/<file>``; see ``arena.llm.model_source``)."""

    backend: Literal["transformers"]
    model: str
    gguf_file: Optional[str] = None  # a GGUF file in the folder / hub repo (de-quantized)
    revision: Optional[str] = None
    trust_remote_code: bool = False
    dtype: str = "auto"  # auto | float32 | float16 | bfloat16
    device: str = "auto"  # auto | cpu | cuda | cuda:0 | mps
    device_map: Optional[str] = None  # e.g. "auto" (accelerate) for multi-GPU
    batch_size: int = 8
    chat_template: Optional[str] = None  # a Jinja template overriding the tokenizer's
    max_input_tokens: Optional[int] = None  # default: the model's context window
    static_cache: bool = False  # static KV cache (faster batched decoding on GPUs)


ModelSpec = Annotated[Union[FileModel, StoredModel, OpenAIModel, TransformersModel],
                      Field(discriminator="backend")]


class GenerationSettings(Strict):
    """The answers stage: the call wrapper's settings and the budget."""

    concurrency: int = 16
    max_retries: int = 5
    timeout_s: float = 120.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    max_calls: Optional[int] = None
    max_cost: Optional[float] = None
    categories: list[str] = Field(default_factory=list)  # only these categories (empty = all)
    # seconds a worker holds a claimed answer or judgment without renewing it (arena.claims);
    # a killed worker's work returns to the others after at most this long
    lease_s: float = Field(120.0, gt=0)


class JudgeConfig(Strict):
    """The reviews stage."""

    enabled: bool = True
    mode: Mode = Mode.PAIRWISE_ALL
    baseline: Optional[str] = None  # pairwise-baseline: the model every other one meets
    position_policy: PositionPolicy = PositionPolicy.TIE_IF_INCONSISTENT
    pairs_per_question: Optional[int] = None  # pairwise-all: a seeded sample of pairs
    seed: int = 0
    # Verdict scale: abc | five_level | score_pair (pairwise), rating | rubric (single).
    # Default: abc for pairwise modes, rating for single.
    scale: Literal["abc", "five_level", "score_pair", "rating", "rubric"] = "abc"
    criteria: list[str] = Field(default_factory=list)  # rubric criteria (scale: rubric)
    score_max: int = 10  # single-mode rating scale (1..score_max)
    templates_dir: Optional[Path] = None  # override the shipped prompt templates
    reference_categories: list[str] = Field(
        default_factory=lambda: ["math", "reasoning", "coding"])
    judges: list[ModelSpec] = Field(default_factory=list)  # first usable one is used
    metrics: list[Literal["exact_match", "token_f1", "rouge_l", "length_score"]] = Field(
        default_factory=list)
    per_turn: bool = False  # judge each turn of multi-turn questions separately
    # Weighted verdicts: the verdict token's probabilities instead of parsed text (abc and
    # rating scales). None = on for local (transformers) judges, off for API judges.
    weighted: Optional[bool] = None
    concurrency: Optional[int] = None  # default: generation.concurrency

    @model_validator(mode="after")
    def _check(self) -> "JudgeConfig":
        if self.mode == Mode.PAIRWISE_BASELINE and not self.baseline:
            raise ValueError("judge.mode pairwise-baseline needs judge.baseline (a model name)")
        single = self.mode == Mode.SINGLE
        if "scale" not in self.model_fields_set and single:
            self.scale = "rating"  # the default scale follows the mode
        if single and self.scale not in ("rating", "rubric"):
            raise ValueError(f"judge.scale {self.scale} is pairwise; mode single needs "
                             "rating or rubric")
        if not single and self.scale in ("rating", "rubric"):
            raise ValueError(f"judge.scale {self.scale} is for mode single; pairwise modes "
                             "need abc, five_level or score_pair")
        if self.scale == "rubric" and not self.criteria:
            raise ValueError("judge.scale rubric needs judge.criteria")
        if self.score_max < 2:
            raise ValueError("judge.score_max must be at least 2")
        if self.weighted and self.scale not in ("abc", "rating"):
            raise ValueError(f"judge.weighted needs a single-token verdict: scale abc "
                             f"(pairwise) or rating (single), not {self.scale}")
        return self


class Anchor(Strict):
    model: str
    value: float = 1000.0


class RatingsConfig(Strict):
    methods: list[Literal["bt", "elo", "winrate", "score", "length_controlled", "style_bt"]] = \
        Field(default_factory=lambda: ["bt", "elo", "winrate"])
    bootstrap_rounds: int = 1000
    ci_level: float = 0.95
    # rows: a battle of weight w is w rows, each resampled (arena-hard-auto)
    resample_unit: Literal["questions", "battles", "rows"] = "questions"
    anchor: Optional[Anchor] = None  # None: ratings centred at mean 1000
    elo_k: float = 4.0
    both_bad: Literal["tie", "drop"] = "tie"
    strong_weight: Literal[1, 3] = 1
    seed: int = 0
    judge_kinds: list[str] = Field(default_factory=lambda: ["llm", "human", "metric", "imported"])
    judge_ids: list[str] = Field(default_factory=list)  # empty = all
    template_versions: list[str] = Field(default_factory=list)  # empty = all
    baseline: Optional[str] = None  # win rate vs this model (default: judge.baseline)
    # None: the judge's position policy (judge.position_policy)
    position_policy: Optional[PositionPolicy] = None
    per_category: bool = True  # a leaderboard per question category besides "all"
    prior_sd: float = Field(400.0, gt=0)  # Elo points; used only when the BT MLE does not exist
    min_battles: int = Field(0, ge=0)  # models with fewer battles are left out of the boards
    # AlpacaEval's instruction_difficulty.csv: its GLM for the length-controlled win rate
    instruction_difficulty: Optional[Path] = None

    @field_validator("ci_level")
    @classmethod
    def _ci_ok(cls, v: float) -> float:
        if not 0.0 < v < 1.0:
            raise ValueError("ratings.ci_level must be between 0 and 1 (e.g. 0.95)")
        return v

    @field_validator("bootstrap_rounds")
    @classmethod
    def _rounds_ok(cls, v: int) -> int:
        if v < 0:
            raise ValueError("ratings.bootstrap_rounds must be 0 (no CIs) or more")
        return v


class ReportConfig(Strict):
    dir: Path = Path("outputs/reports")
    formats: list[Literal["md", "csv", "json"]] = Field(default_factory=lambda: ["md", "csv", "json"])
    name: str = "leaderboard"  # file stem: <dir>/<name>.md, .csv, .json, .manifest.json


class ArenaConfig(Strict):
    name: str = "arena"
    store: StoreConfig = Field(default_factory=StoreConfig)
    questions: list[QuestionSource] = Field(default_factory=list)
    references: list[QuestionSource] = Field(default_factory=list)
    models: list[ModelSpec] = Field(default_factory=list)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    ratings: RatingsConfig = Field(default_factory=RatingsConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)

    # Not part of the file: where it came from and what could not be honoured.
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    @model_validator(mode="after")
    def _unique_models(self) -> "ArenaConfig":
        names = [m.name for m in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique; repeated: {', '.join(dupes)}")
        return self

    @property
    def enabled_models(self) -> list[Union[FileModel, StoredModel, OpenAIModel,
                                           TransformersModel]]:
        return [m for m in self.models if m.enabled]

    def config_hash(self) -> str:
        """A hash of the effective config (paths included), recorded in report manifests."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


class LoadedConfig(BaseModel):
    """A config with where it came from and the legacy notes (empty for native configs)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    config: ArenaConfig
    path: Optional[Path] = None
    legacy_notes: list[str] = Field(default_factory=list)


def _resolve_paths(cfg: ArenaConfig, base: Path) -> None:
    """Make every relative path absolute against the config file's folder."""

    def fix(p: Optional[Path]) -> Optional[Path]:
        if p is None:
            return None
        p = Path(os.path.expanduser(str(p)))
        return p if p.is_absolute() else (base / p).resolve()

    for q in [*cfg.questions, *cfg.references]:
        q.file = fix(q.file)  # type: ignore[assignment]
    for m in [*cfg.models, *cfg.judge.judges]:
        if isinstance(m, FileModel):
            m.path = fix(m.path)  # type: ignore[assignment]
        if isinstance(m, TransformersModel) and _looks_like_path(m.model):
            m.model = str(fix(Path(m.model)))
    cfg.judge.templates_dir = fix(cfg.judge.templates_dir)
    cfg.report.dir = fix(cfg.report.dir)  # type: ignore[assignment]
    cfg.ratings.instruction_difficulty = fix(cfg.ratings.instruction_difficulty)
    if cfg.store.url and cfg.store.url.startswith("sqlite:///") and \
            not cfg.store.url.startswith("sqlite:////"):
        rel = cfg.store.url[len("sqlite:///"):]
        if rel and rel != ":memory:":
            cfg.store.url = "sqlite:///" + str((base / rel).resolve())


def _looks_like_path(model: str) -> bool:
    # A hub id is "org/name"; a local folder starts with ./, ../, / or ~.
    return model.startswith((".", "/", "~"))


def format_validation_error(err: ValidationError, path: Path | str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"] if not str(x).startswith(("function-", "tagged-")))
        if e["type"] == "extra_forbidden":
            lines.append(f"{path}: unknown key '{loc}'")
        elif e["type"] == "missing":
            lines.append(f"{path}: missing required key '{loc}'")
        else:
            lines.append(f"{path}: key '{loc}': {e['msg']}")
    return "\n".join(lines)


def parse_config(data: dict[str, Any], path: Path | str = "<config>",
                 base: Path | None = None) -> ArenaConfig:
    """Validate a native config mapping; raise ConfigError naming file and key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the config must be a mapping at the top level")
    _check_batch_backends(data, path)
    try:
        cfg = ArenaConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, path)) from None
    _resolve_paths(cfg, base or Path(str(path)).resolve().parent)
    return cfg


def _check_batch_backends(data: dict[str, Any], path: Path | str) -> None:
    """``batch`` is OpenAI's Batch API: an entry of another backend that sets it gets an error
    naming the model (rather than pydantic's "unknown key")."""
    judge = data.get("judge") if isinstance(data.get("judge"), dict) else {}
    for where, entries in (("models", data.get("models")), ("judge.judges", judge.get("judges"))):
        for i, m in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(m, dict) and "batch" in m and m.get("backend") != "openai":
                raise ConfigError(
                    f"{path}: key '{where}.{i}.batch': model {m.get('name')!r} has backend "
                    f"{m.get('backend')!r}; batch (OpenAI's Batch API) needs backend openai")


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    return data or {}


def load_config(path: str | Path) -> LoadedConfig:
    """Load a native or original arena-mode config file.

    Raises ConfigError (naming the file and key) for unreadable files, invalid YAML, unknown
    keys and invalid values.
    """
    path = Path(path)
    data = read_yaml(path)
    from arena import legacy_config  # local: legacy support is optional reading

    if legacy_config.is_legacy(data):
        native, notes = legacy_config.convert(data, path)
        return LoadedConfig(config=parse_config(native, path, path.resolve().parent),
                            path=path, legacy_notes=notes)
    return LoadedConfig(config=parse_config(data, path), path=path)


def field_paths(model: type[BaseModel] = ArenaConfig, prefix: str = "") -> list[str]:
    """Every documented config key as a dotted path (used by the docs test)."""
    out: list[str] = []
    for name, info in model.model_fields.items():
        dotted = f"{prefix}{name}"
        out.append(dotted)
        ann = info.annotation
        for sub in _submodels(ann):
            out.extend(field_paths(sub, dotted + "."))
    return sorted(set(out))


def _submodels(ann: Any) -> list[type[BaseModel]]:
    import typing

    found: list[type[BaseModel]] = []
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    for arg in typing.get_args(ann):
        found.extend(_submodels(arg))
    return found
