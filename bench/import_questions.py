"""bench/import: time to import 100,000 questions, and a rerun with nothing new.

Prints figures for SQLite (a fresh file) and, with --pg URL, PostgreSQL (a fresh schema).
Goal: <= 10 s for the import and <= 3 s for the rerun on SQLite.

    .venv/bin/python bench/import_questions.py [--n 100000] [--pg postgresql+psycopg://root@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arena import formats  # noqa: E402
from arena.store import Store  # noqa: E402


def write_questions(path: Path, n: int) -> None:
    cats = ["writing", "math", "coding", "reasoning"]
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"question_id": i, "text": f"Question {i}: explain item {i * 7}.",
                                "category": cats[i % 4]}) + "\n")


def one(url: str, path: Path) -> tuple[float, float]:
    store = Store.open(url)
    t0 = time.perf_counter()
    with store.begin() as conn:
        s1 = formats.import_questions(conn, path, "evalscope", "bench")
    t1 = time.perf_counter()
    with store.begin() as conn:
        s2 = formats.import_questions(conn, path, "evalscope", "bench")
    t2 = time.perf_counter()
    store.close()
    assert s1.inserted > 0 and s2.inserted == 0, (s1, s2)
    return t1 - t0, t2 - t1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pg", help="PostgreSQL URL; each repeat uses a fresh schema")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "question.jsonl"
        write_questions(path, args.n)
        runs = []
        for r in range(args.repeat):
            runs.append(one(f"sqlite:///{tmp}/bench{r}.db", path))
        imp = statistics.median(x for x, _ in runs)
        re_ = statistics.median(y for _, y in runs)
        print(f"sqlite     import {args.n:,} questions: median {imp:.2f} s "
              f"(goal <= 10 s); rerun nothing new: median {re_:.2f} s (goal <= 3 s); "
              f"runs {[(round(a, 2), round(b, 2)) for a, b in runs]}")
        if args.pg:
            import sqlalchemy as sa

            runs = []
            admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
            for _ in range(args.repeat):
                schema = "bench_" + uuid.uuid4().hex[:8]
                with admin.connect() as c:
                    c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
                sep = "&" if "?" in args.pg else "?"
                try:
                    runs.append(one(f"{args.pg}{sep}options=-csearch_path%3D{schema}", path))
                finally:
                    with admin.connect() as c:
                        c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            imp = statistics.median(x for x, _ in runs)
            re_ = statistics.median(y for _, y in runs)
            print(f"postgresql import {args.n:,} questions: median {imp:.2f} s; rerun nothing "
                  f"new: median {re_:.2f} s; runs {[(round(a, 2), round(b, 2)) for a, b in runs]}")


if __name__ == "__main__":
    main()
