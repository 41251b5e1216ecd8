"""Before the first paid call: can every model and judge of this run actually run here?

``check_backends(specs)`` looks at each spec once and returns every problem at once (so a run
with three mistakes says all three, before any answer is paid for):

- ``openai``: the key variable named by ``api_key_env`` is set, and the endpoint answers one
  cheap request (``GET <base_url>/models``, free on every OpenAI-compatible server). A refused
  connection, a timeout or a rejected key (401 / 403) is a problem; any other reply (even 404
  from a server without that route) proves the endpoint is there.
- ``transformers``: torch and transformers import, and a model given as a local path exists
  (``arena.llm.model_source.check`` when that module is present also checks packaged and hub
  models without loading weights).
- ``file``: the answer file exists.

``require_backends`` raises ``BackendUnavailable`` with one line per problem. Nothing here
writes to the store or sends a chat request.
"""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from arena.errors import BackendUnavailable
from arena.identity import endpoint_of

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0


def check_openai(spec: Any, environ: Mapping[str, str],
                 seen: dict[tuple[str, str], Optional[str]]) -> Optional[str]:
    """The problem with an openai spec, or None. ``seen`` caches one request per endpoint."""
    key = None
    if spec.api_key_env:
        key = environ.get(spec.api_key_env)
        if not key:
            return f"{spec.name}: environment variable {spec.api_key_env} is not set"
    url = endpoint_of(spec)
    cache_key = (url, spec.api_key_env or "")
    if cache_key not in seen:
        seen[cache_key] = _probe(url, key, spec.extra_headers)
    problem = seen[cache_key]
    return f"{spec.name}: {problem}" if problem else None


def _probe(url: str, key: Optional[str], headers: Mapping[str, str]) -> Optional[str]:
    import httpx

    h = dict(headers)
    if key:
        h["Authorization"] = f"Bearer {key}"
    try:
        resp = httpx.get(url + "/models", headers=h, timeout=TIMEOUT_S)
    except httpx.ConnectError as exc:
        return f"endpoint {url} is not reachable (connection refused or no route: {exc})"
    except httpx.TimeoutException:
        return f"endpoint {url} did not answer within {TIMEOUT_S:g} s"
    except httpx.HTTPError as exc:
        return f"endpoint {url}: {type(exc).__name__}: {exc}"
    if resp.status_code in (401, 403):
        return f"endpoint {url} rejected the key (HTTP {resp.status_code})"
    return None


def check_transformers(spec: Any) -> Optional[str]:
    try:
        importlib.import_module("torch")
        importlib.import_module("transformers")
    except ImportError as exc:
        return (f"{spec.name}: backend transformers needs torch and transformers "
                f"({getattr(exc, 'name', exc)} is missing): pip install -e '.[hf]'")
    try:
        source = importlib.import_module("arena.llm.model_source")
    except ModuleNotFoundError:
        source = None
    if source is not None and hasattr(source, "check"):
        return source.check(spec)
    model = str(spec.model)
    if model.startswith((".", "/", "~")) and not Path(os.path.expanduser(model)).exists():
        return f"{spec.name}: local model folder {model} does not exist"
    return None


def check_backends(specs: Iterable[Any], environ: Optional[Mapping[str, str]] = None
                   ) -> list[str]:
    """Every problem of ``specs`` (model entries of any backend), one line each."""
    env = os.environ if environ is None else environ
    seen: dict[tuple[str, str], Optional[str]] = {}
    problems: list[str] = []
    done: set[int] = set()
    for spec in specs:
        if id(spec) in done:
            continue
        done.add(id(spec))
        backend = getattr(spec, "backend", None)
        if backend == "openai":
            p = check_openai(spec, env, seen)
        elif backend == "transformers":
            p = check_transformers(spec)
        elif backend == "file":
            p = None if Path(spec.path).is_file() else \
                f"{spec.name}: answer file {spec.path} does not exist"
        else:
            p = f"{getattr(spec, 'name', spec)}: backend {backend!r} is not built"
        if p:
            problems.append(p)
    return problems


def require_backends(specs: Iterable[Any], environ: Optional[Mapping[str, str]] = None) -> None:
    """Raise BackendUnavailable naming every problem of ``specs`` (none: return)."""
    problems = check_backends(specs, environ)
    if problems:
        raise BackendUnavailable("before any paid call, these backends cannot run:\n  " +
                                 "\n  ".join(problems))


__all__ = ["check_backends", "require_backends"]
