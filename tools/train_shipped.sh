#!/usr/bin/env bash
# Train (or continue training) the shipped FlowNetS and export it to checkpoints/: stage 1 (tools/shipped_recipe.yaml,
# procedural textures), then stage 2 (tools/finetune_recipe.yaml: half the textures from real photos and video
# frames, from stage 1's weights). Runs in sittings: rerun the same command and each stage resumes from its
# runs/<stage>/checkpoints/last.ckpt; a finished stage is skipped (its model.pt exists).
# Usage: tools/train_shipped.sh            (logs: runs/shipped/train.log, runs/finetune/train.log)
set -euo pipefail
cd "$(dirname "$0")/.."
stage() {  # stage RECIPE RUN_FOLDER
  local recipe=$1 run=$2 resume=()
  [ -f "$run/model.pt" ] && return  # (written when a run ends, not when it is stopped)
  mkdir -p "$run"
  [ -f "$run/checkpoints/last.ckpt" ] && resume=(--resume "$run/checkpoints/last.ckpt")
  .venv/bin/flownet train --config "$recipe" "${resume[@]}" 2>&1 | tee -a "$run/train.log"
}
stage tools/shipped_recipe.yaml runs/shipped
stage tools/finetune_recipe.yaml runs/finetune
.venv/bin/python tools/export_shipped.py runs/finetune/model.pt
