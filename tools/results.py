"""Regenerate the README's result tables in one run, on the real data in ../shared/data:

    .venv/bin/python tools/results.py [--shared ../shared/data] [--no-readme]

Flow: every configuration of our pipeline (OURS: FlowNetS alone, + variational, + fuse; raft-lite alone and + fuse;
raft-lite-dis alone; the default marked) beside zero flow, OpenCV's DIS
ultrafast/fast/medium/fine, Farneback and, where opencv-contrib is installed, DeepFlow: mean EPE over pairs and seconds per pair, all measured in this run (each method warmed up on
the first pair first). Interpolation: `flownet eval --interp`'s rows (learned synthesis and warping, on our flow
and on DIS-medium's, blend, repeat, ffmpeg's minterpolate). Writes out/results/results.json and the tables between
the ``<!-- results:... -->`` markers of README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
from pathlib import Path

import torch

from flownet.classical import METHODS, classical_flow_fn, import_cv2, opencv_flow_fn
from flownet.datasets import dataset_pairs, load_pair
from flownet.evaluate import evaluate_epe, evaluate_interp, interp_triplets, model_flow_fn, zero_flow_fn
from flownet.interpolate import learned_synthesis, warp_blend
from flownet.pipeline import auto_refine, refine_fn
from flownet.precision import cpu_info
from flownet.presets import DEFAULT_MODEL, default_flow_fn
from flownet.weights import DEFAULT_WEIGHTS, checkpoint_dirs, default_checkpoint, load_model

ROOT = Path(__file__).resolve().parents[1]
FLOW_SETS = {"flyingchairs": "real Flying Chairs (3 pairs)", "middlebury": "Middlebury (8 pairs)"}
INTERP_SETS = {"middlebury": "Middlebury (8)", "ucf101": "UCF101 (7)"}


# our configurations, each a row when its weights ship: (the name --model takes, --refine)
OURS = [("flownets", "fuse"), ("flownets", "variational"), ("flownets", "none"), ("raft-lite", "none"),
        ("raft-lite", "fuse"), ("raft-lite-dis", "none")]


def flow_methods() -> dict[str, object]:
    """{row name: flow function}, ours first (the default pipeline, ``--model DEFAULT_MODEL --refine auto``, at
    the top)."""
    rows, models = {}, {}
    for name, refine in OURS:
        if not any((d / DEFAULT_WEIGHTS[name]).is_file() for d in checkpoint_dirs()):
            continue
        if name not in models:  # (each file read once)
            models[name] = load_model(default_checkpoint(name))
        model = models[name]
        default = name == DEFAULT_MODEL and refine == auto_refine(model)
        label = f"{'**flownet default**: ' if default else ''}`--model {name} --refine {refine}`"
        rows[label] = refine_fn(model_flow_fn(model), refine)
    rows = dict(sorted(rows.items(), key=lambda row: not row[0].startswith("**")))
    rows["zero flow"] = zero_flow_fn
    rows.update({f"OpenCV {m.replace('-', ' ').replace('dis', 'DIS')}": classical_flow_fn(m) for m in METHODS})
    cv2 = import_cv2()
    fine = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    fine.setFinestScale(0)  # "fine": the medium preset down to full resolution
    rows["OpenCV DIS fine (medium to the finest scale)"] = opencv_flow_fn(lambda a, b: fine.calc(a, b, None))
    if hasattr(cv2, "optflow"):
        deep = cv2.optflow.createOptFlow_DeepFlow()
        rows["OpenCV-contrib DeepFlow"] = opencv_flow_fn(lambda a, b: deep.calc(a, b, None))
    return rows


def run_flow(shared: Path) -> dict:
    results: dict = {}
    rows = flow_methods()
    for data in FLOW_SETS:
        pairs = dataset_pairs(shared / data, "all")
        first = load_pair(pairs[0].img1, pairs[0].img2)
        results[data] = {}
        for name, fn in rows.items():
            fn(first["img1"][None], first["img2"][None])  # warm-up: first-call set-up is not timed
            r = evaluate_epe(pairs, fn, progress=False)
            results[data][name] = {"epe": r["pair_mean"]["epe"], "s_per_pair": r["seconds_per_pair"], "n": r["n"]}
            print(f"{data:13s} {name:70s} {r['pair_mean']['epe']:.3f}  {r['seconds_per_pair']:.3f} s", flush=True)
    return results


def run_interp(shared: Path) -> dict:
    net = default_flow_fn()
    dis = classical_flow_fn("dis-medium")
    learned = learned_synthesis(load_model(default_checkpoint("synthesis")))
    rows = {"**flownet default**: learned synthesis on our flow": (net, learned),
            "warping on our flow (`--synthesis warp`)": (net, warp_blend),
            "learned synthesis on DIS-medium flow (`--flow dis-medium`)": (dis, learned),
            "warping on DIS-medium flow (`--flow dis-medium --synthesis warp`)": (dis, warp_blend)}
    results = {}
    for data in INTERP_SETS:
        results[data] = evaluate_interp(interp_triplets(shared / "interp" / data), rows, progress=False)
        for name, r in results[data].items():
            print(f"{data:11s} {name:70s} {r['psnr']:.2f} dB  {r['ssim']:.4f}", flush=True)
    return results


def flow_table(results: dict) -> str:
    names = list(next(iter(results.values())))
    head = "| method | " + " | ".join(f"{FLOW_SETS[d]} EPE | s/pair" for d in results) + " |"
    lines = [head, "|---" * (1 + 2 * len(results)) + "|"]
    for name in names:
        cells = []
        for d in results:
            r = results[d][name]
            time = "-" if name == "zero flow" else f"{r['s_per_pair']:.3f}"
            cells += [f"{r['epe']:.3f}", time]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def interp_table(results: dict) -> str:
    names = list(next(iter(results.values())))
    head = "| method | " + " | ".join(f"{INTERP_SETS[d]} PSNR dB | SSIM" for d in results) + " | s/frame (Middlebury) |"
    lines = [head, "|---" * (2 + 2 * len(results)) + "|"]
    for name in names:
        cells = [f"{results[d][name]['psnr']:.2f} | {results[d][name]['ssim']:.4f}" for d in results]
        lines.append(f"| {name} | " + " | ".join(cells) +
                     f" | {results['middlebury'][name]['seconds_per_frame']:.3f} |")
    return "\n".join(lines)


def machine() -> str:
    model, flags = cpu_info()
    bf16 = "AVX512_BF16" if "avx512_bf16" in flags else "no native bf16"
    return (f"{model} ({bf16}), {torch.get_num_threads()} threads, torch {torch.__version__}, Python "
            f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the start")


def replace_block(text: str, key: str, table: str) -> str:
    pattern = re.compile(rf"(<!-- results:{key} -->\n).*?(<!-- /results:{key} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no <!-- results:{key} --> ... <!-- /results:{key} --> block")
    return pattern.sub(lambda m: m.group(1) + table + "\n" + m.group(2), text)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data", help="the real evaluation data")
    p.add_argument("--no-readme", action="store_true", help="print and save the tables, leave README.md alone")
    args = p.parse_args()
    if not args.shared.is_dir():
        print(f"no {args.shared}: the real evaluation data is not here", file=sys.stderr)
        return 1
    results = {"machine": machine(), "flow": run_flow(args.shared), "interp": run_interp(args.shared)}
    out = ROOT / "out" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    tables = {"flow": flow_table(results["flow"]) + f"\n\n*Measured in one run on: {results['machine']}.*",
              "interp": interp_table(results["interp"]) + f"\n\n*Measured in one run on: {results['machine']}.*"}
    for key, table in tables.items():
        print(f"\n{table}")
    if not args.no_readme:
        readme = ROOT / "README.md"
        text = readme.read_text()
        for key, table in tables.items():
            text = replace_block(text, key, table)
        readme.write_text(text)
        print("README.md tables replaced")
    return 0


if __name__ == "__main__":
    sys.exit(main())
