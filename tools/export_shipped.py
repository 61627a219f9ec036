"""Copy a trained run's weights (model.pt) into checkpoints/flownets_<width>.pt, stored as fp16.

Usage: python tools/export_shipped.py runs/shipped/model.pt
"""

import platform
import sys
from pathlib import Path

import torch

from flownet.weights import CHECKPOINT_DIR, load_model, read_checkpoint, save_weights


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main(source: str) -> None:
    model = load_model(source)
    _, _, meta = read_checkpoint(source)
    meta.update(torch=str(torch.__version__), trained_on=f"{cpu_name()}, {torch.get_num_threads()} threads")
    target = CHECKPOINT_DIR / f"flownets_{model.config.width:g}.pt"
    save_weights(model, target, meta=meta, half=True)
    print(f"{target} ({target.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main(sys.argv[1])
