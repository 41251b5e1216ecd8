#!/usr/bin/env bash
# Install everything the arena and its tests need: a virtual environment in .venv with the
# package and its extras (hf = torch + transformers, viz = streamlit, dev = test tools), and,
# where we can (root with apt), Debian's chromium for the browser tests.
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
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# torch is pinned to the CPU-capable release in the hf extra; pip takes it from a local wheel
# where one is provided (find-links), otherwise from PyPI.
.venv/bin/python -m pip install -q -e ".[hf,viz,dev]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import arena, torch, transformers, flask, streamlit; print('installed arena', arena.__version__)"
