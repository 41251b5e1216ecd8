"""Battle browser: ``streamlit run viz.py -- [-c CONFIG] [--db URL]``.

Also reads evalscope's review / battle files without a store:
``streamlit run viz.py -- --review-file battle.jsonl --category-file category_mapping.yaml``.
Reads the store, never writes it. Served on 127.0.0.1 by the ``.streamlit/config.toml`` next to
this file. See docs/viewer.md.
"""

import sys

from streamlit.runtime.scriptrunner import get_script_run_ctx

if get_script_run_ctx(suppress_warning=True) is None:  # `python viz.py`: there is no page to draw into
    print("the battle browser is a Streamlit app: run it with\n"
          "  streamlit run viz.py -- [-c CONFIG] [--db URL] [--review-file FILE] "
          "[--category-file FILE]", file=sys.stderr)
    sys.exit(2)

from arena.viz.app import main  # noqa: E402

main()
