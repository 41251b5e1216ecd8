"""Reading the original arena-mode configs (``answers_gen`` / ``reviews_gen`` / ``rating_gen``).

``convert(data, path)`` maps such a mapping onto the native schema and returns it with a plain
list of what cannot be honoured (ModelScope-only ids, swift ``template_type``, ``reviewer.ref``
class paths, output files replaced by the store, ...). ``arena config convert OLD.yaml`` writes
the native equivalent; ``arena config check CONFIG`` validates any config and prints the notes.

Mapping of the original's switches:
- ``mode``: pairwise -> pairwise-all, pairwise_baseline -> pairwise-baseline, single -> single;
- ``position_bias_mitigation``: swap_position -> both orders with tie-if-inconsistent (what its
  pairwise metric did), randomize_order -> seeded random order, NULL -> none;
- ``rating_gen.metrics``: elo -> Bradley-Terry (main) and online Elo, pairwise -> win rate vs the
  baseline, score -> mean single scores;
- ``proc_num`` -> generation.concurrency.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from arena.errors import ConfigError

LEGACY_KEYS = {"answers_gen", "reviews_gen", "rating_gen", "question_file"}
MODES = {"pairwise": "pairwise-all", "pairwise_baseline": "pairwise-baseline", "single": "single"}
POLICIES = {"swap_position": "tie_if_inconsistent", "randomize_order": "random_order",
            None: "none", "none": "none", "None": "none", "NULL": "none"}
DTYPES = {"torch.float16": "float16", "torch.bfloat16": "bfloat16", "torch.float32": "float32",
          "fp16": "float16", "bf16": "bfloat16", "fp32": "float32", "auto": "auto"}
GEN_KEYS = {"max_new_tokens", "temperature", "top_p", "top_k", "do_sample", "repetition_penalty",
            "seed"}


def is_legacy(data: Any) -> bool:
    return isinstance(data, dict) and bool(LEGACY_KEYS & set(data))


def convert(data: dict[str, Any], path: Path | str = "<config>") -> tuple[dict[str, Any], list[str]]:
    """Return (native config mapping, notes on what could not be honoured)."""
    notes: list[str] = []
    out: dict[str, Any] = {"name": Path(str(path)).stem}
    known = {"question_file", "answers_gen", "reviews_gen", "rating_gen"}
    for key in data:
        if key not in known:
            notes.append(f"top-level key '{key}' has no equivalent and is ignored")
    if data.get("question_file"):
        out["questions"] = [{"file": str(data["question_file"]), "format": "evalscope"}]
    models, proc = _models(data.get("answers_gen") or {}, notes)
    if proc:
        out["generation"] = {"concurrency": proc}
    judge, extra_models, ratings, report = _reviews(data.get("reviews_gen") or {},
                                                    data.get("rating_gen") or {}, notes)
    out["models"] = models + [m for m in extra_models if m["name"] not in {x["name"] for x in models}]
    out["judge"] = judge
    out["ratings"] = ratings
    if report:
        out["report"] = report
    notes.append("relative paths resolve against the config file's folder")
    return finish(out), notes


def _models(section: dict[str, Any], notes: list[str]) -> tuple[list[dict[str, Any]], int | None]:
    models = []
    proc = None
    if not isinstance(section, dict):
        raise ConfigError("answers_gen must be a mapping of model name -> settings")
    for name, m in section.items():
        if not isinstance(m, dict):
            raise ConfigError(f"answers_gen.{name} must be a mapping")
        model_id = m.get("model_id_or_path")
        if not model_id:
            raise ConfigError(f"answers_gen.{name}: missing model_id_or_path")
        entry: dict[str, Any] = {"name": str(name), "backend": "transformers",
                                 "model": str(model_id), "enabled": bool(m.get("enable", True))}
        if m.get("revision"):
            entry["revision"] = str(m["revision"])
            if str(m["revision"]).startswith("v"):
                notes.append(f"answers_gen.{name}.revision '{m['revision']}' is a ModelScope "
                             "revision tag; Hugging Face revisions are branches/commits")
        if m.get("precision"):
            prec = str(m["precision"])
            if prec not in DTYPES:
                notes.append(f"answers_gen.{name}.precision '{prec}' is unknown; using auto")
            entry["dtype"] = DTYPES.get(prec, "auto")
        gen = m.get("generation_config") or {}
        params = {k: v for k, v in gen.items() if k in GEN_KEYS}
        for k in gen:
            if k not in GEN_KEYS:
                notes.append(f"answers_gen.{name}.generation_config.{k} is not supported; ignored")
        if params:
            entry["generation"] = params
        if m.get("template_type"):
            notes.append(f"answers_gen.{name}.template_type '{m['template_type']}' (a swift "
                         "template) cannot be honoured; the tokenizer's chat template is used "
                         "(set chat_template to override)")
        if "/" in str(model_id) and not str(model_id).startswith(("/", ".", "~")):
            notes.append(f"answers_gen.{name}: '{model_id}' is read as a Hugging Face hub id; "
                         "ModelScope-only ids must be downloaded and given as a local folder")
        if m.get("output_file"):
            notes.append(f"answers_gen.{name}.output_file is not used: answers go to the store "
                         "(write files with 'arena export')")
        if m.get("proc_num"):
            proc = int(m["proc_num"])
        for k in m:
            if k not in {"model_id_or_path", "revision", "precision", "enable", "template_type",
                         "generation_config", "output_file", "proc_num"}:
                notes.append(f"answers_gen.{name}.{k} has no equivalent; ignored")
        models.append(entry)
    return models, proc


def _reviews(rev: dict[str, Any], rating: dict[str, Any], notes: list[str]
             ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    judge: dict[str, Any] = {"enabled": bool(rev.get("enable", True))}
    reviewer = rev.get("reviewer") or {}
    if reviewer.get("ref"):
        notes.append(f"reviews_gen.reviewer.ref '{reviewer['ref']}' (a class path) cannot be "
                     "honoured; the built-in LLM judge is used")
    args = reviewer.get("args") or {}
    mode = args.get("mode", "pairwise")
    if mode not in MODES:
        raise ConfigError(f"reviews_gen.reviewer.args.mode: unknown mode {mode!r}; "
                          f"expected one of {', '.join(MODES)}")
    judge["mode"] = MODES[mode]
    pbm = args.get("position_bias_mitigation")
    if pbm not in POLICIES:
        raise ConfigError(f"reviews_gen.reviewer.args.position_bias_mitigation: unknown "
                          f"{pbm!r}; expected swap_position, randomize_order or NULL")
    judge["position_policy"] = POLICIES[pbm]
    if mode == "single":
        judge["scale"] = "rating"
    parser = args.get("fn_completion_parser")
    if parser and parser != "lmsys_parser":
        notes.append(f"fn_completion_parser '{parser}' is not available; the strict [[A]]/[[B]]/"
                     "[[C]] parser is used")
    judge_model = str(args.get("model", "gpt-4"))
    gen = {k: args[k] for k in ("temperature",) if k in args}
    if "max_tokens" in args:
        gen["max_new_tokens"] = int(args["max_tokens"])
    judge["judges"] = [{"name": judge_model, "backend": "openai", "model": judge_model,
                        "api_key_env": "OPENAI_API_KEY", **({"generation": gen} if gen else {})}]
    for k in ("prompt_file", "review_file", "cache_file"):
        if rev.get(k):
            notes.append(f"reviews_gen.{k} is not used: prompts are the project's templates and "
                         "verdicts go to the store (write a review file with 'arena export')")
    extra_models: list[dict[str, Any]] = []
    baseline = rating.get("baseline_model")
    if rev.get("baseline_file"):
        name = str(baseline or Path(str(rev["baseline_file"])).stem)
        extra_models.append({"name": name, "backend": "file", "path": str(rev["baseline_file"]),
                             "format": "evalscope"})
        baseline = name
    if baseline:
        judge["baseline"] = str(baseline)
    if rev.get("target_answers"):
        notes.append("reviews_gen.target_answers: the enabled models are reviewed; disable a "
                     "model to leave it out")
    refs = rev.get("reference_file")
    judge_refs = [{"file": str(refs)}] if refs else []
    ratings: dict[str, Any] = {}
    metrics = rating.get("metrics") or ["elo"]
    methods: list[str] = []
    for m in metrics:
        methods += {"elo": ["bt", "elo"], "pairwise": ["winrate", "bt"],
                    "score": ["score"]}.get(m, [])
        if m not in ("elo", "pairwise", "score"):
            notes.append(f"rating_gen.metrics '{m}' is unknown; ignored")
    ratings["methods"] = list(dict.fromkeys(methods)) or ["bt", "elo", "winrate"]
    if baseline:
        ratings["baseline"] = str(baseline)
    report: dict[str, Any] = {}
    if rating.get("report_file"):
        report["dir"] = str(Path(str(rating["report_file"])).parent)
        notes.append("rating_gen.report_file: reports are written into its folder as "
                     "leaderboard.md/.csv/.json with a manifest")
    if judge_refs:
        judge["_references"] = judge_refs
    return judge, extra_models, ratings, report


def finish(native: dict[str, Any]) -> dict[str, Any]:
    """Move helper keys into their native places."""
    refs = native.get("judge", {}).pop("_references", None)
    if refs:
        native["references"] = refs
    return native


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="check a config, or convert an original arena-mode config")
    csub = p.add_subparsers(dest="config_cmd", required=True)
    c = csub.add_parser("convert", help="write the native equivalent of an arena-mode config")
    c.add_argument("old")
    c.add_argument("-o", "--output", help="output file (default: stdout)")
    c.set_defaults(func=_convert_cmd)
    k = csub.add_parser("check", help="validate a config and list what cannot be honoured")
    k.add_argument("config")
    k.set_defaults(func=_check_cmd)


def _convert_cmd(args: argparse.Namespace) -> int:
    from arena.config import parse_config, read_yaml

    path = Path(args.old)
    data = read_yaml(path)
    if not is_legacy(data):
        raise ConfigError(f"{path}: not an original arena-mode config (no answers_gen / "
                          "reviews_gen / rating_gen / question_file)")
    native, notes = convert(data, path)
    native = finish(native)
    parse_config(dict(native), path, path.resolve().parent)  # validate before writing
    text = "# converted from " + path.name + "\n"
    text += "".join(f"# not honoured: {n}\n" for n in notes)
    text += yaml.safe_dump(native, sort_keys=False, allow_unicode=True)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(text, end="")
    return 0


def _check_cmd(args: argparse.Namespace) -> int:
    from arena.config import load_config

    loaded = load_config(args.config)
    cfg = loaded.config
    print(f"{args.config}: valid; {len(cfg.enabled_models)} enabled model(s), judge mode "
          f"{cfg.judge.mode.value}, position policy {cfg.judge.position_policy.value}")
    for n in loaded.legacy_notes:
        print(f"  not honoured: {n}")
    return 0
