"""What `flownet interpolate --adapt` gains on a held-out part of the same video.

    .venv/bin/python tools/adapt_gain.py VIDEO [--steps 200] [--held-out 0.2]

The shipped synthesis is fine-tuned on triplets (frames i, i+1, i+2) from the first part of VIDEO, as --adapt does
on the whole input, then the middle frames of triplets from the last --held-out part (never seen while adapting) are
scored (PSNR, 8-bit) before and after, beside plain warping, all on the default flow.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from flownet.presets import default_flow_fn
from flownet.io import quantised
from flownet.metrics import psnr
from flownet.synthesis_training import Triplet, adapt, plain_blend, video_training_triplets
from flownet.video import count_frames
from flownet.weights import default_checkpoint, load_model


@torch.inference_mode()
def score(model, triplets: list[Triplet]) -> float:
    """Mean PSNR of the model's middle frames (None: plain warping), quantised to 8 bits."""
    values = []
    for tr in triplets:
        b = {"img0": tr.img0[None].float() / 255, "img1": tr.img1[None].float() / 255,
             "f01": tr.f01[None].float(), "f10": tr.f10[None].float(), "t": torch.tensor([tr.t])}
        out = plain_blend(b) if model is None else model.eval()(b["img0"], b["img1"], b["f01"], b["f10"], b["t"])
        values.append(psnr(quantised(out), tr.gt[None].float() / 255))
    return sum(values) / len(values)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video", type=Path)
    p.add_argument("--steps", type=int, default=200, help="fine-tuning steps (as --adapt-steps)")
    p.add_argument("--held-out", type=float, default=0.2, help="the last part of the video kept for scoring")
    args = p.parse_args()
    torch.set_num_threads(2)
    n = count_frames(args.video)
    cut = int(n * (1 - args.held_out))
    flow_fn = default_flow_fn()
    train = video_training_triplets(args.video, flow_fn, frames=(0, cut))
    test = video_training_triplets(args.video, flow_fn, count=16, frames=(cut, n))
    model = load_model(default_checkpoint("synthesis"))
    before, plain = score(model, test), score(None, test)
    start = time.perf_counter()
    tuned = adapt(model, train, args.steps)
    seconds = time.perf_counter() - start
    after = score(tuned, test)
    print(f"{args.video.name}: {n} frames; adapted on {len(train)} triplets of frames 0-{cut - 1} "
          f"({args.steps} steps, {seconds:.0f} s); scored on {len(test)} triplets of frames {cut}-{n - 1}")
    print(f"PSNR dB: plain warping {plain:.2f}, learned synthesis {before:.2f}, after --adapt {after:.2f} "
          f"({after - before:+.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
