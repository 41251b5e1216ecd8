"""Reading the original arena-mode configs (``answers_gen`` / ``reviews_gen`` / ``rating_gen``).

``convert(data, path)`` maps such a mapping onto the native schema and returns it with a plain
list of what cannot be honoured (ModelScope-only ids, swift ``template_type``, ``reviewer.ref``
class paths, prompt / review / cache files replaced by the project's templates and the store,
...). ``arena config convert OLD.yaml`` writes the native equivalent; ``arena config check
CONFIG`` validates any config and prints the notes. Typed key access and the path search live
in ``arena.legacy_reader``.

The original schema is checked as strictly as the native one: an unknown key or a wrongly
typed value anywhere the original defines keys is a ``ConfigError`` naming the file and the key
path in the original's terms; every such problem of one file is collected into one error.

Paths. The original joined every relative path with its package folder, and users ran it from
the folder holding ``registry/``. A relative path here is tried, in order, against the working
directory, this project's root (the folder holding ``registry/``) and the config file's folder;
the first that exists wins and is written absolute into the native mapping (so the native rule,
"relative to the config's folder", never applies to it). A file the run must read
(``question_file``, ``reviews_gen.baseline_file`` in mode pairwise_baseline,
``reviews_gen.reference_file``) that exists nowhere is an error naming the key and every path
tried (``arena config convert`` writes it under the working directory with a note instead).

Models. An ``answers_gen.<name>.output_file`` that exists holds that model's answers in
evalscope's answer format (the original wrote them there): the model becomes ``backend: file``
and nothing is loaded from a hub. Without an existing output file the model is a local
transformers model (``model_id_or_path`` read as a Hugging Face id or a local folder).

Mapping of the original's switches:
- ``mode``: pairwise -> pairwise-all, pairwise_baseline -> pairwise-baseline, single -> single;
- ``position_bias_mitigation``: swap_position -> both orders with tie-if-inconsistent (what its
  pairwise metric did), randomize_order -> seeded random order (``random_seed``), NULL -> none;
- ``rating_gen.metrics``: elo -> Bradley-Terry (main) and online Elo, pairwise -> win rate vs the
  baseline, score -> mean single scores;
- ``proc_num`` -> generation.concurrency; ``report_file`` -> report.dir and report.name.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Optional

import yaml

from arena.errors import ConfigError
from arena.legacy_reader import LegacyReader

LEGACY_KEYS = {"answers_gen", "reviews_gen", "rating_gen", "question_file"}
MODES = {"pairwise": "pairwise-all", "pairwise_baseline": "pairwise-baseline", "single": "single"}
POLICIES = {"swap_position": "tie_if_inconsistent", "randomize_order": "random_order",
            None: "none", "none": "none", "None": "none", "NULL": "none"}
DTYPES = {"torch.float16": "float16", "torch.bfloat16": "bfloat16", "torch.float32": "float32",
          "fp16": "float16", "bf16": "bfloat16", "fp32": "float32", "auto": "auto"}
METRICS = {"elo": ["bt", "elo"], "pairwise": ["winrate", "bt"], "score": ["score"]}

# The original's schema: every key it reads, per level.
TOP_KEYS = {"question_file", "answers_gen", "reviews_gen", "rating_gen"}
MODEL_KEYS = {"model_id_or_path", "revision", "precision", "enable", "template_type",
              "generation_config", "output_file", "proc_num"}
REVIEW_KEYS = {"enable", "reviewer", "prompt_file", "target_answers", "baseline_file",
               "reference_file", "review_file", "cache_file"}
REVIEWER_KEYS = {"ref", "args"}
ARGS_KEYS = {"model", "mode", "position_bias_mitigation", "fn_completion_parser",
             "completion_parser_kwargs", "random_seed", "max_tokens", "temperature", "api_key"}
RATING_KEYS = {"enable", "metrics", "baseline_model", "report_file"}

# generation_config: what maps onto native generation parameters, with its type ...
GEN_KEYS: dict[str, str] = {"max_new_tokens": "int", "temperature": "number", "top_p": "number",
                            "top_k": "int", "do_sample": "bool", "repetition_penalty": "number",
                            "seed": "int"}
# ... and the rest of transformers' GenerationConfig, which the original passed on: these are
# the original's schema but cannot be honoured (a note, not an error); anything else is a typo.
HF_GEN_KEYS = {
    "max_length", "min_length", "min_new_tokens", "early_stopping", "max_time", "num_beams",
    "num_beam_groups", "penalty_alpha", "use_cache", "typical_p", "epsilon_cutoff",
    "eta_cutoff", "diversity_penalty", "encoder_repetition_penalty", "length_penalty",
    "no_repeat_ngram_size", "bad_words_ids", "force_words_ids", "renormalize_logits",
    "constraints", "forced_bos_token_id", "forced_eos_token_id", "remove_invalid_values",
    "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens",
    "forced_decoder_ids", "num_return_sequences", "output_attentions", "output_hidden_states",
    "output_scores", "return_dict_in_generate", "pad_token_id", "bos_token_id", "eos_token_id",
    "encoder_no_repeat_ngram_size", "decoder_start_token_id", "min_p", "stop_strings",
    "transformers_version", "guidance_scale", "low_memory", "num_assistant_tokens",
    "sequence_bias", "watermarking_config", "cache_implementation", "chat_format",
}

def is_legacy(data: Any) -> bool:
    return isinstance(data, dict) and bool(LEGACY_KEYS & set(data))


def convert(data: dict[str, Any], path: Path | str = "<config>", *,
            strict_files: bool = True) -> tuple[dict[str, Any], list[str]]:
    """Return (native config mapping, notes on what could not be honoured).

    Raises one ConfigError naming ``path`` and every bad key (unknown, wrongly typed, a needed
    file found nowhere). ``strict_files=False`` (``arena config convert``) turns missing input
    files into notes."""
    r = LegacyReader(path, strict_files)
    r.known(data, "", TOP_KEYS)
    out: dict[str, Any] = {"name": Path(str(path)).stem}
    qfile = r.get(data, "question_file", "question_file", "str")
    if qfile:
        out["questions"] = [{"file": r.input_file(qfile, "question_file"),
                             "format": "evalscope"}]
    elif data.get("question_file") is None:
        r.errors.append("missing key 'question_file' (the question set)")
    answers_gen = r.section(data, "answers_gen", "answers_gen", None)  # model names
    models, outputs, proc = _models(r, answers_gen)
    if proc:
        out["generation"] = {"concurrency": proc}
    rev = r.section(data, "reviews_gen", "reviews_gen", REVIEW_KEYS)
    rating = r.section(data, "rating_gen", "rating_gen", RATING_KEYS)
    # The original named a model by the model_id its answer records carry.
    ids = {str(m["model_id_or_path"]): str(n) for n, m in answers_gen.items()
           if isinstance(m, dict) and isinstance(m.get("model_id_or_path"), str)}
    judge, extra_models, refs, baseline = _reviews(r, rev, rating, models, outputs, ids)
    names = {m["name"] for m in models}
    out["models"] = models + [m for m in extra_models if m["name"] not in names]
    out["judge"] = judge
    out["ratings"], report = _ratings(r, rating, baseline)
    if report:
        out["report"] = report
    if refs:
        out["references"] = refs
    if r.errors:
        raise ConfigError("\n".join(f"{path}: {e}" for e in r.errors))
    return out, r.notes


def _models(r: LegacyReader, section: dict[str, Any]
            ) -> tuple[list[dict[str, Any]], dict[str, str], Optional[int]]:
    """(native model entries, {model: its output file found}, proc_num)."""
    models: list[dict[str, Any]] = []
    outputs: dict[str, str] = {}
    proc = None
    for name, m in section.items():
        w = f"answers_gen.{name}"
        if not isinstance(m, dict):
            r.errors.append(f"key '{w}': expected a mapping of the model's settings")
            continue
        r.known(m, w, MODEL_KEYS)
        enabled = r.get(m, "enable", f"{w}.enable", "bool", True)
        model_id = r.get(m, "model_id_or_path", f"{w}.model_id_or_path", "str")
        revision = r.get(m, "revision", f"{w}.revision", "str")
        precision = r.get(m, "precision", f"{w}.precision", "str")
        template = r.get(m, "template_type", f"{w}.template_type", "str")
        out_file = r.get(m, "output_file", f"{w}.output_file", "str")
        n = r.get(m, "proc_num", f"{w}.proc_num", "int")
        if n is not None:
            if n < 1:
                r.errors.append(f"key '{w}.proc_num': expected a positive integer, got {n}")
            else:
                proc = n
        if precision is not None and precision not in DTYPES:
            r.errors.append(f"key '{w}.precision': unknown precision {precision!r}; expected "
                            f"one of {', '.join(DTYPES)}")
        params = _generation(r, m, w)
        found, tried = r.find(out_file) if out_file else (None, [])
        if found is not None:
            # The original wrote this model's answers here: read them, load nothing.
            outputs[str(name)] = str(found)
            models.append({"name": str(name), "backend": "file", "path": str(found),
                           "format": "evalscope", "enabled": enabled})
            r.notes.append(f"{w}: answers are read from output_file {found} (evalscope answer "
                           f"format); model_id_or_path, generation_config and precision are not "
                           "used (remove the file to generate answers instead)")
            continue
        if not model_id:
            r.errors.append(f"missing key '{w}.model_id_or_path'" + (
                f" (output_file '{out_file}' exists nowhere: tried "
                f"{', '.join(str(t) for t in tried)})" if out_file else ""))
            continue
        entry: dict[str, Any] = {"name": str(name), "backend": "transformers",
                                 "model": _model_path(r, model_id), "enabled": enabled}
        if revision:
            entry["revision"] = revision
            if revision.startswith("v"):
                r.notes.append(f"{w}.revision '{revision}' is a ModelScope revision tag; "
                               "Hugging Face revisions are branches/commits")
        if precision in DTYPES:
            entry["dtype"] = DTYPES[precision]
        if params:
            entry["generation"] = params
        if template:
            r.notes.append(f"{w}.template_type '{template}' (a swift template) cannot be "
                           "honoured; the tokenizer's chat template is used (set chat_template "
                           "to override)")
        if entry["model"] == model_id and "/" in model_id and \
                not model_id.startswith(("/", ".", "~")):
            r.notes.append(f"{w}: '{model_id}' is read as a Hugging Face hub id; ModelScope-only "
                           "ids must be downloaded and given as a local folder")
        if out_file:
            r.notes.append(f"{w}.output_file '{out_file}' does not exist (tried "
                           f"{', '.join(str(t) for t in tried)}): answers are generated and go "
                           "to the store (write files with 'arena export')")
        models.append(entry)
    return models, outputs, proc


def _model_path(r: LegacyReader, model_id: str) -> str:
    """A local model folder as an absolute path (same search as files); a hub id unchanged."""
    found, tried = r.find(model_id)
    if found is not None and found.is_dir():
        return str(found)
    if model_id.startswith((".", "/", "~")):
        return str(tried[0])  # a local folder that is missing: preflight names it
    return model_id


def _generation(r: LegacyReader, m: dict[str, Any], w: str) -> dict[str, Any]:
    gen = m.get("generation_config")
    if gen is None:
        return {}
    if not isinstance(gen, dict):
        r.errors.append(f"key '{w}.generation_config': expected a mapping, got {gen!r}")
        return {}
    params: dict[str, Any] = {}
    for k in gen:
        where = f"{w}.generation_config.{k}"
        if k in GEN_KEYS:
            v = r.get(gen, k, where, GEN_KEYS[k])
            if v is not None:
                params[k] = v
        elif k in HF_GEN_KEYS:
            r.notes.append(f"{where} is not supported; ignored")
        else:
            r.errors.append(f"unknown key '{where}'")
    return params


def _reviews(r: LegacyReader, rev: dict[str, Any], rating: dict[str, Any],
             models: list[dict[str, Any]], outputs: dict[str, str], ids: dict[str, str]
             ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], Optional[str]]:
    """(native judge section, extra models (the baseline), reference sources, baseline)."""
    enabled = r.get(rev, "enable", "reviews_gen.enable", "bool", True)
    judge: dict[str, Any] = {"enabled": enabled}
    reviewer = r.section(rev, "reviewer", "reviews_gen.reviewer", REVIEWER_KEYS)
    ref = r.get(reviewer, "ref", "reviews_gen.reviewer.ref", "str")
    if ref:
        r.notes.append(f"reviews_gen.reviewer.ref '{ref}' (a class path) cannot be honoured; "
                       "the built-in LLM judge is used")
    elif enabled:
        # The original skipped the reviews when no reviewer class was named.
        judge["enabled"] = enabled = False
        r.notes.append("reviews_gen.reviewer.ref is not set: the original skipped the reviews, "
                       "so judging is off")
    args = r.section(reviewer, "args", "reviews_gen.reviewer.args", ARGS_KEYS)
    aw = "reviews_gen.reviewer.args"
    mode = r.get(args, "mode", f"{aw}.mode", "str", "pairwise")
    if mode not in MODES:
        r.errors.append(f"key '{aw}.mode': unknown mode {mode!r}; expected one of "
                        f"{', '.join(MODES)}")
        mode = "pairwise"
    judge["mode"] = MODES[mode]
    pbm = args.get("position_bias_mitigation")
    if pbm not in POLICIES:
        r.errors.append(f"key '{aw}.position_bias_mitigation': unknown {pbm!r}; expected "
                        "swap_position, randomize_order or NULL")
        pbm = None
    judge["position_policy"] = POLICIES[pbm]
    seed = r.get(args, "random_seed", f"{aw}.random_seed", "int")
    if seed is not None:
        judge["seed"] = seed
    if mode == "single":
        judge["scale"] = "rating"
    parser = r.get(args, "fn_completion_parser", f"{aw}.fn_completion_parser", "str")
    if parser and parser != "lmsys_parser":
        r.notes.append(f"fn_completion_parser '{parser}' is not available; the strict [[A]]/"
                       "[[B]]/[[C]] parser is used")
    if r.get(args, "completion_parser_kwargs", f"{aw}.completion_parser_kwargs", "map"):
        r.notes.append(f"{aw}.completion_parser_kwargs cannot be honoured; ignored")
    if "api_key" in args:
        # Never echo the value: it is a secret.
        r.notes.append(f"{aw}.api_key is not read from configs: set OPENAI_API_KEY instead")
    judge_model = r.get(args, "model", f"{aw}.model", "str", "gpt-4")
    gen: dict[str, Any] = {}
    temperature = r.get(args, "temperature", f"{aw}.temperature", "number")
    if temperature is not None:
        gen["temperature"] = temperature
    max_tokens = r.get(args, "max_tokens", f"{aw}.max_tokens", "int")
    if max_tokens is not None:
        gen["max_new_tokens"] = max_tokens
    judge["judges"] = [{"name": judge_model, "backend": "openai", "model": judge_model,
                        "api_key_env": "OPENAI_API_KEY", **({"generation": gen} if gen else {})}]
    for k in ("prompt_file", "review_file", "cache_file"):
        if r.get(rev, k, f"reviews_gen.{k}", "str"):
            r.notes.append(f"reviews_gen.{k} is not used: prompts are the project's templates and "
                           "verdicts go to the store (write a review file with 'arena export')")
    _targets(r, rev, models, outputs)
    extra: list[dict[str, Any]] = []
    baseline = r.get(rating, "baseline_model", "rating_gen.baseline_model", "str")
    if baseline and baseline not in {m["name"] for m in models}:
        baseline = ids.get(baseline, baseline)
    bfile = r.get(rev, "baseline_file", "reviews_gen.baseline_file", "str")
    if mode == "pairwise_baseline":
        if bfile and baseline in {m["name"] for m in models}:
            r.notes.append(f"reviews_gen.baseline_file is not read: the baseline {baseline!r} "
                           "is an answers_gen model, whose answers are used")
        elif bfile:
            name = baseline or Path(bfile).stem
            if enabled:
                extra.append({"name": name, "backend": "file", "format": "evalscope",
                              "path": r.input_file(bfile, "reviews_gen.baseline_file")})
            else:
                found, tried = r.find(bfile)
                extra.append({"name": name, "backend": "file", "format": "evalscope",
                              "path": str(found or tried[0]), "enabled": found is not None})
            baseline = name
        elif not (baseline and baseline in {m["name"] for m in models}):
            r.errors.append("missing key 'reviews_gen.baseline_file': mode pairwise_baseline "
                            "needs the baseline model's answers")
    elif bfile:
        r.notes.append(f"reviews_gen.baseline_file is used only in mode pairwise_baseline; "
                       f"ignored in mode {mode}")
    if baseline and mode == "pairwise_baseline":
        judge["baseline"] = baseline
    refs: list[dict[str, Any]] = []
    rfile = r.get(rev, "reference_file", "reviews_gen.reference_file", "str")
    if rfile:
        refs.append({"file": r.input_file(rfile, "reviews_gen.reference_file")})
        r.notes.append("reviews_gen.reference_file is read as a reference-answer file of a "
                       "known shape (e.g. MT-bench reference_answer); evalscope answer-shaped "
                       "reference files cannot be read as references yet")
    return judge, extra, refs, baseline


def _targets(r: LegacyReader, rev: dict[str, Any], models: list[dict[str, Any]],
             outputs: dict[str, str]) -> None:
    """``target_answers`` is not honoured (every enabled model is reviewed): say what differs."""
    targets = r.get(rev, "target_answers", "reviews_gen.target_answers", "list")
    if targets is None:
        return
    wanted = set()
    for t in targets:
        found, tried = r.find(t)
        if found is None:
            r.notes.append(f"reviews_gen.target_answers: '{t}' not found (tried "
                           f"{', '.join(str(x) for x in tried)}); the original skipped it too")
        elif str(found) not in outputs.values():
            r.notes.append(f"reviews_gen.target_answers: {found} is no model's output_file; "
                           "add it as a backend: file model of a native config to review it")
        else:
            wanted.add(str(found))
    extra = [m["name"] for m in models if m.get("enabled", True) and
             outputs.get(m["name"]) not in wanted]
    if extra:
        r.notes.append("reviews_gen.target_answers is not honoured: every enabled model is "
                       f"reviewed, also {', '.join(extra)} (disable a model to leave it out)")


def _ratings(r: LegacyReader, rating: dict[str, Any], baseline: Optional[str]
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(native ratings section, native report section)."""
    if r.get(rating, "enable", "rating_gen.enable", "bool", True) is False:
        r.notes.append("rating_gen.enable: false is not a config switch here; run with "
                       "--stages answers,reviews to skip the ratings")
    metrics = r.get(rating, "metrics", "rating_gen.metrics", "list", ["elo"])
    methods: list[str] = []
    for i, m in enumerate(metrics):
        if m not in METRICS:
            r.errors.append(f"key 'rating_gen.metrics.{i}': unknown metric {m!r}; expected one "
                            f"of {', '.join(METRICS)}")
            continue
        methods += METRICS[m]
    ratings: dict[str, Any] = {"methods": list(dict.fromkeys(methods)) or ["bt", "elo",
                                                                          "winrate"]}
    if baseline:
        ratings["baseline"] = baseline
    report: dict[str, Any] = {}
    rfile = r.get(rating, "report_file", "rating_gen.report_file", "str")
    if rfile:
        # A file to write: the first candidate whose folder exists, else under the cwd.
        cands = r.candidates(rfile)
        target = next((c for c in cands if c.parent.is_dir()), cands[0])
        report = {"dir": str(target.parent), "name": target.stem}
        r.notes.append(f"rating_gen.report_file: reports are written as {target.stem}.md/.csv/"
                       f".json with a manifest in {target.parent}")
    return ratings, report


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
    native, notes = convert(data, path, strict_files=False)
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
