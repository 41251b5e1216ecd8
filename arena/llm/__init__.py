"""Model calls: one provider per backend, one wrapper around all of them.

- ``types``: the contract (``ChatRequest`` -> ``ChatResult``, ``Provider``, ``CallError``);
- ``runner``: ``CallRunner`` (concurrency, RPM/TPM, retries, timeouts, budget, progress);
- ``limits``: rate limiters, the budget and the before-the-run estimate;
- ``openai_provider`` / ``fast_http``: OpenAI-compatible endpoints (official client / lean path);
- ``transformers_provider``: local models, batched;
- ``batch_provider`` / ``batch_store`` / ``batch_cli``: OpenAI's Batch API (``batch: true``):
  requests collected into input files, batches recorded in the store for resume,
  ``arena batches``;
- ``factory``: model entry -> provider (``BackendUnavailable`` says what to set).

Nothing here reads the environment or opens a connection at import time. One thing is set:
``OMP_WAIT_POLICY=PASSIVE`` (unless the environment already sets it) before torch can be
imported through this package. With OpenMP's default, threads spin while they wait for work; on
a machine whose cores are shared with other processes (a laptop, CI, a cluster node) a spinning
thread that is descheduled stalls every parallel region: measured here, batched generation of
a 135M model with 2 threads on 2 busy cores took 236 s by default and 9.5 s with PASSIVE.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
