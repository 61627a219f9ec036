"""``flownet interpolate``: in-between frames of two images, or a whole video or folder of frames."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import FlowNetError
from .common import above_zero, add_command, add_model_options, at_least, model_flow


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "interpolate", "make in-between frames by warping along the flow",
                    "Two images: the frame at time --t between them (-o FRAME.png), or --frames N evenly spaced ones "
                    "(-o FOLDER). A video or a folder of frames (in name order): the whole sequence at --factor times "
                    "the frame rate, or at --fps (-o OUT.mp4 or a folder). Identical frames are copied and scene "
                    "cuts are not warped.")
    p.add_argument("frame0", metavar="FRAME0|VIDEO|FOLDER", help="first image, or a video, or a folder of frames")
    p.add_argument("frame1", metavar="FRAME1", nargs="?", help="second image (for two images)")
    p.add_argument("-o", "--output", required=True, help="FRAME.png, a folder (--frames, frame folders) or OUT.mp4")
    p.add_argument("--t", type=float,
                   help="two images: time of the frame between them, 0 = FRAME0, 1 = FRAME1 (default: 0.5)")
    p.add_argument("--frames", type=at_least(1), help="two images: write this many evenly spaced in-between "
                                                     "frames into the folder -o")
    p.add_argument("--factor", type=at_least(1), help="video or frames: multiply the frame rate by this integer "
                                                     "(default: 2)")
    p.add_argument("--fps", type=above_zero, help="video or frames: resample to this frame rate instead")
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.frame1 is None:
        return run_sequence(args)
    if args.factor is not None or args.fps is not None:
        raise FlowNetError("--factor and --fps are for a video or a folder of frames; for two images use --t or --frames")
    if args.frames is not None and args.t is not None:
        raise FlowNetError("--t and --frames exclude each other: one frame at --t, or --frames evenly spaced ones")
    if args.frames is not None and Path(args.output).suffix:
        raise FlowNetError(f"--frames {args.frames} writes a folder of frames: give -o a folder name, not a file "
                           "name", args.output)
    t = 0.5 if args.t is None else args.t
    if not 0 <= t <= 1:
        raise FlowNetError(f"--t must be between 0 and 1, got {t}")
    from .. import io
    from ..interpolate import even_times, interpolate, write_frames

    img0, img1 = (io.image_to_tensor(a) for a in io.read_pair(args.frame0, args.frame1))
    flow_fn, _ = model_flow(args)
    if args.frames:
        frames = interpolate(img0, img1, flow_fn, even_times(args.frames))
        n = write_frames((io.tensor_to_image(f) for f in frames), Path(args.output))
        print(f"{n} in-between frames written to {args.output}/")
    else:
        io.write_image(args.output, io.tensor_to_image(interpolate(img0, img1, flow_fn, [t])[0]))
        print(f"frame at t={t:g} written to {args.output}")
    return 0


def run_sequence(args: argparse.Namespace) -> int:
    """A video or a folder of frames at --factor times the frame rate, or at --fps."""
    from ..interpolate import interpolate_sequence

    if args.t is not None or args.frames is not None:
        raise FlowNetError("--t and --frames are for two images; for a video or a folder of frames use --factor "
                           "or --fps")
    if args.factor is not None and args.fps is not None:
        raise FlowNetError("--factor and --fps exclude each other: multiply the frame rate, or give the new one")
    factor = 2 if args.factor is None and args.fps is None else args.factor
    flow_fn, _ = model_flow(args)
    n = interpolate_sequence(args.frame0, args.output, flow_fn, factor, args.fps)
    print(f"{n} frames written to {args.output}")
    return 0
