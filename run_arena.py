#!/usr/bin/env python
"""Run the arena: ``python run_arena.py -c registry/config/cfg_arena.yaml [--dry-run]``.

Thin entry point; the work is in ``arena.pipeline``.
"""

import sys

from arena.pipeline import main

if __name__ == "__main__":
    sys.exit(main())
