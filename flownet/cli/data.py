"""``flownet data``: dataset tools (``data synth``: a generated Flying-Chairs-format folder)."""

from __future__ import annotations

import argparse

from .common import HelpFormatter, add_command, at_least, parse_size


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="dataset tools", description="Dataset tools.", formatter_class=HelpFormatter)
    actions = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    p = add_command(actions, "synth", "generate a Flying-Chairs-format folder",
                    "Write N generated pairs with exactly known flow as <id>_img1.ppm, <id>_img2.ppm, <id>_flow.flo "
                    "plus FlyingChairs_train_val.txt (every fifth pair is validation).")
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--count", type=at_least(1), default=64, help="pairs to generate")
    p.add_argument("--size", type=parse_size, default="384x512", help="image size HxW")
    p.add_argument("--seed", type=int, default=0, help="seed of the scenes (the same seed gives the same files)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data import write_synthetic_chairs

    write_synthetic_chairs(args.out, args.count, args.size, args.seed)
    print(f"{args.count} pairs written to {args.out}")
    return 0
