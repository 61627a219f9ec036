"""``flownet bench``: measured speed of inference, training, data loading, interpolation and classical flow.

Every number comes with what it ran on (CPU, ISA, threads, torch, size, width, precision) and, for the network,
with the machine's own ceiling measured in the same run: the GFLOP/s of one large plain 3x3 convolution. FLOPs
are counted from the model's convolution layers (2 x multiply-adds; biases and activations not counted).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from .errors import FlowNetError
from .precision import autocast, cpu_info, isa_level, native_bf16, resolve_precision

WHATS = ("infer", "train", "data", "interp", "classical")  # "all"; "video" (minutes at 720p) only when asked
CEILING_SHAPE = (256, 96, 128)  # channels (in = out), height, width of the ceiling's 3x3 convolution
CUDA_CEILING_BATCH = 32
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


# ----------------------------------------------------------------------------------------------- machine
def machine(threads: int, command: list[str], device: torch.device) -> dict:
    """What a report ran on: command line, CPU, ISA, threads, torch version, whether CPU inference can take
    oneDNN's fused path (flownet.models.fused), the device and its GPU's name."""
    from .models.fused import onednn_available

    model, flags = cpu_info()
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {"command": " ".join(command), "cpu": model, "isa": isa_level(flags), "native_bf16": native_bf16(flags),
            "threads": threads, "torch": torch.__version__, "onednn_fused": onednn_available(),
            "device": str(device), "gpu": gpu, "cuda": torch.version.cuda if gpu else None}


# ----------------------------------------------------------------------------------------------- measuring
def synchronize(device: torch.device) -> None:
    """Wait for the work queued on a GPU (CPU work is done when the call returns)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], repeats: int, warmup: int, device: torch.device = torch.device("cpu")) -> dict:
    """Seconds per call of ``fn`` after ``warmup`` calls: median, min and max over ``repeats``."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}


def conv_flops(module: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> int:
    """FLOPs (2 x multiply-adds) of one call of a Conv2d or ConvTranspose2d."""
    taps = module.kernel_size[0] * module.kernel_size[1]
    if isinstance(module, nn.ConvTranspose2d):  # every input value meets out_channels / groups kernels
        return 2 * inp.numel() * module.out_channels // module.groups * taps
    return 2 * out.numel() * module.in_channels // module.groups * taps


def count_flops(model: nn.Module, *inputs: torch.Tensor) -> int:
    """FLOPs of the model's convolutions for one eval-mode call on ``inputs`` (counted by forward hooks; a
    FlowNetS ``Block`` may run its convolution inside its own fused call, so it is counted as its convolution)."""
    from .models.fused import Block

    total = 0

    def hook(module: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        total += conv_flops(module[0] if isinstance(module, Block) else module, inp[0], out)

    in_blocks = {id(m[0]) for m in model.modules() if isinstance(m, Block)}
    layers = [m for m in model.modules() if isinstance(m, Block)
              or (isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and id(m) not in in_blocks)]
    handles = [m.register_forward_hook(hook) for m in layers]
    was_training = model.training
    try:
        with torch.inference_mode():
            model.eval()(*inputs)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return total


def conv_ceiling(precision: str, repeats: int, warmup: int, device: torch.device = torch.device("cpu")) -> dict:
    """GFLOP/s of one plain 3x3 convolution (CEILING_SHAPE; a batch of CUDA_CEILING_BATCH on a GPU, which one
    image would leave idle), NCHW and channels_last; ``gflops`` = the better."""
    c, h, w = CEILING_SHAPE
    n = CUDA_CEILING_BATCH if device.type == "cuda" else 1
    conv, x = nn.Conv2d(c, c, 3, padding=1).to(device), torch.randn(n, c, h, w, device=device)
    flops = 2 * n * c * c * 9 * h * w
    result = {"shape": f"{n}x{c}x{h}x{w} -> {c}, 3x3", "precision": precision}
    for layout, fmt in (("nchw", torch.contiguous_format), ("channels_last", torch.channels_last)):
        xf, cf = x.contiguous(memory_format=fmt), conv.to(memory_format=fmt)

        def run() -> None:
            with torch.inference_mode(), autocast(precision, device):
                cf(xf)

        t = timed(run, repeats, warmup, device)
        result[layout] = {"gflops": flops / t["median_s"] / 1e9, "gflops_best": flops / t["min_s"] / 1e9}
    best = max(("nchw", "channels_last"), key=lambda k: result[k]["gflops"])
    result.update(layout=best, gflops=result[best]["gflops"], gflops_best=result[best]["gflops_best"])
    return result


def rss_bytes() -> int:
    """Current resident memory of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_probe(width: float, size: tuple[int, int], precision: str, threads: int) -> dict:
    """Peak RSS of one inference in this process: the peak, and its increase over the model + inputs alone
    (after a small warm-up call)."""
    from .models import FlowNetS

    torch.set_num_threads(threads)
    model, img, small = FlowNetS(width=width).eval(), torch.rand(1, 3, *size), torch.rand(1, 3, 64, 64)
    with torch.inference_mode(), autocast(precision):
        model(small, small)  # loads the kernels' code, which is not the size's cost
        base = rss_bytes()
        model(img, img)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"peak_rss_bytes": peak, "increase_bytes": peak - base}


def peak_memory(width: float, size: tuple[int, int], precision: str, threads: int) -> dict:
    """``memory_probe`` in a fresh Python process, so that this process's earlier allocations hide nothing."""
    args = [sys.executable, "-m", "flownet.bench", "memory", str(width), str(size[0]), str(size[1]), precision,
            str(threads)]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout)


def gpu_memory(run: Callable[[], object], device: torch.device) -> dict:
    """Peak GPU memory torch allocates in one call of ``run`` (the model and inputs already there included)."""
    synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    run()
    synchronize(device)
    peak = torch.cuda.max_memory_allocated(device)
    return {"peak_cuda_bytes": peak, "increase_bytes": peak - base}


# ----------------------------------------------------------------------------------------------- the benches
def bench_infer(width: float, size: tuple[int, int], batch: int, precision: str, repeats: int, warmup: int,
                threads: int, device: torch.device = torch.device("cpu")) -> dict:
    """Forward time per pair of FlowNetS(width).eval() on plain NCHW fp32 inputs, FLOPs, GFLOP/s, ratio to the
    ceiling of the same precision, peak memory (CPU: RSS of a fresh process; GPU: what torch allocated)."""
    from .models import FlowNetS

    model = FlowNetS(width=width).eval().to(device)
    img1, img2 = (torch.rand(batch, 3, *size, device=device) for _ in range(2))
    flops = count_flops(model, img1, img2)

    def run() -> None:
        with torch.inference_mode(), autocast(precision, device):
            model(img1, img2).float()

    t = timed(run, repeats, warmup, device)
    ceilings = {p: conv_ceiling(p, max(repeats, 5), warmup, device) for p in dict.fromkeys(("fp32", precision))}
    ceiling = ceilings[precision]
    gflops, gflops_best = flops / t["median_s"] / 1e9, flops / t["min_s"] / 1e9
    return {"width": width, "size": list(size), "batch": batch, "precision": precision,
            "ms_per_pair": {k.replace("_s", ""): v * 1e3 / batch for k, v in t.items()},
            "gflop_per_pair": flops / batch / 1e9, "gflops": gflops, "gflops_best": gflops_best,
            "ceiling": ceilings, "ratio": gflops / ceiling["gflops"], "ratio_best": gflops_best / ceiling["gflops_best"],
            "memory": gpu_memory(run, device) if device.type == "cuda" else peak_memory(width, size, precision, threads)}


def bench_train(width: float, crop: tuple[int, int], batch: int, precision: str, repeats: int, warmup: int,
                ceiling_gflops: float | None = None, device: torch.device = torch.device("cpu")) -> dict:
    """Pairs/s of full training steps (forward in train mode, multiscale loss, backward, Adam) on random data;
    a step is counted as 3 x the forward FLOPs."""
    from .metrics import multiscale_loss
    from .models import FlowNetS

    model = FlowNetS(width=width, batch_norm=True).train().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    img1, img2 = (torch.rand(batch, 3, *crop, device=device) for _ in range(2))
    gt = 5 * torch.randn(batch, 2, *crop, device=device)
    flops = 3 * count_flops(model, img1, img2)

    def step() -> None:
        with autocast(precision, device):
            loss = multiscale_loss(model(img1, img2), gt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t = timed(step, repeats, warmup, device)
    ceiling = ceiling_gflops or conv_ceiling(precision, 5, 1, device)["gflops"]
    gflops = flops / t["median_s"] / 1e9
    return {"width": width, "crop": list(crop), "batch": batch, "precision": precision,
            "pairs_per_s": batch / t["median_s"], "s_per_step": t, "gflop_per_step": flops / 1e9, "gflops": gflops,
            "ceiling_gflops": ceiling, "ratio": gflops / ceiling}


def loader_rate(loader: torch.utils.data.DataLoader, batches: int) -> float:
    """Pairs/s a loader delivers after its first batch (which starts the workers)."""
    it = iter(loader)
    next(it)
    start, pairs = time.perf_counter(), 0
    for _ in range(batches):
        pairs += next(it)["img1"].shape[0]
    return pairs / (time.perf_counter() - start)


def bench_data(crop: tuple[int, int], batch: int, workers: int, batches: int, train_pairs_per_s: float) -> dict:
    """Pairs/s of the synthetic stream and of a generated Flying Chairs folder (augmented, cropped) through a
    DataLoader, and their ratio to the training throughput (above 1: data loading keeps up)."""
    from torch.utils.data import DataLoader, RandomSampler

    from .data import Augment, FlyingChairs, SyntheticChairs, collate, write_synthetic_chairs
    from .synth import SynthConfig

    n = batch * (batches + 1)
    stream = SyntheticChairs(SynthConfig(height=crop[0], width=crop[1]), n, seed=0)
    rates = {"synthetic": loader_rate(DataLoader(stream, batch, num_workers=workers, collate_fn=collate), batches)}
    with tempfile.TemporaryDirectory() as tmp:
        write_synthetic_chairs(tmp, 16, (max(384, crop[0]), max(512, crop[1])), seed=0)
        chairs = FlyingChairs(tmp, "all", Augment(crop=crop))
        loader = DataLoader(chairs, batch, sampler=RandomSampler(chairs, replacement=True, num_samples=n),
                            num_workers=workers, collate_fn=collate)
        rates["flyingchairs"] = loader_rate(loader, batches)
    return {"crop": list(crop), "batch": batch, "workers": workers, "train_pairs_per_s": train_pairs_per_s,
            **{k: {"pairs_per_s": v, "ratio_to_train": v / train_pairs_per_s} for k, v in rates.items()}}


def moving_video(path: Path, size: tuple[int, int], count: int, step: int = 3, fps: Fraction = Fraction(25)
                 ) -> None:
    """A video at ``fps`` of ``count`` frames of a generated texture panning diagonally by ``step`` px per frame."""
    from .synth import textures
    from .video import write_video

    h, w = size
    tex = textures(torch.Generator().manual_seed(0), 1, h + step * count, w + step * count)[0]
    tex = (tex.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    write_video((tex[k * step : k * step + h, k * step : k * step + w] for k in range(count)), path, fps)


def bench_interp(size: tuple[int, int], precision: str, frames: int = 12, factor: int = 2,
                 device: torch.device = torch.device("cpu")) -> dict:
    """Output frames/s of ``flownet interpolate`` (x ``factor``) on a generated video of ``size`` with the
    command's defaults (the default flow pipeline, the learned synthesis), decoding and encoding (H.264) included."""
    from .interpolate import interpolate_sequence, learned_synthesis
    from .presets import default_flow_fn
    from .weights import default_checkpoint, load_model

    flow_fn = default_flow_fn(device, precision)
    synthesis = learned_synthesis(load_model(default_checkpoint("synthesis"), device))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src.mp4"
        moving_video(src, size, frames)
        interpolate_sequence(src, Path(tmp) / "warm.mp4", flow_fn, 2, progress=False,
                             synthesis=synthesis)  # first calls: set-up
        start = time.perf_counter()
        n = interpolate_sequence(src, Path(tmp) / "out.mp4", flow_fn, factor, progress=False, synthesis=synthesis)
        seconds = time.perf_counter() - start
    return {"size": list(size), "precision": precision, "input_frames": frames, "factor": factor,
            "output_frames": n, "frames_per_s": n / seconds,
            "s_per_new_frame": seconds / (n - frames)}  # each made frame, with its share of decoding and encoding


MINTERPOLATE = "minterpolate=fps={fps}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"  # ffmpeg's best CPU mode
SAMPLE_CLIP = SHARED_DATA / "video" / "cockatoo.mp4"  # the video bench's clip where present (1280x720, 20 fps)


def clip_frames(clip: Path | None, seconds: float) -> tuple[list, Fraction, str]:
    """The first ``seconds`` of ``clip`` (default: ``SAMPLE_CLIP``, else a generated 1280x720 pan at 24 fps) as
    H x W x 3 uint8 frames, with its frame rate and a name saying what it is."""
    from .video import probe, timed_frames

    if clip is None and SAMPLE_CLIP.is_file():
        clip = SAMPLE_CLIP
    if clip is None:
        with tempfile.TemporaryDirectory() as tmp:
            moving_video(Path(tmp) / "pan.mp4", (720, 1280), round(24 * seconds), fps=Fraction(24))
            return clip_frames(Path(tmp) / "pan.mp4", seconds)[0], Fraction(24), "a generated 1280x720 pan"
    fps = probe(clip).fps
    frames = [f for t, _, f in timed_frames(clip) if t < seconds]
    return frames, fps, f"{clip.name} ({frames[0].shape[1]}x{frames[0].shape[0]}, {float(fps):g} fps)"


def minterpolate(frames: list, fps: Fraction, out: Path | None = None, factor: int = 2) -> list:
    """ffmpeg's minterpolate (``MINTERPOLATE``) of raw frames at ``fps`` to ``factor`` times the rate: into the
    video ``out`` (H.264, CRF 18) or, without one, back as frames."""
    from .video import ffmpeg_exe

    h, w = frames[0].shape[:2]
    sink = ["-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", str(out)] if out else \
        ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps),
           "-i", "-", "-vf", MINTERPOLATE.format(fps=factor * fps), *sink]
    result = subprocess.run(cmd, input=b"".join(f.tobytes() for f in frames), capture_output=True)
    if result.returncode:
        raise FlowNetError(f"ffmpeg's minterpolate failed: {result.stderr.decode(errors='replace').strip()[-200:]}")
    return [] if out else list(np.frombuffer(result.stdout, np.uint8).reshape(-1, h, w, 3).copy())


def dropped_frames_psnr(frames: list, made: list) -> float:
    """Mean PSNR of the odd frames of ``made`` (a x2 of ``frames[0::2]``) against the dropped ``frames[1::2]``, over
    those between two kept frames that ``made`` has (minterpolate leaves out its last three)."""
    from .metrics import psnr

    pairs = [(made[k], frames[k]) for k in range(1, min(len(frames) - 1, len(made)), 2)]
    return sum(psnr(*(torch.from_numpy(np.array(x)).permute(2, 0, 1)[None].double() / 255 for x in p))
               for p in pairs) / len(pairs)


@contextmanager
def busy_processes(n: int) -> Iterator[list[subprocess.Popen]]:
    """``n`` processes beside this one, each keeping one core busy, killed on leaving."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def bench_video(clip: Path | None = None, seconds: float = 2.0, qualities: tuple[str, ...] = ("fast", "balanced",
                "best"), device: str = "cpu", precision: str = "auto", threads: int | None = None,
                busy: int = 0) -> dict:
    """The same x2 job for each ``--quality`` of flownet and for ffmpeg's minterpolate, on a cut of ``clip``: time
    and output frames/s of video in, video out (H.264 both); and the drop-every-other-frame test: every other frame
    of the cut left out, put back by x2 of the rest, PSNR against the real frames. Each flownet run uses ``threads``
    (default: what ``flownet interpolate`` picks, ``concurrency.compute_threads``). ``busy``: the default preset and
    minterpolate timed again with that many busy processes beside them."""
    from .concurrency import compute_threads, use_threads
    from .interpolate import interpolate_sequence, interpolate_stream
    from .presets import VIDEO_QUALITY, preset
    from .video import probe, write_video

    frames, fps, name = clip_frames(clip, seconds)
    rows: dict = {}
    before = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        cut = Path(tmp) / "cut.mp4"
        write_video(frames, cut, fps, crf=18)
        half = [(Fraction(k) / (fps / 2), 2 / fps, f) for k, f in enumerate(frames[0::2])]
        made: dict = {}

        def flownet_row(quality: str) -> dict:
            flow_fn, synthesis = preset(quality, device, precision)
            use_threads(threads or compute_threads())
            n_threads = torch.get_num_threads()
            start = time.perf_counter()
            n = interpolate_sequence(cut, Path(tmp) / f"{quality}.mp4", flow_fn, 2, progress=False,
                                     synthesis=synthesis)
            taken = time.perf_counter() - start
            if quality not in made:
                made[quality] = dropped_frames_psnr(frames, list(interpolate_stream(iter(half), flow_fn, fps,
                                                                                    synthesis)))
            return {"seconds": taken, "frames": n, "frames_per_s": n / taken, "psnr_dropped": made[quality],
                    "threads": n_threads}

        def minterpolate_row() -> dict:
            start = time.perf_counter()
            minterpolate(frames, fps, Path(tmp) / "mi.mp4")
            taken = time.perf_counter() - start
            n = probe(Path(tmp) / "mi.mp4").frames
            if "mi" not in made:
                made["mi"] = dropped_frames_psnr(frames, minterpolate(frames[0::2], fps / 2))
            return {"seconds": taken, "frames": n, "frames_per_s": n / taken, "psnr_dropped": made["mi"]}

        try:
            for quality in qualities:
                rows[f"flownet --quality {quality}"] = flownet_row(quality)
            rows["ffmpeg minterpolate (mci)"] = minterpolate_row()
            if busy:
                with busy_processes(busy):
                    beside = f", {busy} busy beside"
                    rows[f"flownet --quality {VIDEO_QUALITY}{beside}"] = flownet_row(VIDEO_QUALITY)
                    rows[f"ffmpeg minterpolate{beside}"] = minterpolate_row()
        finally:
            use_threads(before)  # the process as it was (the runs above set its threads)
    return {"clip": name, "input_frames": len(frames), "fps": str(fps), "rows": rows}


def classical_datasets() -> Iterator[tuple[str, Path]]:
    """(name, folder) of the real data beside the repository (../shared/data): Flying Chairs, Middlebury."""
    for name in ("flyingchairs", "middlebury"):
        if (SHARED_DATA / name).is_dir():
            yield name, SHARED_DATA / name


def bench_classical(precision: str, checkpoint: str | None = None, device: torch.device = torch.device("cpu")) -> dict:
    """EPE and ms/pair of OpenCV's DIS (3 presets) and Farneback beside our model (default: the shipped
    checkpoint) on ../shared/data, or on 8 generated 384x512 pairs when it is absent."""
    from .classical import METHODS, classical_flow_fn, import_cv2
    from .data import write_synthetic_chairs
    from .datasets import dataset_pairs, load_pair
    from .evaluate import evaluate_epe, model_flow_fn
    from .weights import default_checkpoint, load_model

    import_cv2().setNumThreads(torch.get_num_threads())  # the same threads as ours
    checkpoint = checkpoint or str(default_checkpoint())
    methods = {Path(checkpoint).name: model_flow_fn(load_model(checkpoint), device, precision),
               **{m: classical_flow_fn(m) for m in METHODS}}
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        datasets = list(classical_datasets())
        if not datasets:
            write_synthetic_chairs(tmp, 8, (384, 512), seed=0)
            datasets = [("generated", Path(tmp))]
        for data, root in datasets:
            pairs = dataset_pairs(root, "all")
            first = load_pair(pairs[0].img1, pairs[0].img2)
            results[data] = {}
            for name, fn in methods.items():
                fn(first["img1"][None], first["img2"][None])  # warm-up (first-call set-up is not timed)
                r = evaluate_epe(pairs, fn, progress=False)
                results[data][name] = {"epe": r["epe"], "ms_per_pair": r["seconds_per_pair"] * 1e3, "n": r["n"]}
    return {"precision": precision, "model": Path(checkpoint).name, "datasets": results}


# ----------------------------------------------------------------------------------------------- report
def run_bench(what: str, width: float, size: tuple[int, int], crop: tuple[int, int], batch: int | None,
              workers: int, threads: int | None, repeats: int, warmup: int, precision: str,
              command: list[str], device: str = "cpu", busy: int = 0) -> dict:
    """Run the chosen benches on ``device`` (the data loaders on the CPU), print a report, return everything as
    one dict."""
    whats = WHATS if what == "all" else (what,)
    if what != "all" and what not in (*WHATS, "video"):
        raise FlowNetError(f"unknown bench '{what}' (use {', '.join(WHATS)}, video or all)")
    if threads is not None:
        if threads < 1:
            raise FlowNetError(f"--threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    if repeats < 1 or warmup < 0 or (batch is not None and batch < 1) or workers < 0:
        raise FlowNetError("--repeats and --batch must be at least 1, --warmup and --workers at least 0")
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed sizes: let cuDNN pick its fastest kernels
    prec = resolve_precision(precision, dev)
    out: dict = {"machine": machine(torch.get_num_threads(), command, dev), "precision": prec}
    m = out["machine"]
    print(f"command:   {m['command']}\ncpu:       {m['cpu']} ({m['isa']}), {m['threads']} threads, torch {m['torch']}, "
          f"oneDNN fused inference {'on' if m['onednn_fused'] else 'off (torch layers)'}")
    if m["gpu"]:
        print(f"device:    {m['device']}: {m['gpu']}, CUDA {m['cuda']}")
    print(f"precision: {prec} (asked: {precision}); width {width:g}; inference size {size[0]}x{size[1]}")
    if "infer" in whats:
        r = out["infer"] = bench_infer(width, size, batch or 1, prec, repeats, warmup, m["threads"], dev)
        t, c = r["ms_per_pair"], r["ceiling"][prec]
        print(f"infer:     {t['median']:.1f} ms/pair (min {t['min']:.1f}, max {t['max']:.1f}), "
              f"{r['gflop_per_pair']:.2f} GFLOP/pair, {r['gflops']:.0f} GFLOP/s")
        for p, cc in r["ceiling"].items():
            print(f"ceiling:   {p} {cc['shape']}: {cc['gflops']:.0f} GFLOP/s ({cc['layout']}; NCHW "
                  f"{cc['nchw']['gflops']:.0f}, channels_last {cc['channels_last']['gflops']:.0f})")
        print(f"ratio:     {r['ratio']:.2f} of the {prec} ceiling (best times: {r['ratio_best']:.2f}, "
              f"{r['gflops_best']:.0f} / {c['gflops_best']:.0f} GFLOP/s)")
        mem = r["memory"]
        kind, peak = ("GPU", mem["peak_cuda_bytes"]) if "peak_cuda_bytes" in mem else ("RSS", mem.get("peak_rss_bytes"))
        print("memory:    " + (f"peak {kind} {peak / 2**20:.0f} MiB, +{mem['increase_bytes'] / 2**20:.0f} MiB for "
                                f"the forward" if "error" not in mem else f"not measured ({mem['error']})"))
    if "train" in whats or "data" in whats:
        ceiling = out.get("infer", {}).get("ceiling", {}).get(prec, {}).get("gflops")
        r = out["train"] = bench_train(width, crop, batch or 8, prec, repeats, warmup, ceiling, dev)
        print(f"train:     {r['pairs_per_s']:.2f} pairs/s (batch {r['batch']}, crop {crop[0]}x{crop[1]}, "
              f"{r['gflops']:.0f} GFLOP/s = {r['ratio']:.2f} of the ceiling)")
    if "data" in whats:
        r = out["data"] = bench_data(crop, batch or 8, workers, max(2, repeats), out["train"]["pairs_per_s"])
        for k in ("synthetic", "flyingchairs"):
            print(f"data:      {k} {r[k]['pairs_per_s']:.1f} pairs/s with {workers} workers = "
                  f"{r[k]['ratio_to_train']:.1f} x training")
    if "interp" in whats:
        r = out["interp"] = bench_interp(size, prec, device=dev)
        print(f"interp:    {r['frames_per_s']:.2f} output frames/s, {r['s_per_new_frame']:.3f} s per made frame "
              f"(x{r['factor']}, {size[0]}x{size[1]}, shipped model + fuse + learned synthesis, H.264 video in and out)")
    if "video" in whats:
        r = out["video"] = bench_video(device=str(dev), precision=prec, threads=threads, busy=busy)
        print(f"video:     x2 of the first {r['input_frames']} frames of {r['clip']}; seconds and output frames/s of "
              "video in, video out (H.264); PSNR of every other frame dropped and put back")
        for name, v in r["rows"].items():
            used = f"  (threads: {v['threads']})" if "threads" in v else "  (ffmpeg's threads)"
            print(f"video:     {name:<42}{v['seconds']:7.1f} s {v['frames_per_s']:7.2f} frames/s "
                  f"{v['psnr_dropped']:7.2f} dB{used}")
    if "classical" in whats:
        try:
            r = out["classical"] = bench_classical(prec, device=dev)
        except FlowNetError as e:
            if what != "all":
                raise
            print(f"classical: skipped ({e})")
        else:
            for data, rows in r["datasets"].items():
                for name, v in rows.items():
                    print(f"classical: {data:<13}{name:<18}EPE {v['epe']:7.3f}  {v['ms_per_pair']:8.1f} ms/pair")
    return out


if __name__ == "__main__" and sys.argv[1:2] == ["memory"]:  # the subprocess of peak_memory
    from .alloc import keep_large_blocks

    keep_large_blocks()  # as the flownet command does
    width_, h, w, p, n = sys.argv[2:7]
    print(json.dumps(memory_probe(float(width_), (int(h), int(w)), p, int(n))))
