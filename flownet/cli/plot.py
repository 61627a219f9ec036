"""``flownet plot``: a run's training curves."""

from __future__ import annotations

import argparse

from .common import add_command


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "plot", "plot a run's training curves",
                    "Plot train and validation EPE against the step from a run's CSV logs "
                    "(RUN/logs/version_*/metrics.csv, all sittings).")
    p.add_argument("run", metavar="RUN", help="run folder of 'flownet train' (its --out), or a metrics.csv")
    p.add_argument("-o", "--output", required=True, help="output PNG")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..viz import curves_figure, read_curves, save_figure

    save_figure(curves_figure(read_curves(args.run), title=str(args.run)), args.output)
    print(f"curves written to {args.output}")
    return 0
