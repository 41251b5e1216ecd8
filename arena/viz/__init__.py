"""The battle browser behind ``streamlit run viz.py`` (see docs/viewer.md).

Modules: ``options`` (lenient argv, store URL by the one resolver), ``data`` (store reads,
no Streamlit), ``cache`` (Streamlit caching keyed by store URL + change marker),
``review_file`` / ``categories`` (the original viewer's input), ``filters`` (battle list,
disagreement flags), ``render`` / ``show`` (safe rendering of untrusted text),
``ratings_view`` (which verdicts the rating functions see), ``context`` (what pages receive,
URL-synced widgets), ``app`` (the script body) and ``pages`` (one module per page).
Streamlit and plotly are imported only by the modules that draw.
"""
