"""Flow estimation on pairs, and end-point-error evaluation over a folder (Flying Chairs or Middlebury layout)."""

from __future__ import annotations

import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import torch

from .data import SPLIT_SEED, TRAIN_FRACTION, chairs_ids, chairs_split, load_pair
from .errors import FlowNetError
from .fileutil import atomic_path
from .metrics import flow_metrics
from .precision import autocast, resolve_precision

FlowFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # B x 3 x H x W pair -> B x 2 x H x W flow
METRICS = ("epe", "px1", "px3", "px5", "fl_all")


def model_flow_fn(model: torch.nn.Module, device: str | torch.device = "cpu", precision: str = "auto") -> FlowFn:
    """Wrap an eval-mode model as a flow function (inference mode, on ``device``, flow returned on the CPU as
    float32). ``precision``: fp32, bf16 (autocast) or auto (bf16 on CUDA or a CPU with native bf16)."""
    model = model.eval().to(device)
    precision = resolve_precision(precision, device)

    def flow_fn(img1: torch.Tensor, img2: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), autocast(precision, device):
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
    flow: Path | None = None  # None: no ground truth (a list file without a third column)


FORMATS = ("chairs", "middlebury", "sintel", "sintel-final", "kitti", "list")


def _training_dir(root: Path, *needed: str) -> Path | None:
    """``root`` or ``root/training`` when it holds all of ``needed`` sub-folders (Sintel, KITTI layouts)."""
    for base in (root, root / "training"):
        if all((base / n).is_dir() for n in needed):
            return base
    return None


def detect_format(root: Path) -> str:
    """The layout of ``root``: a list file ('list'), or a folder of Flying Chairs triplets ('chairs'), Middlebury
    sequences ('middlebury'), MPI-Sintel ('sintel', the clean pass) or KITTI 2015 ('kitti'); an error when none or
    more than one fits."""
    if root.is_file():
        return "list"
    found = [name for name, hit in (
        ("chairs", lambda: any(root.glob("*_img1.ppm"))),
        ("middlebury", lambda: any(root.glob("*/flow10.flo"))),
        ("sintel", lambda: _training_dir(root, "clean", "flow") or _training_dir(root, "final", "flow")),
        ("kitti", lambda: _training_dir(root, "image_2", "flow_occ")),
    ) if hit()]
    if len(found) == 1:
        return found[0]
    if found:
        raise FlowNetError(f"looks like more than one dataset ({', '.join(found)}): choose with --format", root)
    raise FlowNetError("found no known dataset layout (Flying Chairs <id>_img1.ppm, Middlebury <Seq>/flow10.flo, "
                       "Sintel training/clean + training/flow, KITTI training/image_2 + training/flow_occ)", root)


def dataset_pairs(root: str | os.PathLike, split: str = "val", fmt: str = "auto") -> list[PairFiles]:
    """The pairs of a dataset folder (or list file). Only Flying Chairs has a split (``split``); the other layouts
    give every pair that has ground truth (Sintel and KITTI: their training sets)."""
    root = Path(root)
    if not root.exists():
        raise FlowNetError("no such folder or list file", root)
    fmt = detect_format(root) if fmt == "auto" else fmt
    if fmt == "list":
        return read_pair_list(root)
    if not root.is_dir():
        raise FlowNetError("no such folder", root)
    if fmt == "chairs":
        ids = chairs_split(root, chairs_ids(root), split)
        return [PairFiles(i, root / f"{i}_img1.ppm", root / f"{i}_img2.ppm", root / f"{i}_flow.flo") for i in ids]
    if fmt == "middlebury":
        seqs = sorted(p.parent for p in root.glob("*/flow10.flo"))
        if not seqs:
            raise FlowNetError("no Middlebury sequences (<Seq>/frame10.png, frame11.png, flow10.flo)", root)
        return [PairFiles(s.name, s / "frame10.png", s / "frame11.png", s / "flow10.flo") for s in seqs]
    if fmt in ("sintel", "sintel-final"):
        return sintel_pairs(root, "final" if fmt == "sintel-final" else "clean")
    if fmt == "kitti":
        return kitti_pairs(root)
    raise FlowNetError(f"unknown dataset format '{fmt}' (use {', '.join(FORMATS)} or auto)")


def sintel_pairs(root: Path, dstype: str = "clean") -> list[PairFiles]:
    """MPI-Sintel training: ``<pass>/<scene>/frame_XXXX.png`` with ``flow/<scene>/frame_XXXX.flo`` (frame i to i+1).
    ``root`` is the Sintel folder or its ``training`` folder."""
    base = _training_dir(root, dstype, "flow")
    if base is None:
        raise FlowNetError(f"not an MPI-Sintel folder (no training/{dstype} and training/flow)", root)
    pairs = []
    for flo in sorted(base.glob("flow/*/frame_*.flo")):
        scene, stem = flo.parent.name, flo.stem
        try:
            k = int(stem.split("_")[1])
        except (IndexError, ValueError):
            raise FlowNetError("flow file name is not frame_NNNN.flo", flo) from None
        img1 = base / dstype / scene / f"{stem}.png"
        img2 = base / dstype / scene / f"frame_{k + 1:0{len(stem) - 6}d}.png"
        pairs.append(PairFiles(f"{scene}/{stem}", img1, img2, flo))
    if not pairs:
        raise FlowNetError("no flow files (training/flow/<scene>/frame_XXXX.flo)", base)
    return pairs


def kitti_pairs(root: Path) -> list[PairFiles]:
    """KITTI 2015 training: ``image_2/<id>_10.png``, ``<id>_11.png`` and ``flow_occ/<id>_10.png`` (16-bit flow
    with a valid mask). ``root`` is the KITTI folder or its ``training`` folder."""
    base = _training_dir(root, "image_2", "flow_occ")
    if base is None:
        raise FlowNetError("not a KITTI 2015 folder (no training/image_2 and training/flow_occ)", root)
    pairs = [PairFiles(f.stem[:-3], base / "image_2" / f.name, base / "image_2" / f"{f.stem[:-3]}_11.png", f)
             for f in sorted((base / "flow_occ").glob("*_10.png"))]
    if not pairs:
        raise FlowNetError("no flow files (training/flow_occ/<id>_10.png)", base)
    return pairs


def read_pair_list(path: Path) -> list[PairFiles]:
    """A text file of ``img1 img2 [flow]`` lines, paths relative to the file; blank lines and ``#`` comments
    are skipped."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise FlowNetError(f"cannot read the pair list ({type(e).__name__})", path) from None
    pairs = []
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split("#", 1)[0].split()
        if not parts:
            continue
        if len(parts) not in (2, 3):
            raise FlowNetError(f"line {n}: expected 'img1 img2 [flow]', found {len(parts)} fields", path)
        files = [path.parent / p for p in parts]
        for name, f in zip(parts, files):
            if not f.is_file():
                raise FlowNetError(f"line {n}: no such file '{name}' (paths are relative to the list file)", path)
        pairs.append(PairFiles(f"{n:05d}_{Path(parts[0]).stem}", files[0], files[1], files[2] if len(files) > 2 else None))
    if not pairs:
        raise FlowNetError("the pair list is empty", path)
    return pairs


def split_pairs(pairs: list[PairFiles], split: str) -> list[PairFiles]:
    """A seeded 0.8 / 0.2 train / val split of any pair list (the same on every machine), or 'all'."""
    if split == "all":
        return list(pairs)
    if split not in ("train", "val"):
        raise FlowNetError(f"unknown split '{split}' (use train, val or all)")
    order = list(range(len(pairs)))
    random.Random(SPLIT_SEED).shuffle(order)
    n_train = round(TRAIN_FRACTION * len(order))
    chosen = set(order[:n_train] if split == "train" else order[n_train:])
    return [p for i, p in enumerate(pairs) if i in chosen]


def iter_predictions(pairs: list[PairFiles], flow_fn: FlowFn) -> Iterator[tuple[PairFiles, dict, torch.Tensor, float]]:
    """For each pair: (files, sample, predicted 1 x 2 x H x W flow, seconds spent in ``flow_fn``)."""
    for pair in pairs:
        if pair.flow is None:
            raise FlowNetError(f"pair {pair.name} has no ground-truth flow to evaluate against", pair.img1)
        sample = load_pair(pair.img1, pair.img2, pair.flow)
        start = time.perf_counter()
        flow = flow_fn(sample["img1"][None], sample["img2"][None])
        yield pair, sample, flow, time.perf_counter() - start


def counted(items: Iterable, total: int, unit: str, show: bool = True) -> Iterator:
    """``items``, with a 'k/total unit' counter on stderr when ``show``; the counter's line is ended also when a
    bad file stops the loop (whose message then has a line of its own)."""
    try:
        for k, item in enumerate(items, 1):
            if show:
                print(f"\r  {k}/{total} {unit}", end="", flush=True, file=sys.stderr)
            yield item
    finally:
        if show:
            print(file=sys.stderr)


def evaluate_epe(pairs: list[PairFiles], flow_fn: FlowFn, progress: bool = True) -> dict:
    """Per-pair metrics and their means over pairs (each pair weighs the same, whatever its size).

    Returns {"epe", "px1", "px3", "px5", "fl_all", "n", "seconds_per_pair", "pairs": {name: {...}}}.
    """
    if not pairs:
        raise FlowNetError("nothing to evaluate: no pairs")
    per_pair: dict[str, dict] = {}
    seconds = 0.0
    for pair, sample, flow, dt in counted(iter_predictions(pairs, flow_fn), len(pairs), "pairs", progress):
        per_pair[pair.name] = flow_metrics(flow, sample["flow"][None], sample["valid"][None])
        seconds += dt
    result = {m: sum(p[m] for p in per_pair.values()) / len(per_pair) for m in METRICS}
    result.update(n=len(per_pair), seconds_per_pair=seconds / len(per_pair), pairs=per_pair)
    return result


# ----------------------------------------------------------------------------------------------- interpolation
def interp_triplets(root: str | os.PathLike) -> list[Path]:
    """The triplet folders under ``root`` (each with frame0, gt = the true middle frame, frame1; any image
    suffix), in name order; ``root`` may itself be one triplet."""
    root = Path(root)
    if not root.is_dir():
        raise FlowNetError("no such folder of interpolation triplets", root)
    candidates = [root] if _triplet_files(root) else sorted(p for p in root.iterdir() if p.is_dir())
    triplets = [p for p in candidates if _triplet_files(p)]
    if not triplets:
        raise FlowNetError("no interpolation triplets (folders with frame0, gt and frame1 images)", root)
    return triplets


def _triplet_files(folder: Path) -> tuple[Path, Path, Path] | None:
    found = []
    for stem in ("frame0", "gt", "frame1"):
        matches = sorted(folder.glob(f"{stem}.*"))
        if not matches:
            return None
        found.append(matches[0])
    return tuple(found)


INTERP_BASELINES = {
    "frame repeat": lambda f0, f1: f0,
    "linear blend": lambda f0, f1: 0.5 * (f0 + f1),
}


def evaluate_interp(triplets: list[Path], flow_fns: dict[str, FlowFn], progress: bool = True) -> dict:
    """PSNR and SSIM of the middle frame made by warping along each of ``flow_fns``' flows ({row name: flow
    function}), and of the baselines frame repeat and linear blend, on each triplet (frames quantised to 8 bits, as
    written). Returns {method: {"psnr", "ssim", "n", "seconds_per_frame", "triplets": {name: {"psnr", "ssim"}}}}."""
    from . import io
    from .interpolate import interpolate
    from .metrics import psnr, ssim

    def warp_with(flow_fn: FlowFn) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        return lambda f0, f1: interpolate(f0, f1, flow_fn, [0.5])[0]

    methods = {**{name: warp_with(fn) for name, fn in flow_fns.items()}, **INTERP_BASELINES}
    results = {m: {"triplets": {}, "seconds": 0.0} for m in methods}
    for folder in counted(triplets, len(triplets), "triplets", progress):
        f0, gt, f1 = (io.image_to_tensor(io.read_image(p)) for p in _triplet_files(folder))
        if not f0.shape == gt.shape == f1.shape:
            raise FlowNetError("frame0, gt and frame1 differ in size", folder)
        for method, make in methods.items():
            start = time.perf_counter()
            mid = io.image_to_tensor(io.tensor_to_image(make(f0, f1)))  # 8 bits, as a written frame
            results[method]["seconds"] += time.perf_counter() - start
            results[method]["triplets"][folder.name] = {"psnr": psnr(mid, gt), "ssim": ssim(mid, gt)}
    for r in results.values():
        per = r["triplets"].values()
        r.update(psnr=sum(p["psnr"] for p in per) / len(per), ssim=sum(p["ssim"] for p in per) / len(per),
                 n=len(per), seconds_per_frame=r.pop("seconds") / len(per))
    return results


def format_interp_table(rows: dict[str, dict]) -> str:
    """A plain-text table, one row per method: triplets, PSNR, SSIM, seconds per frame."""
    head = f"{'method':<24}{'frames':>7}{'PSNR dB':>9}{'SSIM':>8}{'s/frame':>9}"
    lines = [head, "-" * len(head)]
    for name, r in rows.items():
        lines.append(f"{name:<24}{r['n']:>7}{r['psnr']:>9.3f}{r['ssim']:>8.4f}{r['seconds_per_frame']:>9.4f}")
    return "\n".join(lines)


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
