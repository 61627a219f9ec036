"""``flownet viz``: draw a flow (colour coding, arrows, error) or a comparison figure of a dataset."""

from __future__ import annotations

import argparse

from ..errors import FlowNetError
from .common import above_zero, add_command, add_model_options, at_least, mark_unknown, model_flow, read_flow_marked


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "viz", "draw a flow in the Middlebury colour coding",
                    "Draw FLOW (.flo or KITTI .png) in the Middlebury colour coding (direction = hue, speed = "
                    "saturation, unknown = black), or as arrows over the first image, or its error against a ground "
                    "truth; or, with --compare, a figure of image, ground truth, prediction and error for the first "
                    "pairs of a dataset.")
    p.add_argument("flow", nargs="?", metavar="FLOW", help="flow file (.flo or KITTI 16-bit .png)")
    p.add_argument("-o", "--output", required=True, help="output PNG")
    p.add_argument("--max-flow", type=above_zero,
                   help="speed (px) of full saturation, to share one scale between pictures; faster motion is "
                        "darkened (default: the largest speed)")
    p.add_argument("--legend", action="store_true",
                   help="add the colour-wheel legend beside the picture, with its scale in pixels")
    p.add_argument("--arrows", metavar="IMG1", help="draw arrows over this image (the pair's first) instead")
    p.add_argument("--gt", metavar="GT", help="draw the end-point error against this ground-truth flow instead")
    p.add_argument("--compare", action="store_true", help="a comparison figure of --data (needs no FLOW)")
    p.add_argument("--data", help="with --compare: dataset folder (any layout 'flownet eval' reads)")
    p.add_argument("--count", type=at_least(1), default=4, help="with --compare: pairs in the figure")
    add_model_options(p, "with --compare: ")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import io, viz

    if args.compare:
        return run_compare(args)
    if args.flow is None:
        raise FlowNetError("give a flow file to draw (or --compare --data DIR)")
    flow = read_flow_marked(args.flow)
    if args.arrows:
        img = io.read_image(args.arrows)
        if img.shape[:2] != flow.shape[:2]:
            raise FlowNetError(f"image is {img.shape[1]}x{img.shape[0]}, the flow {flow.shape[1]}x{flow.shape[0]}",
                               args.arrows)
        viz.save_figure(viz.arrows_figure(img, flow), args.output)
    elif args.gt:
        gt = read_flow_marked(args.gt)
        if gt.shape != flow.shape:
            raise FlowNetError(f"ground truth is {gt.shape[1]}x{gt.shape[0]}, the flow {flow.shape[1]}x{flow.shape[0]}",
                               args.gt)
        viz.save_figure(viz.error_figure(flow, gt), args.output)
    else:
        scale = viz.color_scale(flow, args.max_flow)
        picture = viz.flow_to_color(flow, scale)
        io.write_image(args.output, viz.add_legend(picture, scale) if args.legend else picture)
        print(f"picture written to {args.output} (full saturation at {scale:.3g} px)")
        return 0
    print(f"picture written to {args.output}")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """``flownet viz --compare``: image, ground truth, prediction and error for the first --count pairs."""
    from .. import io, viz
    from ..datasets import dataset_pairs
    from ..evaluate import iter_predictions

    if not args.data:
        raise FlowNetError("--compare needs --data DIR")
    pairs = dataset_pairs(args.data, "all", "auto")[: args.count]
    flow_fn, _ = model_flow(args)
    rows = []
    for pair, sample, flow, _ in iter_predictions(pairs, flow_fn):
        gt = mark_unknown(io.tensor_to_flow(sample["flow"]), sample["valid"].numpy())
        rows.append((pair.name, io.read_image(pair.img1), gt, io.tensor_to_flow(flow)))
    viz.save_figure(viz.compare_figure(rows), args.output)
    print(f"figure of {len(rows)} pairs written to {args.output}")
    return 0
