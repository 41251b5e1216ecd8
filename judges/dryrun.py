"""The dry-run judge: real answers, seeded random verdicts, judge kind ``dry-run``.

It lets the whole pipeline run end to end with no judge model. Its verdicts are reproducible
(seeded by the run's seed and each item's cache key) and are never counted in a real
leaderboard: the ratings stage only shows them in a leaderboard labelled as a dry run.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Optional

from arena.identity import fingerprint
from arena.ids import content_id
from arena.reviews import JudgeItem, base_row, cache_key
from arena.types import Mode, Outcome

OUTCOMES = [Outcome.A.value, Outcome.B.value, Outcome.TIE.value]


class DryRunJudge:
    kind = "dry-run"

    def __init__(self, seed: int = 0, score_max: int = 10) -> None:
        self.seed = seed
        self.score_max = score_max
        self.judge_id = f"dry-run:seed={seed}"
        self.fingerprint = fingerprint({"kind": self.kind, "seed": seed, "score_max": score_max})

    def template_version(self, item: JudgeItem) -> Optional[str]:
        return None

    def judge(self, items: list[JudgeItem], emit: Callable[[dict[str, Any]], None]) -> None:
        for item in items:
            rng = random.Random(content_id(self.seed, cache_key(self, item)))
            row = base_row(self, item)
            if item.mode == Mode.SINGLE.value:
                score = float(rng.randint(1, self.score_max))
                row.update(score_a=score, raw_output=f"[[{score:g}]]",
                           rationale="dry run: random score")
            else:
                outcome = rng.choice(OUTCOMES)
                row.update(outcome=outcome, raw_output=f"dry run: {outcome}",
                           rationale="dry run: random verdict")
            row["parse_status"] = "ok"
            emit(row)
