"""The battle browser behind ``streamlit run viz.py`` (see docs/viewer.md).

Modules, lowest first: ``options`` (arguments after ``--``, the store URL by the one
resolver), ``data`` (store reads, no Streamlit), ``timing`` (server-side phases of a run),
``cache`` (Streamlit caching keyed by the store's change marker), ``review_file`` /
``categories`` (evalscope's review and category files), ``render`` (the one import site of the
sanitiser, viewer CSS, names as plain text) and ``show`` (drawing untrusted text),
``filters`` (battles as unordered pairs, their flags from the leaderboard's merge of the two
orders, the filters), ``games`` (one battle's Game 1 / Game 2 per judge), ``rank_table``
(the Chatbot Arena category board), ``single_tables`` (evalscope's per-category score
table), ``ratings_view`` (which verdicts a page sees: a config's run scope or boards per judge
fingerprint, via ``arena.scope`` / ``arena.leaderboard``), ``context`` (what pages receive,
URL-synced widgets), ``battle_view`` (drawing one battle), ``serving`` (how the server was
started), ``app`` (the script body) and ``pages`` (one module per page).
Streamlit and plotly are imported only by the modules that draw.
"""
