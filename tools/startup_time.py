"""Start-up cost of the command: `flownet infer` on one pair against `python -c "import torch"` and the flow
computation itself, and what `flownet --help` imports.

    python tools/startup_time.py [IMG1 IMG2] [--repeats 5] [--refine fuse]

Prints the best of --repeats wall times (a busy machine only adds time), the model's own time (loading the
weights and computing the first flow in a fresh process, imports excluded) and the check of docs/performance.md:
infer <= 2 x import torch + model.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "middlebury" / "RubberWhale"


def best_wall(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


MODEL_RUN = """
import sys, time
from flownet import io
from flownet.evaluate import model_flow_fn
from flownet.pipeline import refine_fn
from flownet.weights import default_checkpoint, load_model
a, b = (io.image_to_tensor(x) for x in io.read_pair(sys.argv[1], sys.argv[2]))
start = time.perf_counter()
refine_fn(model_flow_fn(load_model(default_checkpoint()), "cpu", "auto"), sys.argv[3])(a, b)
print(time.perf_counter() - start)
"""


def model_seconds(img1: str, img2: str, refine: str, repeats: int) -> float:
    """The model's own time as the command has it: loading the shipped weights and the first flow (with --refine)
    in a fresh process whose imports are done (best of ``repeats``)."""
    return min(float(subprocess.run([sys.executable, "-c", MODEL_RUN, img1, img2, refine], check=True,
                                    capture_output=True, text=True).stdout) for _ in range(repeats))


def import_ms(args: list[str], module: str) -> float:
    """Cumulative import time (s) of ``module`` in ``python -X importtime -m flownet.cli ARGS``."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-m", "flownet.cli", *args], capture_output=True,
                         text=True).stderr
    found = [int(m.group(1)) for m in re.finditer(rf"\|\s*(\d+) \|\s+{re.escape(module)}$", err, re.M)]
    return max(found, default=0) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("img1", nargs="?", default=str(SHARED / "frame10.png"))
    parser.add_argument("img2", nargs="?", default=str(SHARED / "frame11.png"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--refine", default="fuse")
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "f.flo")
        infer = [py, "-m", "flownet.cli", "infer", args.img1, args.img2, "-o", out, "--refine", args.refine]
        torch_s = best_wall([py, "-c", "import torch"], args.repeats)
        help_s = best_wall([py, "-m", "flownet.cli", "--help"], args.repeats)
        infer_s = best_wall(infer, args.repeats)
        infer_imports = import_ms(["infer", args.img1, args.img2, "-o", out, "--refine", args.refine], "torch")
    model_s = model_seconds(args.img1, args.img2, args.refine, args.repeats)
    print(f"python -c 'import torch'      {torch_s:6.2f} s")
    help_ms = 1000 * import_ms(["--help"], "flownet.cli")
    print(f"flownet --help                {help_s:6.2f} s  (imports {help_ms:.0f} ms of flownet.cli, no torch)")
    print(f"flownet infer (--refine {args.refine})  {infer_s:6.2f} s  (of which importing torch {infer_imports:.2f} s)")
    print(f"model: load + first flow     {model_s:6.2f} s")
    limit = 2 * torch_s + model_s
    print(f"infer {infer_s:.2f} s <= 2 x {torch_s:.2f} + {model_s:.2f} = {limit:.2f} s: {infer_s <= limit}")


if __name__ == "__main__":
    main()
