"""Pausing Python's cyclic garbage collector around bulk loads.

An import or a verdict load allocates millions of short-lived tuples, strings and dicts and no
reference cycles; the collector's repeated passes over them cost 20-40 % of the load.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def no_gc() -> Iterator[None]:
    """Disable the cyclic collector for the block; its previous state is restored on the way
    out, errors included."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
