#!/usr/bin/env bash
# Regenerate the README's result tables and docs/speed_accuracy.png in one run on the real data in ../shared/data:
# every configuration of our flow pipeline beside zero flow and OpenCV's methods (EPE, s/pair), and interpolation
# PSNR/SSIM (learned synthesis and warping, on our flow and on DIS-medium's, blend, repeat).
# Usage: bash tools/results.sh [SHARED_DATA]      (out/results/results.json holds every number)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared/data}
.venv/bin/python tools/results.py --shared "$shared"
.venv/bin/python tools/plot_bench.py --results out/results --plot docs/speed_accuracy.png --only-plot
