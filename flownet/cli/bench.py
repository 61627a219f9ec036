"""``flownet bench``: speed of inference, training, data loading, interpolation and classical flow."""

from __future__ import annotations

import argparse
import sys

from .common import add_command, at_least, check_writable, parse_size, pick_device


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "bench", "measure speed (and classical flow beside ours)",
                    "Measure inference (ms/pair, GFLOP/s and its ratio to this machine's plain 3x3 convolution "
                    "ceiling, peak memory), training steps, data loading, video interpolation, and OpenCV's DIS / "
                    "Farneback beside our model (EPE, ms/pair). Every report says what it ran on.")
    p.add_argument("--what", default="infer", choices=["infer", "train", "data", "interp", "classical", "video", "all"],
                   help="what to measure (data also measures training, to compare; video: x2 of a 720p clip by each "
                        "--quality and by ffmpeg's minterpolate, minutes; all: everything but video)")
    p.add_argument("--width", type=at_least(0.01, float), default=1.0,
                   help="network width for infer, train (untrained weights)")
    p.add_argument("--size", type=parse_size, default="384x512", help="inference and interpolation size HxW")
    p.add_argument("--crop", type=parse_size, default="320x448", help="training and data crop HxW (multiples of 64)")
    p.add_argument("--batch", type=at_least(1), help="pairs per call (default: 1 for infer, 8 for train and data)")
    p.add_argument("--workers", type=at_least(0), default=2, help="DataLoader workers of the data bench")
    p.add_argument("--threads", type=at_least(1), help="torch threads (default: torch's choice; video: what flownet interpolate picks)")
    p.add_argument("--repeats", type=at_least(1), default=10, help="timed calls (after the warm-up)")
    p.add_argument("--warmup", type=at_least(0), default=2, help="untimed calls first")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"],
                   help="fp32, bf16 (autocast) or auto (bf16 where the CPU has native bf16, or on CUDA)")
    p.add_argument("--device", default="auto",
                   help="cpu, cuda (the data loaders stay on the CPU) or auto (CUDA when available)")
    p.add_argument("--busy", type=at_least(0), default=0,
                   help="video: also time the default preset and minterpolate with this many busy processes beside "
                        "them (each keeps one core busy), to see what a loaded machine costs")
    p.add_argument("--json", help="write every number to this JSON file (its folder must exist)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..bench import run_bench
    from ..fileutil import write_json

    if args.json:
        check_writable(args.json, "--json file")
    result = run_bench(args.what, args.width, args.size, args.crop, args.batch, args.workers, args.threads,
                       args.repeats, args.warmup, args.precision, ["flownet", *sys.argv[1:]], pick_device(args.device),
                       args.busy)
    if args.json:
        write_json(args.json, result)
        print(f"results written to {args.json}")
    return 0
