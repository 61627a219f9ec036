"""One sitting of RAFT-lite's accumulating training, and what it leaves in the repository.

    python tools/raft_lite_sitting.py train [--minutes 100] [--accelerator gpu ...]   # a sitting
    python tools/raft_lite_sitting.py commit RUN --sitting N [--note TEXT]          # keep it if it is better

`train` runs `flownet train --config tools/raft_lite_recipe.yaml`, starting from checkpoints/raft-lite.pt when it
exists (so each session continues the last one), with as many epochs as fit in --minutes at this machine's pace
(measured in its first epoch: pass --epochs to set them). `commit` reads the run's best checkpoint (EMA weights,
lowest validation EPE on the recipe's fixed generated set), and when its validation EPE beats the one logged for
checkpoints/raft-lite.pt, writes it there in fp16 and adds a row to docs/raft-lite.md's training log. Extra
arguments of `train` go to `flownet train` (e.g. --accelerator gpu --devices 1 on a lent GPU, --out $OUT/run).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "checkpoints" / "raft-lite.pt"
LOG = ROOT / "docs" / "raft-lite.md"
RECIPE = ROOT / "tools" / "raft_lite_recipe.yaml"


def train(minutes: float, extra: list[str]) -> int:
    init = ["--init", str(WEIGHTS)] if WEIGHTS.is_file() else []
    if "--epochs" not in extra:
        extra = ["--epochs", str(max(1, int(minutes / 5)))] + extra  # ~5 min an epoch on a 2-core CPU
    return subprocess.call([sys.executable, "-m", "flownet.cli", "train", "--config", str(RECIPE), *init, *extra])


def best_row(run: Path) -> dict:
    """The validation row of the run's best epoch (lowest val_epe) and the sitting's steps and minutes."""
    rows = [r for log in run.glob("logs/version_*/metrics.csv") for r in csv.DictReader(log.open())]
    vals = [r for r in rows if r.get("val_epe")]
    best = min(vals, key=lambda r: float(r["val_epe"]))
    return {"val_epe": float(best["val_epe"]), "steps": int(best["step"]) + 1, "minutes": float(best["minutes"])}


def logged_best() -> float:
    """The lowest validation EPE in docs/raft-lite.md's log (inf when empty)."""
    row = r"^\| \d+ \|[^|]*\|[^|]*\|[^|]*\|[^|]*\| ([\d.]+) \|"  # sitting, date, machine, steps, minutes, EPE
    values = [float(m) for m in re.findall(row, LOG.read_text(), re.M)]
    return min(values, default=float("inf"))


def commit(run: Path, sitting: int, note: str) -> int:
    sys.path.insert(0, str(ROOT))
    from flownet.models import get_model
    import torch

    from flownet.precision import cpu_info, isa_level
    from flownet.weights import read_checkpoint, save_weights

    row = best_row(run)
    if row["val_epe"] >= logged_best():
        print(f"validation EPE {row['val_epe']:.3f} is no better than the logged {logged_best():.3f}: nothing kept")
        return 1
    config, state, _ = read_checkpoint(run / "checkpoints" / "best.ckpt")
    model = get_model(config.pop("model"), **config)
    model.load_state_dict(state)
    save_weights(model, WEIGHTS, half=True, meta={"sitting": sitting, **row, "recipe": RECIPE.name})
    cpu, flags = cpu_info()
    line = (f"| {sitting} | {datetime.date.today()} | {cpu} ({isa_level(flags)}), {torch.get_num_threads()} threads | "
            f"{row['steps']} | {row['minutes']:.0f} | "
            f"{row['val_epe']:.3f} | {note} |\n")
    text = LOG.read_text()
    LOG.write_text(text.replace("<!-- log -->\n", line + "<!-- log -->\n"))
    print(f"{WEIGHTS} written (validation EPE {row['val_epe']:.3f}); log row added to {LOG}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    t = sub.add_parser("train")
    t.add_argument("--minutes", type=float, default=100)
    c = sub.add_parser("commit")
    c.add_argument("run", type=Path)
    c.add_argument("--sitting", type=int, required=True)
    c.add_argument("--note", default="")
    args, extra = p.parse_known_args()
    return train(args.minutes, extra) if args.what == "train" else commit(args.run, args.sitting, args.note)


if __name__ == "__main__":
    sys.exit(main())
