"""Training the learned synthesis (``models.synthesis.SynthesisNet``) on triplets: frames (I0, It, I1) and t.

The flows between I0 and I1 are computed once per triplet with the flow function the synthesis will run on (the
default pipeline), kept in memory as fp16 beside the uint8 frames; training draws random crops with flips and
time reversal. The same loop fine-tunes a trained network on one video's own triplets (``interpolate --adapt``).
Loss: L1 on the frame plus L1 on its horizontal and vertical differences (the gradient term sharpens edges).
"""

from __future__ import annotations

import copy
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.nn.functional as F

from .models.synthesis import SynthesisNet
from .types import FlowFn
from .data import flip_sample
from .io import quantised
from .metrics import psnr
from .schedule import Schedule
from .warp import backward_warp, blend, intermediate_flows


@dataclass
class Triplet:
    """Frames 3 x H x W uint8, the time of the middle frame, flows 2 x H x W fp16 (pixels)."""

    img0: torch.Tensor
    gt: torch.Tensor
    img1: torch.Tensor
    t: float
    f01: torch.Tensor
    f10: torch.Tensor


def to_uint8(img: torch.Tensor) -> torch.Tensor:
    return (img.clamp(0, 1) * 255).round().to(torch.uint8)


def with_flows(triplets: Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]], flow_fn: FlowFn,
               progress: Callable[[int], None] | None = None) -> list[Triplet]:
    """(img0, gt, img1, t) float frames 3 x H x W in [0, 1] -> Triplets with both flows (one batched call each)."""
    out = []
    for img0, gt, img1, t in triplets:
        a, b = img0[None], img1[None]
        flows = flow_fn(torch.cat([a, b]), torch.cat([b, a]))
        out.append(Triplet(to_uint8(img0), to_uint8(gt), to_uint8(img1), float(t), flows[0].half(),
                           flows[1].half()))
        if progress:
            progress(len(out))
    return out


def crop_batch(triplets: list[Triplet], batch: int, crop: int, rng: random.Random) -> dict[str, torch.Tensor]:
    """A batch of random ``crop`` x ``crop`` windows (smaller frames: whole, padded by replication), flipped and
    time-reversed at random: {"img0", "img1", "gt", "f01", "f10"} B x C x crop x crop, "t" B."""
    keys = ("img0", "img1", "gt", "f01", "f10")
    out: dict[str, list[torch.Tensor]] = {k: [] for k in (*keys, "t")}
    for _ in range(batch):
        tr = rng.choice(triplets)
        s = {"img0": tr.img0.float() / 255, "img1": tr.img1.float() / 255, "gt": tr.gt.float() / 255,
             "f01": tr.f01.float(), "f10": tr.f10.float()}
        h, w = tr.img0.shape[-2:]
        y, x = rng.randint(0, max(h - crop, 0)), rng.randint(0, max(w - crop, 0))
        s = {k: v[:, y:y + crop, x:x + crop] for k, v in s.items()}
        pad = (0, crop - s["gt"].shape[-1], 0, crop - s["gt"].shape[-2])
        s = {k: F.pad(v[None], pad, mode="replicate")[0] for k, v in s.items()}
        t = tr.t
        if rng.random() < 0.5:  # time reversal: the frame at t from I0 is the frame at 1 - t from I1
            s["img0"], s["img1"], s["f01"], s["f10"], t = s["img1"], s["img0"], s["f10"], s["f01"], 1 - t
        s = flip_sample(s, rng.random() < 0.5, rng.random() < 0.5)
        for k in keys:
            out[k].append(s[k])
        out["t"].append(torch.tensor(t))
    return {k: torch.stack(v) for k, v in out.items()}


def synthesis_loss(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """L1 on the frame plus L1 on its horizontal and vertical differences."""
    grad = ((pred.diff(dim=-1) - gt.diff(dim=-1)).abs().mean() + (pred.diff(dim=-2) - gt.diff(dim=-2)).abs().mean())
    return (pred - gt).abs().mean() + grad


def plain_blend(b: dict[str, torch.Tensor]) -> torch.Tensor:
    """The untrained reference: both frames warped to t along Super SloMo's intermediate flows, blended."""
    t = b["t"].reshape(-1, 1, 1, 1)
    ft0, ft1 = intermediate_flows(b["f01"], b["f10"], t)
    return blend(backward_warp(b["img0"], ft0)[0], backward_warp(b["img1"], ft1)[0], t)


def train_steps(model: SynthesisNet, triplets: list[Triplet], steps: int, batch: int = 8, crop: int = 192,
        lr: float = 3e-4, seed: int = 0, log: Callable[[int, float], None] | None = None,
        start: int = 0, total: int | None = None, optimizer: torch.optim.Optimizer | None = None
        ) -> torch.optim.Optimizer:
    """Train ``model`` from step ``start`` up to step ``steps`` of a run of ``total`` steps (default ``steps``;
    Adam, cosine decay to 5 % after a short warm-up); returns the optimiser, for saving and resuming."""
    rng = random.Random(seed + start)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    schedule = Schedule("cosine", total or steps, warmup=min(200, (total or steps) // 10))
    model.train()
    for step in range(start, steps):
        for g in optimizer.param_groups:
            g["lr"] = lr * schedule(step)
        b = crop_batch(triplets, batch, crop, rng)
        loss = synthesis_loss(model(b["img0"], b["img1"], b["f01"], b["f10"], b["t"]), b["gt"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if log:
            log(step, loss.item())
    model.eval()
    return optimizer


@torch.inference_mode()
def validate(model: SynthesisNet, triplets: list[Triplet], crop: int = 256, batches: int = 8, seed: int = 123
             ) -> tuple[float, float]:
    """(PSNR of the model, PSNR of the plain warp blend) on fixed random crops of ``triplets``."""
    rng = random.Random(seed)
    model.eval()
    ours, plain = [], []
    for _ in range(batches):
        b = crop_batch(triplets, 4, crop, rng)
        ours.append(psnr(quantised(model(b["img0"], b["img1"], b["f01"], b["f10"], b["t"])), b["gt"]))
        plain.append(psnr(quantised(plain_blend(b)), b["gt"]))
    return sum(ours) / len(ours), sum(plain) / len(plain)


def video_training_triplets(source: str | os.PathLike, flow_fn: FlowFn, count: int = 48,
                            frames: tuple[int, int] | None = None) -> list[Triplet]:
    """Up to ``count`` triplets (frames i, i + 1, i + 2) spread over one video, with their flows; ``frames``
    (first, last): only those frame numbers (a part held out for checking stays untouched)."""
    from .triplets import video_triplets
    from .video import count_frames

    first, last = frames or (0, count_frames(Path(source)) or count)
    stride = max(1, (last - first) // count)
    picked = (d for d in video_triplets([source], step=2, stride=1)
              if first <= d["frames"][0] and d["frames"][2] <= last and (d["frames"][0] - first) % stride == 0)
    return with_flows(((d["img0"], d["gt"], d["img1"], d["t"]) for d in picked), flow_fn)


def adapt(model: SynthesisNet, triplets: list[Triplet], steps: int = 200, lr: float = 1e-4,
          log: Callable[[int, float], None] | None = None) -> SynthesisNet:
    """A copy of ``model`` fine-tuned on one video's own ``triplets`` (``flownet interpolate --adapt``)."""
    tuned = copy.deepcopy(model)
    train_steps(tuned, triplets, steps, batch=4, crop=128, lr=lr, log=log)
    return tuned
