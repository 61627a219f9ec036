"""One sitting of a flow model's accumulating training, and what it leaves in the repository.

    python tools/raft_lite_sitting.py train [--recipe R.yaml] [--minutes 100] [--accelerator gpu ...]  # a sitting
    python tools/raft_lite_sitting.py commit RUN --sitting N [--recipe R.yaml] [--note TEXT]     # keep if better

The recipe (default tools/raft_lite_recipe.yaml) names the model and the run folder (out: runs/NAME); the shipped
weights are checkpoints/<flownet.weights.DEFAULT_WEIGHTS[NAME]> (NAME.pt if it does not ship) and the training log
docs/NAME.md. `train` runs `flownet train --config RECIPE`, starting from the model's shipped weights when they
exist (so each session continues the last one; before the first sitting, from the recipe's own `init:`), with as
many epochs as fit in --minutes (--epoch-minutes: ~5 for raft-lite at scale 1 on a 2-core CPU, ~1.8 at scale 0.5;
or pass --epochs). `commit` reads the run's best checkpoint (EMA weights, lowest validation EPE on the recipe's
fixed generated set), and when its validation EPE beats the best one in the log, writes it to the shipped weights in
fp16 and adds a row to the log. Extra arguments of `train` go to `flownet train` (e.g. --accelerator gpu --devices 1 on a lent GPU, --out $OUT/run).
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
RECIPE = ROOT / "tools" / "raft_lite_recipe.yaml"
sys.path.insert(0, str(ROOT))


def places(recipe: Path) -> tuple[Path, Path]:
    """(the shipped weights, the training log) of ``recipe``: named by its run folder (``out:``): runs/NAME gives
    checkpoints/<flownet.weights.DEFAULT_WEIGHTS[NAME]>, or checkpoints/NAME.pt for a configuration that does not
    ship (raft-lite-dis-half), and docs/NAME.md."""
    import yaml

    from flownet.weights import DEFAULT_WEIGHTS

    name = Path(yaml.safe_load(recipe.read_text())["out"]).name
    return ROOT / "checkpoints" / DEFAULT_WEIGHTS.get(name, f"{name}.pt"), ROOT / "docs" / f"{name}.md"


def train(recipe: Path, minutes: float, epoch_minutes: float, extra: list[str]) -> int:
    weights, _ = places(recipe)
    init = ["--init", str(weights)] if weights.is_file() else []
    if "--epochs" not in extra:
        extra = ["--epochs", str(max(1, int(minutes / epoch_minutes)))] + extra
    return subprocess.call([sys.executable, "-m", "flownet.cli", "train", "--config", str(recipe), *init, *extra])


def best_row(run: Path) -> dict:
    """The validation row of the run's best epoch (lowest val_epe) and the sitting's steps and minutes."""
    rows = [r for log in run.glob("logs/version_*/metrics.csv") for r in csv.DictReader(log.open())]
    vals = [r for r in rows if r.get("val_epe")]
    best = min(vals, key=lambda r: float(r["val_epe"]))
    return {"val_epe": float(best["val_epe"]), "steps": int(best["step"]) + 1, "minutes": float(best["minutes"])}


def logged_best(log: Path) -> float:
    """The lowest validation EPE in the training log ``log`` (inf when empty)."""
    row = r"^\| \d+ \|[^|]*\|[^|]*\|[^|]*\|[^|]*\| ([\d.]+) \|"  # sitting, date, machine, steps, minutes, EPE
    values = [float(m) for m in re.findall(row, log.read_text(), re.M)]
    return min(values, default=float("inf"))


def commit(recipe: Path, run: Path, sitting: int, note: str) -> int:
    from flownet.models import get_model
    import torch

    from flownet.precision import cpu_info, isa_level
    from flownet.weights import read_checkpoint, save_weights

    weights, log = places(recipe)
    row, best = best_row(run), logged_best(log)
    if row["val_epe"] >= best:
        print(f"validation EPE {row['val_epe']:.3f} is no better than the logged {best:.3f}: nothing kept")
        return 1
    config, state, _ = read_checkpoint(run / "checkpoints" / "best.ckpt")
    model = get_model(config.pop("model"), **config)
    model.load_state_dict(state)
    save_weights(model, weights, half=True, meta={"sitting": sitting, **row, "recipe": recipe.name})
    cpu, flags = cpu_info()
    line = (f"| {sitting} | {datetime.date.today()} | {cpu} ({isa_level(flags)}), {torch.get_num_threads()} threads | "
            f"{row['steps']} | {row['minutes']:.0f} | "
            f"{row['val_epe']:.3f} | {note} |\n")
    log.write_text(log.read_text().replace("<!-- log -->\n", line + "<!-- log -->\n"))
    print(f"{weights} written (validation EPE {row['val_epe']:.3f}); log row added to {log}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    t = sub.add_parser("train")
    t.add_argument("--minutes", type=float, default=100)
    t.add_argument("--epoch-minutes", type=float, default=5.0, help="minutes an epoch takes (default: %(default)s)")
    c = sub.add_parser("commit")
    c.add_argument("run", type=Path)
    c.add_argument("--sitting", type=int, required=True)
    c.add_argument("--note", default="")
    for command in (t, c):
        command.add_argument("--recipe", type=Path, default=RECIPE, help="the model's recipe (default: %(default)s)")
    args, extra = p.parse_known_args()
    if args.what == "train":
        return train(args.recipe, args.minutes, args.epoch_minutes, extra)
    return commit(args.recipe, args.run, args.sitting, args.note)


if __name__ == "__main__":
    sys.exit(main())
