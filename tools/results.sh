#!/usr/bin/env bash
# Regenerate the README's result tables, docs/speed_accuracy.png and docs/interp_examples.png in one run on the real
# data in ../shared/data: every configuration of our flow pipeline beside zero flow and OpenCV's methods (EPE,
# s/pair), interpolation PSNR/SSIM (learned synthesis and warping, on our flow and on DIS-medium's, blend, repeat,
# ffmpeg's minterpolate) and middle frames (blend, warp, learned, truth).
# Usage: bash tools/results.sh [SHARED_DATA]      (out/results/results.json holds every number)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared/data}
.venv/bin/python tools/results.py --shared "$shared"
.venv/bin/python tools/interp_figure.py --shared "$shared"
.venv/bin/python tools/plot_bench.py --results out/results --plot docs/speed_accuracy.png --only-plot
