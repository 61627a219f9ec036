"""``flownet infer``: the flow between two images, or along a folder of frames or a video."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import FlowNetError
from .common import above_zero, add_command, add_model_options, model_flow

SUFFIX_SAVE_AS = {".flo": "flo", ".png": "kitti"}  # what -o's suffix means without --save-as
DESCRIPTION = {"flo": "Middlebury .flo flow file", "color": "colour-coded picture of the flow",
               "kitti": "KITTI 16-bit flow file (not a picture: image viewers show it flat olive; draw it with "
                        "'flownet viz', or use --save-as color)"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "infer", "estimate the flow between two images, or along a folder of frames or a video",
                    "Estimate the flow from IMG1 to IMG2 and write it as .flo, KITTI 16-bit .png or (--save-as "
                    "color) a colour-coded picture; or, given one folder of frames (in name order) or a video, the "
                    "flow of every consecutive pair into the folder -o, one file per pair named after its first "
                    "frame.")
    p.add_argument("img1", metavar="IMG1|FOLDER|VIDEO", help="first image, or a folder of frames, or a video")
    p.add_argument("img2", metavar="IMG2", nargs="?", help="second image (for a pair)")
    p.add_argument("-o", "--output", required=True,
                   help="FLOW.flo or FLOW.png for a pair; an output folder for a folder or video")
    p.add_argument("--save-as", choices=["flo", "color", "kitti"],
                   help="flo (Middlebury), color (a picture in the Middlebury colour coding) or kitti (16-bit PNG "
                        "flow) (default: a pair: from -o's suffix, .flo or KITTI .png; a sequence: flo)")
    p.add_argument("--max-flow", type=above_zero,
                   help="with --save-as color: speed (px) of full saturation, one scale for every picture of a "
                        "sequence (default: each picture scaled to its own largest speed)")
    p.add_argument("--resume", action="store_true",
                   help="folder or video: skip pairs whose flow file is already in the output folder (each file is "
                        "written whole as soon as it is computed, so an interrupted run keeps its flows)")
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.max_flow is not None and args.save_as != "color":
        raise FlowNetError("--max-flow is for pictures: add --save-as color")
    if args.img2 is None:
        return run_sequence(args)
    if args.resume:
        raise FlowNetError("--resume is for a folder of frames or a video")
    suffix = Path(args.output).suffix.lower()
    save_as = args.save_as or SUFFIX_SAVE_AS.get(suffix)
    if save_as is None or suffix not in (".flo", ".png") or (save_as == "flo") != (suffix == ".flo"):
        raise FlowNetError("output must end in .flo (Middlebury), or .png (KITTI 16-bit flow, or with --save-as "
                           "color a picture)", args.output)
    from .. import io

    img1, img2 = io.read_pair(args.img1, args.img2)
    flow_fn, _ = model_flow(args)
    flow = io.tensor_to_flow(flow_fn(io.image_to_tensor(img1), io.image_to_tensor(img2)))
    if save_as == "color":
        from ..viz import flow_to_color

        io.write_image(args.output, flow_to_color(flow, args.max_flow))
    else:
        (io.write_flo if save_as == "flo" else io.write_kitti_flow)(args.output, flow)
    print(f"flow written to {args.output}: a {DESCRIPTION[save_as]}")
    return 0


def run_sequence(args: argparse.Namespace) -> int:
    from ..infer import infer_sequence

    if not Path(args.img1).exists():
        raise FlowNetError("no such folder or video", args.img1)
    save_as = args.save_as or "flo"
    flow_fn, _ = model_flow(args)
    try:
        written = infer_sequence(args.img1, args.output, flow_fn, save_as, max_flow=args.max_flow,
                                 resume=args.resume)
    except KeyboardInterrupt:
        print(f"flownet: interrupted; the finished flows are in {args.output}: run again with --resume to go on",
              file=sys.stderr)
        return 130
    print(f"{len(written)} flows written to {args.output}: each a {DESCRIPTION[save_as]}")
    return 0
