"""Ratings and statistics: pure functions over numpy arrays (I/O lives in arena.leaderboard).

Modules: ``selection`` (which verdicts count; the one store query), ``battles`` (verdicts ->
games under a position policy, by the rules in ``arena.rules``), ``pairs`` (per-pair and
per-resampling-type aggregation), ``bt`` (Bradley-Terry MLE on the Elo scale), ``bootstrap``
(its seeded CIs: ``poisson`` draws, ``bt_rounds`` fits every round at O(pairs) per step),
``elo`` (online Elo), ``winrate`` (vs a baseline, AlpacaEval definitions, matrices), ``single``
(mean scores), ``length`` (length-controlled win rate with difficulty from the other models,
style-controlled BT), ``alpaca_glm`` (AlpacaEval's GLM with its instruction difficulties),
``agreement`` (judge/human agreement and its vote pairs), ``judge_stats`` (position
consistency, first-position win rate, tie rate), ``rank_table`` (rank (UB) by category),
``arenahard_board`` (arena-hard-auto's layout), ``score_tables`` (L-Eval / LongBench tables),
``views`` (the leaderboard command's extra layouts), ``report`` (tables, Markdown, CSV, JSON).
"""
