#!/usr/bin/env bash
# Regenerate the measured tables of docs/performance.md (and docs/speed_accuracy.png when tools/results.sh has run): every `flownet bench`
# (widths 1.0 / 0.5 / 0.25 in fp32 and bf16, 1080p memory, training, data, interpolation, classical flow),
# JSON kept in runs/bench. About 2 minutes on the 2-core EPYC; run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
rm -rf runs/bench
"$python" tools/plot_bench.py --from runs/bench --plot docs/speed_accuracy.png --doc docs/performance.md
