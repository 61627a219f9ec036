"""``flownet interpolate``: in-between frames of two images, or a whole video or folder of frames."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import FlowNetError
from ..presets import QUALITY, VIDEO_QUALITY
from .common import (FLOWS, add_command, add_model_options, add_synthesis_options, at_least, chosen_flow,
                     chosen_synthesis, frame_rate, synthesis_model)

MAX_FRAMES = 1000  # in-between frames per pair (--frames, --factor - 1) above which --force is needed
LIMITS = (240, 50, 1)  # video output: fps, GIF fps and hours above which --force is needed


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "interpolate", "make in-between frames along the flow (learned synthesis, or warping)",
                    "Two images: the frame at time --t between them (-o FRAME.png), or --frames N evenly spaced ones "
                    "(-o FOLDER, named by their time: frame_t0.250.png, ...). A video or a folder of frames (in name "
                    "order, at --input-fps): the whole sequence at --factor times the frame rate, or at --fps, as a "
                    "video (.mp4 .mkv .mov .m4v: H.264; .webm: VP9; .gif) that keeps the input's audio and colour "
                    "range, or as a folder of PNGs. Identical frames are copied and scene cuts are not warped.")
    p.add_argument("frame0", metavar="FRAME0|VIDEO|FOLDER", help="first image, or a video, or a folder of frames")
    p.add_argument("frame1", metavar="FRAME1", nargs="?", help="second image (for two images)")
    p.add_argument("-o", "--output", required=True,
                   help="FRAME.png, a folder (--frames, frame folders) or a video (.mp4 .mkv .mov .m4v .webm .gif)")
    p.add_argument("--t", type=float,
                   help="two images: time of the frame between them, 0 = FRAME0, 1 = FRAME1 (default: 0.5)")
    p.add_argument("--frames", type=at_least(1), help="two images: write this many evenly spaced in-between "
                                                     "frames into the folder -o, named by their time")
    p.add_argument("--factor", type=at_least(2), help="video or frames: multiply the frame rate by this integer, "
                                                     "any of 2, 3, 4, ... (default: 2)")
    p.add_argument("--fps", type=frame_rate, help="video or frames: resample to this frame rate instead, exactly "
                                                "as given: 60, 59.94 or 60000/1001")
    p.add_argument("--input-fps", type=frame_rate, help="folder of frames: its frame rate (default: 25)")
    p.add_argument("--dedup", action="store_true",
                   help="video or frames: drop frames identical to the one before and spread the motion over the "
                        "time they held (animation on twos, telecined film)")
    p.add_argument("--crf", type=int, help="video output quality, lower is better: H.264 (.mp4 .mkv .mov .m4v) "
                                           "0-51, 18 by default; VP9 (.webm) 0-63, 31 by default")
    p.add_argument("--adapt", action="store_true",
                   help="video or frames: first fine-tune the learned synthesis on the input's own triplets "
                        "(frames i, i+1, i+2 spread over it; --adapt-steps steps, a few minutes on a CPU)")
    p.add_argument("--adapt-steps", type=at_least(1), default=200, help="optimiser steps of --adapt")
    p.add_argument("--threads", type=at_least(1),
                   help="compute threads (default: the CPUs this process may use less those other processes keep "
                        "busy, so that a busy machine costs no more than its share)")
    p.add_argument("--force", action="store_true",
                   help=f"allow what is refused as unlikely to be meant: more than {MAX_FRAMES} frames per pair, "
                        f"over {LIMITS[0]} fps, a GIF over {LIMITS[1]} fps, over {LIMITS[2]} hour of video")
    p.add_argument("--quality", choices=list(QUALITY),
                   help="presets of --flow, --flow-scale and --synthesis: fast = OpenCV's DIS flow at the size "
                        "flownet.pipeline.flow_scale picks (1/2 from 720p, 1/4 from 1440p), warping; balanced = "
                        "the same flow, the learned synthesis; best = our model's flow (--refine) at full size, the "
                        f"learned synthesis (default: {VIDEO_QUALITY} for a video or frames, balanced with --adapt, "
                        "best for two images)")
    p.add_argument("--flow", choices=FLOWS,
                   help="flow to interpolate along: our model (with --refine), or OpenCV's DIS / Farneback "
                        "(default: --quality's)")
    p.add_argument("--flow-scale", metavar="auto|S",
                   help="estimate the flow at S times the frames' size (e.g. 0.5) and upsample it; auto = 1/2 from "
                        "720p, 1/4 from 1440p (default: --quality's)")
    add_synthesis_options(p)
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for flag, many in (("--frames", args.frames), ("--factor", args.factor and args.factor - 1)):
        if many and many > MAX_FRAMES and not args.force:
            raise FlowNetError(f"{flag} {getattr(args, flag[2:])} makes {many} frames per pair (over {MAX_FRAMES}): "
                               "add --force if you mean it")
    if args.frame1 is None:
        return run_sequence(args)
    if args.adapt:
        raise FlowNetError("--adapt is for a video or a folder of frames (it learns from their triplets)")
    if any(v is not None for v in (args.factor, args.fps, args.input_fps, args.crf)) or args.dedup:
        raise FlowNetError("--factor, --fps, --input-fps, --crf and --dedup are for a video or a folder of frames; "
                           "for two images use --t or --frames")
    if args.frames is not None and args.t is not None:
        raise FlowNetError("--t and --frames exclude each other: one frame at --t, or --frames evenly spaced ones")
    if args.frames is not None and Path(args.output).suffix:
        raise FlowNetError(f"--frames {args.frames} writes a folder of frames: give -o a folder name, not a file "
                           "name", args.output)
    t = 0.5 if args.t is None else args.t
    if not 0 <= t <= 1:
        raise FlowNetError(f"--t must be between 0 and 1, got {t}")
    set_threads(args)
    from .. import io
    from ..interpolate import even_times, interpolate, interpolate_to_folder

    img0, img1 = (io.image_to_tensor(a) for a in io.read_pair(args.frame0, args.frame1))
    flow_fn, synthesis, _ = chosen_flow_and_synthesis(args, args.quality or "best")
    if args.frames:
        names = interpolate_to_folder(img0, img1, flow_fn, even_times(args.frames), args.output, synthesis=synthesis)
        print(f"{len(names)} in-between frames written to {args.output}/ ({names[0]} ... {names[-1]}: t in the "
              "name)")
    else:
        io.write_image(args.output, io.tensor_to_image(interpolate(img0, img1, flow_fn, [t], synthesis)[0]))
        print(f"frame at t={t:g} written to {args.output}")
    return 0


def set_threads(args: argparse.Namespace) -> None:
    """torch's threads: --threads, else the CPUs that other processes leave (read over ~50 ms: after the checks)."""
    from ..concurrency import compute_threads, use_threads

    use_threads(args.threads or compute_threads())


def chosen_flow_and_synthesis(args: argparse.Namespace, quality: str):
    """(flow function, synthesis, what they are in words) of ``quality``'s preset, where --flow, --flow-scale and
    --synthesis do not say otherwise."""
    from ..pipeline import ScaledFlow

    flow, scale, synthesis = (given or preset for given, preset in
                              zip((args.flow, args.flow_scale, args.synthesis), QUALITY[quality]))
    label, flow_fn = chosen_flow(args, flow)
    size = "the size flow_scale picks" if scale == "auto" else f"{scale} x the frames' size"
    said = f"quality {quality}: {label} at {size}, {synthesis} synthesis"
    return ScaledFlow(flow_fn, parse_flow_scale(scale)), chosen_synthesis(args, synthesis), said


def parse_flow_scale(text: str) -> float | None:
    """--flow-scale: None for auto, else a number in (0, 1]."""
    if text == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 1:
        raise FlowNetError(f"--flow-scale must be auto or a number in (0, 1], not '{text}'")
    return value


def run_sequence(args: argparse.Namespace) -> int:
    """A video or a folder of frames at --factor times the frame rate, or at --fps."""
    from ..interpolate import interpolate_sequence

    if args.t is not None or args.frames is not None:
        raise FlowNetError("--t and --frames are for two images; for a video or a folder of frames use --factor "
                           "or --fps")
    if args.factor is not None and args.fps is not None:
        raise FlowNetError("--factor and --fps exclude each other: multiply the frame rate, or give the new one")
    factor = 2 if args.factor is None and args.fps is None else args.factor
    set_threads(args)
    quality = args.quality or ("balanced" if args.adapt else VIDEO_QUALITY)
    flow_fn, synthesis, said = chosen_flow_and_synthesis(args, quality)
    if args.adapt:
        if args.synthesis == "warp" or quality == "fast":
            raise FlowNetError("--adapt fine-tunes the learned synthesis: it does not go with --synthesis warp or "
                               "--quality fast")
        from ..interpolate import learned_synthesis
        from ..synthesis_training import adapt, video_training_triplets

        model = synthesis_model(args)
        triplets = video_training_triplets(args.frame0, flow_fn)
        print(f"adapting the synthesis to {len(triplets)} triplets of {args.frame0} ({args.adapt_steps} steps)",
              file=sys.stderr)
        from tqdm import tqdm

        with tqdm(total=args.adapt_steps, desc="adapt", unit="step") as bar:
            tuned = adapt(model, triplets, args.adapt_steps, log=lambda step, loss: bar.update(1))
        synthesis = learned_synthesis(tuned)
    n = interpolate_sequence(args.frame0, args.output, flow_fn, factor, args.fps, args.input_fps, args.crf,
                             say=lambda message: print(message, file=sys.stderr), synthesis=synthesis,
                             dedup=args.dedup, limits=None if args.force else LIMITS)
    import torch

    print(f"{n} frames written to {args.output} ({said}; compute threads: {torch.get_num_threads()})")
    return 0
