"""Characters per turn of the answers that verdicts judged (length control, style BT, the
viewer), measured by the rule in ``arena.rules.answer_length``: Python's ``len`` of each turn's
text, 0 for a turn that is not text; a verdict on turn t (1-based) reads turn t, a verdict on
the whole dialogue (or on a turn the answer does not have) the sum; an answer that is unknown
or has no turns gives NaN.

Speed: most answers are measured in the database, turn by turn, so no answer text is
transferred or decoded in Python. That is exact only where the database decodes the JSON
text the same way Python does, so the database measures an answer only when its stored JSON
is an array of strings/nulls without any ``\\u`` escape (surrogate pairs and ``\\u0000`` are
where SQLite's and PostgreSQL's decoders differ from Python's, or fail); every other answer
is fetched and measured in Python exactly as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
import numpy as np
from sqlalchemy import Connection, func, select

from arena.ratings.columns import fetch_tuples
from arena.rules.answer_length import turn_lengths
from arena.store.schema import Answer

# One row per turn of every answer: (answer id, turn, characters, measurable). "Measurable"
# = an array element that is a string or null in stored JSON text without any \u escape;
# anything else (objects, scalars, numbers, escapes) is measured in Python instead.
_PER_TURN = {
    "sqlite": ("SELECT a.id, e.key, length(e.value), instr(a.turns, '\\u') = 0 "
               "AND typeof(e.key) = 'integer' AND e.type IN ('text', 'null') "
               "FROM answers a, json_each(a.turns) AS e"),
    # a non-array becomes one unmeasurable row, so that it is noticed and handed to Python;
    # the length is taken only without escapes (\u0000 cannot become text in PostgreSQL)
    "postgresql": ("SELECT a.id, e.ord - 1, CASE WHEN strpos(a.turns::text, '\\u') = 0 "
                   "THEN length(e.value #>> '{}') END, strpos(a.turns::text, '\\u') = 0 "
                   "AND json_typeof(a.turns::json) = 'array' AND json_typeof(e.value) IN "
                   "('string', 'null') FROM answers a CROSS JOIN LATERAL json_array_elements("
                   "CASE WHEN json_typeof(a.turns::json) = 'array' THEN a.turns::json "
                   "ELSE '[null]'::json END) WITH ORDINALITY AS e(value, ord)"),
}
_ALL = "SELECT a.id, a.turns FROM answers a"
_CHUNK = 5000


def _id_list(ids: np.ndarray) -> str:
    return ", ".join(str(int(i)) for i in ids)  # integers: safe to inline


def _python_lengths(rows: list[tuple]) -> list[tuple[int, int, int]]:
    """(answer id, turn index, characters) of answers fetched whole: the rule itself."""
    out = []
    for aid, turns in rows:
        if isinstance(turns, (str, bytes)):
            turns = json.loads(turns)
        per = turn_lengths(turns)
        out.extend((int(aid), t, x) for t, x in enumerate(per or []))
    return out


@dataclass
class AnswerLengths:
    """Per-turn lengths of a set of answers, flattened: answer ``ids[k]`` has turns
    ``flat[start[k]:start[k] + turns[k]]`` and ``total[k]`` characters in all."""

    ids: np.ndarray
    start: np.ndarray
    turns: np.ndarray
    total: np.ndarray
    flat: np.ndarray

    @classmethod
    def fetch(cls, conn: Connection, wanted: np.ndarray) -> "AnswerLengths":
        """Lengths of the answers ``wanted`` (ids; others may come along). Raises only on
        database errors (and on stored JSON that is not JSON, as an ORM read would)."""
        wanted = np.unique(wanted[wanted >= 0])
        stored = conn.execute(select(func.count()).select_from(Answer.__table__)).scalar_one()
        # most answers judged (the usual case): one pass over the table beats id lists
        where = [""] if 2 * len(wanted) >= stored else \
            [f" WHERE a.id IN ({_id_list(wanted[s:s + _CHUNK])})"
             for s in range(0, len(wanted), _CHUNK)]
        sql = _PER_TURN.get(conn.dialect.name)
        if sql is None:
            return cls.from_triples([x for w in where
                                     for x in _python_lengths(fetch_tuples(conn, _ALL + w))])
        rows = [r for w in where for r in fetch_tuples(conn, sql + w)]
        odd = np.array(sorted({int(r[0]) for r in rows if not r[3]}), dtype=np.int64)
        odd_set = set(odd.tolist())
        triples = [(int(a), int(t), int(x or 0)) for a, t, x, _ok in rows if a not in odd_set]
        for s in range(0, len(odd), _CHUNK):
            triples += _python_lengths(fetch_tuples(
                conn, f"{_ALL} WHERE a.id IN ({_id_list(odd[s:s + _CHUNK])})"))
        return cls.from_triples(triples)

    @classmethod
    def from_triples(cls, triples: list[tuple[int, int, int]]) -> "AnswerLengths":
        if not triples:
            z = np.zeros(0, dtype=np.int64)
            return cls(z, z, z, z, z)
        a, t, x = (np.array(col, dtype=np.int64) for col in zip(*triples))
        order = np.lexsort((t, a))
        a, x = a[order], x[order]
        ids, start, turns = np.unique(a, return_index=True, return_counts=True)
        total = np.add.reduceat(x, start)
        return cls(ids, start, turns, total, x)

    def lengths(self, answer: np.ndarray, turn: np.ndarray) -> np.ndarray:
        """Characters judged per verdict: ``answer`` ids (-1 = none), ``turn`` (1-based as
        judgments store it; -1 = the whole dialogue), by ``arena.rules.answer_length``."""
        out = np.full(len(answer), np.nan)
        if len(self.ids) == 0 or len(answer) == 0:
            return out
        pos = np.minimum(np.searchsorted(self.ids, answer), len(self.ids) - 1)
        found = (self.ids[pos] == answer) & (answer >= 0)
        pos = pos[found]
        t = turn[found].astype(np.int64) - 1  # 1-based turn -> index
        nt = self.turns[pos]
        one = (t >= 0) & (t < nt)
        val = self.total[pos].astype(np.float64)
        val[one] = self.flat[self.start[pos[one]] + t[one]]
        out[found] = val
        return out


def answer_lengths(conn: Connection, answers: list[np.ndarray], turn: np.ndarray
                   ) -> list[np.ndarray]:
    """For each array of answer ids in ``answers`` (-1 = none), the characters judged."""
    ids = [np.asarray(a, dtype=np.int64) for a in answers]
    table = AnswerLengths.fetch(conn, np.concatenate(ids) if ids else np.zeros(0, np.int64))
    return [table.lengths(a, turn) for a in ids]


__all__ = ["AnswerLengths", "answer_lengths"]
