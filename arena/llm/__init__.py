"""Model calls: one provider per backend, one wrapper around all of them.

- ``types``: the contract (``ChatRequest`` -> ``ChatResult``, ``Provider``, ``CallError``);
- ``runner``: ``CallRunner`` (concurrency, RPM/TPM, retries, timeouts, budget, progress);
- ``limits``: rate limiters, the budget and the before-the-run estimate;
- ``openai_provider`` / ``fast_http``: OpenAI-compatible endpoints (official client / lean path);
- ``transformers_provider``: local models, batched;
- ``factory``: model entry -> provider (``BackendUnavailable`` says what to set).

Nothing here reads the environment or opens a connection at import time.
"""
