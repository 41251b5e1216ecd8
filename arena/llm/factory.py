"""Model entry (``arena.config.OpenAIModel`` / ``TransformersModel``) -> provider.

``make_provider(spec)`` raises :class:`arena.errors.BackendUnavailable` with a message saying
what to set when the backend cannot run here:

- ``openai``: the ``openai`` package is missing, or the environment variable named by
  ``api_key_env`` is unset (``api_key_env: null`` for endpoints without keys, e.g. a local vLLM);
- ``transformers``: torch/transformers are missing (``pip install -e .[hf]``), or the model
  cannot be loaded (no network and not in the cache, a missing folder, a bad revision).

Keys are read from the environment here, when a run starts; never at import time and never
stored in the provider's repr, logs or outputs.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional

from arena.errors import BackendUnavailable
from arena.llm.limits import PriceTable
from arena.llm.types import Provider

# Local servers (vLLM, SGLang, llama.cpp) usually ignore the key but the client wants one.
NO_KEY = "EMPTY"


def make_provider(spec: Any, *, environ: Optional[Mapping[str, str]] = None,
                  store: Any = None) -> Provider:
    """Build the provider for one model entry; see the module docstring for failures.

    An ``openai`` entry with ``batch`` gets an ``arena.llm.batch_provider.BatchProvider``;
    ``store`` is where it records its batches (for resume; without it nothing is recorded)."""
    backend = getattr(spec, "backend", None)
    if backend == "openai":
        return _openai(spec, os.environ if environ is None else environ, store)
    if backend == "transformers":
        return _transformers(spec)
    raise BackendUnavailable(f"model {getattr(spec, 'name', spec)!r}: backend {backend!r} does "
                             f"not generate answers (use openai or transformers)")


def price_of(spec: Any) -> Optional[PriceTable]:
    """The entry's prices (None without ``price``). A ``batch`` entry gets its Batch API
    prices: ``price.batch_*_per_mtok``, or half the ordinary ones where unset."""
    p = getattr(spec, "price", None)
    if p is None:
        return None
    if getattr(spec, "batch_settings", None) is not None:
        return PriceTable(
            p.batch_input_per_mtok if p.batch_input_per_mtok is not None
            else p.input_per_mtok / 2,
            p.batch_output_per_mtok if p.batch_output_per_mtok is not None
            else p.output_per_mtok / 2, batch=True)
    return PriceTable(p.input_per_mtok, p.output_per_mtok)


def _openai(spec: Any, env: Mapping[str, str], store: Any = None) -> Provider:
    try:
        import openai  # noqa: F401 - only checking that it is installed
    except ImportError:
        raise BackendUnavailable(f"model {spec.name!r}: backend openai needs the 'openai' "
                                 f"package: pip install openai") from None
    if spec.api_key_env:
        key = env.get(spec.api_key_env)
        if not key:
            where = f" for {spec.base_url}" if spec.base_url else ""
            raise BackendUnavailable(
                f"model {spec.name!r}: environment variable {spec.api_key_env} is not set; set "
                f"it to the API key{where}, or set api_key_env to the variable that holds the "
                f"key (api_key_env: null for endpoints without keys), or disable the model "
                f"(enabled: false)")
    else:
        key = NO_KEY
    batch = getattr(spec, "batch_settings", None)
    if batch is not None:
        from arena.llm.batch_provider import BatchProvider

        return BatchProvider(spec.name, spec.model, api_key=key, base_url=spec.base_url,
                             settings=batch, store=store, price=price_of(spec),
                             extra_headers=spec.extra_headers, extra_body=spec.extra_body,
                             max_tokens_param=spec.max_tokens_param)
    if use_fast_http(spec, env):
        from arena.llm.fast_http import FastHTTPProvider

        return FastHTTPProvider(spec.name, spec.model, api_key=key, base_url=spec.base_url,
                                extra_headers=spec.extra_headers, extra_body=spec.extra_body,
                                max_tokens_param=spec.max_tokens_param)
    from arena.llm.openai_provider import OpenAIProvider

    return OpenAIProvider(spec.name, spec.model, api_key=key, base_url=spec.base_url,
                          extra_headers=spec.extra_headers, extra_body=spec.extra_body,
                          max_tokens_param=spec.max_tokens_param)


def use_fast_http(spec: Any, env: Mapping[str, str]) -> bool:
    """``http_client``: fast / openai, or auto = fast for plain http:// endpoints (self-hosted
    servers where hundreds of calls are in flight) when no HTTP proxy is configured, the
    official client for the rest."""
    choice = getattr(spec, "http_client", "openai")
    if choice == "fast":
        if not spec.base_url:
            raise BackendUnavailable(f"model {spec.name!r}: http_client fast needs base_url")
        return True
    proxied = any(env.get(v) for v in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"))
    return (choice == "auto" and bool(spec.base_url) and spec.base_url.startswith("http://")
            and not proxied)


def _transformers(spec: Any) -> Provider:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailable(
            f"model {spec.name!r}: backend transformers needs torch and transformers "
            f"({exc.name} is missing): pip install -e '.[hf]'") from None
    from arena.llm.transformers_provider import TransformersProvider

    return TransformersProvider.from_spec(spec)
