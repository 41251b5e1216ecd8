"""Domain rules, each defined once and imported wherever it applies (ratings, judge
statistics, format exports, the viewer and the annotation dashboard).

- ``verdict_kinds``: which verdicts count (judge kinds, failed, superseded, dry-run, gold);
- ``outcomes``: the outcome vocabulary and tie / both-bad handling: a verdict's score;
- ``preference``: fractional verdicts (AlpacaEval's convention in model terms);
- ``orders``: which two verdicts are the two display orders of one battle, and when they agree
  (order consistency);
- ``merge``: the one game two orders make under ``tie_if_inconsistent``;
- ``answer_length``: the length of the answer a verdict judged.

Rules are plain functions over values or numpy arrays; none reads the store.
"""
