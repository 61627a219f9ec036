"""Flow estimation on pairs, and evaluation over a dataset (any layout of ``flownet.datasets``): end-point error,
accuracy and Fl-all of flow; PSNR and SSIM of interpolated frames."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import torch

from .datasets import PairFiles, dataset_pairs, load_pair  # noqa: F401  (dataset_pairs: importable here, as before)
from .errors import FlowNetError
from .fileutil import write_json  # noqa: F401  (importable here, as before)
from .metrics import METRICS, flow_metric_sums
from .precision import autocast, resolve_precision
from .types import FlowFn

if TYPE_CHECKING:
    from .interpolate import Synthesis


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


def warm_up(pairs: list[PairFiles], flow_fn: FlowFn) -> None:
    """One untimed call on the first pair: what a process pays once (thread pools, library set-up, oneDNN's kernels
    for the first size) is not a per-pair cost. A later pair of a new size still pays its kernels, timed."""
    sample = load_pair(pairs[0].img1, pairs[0].img2)
    flow_fn(sample["img1"][None], sample["img2"][None])


def evaluate_epe(pairs: list[PairFiles], flow_fn: FlowFn, progress: bool = True) -> dict:
    """EPE, 1/3/5 px accuracy and Fl-all over every valid pixel of the set, each pixel weighing the same (as the
    KITTI and Sintel devkits count), beside their means over pairs (each pair weighing the same) and per pair;
    seconds per pair after ``warm_up``.

    Returns {"epe", "px1", "px3", "px5", "fl_all", "pixels", "pair_mean": {"epe", ...}, "n", "seconds_per_pair",
    "pairs": {name: {"epe", ..., "pixels"}}}.
    """
    if not pairs:
        raise FlowNetError("nothing to evaluate: no pairs")
    warm_up(pairs, flow_fn)
    per_pair: dict[str, dict] = {}
    totals = dict.fromkeys((*METRICS, "pixels"), 0.0)
    seconds = 0.0
    for pair, sample, flow, dt in counted(iter_predictions(pairs, flow_fn), len(pairs), "pairs", progress):
        sums = flow_metric_sums(flow, sample["flow"][None], sample["valid"][None])
        if not sums["pixels"]:
            raise FlowNetError(f"pair {pair.name} has no pixel of valid ground truth", pair.flow)
        per_pair[pair.name] = {**{m: sums[m] / sums["pixels"] for m in METRICS}, "pixels": int(sums["pixels"])}
        totals = {k: totals[k] + sums[k] for k in totals}
        seconds += dt
    result: dict = {m: totals[m] / totals["pixels"] for m in METRICS}
    result.update(pixels=int(totals["pixels"]),
                  pair_mean={m: sum(p[m] for p in per_pair.values()) / len(per_pair) for m in METRICS},
                  n=len(per_pair), seconds_per_pair=seconds / len(per_pair), pairs=per_pair)
    return result


# ----------------------------------------------------------------------------------------------- interpolation
def interp_triplets(root: str | os.PathLike) -> list[Path]:
    """The triplet folders under ``root`` (each with frame0, gt = the true frame at t, frame1, any image suffix,
    and optionally t.txt; t = 0.5 without it), in name order; ``root`` may itself be one triplet."""
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


def minterpolate_at(f0: torch.Tensor, f1: torch.Tensor, t: float) -> torch.Tensor:
    """ffmpeg's minterpolate (``bench.MINTERPOLATE``, what a CPU user has at hand) at time t: the two frames (and
    the second again: its motion search looks one frame ahead) at 1 frame/s resampled to the denominator of t."""
    from fractions import Fraction

    from . import io
    from .bench import minterpolate

    q = Fraction(t).limit_denominator(64)
    frames = [io.tensor_to_image(f) for f in (f0, f1, f1)]
    return io.image_to_tensor(minterpolate(frames, Fraction(1), factor=q.denominator)[q.numerator])


INTERP_BASELINES: dict[str, Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]] = {
    "frame repeat": lambda f0, f1, t: f0 if t <= 0.5 else f1,
    "linear blend": lambda f0, f1, t: (1 - t) * f0 + t * f1,
    "ffmpeg minterpolate": minterpolate_at,
}


def triplet_time(folder: Path) -> float:
    """The time of a triplet's gt frame: its ``t.txt`` (written by ``flownet data synth --triplets``), else 0.5."""
    from .data import T_FILE

    path = folder / T_FILE
    if not path.is_file():
        return 0.5
    try:
        t = float(path.read_text().strip())
    except ValueError:
        raise FlowNetError("not a time between 0 and 1", path) from None
    if not 0 <= t <= 1:
        raise FlowNetError(f"not a time between 0 and 1: {t}", path)
    return t


def evaluate_interp(triplets: list[Path], rows: dict[str, tuple[FlowFn, Synthesis]], progress: bool = True) -> dict:
    """PSNR and SSIM of the frame at the triplet's time (``triplet_time``) made by each of ``rows`` ({row name:
    (flow function, synthesis)}), and of the baselines frame repeat and linear blend, on each triplet (frames
    quantised to 8 bits, as written).
    Returns {method: {"psnr", "ssim", "n", "seconds_per_frame", "triplets": {name: {"psnr", "ssim"}}}}."""
    from . import io
    from .interpolate import interpolate
    from .metrics import psnr, ssim

    def at_t(flow_fn: FlowFn, synthesis: Synthesis) -> Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]:
        return lambda f0, f1, t: interpolate(f0, f1, flow_fn, [t], synthesis)[0]

    methods = {**{name: at_t(*row) for name, row in rows.items()}, **INTERP_BASELINES}
    results = {m: {"triplets": {}, "seconds": 0.0} for m in methods}
    for folder in counted(triplets, len(triplets), "triplets", progress):
        f0, gt, f1 = (io.image_to_tensor(io.read_image(p)) for p in _triplet_files(folder))
        if not f0.shape == gt.shape == f1.shape:
            raise FlowNetError("frame0, gt and frame1 differ in size", folder)
        t = triplet_time(folder)
        for method, make in methods.items():
            start = time.perf_counter()
            mid = io.image_to_tensor(io.tensor_to_image(make(f0, f1, t)))  # 8 bits, as a written frame
            results[method]["seconds"] += time.perf_counter() - start
            results[method]["triplets"][folder.name] = {"psnr": psnr(mid, gt), "ssim": ssim(mid, gt)}
    for r in results.values():
        per = r["triplets"].values()
        r.update(psnr=sum(p["psnr"] for p in per) / len(per), ssim=sum(p["ssim"] for p in per) / len(per),
                 n=len(per), seconds_per_frame=r.pop("seconds") / len(per))
    return results


def format_interp_table(rows: dict[str, dict]) -> str:
    """A plain-text table, one row per method: triplets, PSNR, SSIM, seconds per frame."""
    width = max(24, *(len(name) + 1 for name in rows))
    head = f"{'method':<{width}}{'frames':>7}{'PSNR dB':>9}{'SSIM':>8}{'s/frame':>9}"
    lines = [head, "-" * len(head)]
    for name, r in rows.items():
        lines.append(f"{name:<{width}}{r['n']:>7}{r['psnr']:>9.3f}{r['ssim']:>8.4f}{r['seconds_per_frame']:>9.4f}")
    return "\n".join(lines)


def format_table(rows: dict[str, dict]) -> str:
    """A plain-text table, one row per method: pairs, EPE, 1/3/5 px accuracy and Fl-all over all pixels, the EPE
    averaged over pairs, seconds per pair."""
    head = (f"{'method':<24}{'pairs':>6}{'EPE':>9}{'1px':>8}{'3px':>8}{'5px':>8}{'Fl-all':>8}{'EPE/pair':>10}"
            f"{'s/pair':>9}")
    lines = [head, "-" * len(head)]
    for name, r in rows.items():
        lines.append(f"{name:<24}{r['n']:>6}{r['epe']:>9.4f}{r['px1']:>8.3f}{r['px3']:>8.3f}{r['px5']:>8.3f}"
                     f"{r['fl_all']:>8.3f}{r['pair_mean']['epe']:>10.4f}{r['seconds_per_pair']:>9.4f}")
    return "\n".join(lines)
