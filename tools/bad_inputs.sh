#!/usr/bin/env bash
# Feed the flownet CLI bad inputs and check that each gives ONE line naming the problem, exit status 2,
# no traceback and no partial output file. Prints one row per case and a summary; exits 1 if any case fails.
#
#   bash tools/bad_inputs.sh            (uses .venv/bin/python when present, else python3)
set -u
cd "$(dirname "$0")/.."
PY=${PY:-$( [ -x .venv/bin/python ] && echo "$PWD/.venv/bin/python" || command -v python3 )}
REPO=$PWD
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# ---------------------------------------------------------------------------------------------- the bad inputs
"$PY" - "$T" <<'EOF'
import struct, sys
from pathlib import Path
import numpy as np
from flownet.io import write_image, write_flo
from flownet.models import FlowNetS
from flownet.weights import save_weights
import torch

t = Path(sys.argv[1])
rng = np.random.default_rng(0)
img = lambda h, w: rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
write_image(t / "a.png", img(64, 64)); write_image(t / "b.png", img(64, 64)); write_image(t / "c.png", img(48, 80))
(t / "empty.png").write_bytes(b"")
(t / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 255, 200, dtype=np.uint8)))
(t / "empty_dir").mkdir()
(t / "a_file").write_text("not a folder\n")
(t / "out_is_dir.flo").mkdir()
save_weights(FlowNetS(width=0.25), t / "w025.pt")
torch.save({"hello": 1}, t / "not_ckpt.pt")
(t / "text.pt").write_text("this is not a checkpoint\n")
# a checkpoint that claims width 0.5 but holds width-0.25 weights
p = torch.load(t / "w025.pt", weights_only=True); p["config"]["width"] = 0.5; torch.save(p, t / "wrongwidth.pt")

def chairs(name, flo_bytes=None, flow=None, img2=None):
    d = t / name; d.mkdir()
    for i in ("00001", "00002", "00003", "00004", "00005"):
        write_image(d / f"{i}_img1.ppm", img(64, 64))
        write_image(d / f"{i}_img2.ppm", img(64, 64) if img2 is None or i == "00001" else img2)
        f = rng.normal(0, 2, (64, 64, 2)).astype(np.float32)
        if flow is not None and i == "00002":
            f = flow
        write_flo(d / f"{i}_flow.flo", f)
        if flo_bytes is not None and i == "00002":
            (d / f"{i}_flow.flo").write_bytes(flo_bytes)
good = struct.pack("<fii", 202021.25, 64, 64) + np.zeros(64 * 64 * 2, "<f4").tobytes()
chairs("good")
chairs("bad_magic", b"XIEH" + good[4:])
chairs("bad_size", struct.pack("<fii", 202021.25, 2**30, 2**30) + good[12:])
chairs("short_flo", good[:100])
chairs("tiny_flo", good[:6])
nan = np.zeros((64, 64, 2), np.float32); nan[:8] = np.nan; nan[8:16] = np.inf
chairs("nan_flo", flow=nan)
chairs("size_mismatch", img2=img(48, 80))
chairs("bad_image", None)
(t / "bad_image" / "00002_img2.ppm").write_bytes(b"P6\n64 64\n255\n" + b"\x00" * 50)
# videos and frame folders for interpolate, flows for viz
import imageio.v2 as iio2
with iio2.get_writer(t / "one_frame.mp4", format="FFMPEG", fps=10) as w:
    w.append_data(img(64, 64))
(t / "garbage.mp4").write_bytes(bytes(rng.integers(0, 255, 5000, dtype=np.uint8)))
(t / "one_frame_dir").mkdir(); write_image(t / "one_frame_dir" / "f0.png", img(64, 64))
(t / "mixed_dir").mkdir(); write_image(t / "mixed_dir" / "f0.png", img(64, 64)); write_image(t / "mixed_dir" / "f1.png", img(48, 80))
(t / "bad_magic.flo").write_bytes(b"XIEH" + good[4:])
write_flo(t / "f64.flo", rng.normal(0, 2, (64, 64, 2)).astype(np.float32))
(t / "run_no_logs").mkdir()
EOF

# ---------------------------------------------------------------------------------------------- the cases
# case NAME EXPECTED_STATUS OUTPUT_TO_CHECK -- ARGS...   (status 2: exactly one stderr line, the error)
fails=0; total=0
printf '%-28s %-4s %-5s %-5s %s\n' CASE RC TRACE LEFT MESSAGE
case_() {
  local name=$1 want=$2 out=$3; shift 4
  total=$((total + 1))
  local err rc trace=no left=no ok=yes
  err=$( (cd "$T" && "$PY" -m flownet.cli "$@" 2>&1 >/dev/null) ); rc=$?
  grep -q Traceback <<<"$err" && trace=yes
  local lines; lines=$(grep -c . <<<"$err" || true)
  # progress bars (\r) do not count as lines: keep the last non-empty line
  local msg; msg=$(tr '\r' '\n' <<<"$err" | grep . | grep -v -E 'it/s|pairs?/s|frames?/s|^ *[0-9]+/[0-9]+ pairs' | tail -n 1)
  if [ -n "$out" ]; then
    { [ -e "$T/$out" ] && [ "$out" != out_is_dir.flo ]; } && left=yes
    ls -a "$T/$(dirname "$out")" 2>/dev/null | grep -q '\.tmp' && left=yes
  fi
  # "2late": an error found after training started: Lightning's own lines may come first, the last is ours
  local strict=yes; [ "$want" = 2late ] && { want=2; strict=no; }
  [ "$rc" = "$want" ] || ok=no
  [ "$trace" = no ] && [ "$left" = no ] || ok=no
  [ "$want" = 2 ] && [ $strict = no ] && { grep -q '^flownet: error: ' <<<"$msg" || ok=no; }
  if [ "$want" = 2 ] && [ $strict = yes ]; then
    local nerr; nerr=$(tr '\r' '\n' <<<"$err" | grep . | grep -v -E 'it/s|pairs?/s|frames?/s|^ *[0-9]+/[0-9]+ pairs' | grep -c .)
    [ "$nerr" = 1 ] || ok=no
    grep -q '^flownet: error: ' <<<"$msg" || ok=no
  fi
  [ $ok = yes ] || fails=$((fails + 1))
  printf '%-28s %-4s %-5s %-5s %s%s\n' "$name" "$rc" "$trace" "$left" "$([ $ok = yes ] || echo 'FAIL ')" "${msg:0:150}"
}
CK="--checkpoint w025.pt --device cpu"
EV="eval --epe --split all --model none --baseline zero"
case_ infer-missing-image       2 o1.flo -- infer nope.png b.png -o o1.flo $CK
case_ infer-empty-image         2 o2.flo -- infer empty.png b.png -o o2.flo $CK
case_ infer-corrupt-image       2 o3.flo -- infer garbage.png b.png -o o3.flo $CK
case_ infer-image-is-folder     2 o4.flo -- infer empty_dir b.png -o o4.flo $CK
case_ infer-different-sizes     2 o5.flo -- infer a.png c.png -o o5.flo $CK
case_ infer-missing-checkpoint  2 o6.flo -- infer a.png b.png -o o6.flo --checkpoint nope.pt --device cpu
case_ infer-not-a-checkpoint    2 o7.flo -- infer a.png b.png -o o7.flo --checkpoint not_ckpt.pt --device cpu
case_ infer-text-checkpoint     2 o8.flo -- infer a.png b.png -o o8.flo --checkpoint text.pt --device cpu
case_ infer-checkpoint-width    2 o9.flo -- infer a.png b.png -o o9.flo --checkpoint wrongwidth.pt --device cpu
case_ infer-unknown-device      2 o10.flo -- infer a.png b.png -o o10.flo --checkpoint w025.pt --device gpu
case_ infer-output-no-folder    2 nodir/o.flo -- infer a.png b.png -o nodir/o.flo $CK
case_ infer-output-under-file   2 "" -- infer a.png b.png -o a_file/o.flo $CK
case_ infer-output-is-folder    2 out_is_dir.flo -- infer a.png b.png -o out_is_dir.flo $CK
case_ infer-output-bad-suffix   2 o.txt -- infer a.png b.png -o o.txt $CK
case_ infer-video-one-frame     2 iv1 -- infer one_frame.mp4 -o iv1 $CK
case_ infer-video-garbage       2 iv2 -- infer garbage.mp4 -o iv2 $CK
case_ infer-good                0 "" -- infer a.png b.png -o good.flo $CK
case_ eval-missing-folder       2 "" -- $EV --data nope
case_ eval-empty-folder         2 "" -- $EV --data empty_dir
case_ eval-data-is-file         2 "" -- $EV --data a_file
case_ eval-flo-bad-magic        2 r1.json -- $EV --data bad_magic --json r1.json
case_ eval-flo-impossible-size  2 r2.json -- $EV --data bad_size --json r2.json
case_ eval-flo-truncated        2 r3.json -- $EV --data short_flo --json r3.json
case_ eval-flo-6-bytes          2 r4.json -- $EV --data tiny_flo --json r4.json
case_ eval-flo-nan-inf-masked   0 "" -- $EV --data nan_flo
case_ eval-image-sizes-differ   2 r5.json -- $EV --data size_mismatch --json r5.json
case_ eval-image-truncated      2 r6.json -- $EV --data bad_image --json r6.json
case_ eval-json-no-folder       2 nodir/r.json -- $EV --data good --json nodir/r.json
case_ eval-json-is-folder       2 out_is_dir.flo -- $EV --data good --json out_is_dir.flo
case_ eval-not-a-checkpoint     2 "" -- eval --epe --split all --data good --checkpoint text.pt --device cpu
case_ eval-checkpoint-width     2 "" -- eval --epe --split all --data good --checkpoint wrongwidth.pt --device cpu
TR="train --epochs 1 --max-steps 1 --batch-size 1 --width 0.25 --crop 64x64 --num-workers 0 --accelerator cpu"
case_ train-missing-data        2 "" -- $TR --data nope --out run1
case_ train-empty-folder        2 "" -- $TR --data empty_dir --out run2
case_ train-init-other-width    2 "" -- $TR --data good --out run3 --init w025.pt --width 0.5
case_ train-init-not-checkpoint 2 "" -- $TR --data good --out run4 --init text.pt
case_ train-out-under-file      2 "" -- $TR --data good --out a_file/run
case_ train-corrupt-flo-workers 2late "" -- train --epochs 1 --batch-size 1 --width 0.25 --crop 64x64 --num-workers 2 --accelerator cpu --data short_flo --out run5
case_ train-missing-config      2 "" -- train --config nope.yaml
VZ="viz"; IP="interpolate --checkpoint w025.pt --device cpu"
case_ viz-missing-flow          2 v1.png -- viz nope.flo -o v1.png
case_ viz-bad-magic             2 v2.png -- viz bad_magic.flo -o v2.png
case_ viz-bad-max-flow          2 v3.png -- viz f64.flo -o v3.png --max-flow 0
case_ viz-arrows-size-differs   2 v4.png -- viz f64.flo -o v4.png --arrows c.png
case_ viz-gt-missing            2 v5.png -- viz f64.flo -o v5.png --gt nope.flo
case_ viz-output-no-folder      2 nodir/v.png -- viz f64.flo -o nodir/v.png
case_ viz-output-bad-suffix     2 v.flo -- viz f64.flo -o v.flo
case_ viz-compare-no-data       2 v6.png -- viz --compare -o v6.png
case_ viz-good                  0 "" -- viz f64.flo -o good.png --legend
case_ plot-no-logs              2 p1.png -- plot run_no_logs -o p1.png
case_ interp-missing-image      2 i1.png -- $IP nope.png b.png -o i1.png
case_ interp-different-sizes    2 i2.png -- $IP a.png c.png -o i2.png
case_ interp-bad-t              2 i3.png -- $IP a.png b.png -o i3.png --t 1.5
case_ interp-bad-frames         2 i4 -- $IP a.png b.png -o i4 --frames 0
case_ interp-frames-out-is-file 2 "" -- $IP a.png b.png -o a_file --frames 2
case_ interp-video-one-frame    2 i5.mp4 -- $IP one_frame.mp4 -o i5.mp4 --factor 2
case_ interp-video-garbage      2 i6.mp4 -- $IP garbage.mp4 -o i6.mp4 --factor 2
case_ interp-video-missing      2 i7.mp4 -- $IP nope.mp4 -o i7.mp4
case_ interp-folder-one-frame   2 i8 -- $IP one_frame_dir -o i8 --factor 2
case_ interp-folder-sizes-vary  2 i9 -- $IP mixed_dir -o i9 --factor 2
case_ interp-video-bad-output   2 i10.txt -- $IP one_frame_dir -o i10.txt
case_ interp-good               0 "" -- $IP a.png b.png -o good_mid.png
case_ eval-interp-no-triplets   2 "" -- eval --interp --data empty_dir --checkpoint w025.pt --device cpu
case_ synth-out-under-file      2 "" -- data synth --out a_file/x --count 1 --size 64x64
case_ synth-bad-count           2 "" -- data synth --out s2 --count 0 --size 64x64

echo
if [ "$fails" -gt 0 ]; then
  echo "bad_inputs: $fails of $total cases FAILED"
  exit 1
fi
echo "bad_inputs: all $total cases passed"
