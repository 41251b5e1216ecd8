"""Battle browser: ``streamlit run viz.py -- [-c CONFIG] [--db URL]``.

Also reads the original viewer's input:
``streamlit run viz.py -- --review-file battle.jsonl --category-file category_mapping.yaml``.
Reads the store, never writes it. See README.md, "Battle browser".
"""

from arena.viz.app import main

main()
