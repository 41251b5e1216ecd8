"""GGUF weights, de-quantized once and cached, so the second run loads a model in seconds.

transformers loads a GGUF file (``from_pretrained(folder, gguf_file=...)``, needs the ``gguf``
package) by de-quantizing every tensor and converting its tokenizer, which takes tens of
seconds even for a 135M model on a laptop. ``save_pretrained`` refuses such a model ("not
serializable"), so the cache is written directly: the state dict with ``safetensors`` (shared,
tied tensors once), ``config.json`` without the GGUF ``quantization_config``, the generation
config and the tokenizer files. The entry is a plain transformers folder, loaded with
``from_pretrained(entry)``.

Entries live in ``<cache_root>/dequantized/<sha256 of the GGUF file>`` (``cache_root`` from
``arena.llm.model_source``) and are written into a temporary folder that is renamed into place
when complete, so a killed first run leaves no half entry (and two processes writing the same
entry both succeed; one rename wins). The file's hash is remembered per (path, size, mtime) in
``<cache_root>/hashes.json`` so a rerun does not hash hundreds of megabytes again.

``load(source, dtype=..., device_map=..., trust_remote_code=...)`` returns
``(tokenizer, model, from_cache)``. A corrupt entry (a load that fails) is removed and rebuilt
from the GGUF file. Errors loading the GGUF file itself propagate to the caller (the provider
turns them into ``BackendUnavailable``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from arena.llm.model_source import ModelSource, cache_root

log = logging.getLogger(__name__)

MARKER = "arena-cache.json"  # written last: an entry without it is incomplete


def _hash_memo_path() -> Path:
    return cache_root() / "hashes.json"


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) across runs."""
    path = Path(path).resolve()
    st = path.stat()
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    memo_path = _hash_memo_path()
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    if isinstance(memo, dict) and isinstance(memo.get(key), str):
        return memo[key]
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    sha = digest.hexdigest()
    memo = memo if isinstance(memo, dict) else {}
    memo[key] = sha
    try:
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_path.with_name(f".hashes.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo, indent=0, sort_keys=True), encoding="utf-8")
        os.replace(tmp, memo_path)
    except OSError:  # a read-only cache only costs the hash next time
        log.debug("cannot write %s", memo_path, exc_info=True)
    return sha


def entry_dir(sha: str) -> Path:
    return cache_root() / "dequantized" / sha[:32]


def _gguf_path(source: ModelSource) -> Path:
    if source.gguf_path is not None:
        return source.gguf_path
    # A hub repo's GGUF file: download it (or find it in the hub cache) to hash it.
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(source.location, source.gguf_file,
                                local_files_only=source.local_files_only))


def load(source: ModelSource, *, dtype: Any, device_map: Optional[str] = None,
         trust_remote_code: bool = False) -> tuple[Any, Any, bool]:
    """(tokenizer, model, from_cache) for a GGUF source; see the module docstring."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gpath = _gguf_path(source)
    entry = entry_dir(file_sha256(gpath))
    if (entry / MARKER).is_file():
        try:
            tok = AutoTokenizer.from_pretrained(str(entry))
            model = AutoModelForCausalLM.from_pretrained(str(entry), dtype=dtype,
                                                         device_map=device_map)
            return tok, model, True
        except (OSError, ValueError) as exc:
            log.warning("de-quantized cache %s is unreadable (%s); rebuilding it", entry, exc)
            shutil.rmtree(entry, ignore_errors=True)
    import torch

    t0 = time.perf_counter()
    kw = {"gguf_file": gpath.name, "trust_remote_code": trust_remote_code}
    tok = AutoTokenizer.from_pretrained(str(gpath.parent), **kw)
    # De-quantized to float32 (what the cache stores); cast afterwards when asked.
    model = AutoModelForCausalLM.from_pretrained(str(gpath.parent), dtype=torch.float32, **kw)
    log.info("de-quantized %s in %.1f s", gpath.name, time.perf_counter() - t0)
    try:
        write_entry(entry, model, tok, source_file=gpath)
    except OSError as exc:  # a full or read-only disk: run without the cache
        log.warning("cannot write the de-quantized cache %s: %s", entry, exc)
    if isinstance(dtype, torch.dtype) and dtype != torch.float32:
        model = model.to(dtype)
    return tok, model, False


def write_entry(entry: Path, model: Any, tok: Any, *, source_file: Path) -> None:
    """Write ``model`` and ``tok`` as a plain transformers folder at ``entry`` (atomically)."""
    import transformers
    from safetensors.torch import save_model

    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    try:
        t0 = time.perf_counter()
        save_model(model, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        # The GGUF quantization_config would make from_pretrained look for a GGUF file.
        model.config.__dict__.pop("quantization_config", None)
        model.config.save_pretrained(str(tmp))
        gen = getattr(model, "generation_config", None)
        if gen is not None:
            gen.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        (tmp / MARKER).write_text(json.dumps({
            "source_file": str(source_file), "transformers": transformers.__version__,
            "written": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=1), encoding="utf-8")
        try:
            os.replace(tmp, entry)
        except OSError:
            if (entry / MARKER).is_file():  # another process finished the same entry first
                shutil.rmtree(tmp, ignore_errors=True)
                return
            raise
        log.info("cached the de-quantized model in %s (%.1f s)", entry,
                 time.perf_counter() - t0)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
