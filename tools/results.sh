#!/usr/bin/env bash
# Regenerate the README's accuracy tables with the project's own commands on the real data in ../shared/data:
# flow EPE (shipped model, zero flow, OpenCV DIS and Farneback) and interpolation PSNR/SSIM.
# Usage: bash tools/results.sh [SHARED_DATA]      (JSON files go to out/results/; then docs/speed_accuracy.png is
# drawn from them, so that the plot shows the table's numbers)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared/data}
flownet=.venv/bin/flownet
out=out/results
mkdir -p "$out"
[ -d "$shared" ] || { echo "no $shared: the real evaluation data is not here" >&2; exit 1; }

for data in flyingchairs middlebury; do
  echo "== flow, $data"
  $flownet eval --epe --data "$shared/$data" --split all --json "$out/$data-model.json" 2>/dev/null
  for baseline in zero dis-ultrafast dis-fast dis-medium farneback; do
    $flownet eval --epe --data "$shared/$data" --split all --baseline $baseline --json "$out/$data-$baseline.json" \
      2>/dev/null | tail -n 1
  done
done
for data in middlebury ucf101; do
  echo "== interpolation, $data"
  $flownet eval --interp --data "$shared/interp/$data" --json "$out/interp-$data.json" 2>/dev/null
done
.venv/bin/python tools/plot_bench.py --results "$out" --plot docs/speed_accuracy.png --only-plot
