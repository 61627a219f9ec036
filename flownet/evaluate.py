"""Flow estimation on pairs, and end-point-error evaluation over a folder (Flying Chairs or Middlebury layout)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch

from .data import chairs_ids, chairs_split, load_pair
from .errors import FlowNetError
from .fileutil import atomic_path
from .metrics import flow_metrics

FlowFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # B x 3 x H x W pair -> B x 2 x H x W flow
METRICS = ("epe", "px1", "px3", "px5", "fl_all")


def model_flow_fn(model: torch.nn.Module, device: str | torch.device = "cpu") -> FlowFn:
    """Wrap an eval-mode model as a flow function (inference mode, on ``device``, flow returned on the CPU)."""
    model = model.eval().to(device)

    def flow_fn(img1: torch.Tensor, img2: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model(img1.to(device), img2.to(device)).float().cpu()

    return flow_fn


def zero_flow_fn(img1: torch.Tensor, img2: torch.Tensor) -> torch.Tensor:
    """The zero-flow baseline."""
    return img1.new_zeros(img1.shape[0], 2, *img1.shape[-2:])


@dataclass(frozen=True)
class PairFiles:
    name: str
    img1: Path
    img2: Path
    flow: Path


def detect_format(root: Path) -> str:
    """'chairs' (``<id>_img1.ppm`` triplets) or 'middlebury' (``<Seq>/frame10.png, frame11.png, flow10.flo``)."""
    if any(root.glob("*_img1.ppm")):
        return "chairs"
    if any(root.glob("*/flow10.flo")):
        return "middlebury"
    raise FlowNetError("found neither Flying Chairs triplets nor Middlebury sequences (<Seq>/flow10.flo)", root)


def dataset_pairs(root: str | os.PathLike, split: str = "val", fmt: str = "auto") -> list[PairFiles]:
    """The evaluation pairs of a folder. Middlebury folders have no split: every sequence is used."""
    root = Path(root)
    if not root.is_dir():
        raise FlowNetError("no such folder", root)
    fmt = detect_format(root) if fmt == "auto" else fmt
    if fmt == "chairs":
        ids = chairs_split(root, chairs_ids(root), split)
        return [PairFiles(i, root / f"{i}_img1.ppm", root / f"{i}_img2.ppm", root / f"{i}_flow.flo") for i in ids]
    if fmt == "middlebury":
        seqs = sorted(p.parent for p in root.glob("*/flow10.flo"))
        if not seqs:
            raise FlowNetError("no Middlebury sequences (<Seq>/frame10.png, frame11.png, flow10.flo)", root)
        return [PairFiles(s.name, s / "frame10.png", s / "frame11.png", s / "flow10.flo") for s in seqs]
    raise FlowNetError(f"unknown dataset format '{fmt}' (use chairs, middlebury or auto)")


def iter_predictions(pairs: list[PairFiles], flow_fn: FlowFn) -> Iterator[tuple[PairFiles, dict, torch.Tensor, float]]:
    """For each pair: (files, sample, predicted 1 x 2 x H x W flow, seconds spent in ``flow_fn``)."""
    for pair in pairs:
        sample = load_pair(pair.img1, pair.img2, pair.flow)
        start = time.perf_counter()
        flow = flow_fn(sample["img1"][None], sample["img2"][None])
        yield pair, sample, flow, time.perf_counter() - start


def evaluate_epe(pairs: list[PairFiles], flow_fn: FlowFn, progress: bool = True) -> dict:
    """Per-pair metrics and their means over pairs (each pair weighs the same, whatever its size).

    Returns {"epe", "px1", "px3", "px5", "fl_all", "n", "seconds_per_pair", "pairs": {name: {...}}}.
    """
    if not pairs:
        raise FlowNetError("nothing to evaluate: no pairs")
    per_pair: dict[str, dict] = {}
    seconds = 0.0
    for k, (pair, sample, flow, dt) in enumerate(iter_predictions(pairs, flow_fn), 1):
        per_pair[pair.name] = flow_metrics(flow, sample["flow"][None], sample["valid"][None])
        seconds += dt
        if progress:
            print(f"\r  {k}/{len(pairs)} pairs", end="", flush=True, file=__import__("sys").stderr)
    if progress:
        print(file=__import__("sys").stderr)
    result = {m: sum(p[m] for p in per_pair.values()) / len(per_pair) for m in METRICS}
    result.update(n=len(per_pair), seconds_per_pair=seconds / len(per_pair), pairs=per_pair)
    return result


def format_table(rows: dict[str, dict]) -> str:
    """A plain-text table, one row per method: pairs, EPE, 1/3/5 px accuracy, Fl-all, seconds per pair."""
    head = f"{'method':<24}{'pairs':>6}{'EPE':>9}{'1px':>8}{'3px':>8}{'5px':>8}{'Fl-all':>8}{'s/pair':>9}"
    lines = [head, "-" * len(head)]
    for name, r in rows.items():
        lines.append(f"{name:<24}{r['n']:>6}{r['epe']:>9.4f}{r['px1']:>8.3f}{r['px3']:>8.3f}{r['px5']:>8.3f}"
                     f"{r['fl_all']:>8.3f}{r['seconds_per_pair']:>9.4f}")
    return "\n".join(lines)


def write_json(path: str | os.PathLike, obj: dict) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")
