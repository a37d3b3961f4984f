#!/usr/bin/env bash
# The GPU check (issue 27): one paper-scale job end to end on CUDA, beside the 2-core CPU's time for
# the same job at quick, its results checked against the CPU's in direction. Run it from a checkout
# whose environment is installed (`make env`); arguments go to benchmarks/gpu_check.py (--device cpu
# --scale smoke: a dry run without a GPU). The report is printed and left in build/gpu-check/report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
exec timeout 900 "$PY" -m benchmarks.gpu_check "$@"
