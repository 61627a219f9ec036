"""The learning-curve comparison of docs/learning_curves.png: validation EPE against training minutes of several
runs of `flownet train` on the same generated validation set (their CSV logs: RUN/logs/version_*/metrics.csv,
columns val_epe and minutes; several sittings of one run follow each other in time).

    python tools/learning_curves.py -o docs/learning_curves.png "raft-lite=runs/raft-lite" "flownets 0.5=runs/fns"
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def curve(run: Path) -> list[tuple[float, float]]:
    """(minutes since the first sitting began, validation EPE) of every validation of a run, sitting after
    sitting."""
    points, offset = [], 0.0
    for log in sorted(run.glob("logs/version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1])):
        rows = [r for r in csv.DictReader(log.open()) if r.get("val_epe") and r.get("minutes")]
        points += [(offset + float(r["minutes"]), float(r["val_epe"])) for r in rows]
        offset = points[-1][0] if points else offset
    return points


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", metavar="LABEL=RUN")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--title", default="validation EPE (64 generated 384x512 pairs, real textures) vs training time")
    args = p.parse_args()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for item in args.runs:
        label, run = item.split("=", 1)
        xs, ys = zip(*curve(Path(run)))
        ax.plot(xs, ys, marker="o", ms=3, label=label)
    ax.set_xlabel("training minutes on this CPU")
    ax.set_ylabel("validation EPE (px)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(args.title, fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.output, dpi=100)
    print(f"curves written to {args.output}")


if __name__ == "__main__":
    main()
