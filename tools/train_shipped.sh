#!/usr/bin/env bash
# Train (or continue training) the shipped FlowNetS and export it to checkpoints/.
# Runs in sittings: rerun the same command and it resumes from runs/shipped/checkpoints/last.ckpt.
# Usage: tools/train_shipped.sh            (log: runs/shipped/train.log)
set -euo pipefail
cd "$(dirname "$0")/.."
run=runs/shipped
mkdir -p "$run"
resume=()
[ -f "$run/checkpoints/last.ckpt" ] && resume=(--resume "$run/checkpoints/last.ckpt")
.venv/bin/flownet train --config tools/shipped_recipe.yaml "${resume[@]}" 2>&1 | tee -a "$run/train.log"
.venv/bin/python tools/export_shipped.py "$run/model.pt"
