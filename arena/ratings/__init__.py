"""Ratings and statistics: pure functions over numpy arrays (I/O lives in arena.leaderboard).

Modules: ``selection`` (which verdicts count; the one store query), ``battles`` (verdicts ->
games under a position policy), ``bt`` (Bradley-Terry MLE on the Elo scale) and ``bootstrap``
(its seeded CIs), ``elo`` (online Elo), ``winrate`` (vs a baseline, AlpacaEval definitions,
matrices), ``single`` (mean scores), ``length`` (length-controlled win rate, style-controlled
BT), ``agreement`` (judge/human agreement), ``judge_stats`` (position consistency,
first-position win rate, tie rate), ``report`` (tables, Markdown, CSV, JSON).
"""
