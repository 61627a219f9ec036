"""The ``flownet`` command: one small module per subcommand, each with ``add_parser(sub)`` and ``run(args)``.

Every problem a user can cause is a FlowNetError (or a usage mistake): printed as one line, exit status 2. The
modules import only the standard library at start-up; torch, Lightning and the rest are imported inside ``run``,
so that ``--help`` is quick and only ``train`` (and ``plot``'s figure code) load what they use.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..alloc import keep_large_blocks
from .. import __version__
from ..errors import FlowNetError
from . import bench, data, evaluate, export, infer, interpolate, plot, train, viz
from .common import Parser

COMMANDS = (train, evaluate, infer, viz, plot, interpolate, bench, export, data)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="flownet",
                    description="Optical flow with FlowNetS and RAFT-lite: train, evaluate, infer, visualise, "
                                "interpolate.")
    parser.add_argument("--version", action="version", version=f"flownet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The options: built-in defaults, then a ``--config`` file's values, then the flags given."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "config", None):
        args.parser.set_defaults(**train.read_config(args.config, args.parser))
        args = parser.parse_args(argv)
    return args


INPUTS = ("img1", "img2", "frame0", "frame1", "flow", "arrows", "gt", "data")  # the commands' input arguments


def refuse_overwriting_inputs(args: argparse.Namespace) -> None:
    """A FlowNetError when ``-o`` names one of the command's input files (it would be overwritten)."""
    out = getattr(args, "output", None)
    if not out or not os.path.exists(out):
        return
    for name in INPUTS:
        value = getattr(args, name, None)
        if isinstance(value, (str, os.PathLike)) and os.path.exists(value) and os.path.samefile(out, value):
            raise FlowNetError(f"-o names an input ({name}): choose another output; nothing was written", out)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse(argv)
        refuse_overwriting_inputs(args)
        keep_large_blocks()  # large tensors from the heap, not fresh memory maps (flownet.alloc)
        return args.func(args)
    except FlowNetError as e:
        message = str(e).strip()
        if "\n" in message:  # raised in a DataLoader worker: the original message is the traceback's last line
            message = message.splitlines()[-1].split("FlowNetError: ", 1)[-1]
        print(f"flownet: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("flownet: interrupted", file=sys.stderr)
        return 130
