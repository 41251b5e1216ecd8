"""The generation benchmarks still run (tiny loads) and the local one needs only torch +
transformers (it is run on machines without the project's other dependencies)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generate_local_imports_only_torch_and_transformers() -> None:
    tree = ast.parse((ROOT / "bench" / "generate_local.py").read_text())
    top = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            top.add(node.module.split(".")[0])
    third_party = top - set(sys.stdlib_module_names) - {"__future__"}
    assert third_party == {"torch", "transformers"}


def test_generate_local_runs_tiny() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "generate_local.py"), "--shape",
                          "tiny", "--device", "cpu", "--prompts", "4", "--prompt-len", "8",
                          "--new-tokens", "3", "--batch-size", "4", "--single", "1"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    for label in ("one at a time", "batch 4, default cache", "batch 4, static cache"):
        assert label in out.stdout
    assert "failed" not in out.stdout


def test_generate_api_runs_small_load() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "generate_api.py"), "--latency",
                          "0.01", "--loads", "40x8"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line.split() for line in out.stdout.splitlines() if line.startswith(
        ("arena", "threads"))]
    assert [r[0] for r in rows] == ["arena", "arena-openai", "threads"]
    assert all(r[-1] == "40" for r in rows)  # every request answered
