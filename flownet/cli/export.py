"""``flownet export``: the model as ONNX."""

from __future__ import annotations

import argparse

from .common import add_command, at_least


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "export", "export the model to ONNX",
                    "Write the model as ONNX (opset 17) with dynamic batch, height and width.")
    p.add_argument("--onnx", required=True, help="output MODEL.onnx")
    p.add_argument("--checkpoint", help="weights (default: the shipped checkpoint)")
    p.add_argument("--width", type=at_least(0.01, float),
                   help="without --checkpoint: export an untrained network of this width")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..export import export_onnx

    if args.checkpoint or args.width is None:
        from ..weights import default_checkpoint, load_model

        model = load_model(args.checkpoint or default_checkpoint("flownets"))
    else:  # an untrained network of that width (for testing deployments)
        from ..models import FlowNetS

        model = FlowNetS(width=args.width)
    export_onnx(model, args.onnx)
    print(f"ONNX model written to {args.onnx} (inputs img1, img2: Bx3xHxW in [0, 1]; output flow: Bx2xHxW)")
    return 0
