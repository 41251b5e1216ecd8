"""Benchmark: import 100,000 AlpacaEval-shaped annotations (goal: <= 10 s on SQLite).

Usage: python bench/formats.py [--n 100000] [--db URL]

Writes an annotations.json of N records (800 instructions x N/800 generators against one
baseline, outputs of a few hundred characters, a few missing preferences and self-battles)
to a temporary folder, imports it into a fresh store (a temporary SQLite file unless --db
names one; a PostgreSQL URL gets its own schema, dropped afterwards), then imports it again
(nothing new). Prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arena import formats  # noqa: E402
from arena.store import Store  # noqa: E402

WORDS = ("model answer text with some words about the instruction and a few details "
         "that make it long enough to look like a real completion").split()


def make_file(folder: Path, n: int, seed: int = 0) -> Path:
    rnd = random.Random(seed)
    n_inst = 800
    n_gen = max(1, -(-n // n_inst))
    insts = [f"Instruction {i}: " + " ".join(rnd.choices(WORDS, k=12)) for i in range(n_inst)]
    rows = []
    for g in range(n_gen):
        for i, inst in enumerate(insts):
            if len(rows) == n:
                break
            gen = f"model-{g:03d}" if (g * n_inst + i) % 997 else "baseline"  # a few self-battles
            pref = rnd.choice([1.0, 2.0, 1.5, rnd.random() + 1.0])
            rows.append({"instruction": inst,
                         "output_1": "baseline says " + " ".join(rnd.choices(WORDS, k=60)),
                         "generator_1": "baseline", "dataset": "helpful_base",
                         "output_2": f"{gen} says " + " ".join(rnd.choices(WORDS, k=60)),
                         "generator_2": gen, "annotator": "weighted_alpaca_eval_gpt4_turbo",
                         "preference": None if rnd.random() < 0.005 else pref,
                         "price_per_example": 0.0, "time_per_example": 1.0,
                         "raw_completion": {"content": "m"}})
    path = folder / "annotations.json"
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return path


def open_store(url: str | None, folder: Path) -> tuple[Store, object]:
    if not url:
        return Store.open(f"sqlite:///{folder / 'bench.db'}"), None
    if url.startswith("postgresql"):
        import sqlalchemy as sa

        schema = "bench_" + uuid.uuid4().hex[:10]
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in url else "?"
        return Store.open(f"{url}{sep}options=-csearch_path%3D{schema}"), (admin, schema)
    return Store.open(url), None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--db", help="store URL (default: a temporary SQLite file)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        path = make_file(folder, args.n)
        print(f"wrote {args.n} annotations ({path.stat().st_size / 1e6:.1f} MB) in "
              f"{time.perf_counter() - t0:.1f} s")
        store, cleanup = open_store(args.db, folder)
        try:
            print(f"store: {store.dialect}")
            t0, c0 = time.perf_counter(), time.process_time()
            with store.begin() as conn:
                s = formats.import_file(conn, path)
            first = time.perf_counter() - t0
            cpu = time.process_time() - c0
            print(f"import: {s} in {first:.2f} s wall, {cpu:.2f} s CPU of this process "
                  f"({args.n / first:,.0f} annotations/s); load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            for note in s.notes[1:]:
                print("  " + note)
            t0, c0 = time.perf_counter(), time.process_time()
            with store.begin() as conn:
                s = formats.import_file(conn, path)
            print(f"re-import (nothing new): {s} in {time.perf_counter() - t0:.2f} s wall, "
                  f"{time.process_time() - c0:.2f} s CPU")
            if store.dialect == "sqlite":
                print(f"goal <= 10 s on SQLite: {'met' if first <= 10 else 'NOT met'} "
                      f"({first:.2f} s)")
        finally:
            store.close()
            if cleanup:
                admin, schema = cleanup  # type: ignore[misc]
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
