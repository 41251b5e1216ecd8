"""``arena batches``: the Batch API batches recorded in the store, and cancelling one.

``arena batches [-c CONFIG | --db URL]`` lists every recorded batch, newest first: the
provider's batch id, the model, its status, requests (total / completed / failed), when it was
submitted, whether its results were ingested, and its cost estimate at batch prices.

``arena batches cancel ID`` cancels the batch ``ID`` (the provider's id) at its endpoint and
records the new status. Requests it had not finished return to pending: the next run (or the
run polling it, on its next attempt) submits them again; those it finished are kept. The key
is read from the environment variable named by the config's model entry for that endpoint and
model (``api_key_env``), else ``--api-key-env`` (default ``OPENAI_API_KEY``); it is never
printed. An unknown id is an error (exit 2).
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Optional

from arena.errors import ArenaError, ConfigError
from arena.llm import batch_store


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batches", help="Batch API batches: list, cancel")
    p.add_argument("action", nargs="?", choices=["list", "cancel"], default="list")
    p.add_argument("batch_id", nargs="?", help="cancel: the provider's batch id")
    p.add_argument("--db", "--store", dest="db", help="store URL (overrides ARENA_DB and the "
                   "config)")
    p.add_argument("-c", "--config", help="config whose store.url (and model keys) to use")
    p.add_argument("--api-key-env", default=None,
                   help="cancel: environment variable holding the key when no config entry "
                        "names one (default OPENAI_API_KEY)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from arena.config import load_config
    from arena.store import open_store

    cfg = load_config(args.config).config if args.config else None
    store = open_store(args.db, cfg.store.url if cfg else None)
    try:
        if args.action == "cancel":
            if not args.batch_id:
                raise ConfigError("arena batches cancel needs the batch id (see arena batches)")
            print(cancel(store, args.batch_id, cfg=cfg, key_env=args.api_key_env))
        else:
            print(render(batch_store.list_batches(store)))
    finally:
        store.close()
    return 0


def render(rows: list[batch_store.BatchRow]) -> str:
    if not rows:
        return "no batches recorded"
    head = ("batch", "model", "status", "requests", "done", "failed", "submitted", "ingested",
            "cost USD")
    lines = [head]
    for r in rows:
        lines.append((r.provider_batch_id, r.model, r.status, str(r.request_count),
                      str(r.completed), str(r.failed),
                      r.submitted_at.strftime("%Y-%m-%d %H:%M:%S"),
                      "yes" if r.ingested_at else "no",
                      f"{r.cost:.4f}" if r.cost is not None else "-"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in lines)


def _key_for(row: batch_store.BatchRow, cfg: Any, key_env: Optional[str]) -> str:
    from arena.identity import endpoint_of

    env_name: Optional[str] = key_env
    if env_name is None and cfg is not None:
        for m in [*cfg.models, *cfg.judge.judges]:
            if getattr(m, "backend", None) == "openai" and m.model == row.model and \
                    endpoint_of(m) == row.endpoint:
                if m.api_key_env is None:
                    return "EMPTY"
                env_name = m.api_key_env
                break
    env_name = env_name or "OPENAI_API_KEY"
    key = os.environ.get(env_name)
    if not key:
        raise ArenaError(f"cannot cancel batch {row.provider_batch_id}: environment variable "
                         f"{env_name} (the key for {row.endpoint}) is not set")
    return key


def cancel(store: Any, provider_batch_id: str, *, cfg: Any = None,
           key_env: Optional[str] = None) -> str:
    """Cancel at the provider and record it; returns the line to print."""
    import openai

    row = batch_store.find(store, provider_batch_id)
    if row is None:
        raise ConfigError(f"no batch {provider_batch_id!r} recorded in this store "
                          f"(arena batches lists them)")
    if row.terminal:
        return f"batch {provider_batch_id} is already {row.status}: nothing to cancel"
    if batch_store.is_placeholder(row.provider_batch_id):
        raise ArenaError(f"batch {provider_batch_id}: its run stopped before the provider "
                         f"confirmed it, so it has no provider id yet; the next run of its "
                         f"config looks it up (by input file) and then it can be cancelled")
    client = openai.OpenAI(api_key=_key_for(row, cfg, key_env), base_url=row.endpoint,
                           max_retries=2)
    try:
        b = client.batches.cancel(provider_batch_id)
    except openai.APIError as exc:
        raise ArenaError(f"cancelling batch {provider_batch_id} at {row.endpoint}: "
                         f"{exc}") from None
    finally:
        client.close()
    counts = b.request_counts
    batch_store.update_status(store, row.id, status=b.status,
                              completed=counts.completed if counts else row.completed,
                              failed=counts.failed if counts else row.failed,
                              output_file_id=b.output_file_id, error_file_id=b.error_file_id,
                              reason="cancelled by arena batches cancel")
    return (f"batch {provider_batch_id}: {b.status}; its unfinished requests return to "
            f"pending (the next run submits them again)")


__all__ = ["add_parser", "render", "cancel"]
