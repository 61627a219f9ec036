#!/usr/bin/env bash
# The main job on an embedded default (no outside data): generated Flying-Chairs-format pairs + the shipped
# checkpoint -> flow, EPE table, colour picture, interpolated frames, all under out/.
set -euo pipefail
cd "$(dirname "$0")/.."
flownet=.venv/bin/flownet
out=out
mkdir -p "$out"
rm -rf "$out/data" "$out/frames"  # outputs of an earlier demo

echo "== 1. generate 16 chairs-like pairs with known flow"
$flownet data synth --out "$out/data" --count 16 --seed 1

checkpoint=()
if ! ls checkpoints/flownets_*.pt >/dev/null 2>&1; then
  echo "== (no shipped checkpoint: a short training run first)"
  $flownet train --data "$out/data" --out "$out/run" --width 0.25 --epochs 1 --crop 256x320 --num-workers 0
  checkpoint=(--checkpoint "$out/run/model.pt")
fi

echo "== 2. flow accuracy on them (model, then the zero-flow baseline)"
$flownet eval --epe --data "$out/data" --split all "${checkpoint[@]}" --json "$out/eval.json"
$flownet eval --epe --data "$out/data" --split all --model none --baseline zero --json "$out/eval_zero.json"

echo "== 3. flow of one pair, as .flo and as a colour picture"
$flownet infer "$out/data/00001_img1.ppm" "$out/data/00001_img2.ppm" -o "$out/flow.flo" "${checkpoint[@]}"
$flownet viz "$out/flow.flo" -o "$out/flow.png" --legend

$flownet viz --compare --data "$out/data" --count 3 -o "$out/compare.png" "${checkpoint[@]}"

echo "== 4. three in-between frames of that pair"
$flownet interpolate "$out/data/00001_img1.ppm" "$out/data/00001_img2.ppm" --frames 3 -o "$out/frames" "${checkpoint[@]}"

echo "== done: results under $out/"
ls "$out"
echo
echo "== flow accuracy on the generated pairs (EPE in pixels; $out/eval.json, $out/eval_zero.json)"
.venv/bin/python - "$out" <<'EOF'
import json, sys
from pathlib import Path
from flownet.evaluate import format_table
out = Path(sys.argv[1])
print(format_table({r["method"]: r for r in (json.loads((out / f).read_text()) for f in ("eval.json", "eval_zero.json"))}))
EOF
