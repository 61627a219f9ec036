"""``flownet eval``: flow accuracy (--epe) or frame interpolation (--interp) on a folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import FlowNetError
from .common import (FLOWS, SYNTHESES, add_command, add_model_options, add_synthesis_options, check_writable,
                     chosen_flow, chosen_synthesis, model_flow)

BASELINES = ("zero", "dis-ultrafast", "dis-fast", "dis-medium", "farneback")  # of --baseline
SMALL_FOLDER = 50  # Flying Chairs folders with fewer pairs are scored whole by default (--split auto)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "eval", "evaluate flow accuracy (EPE) on a folder",
                    "Print which pairs were scored and a table (pairs, EPE, 1/3/5 px accuracy, Fl-all, seconds per "
                    "pair after one untimed warm-up call on the first pair), and optionally write it as JSON.")
    p.add_argument("--epe", action="store_true", help="evaluate end-point error against ground-truth flow")
    p.add_argument("--interp", action="store_true",
                   help="evaluate frame interpolation instead: --data is a folder of triplet folders (frame0, gt = "
                        "the true frame at t, frame1; t from t.txt when there is one, else 0.5); PSNR and SSIM of "
                        "each --synthesis on each --flow, frame repeat, linear blend and ffmpeg's minterpolate")
    p.add_argument("--data", required=True,
                   help="dataset folder (Flying Chairs, Middlebury <Seq>/flow10.flo, MPI-Sintel, KITTI 2015) or a "
                        "pair-list file of 'img1 img2 flow' lines (paths relative to the file)")
    p.add_argument("--format", default="auto",
                   choices=["auto", "chairs", "middlebury", "sintel", "sintel-final", "kitti", "list"],
                   help="layout of --data (auto: detected when unambiguous); sintel = clean pass")
    p.add_argument("--split", default="auto", choices=["auto", "train", "val", "all"],
                   help=f"Flying Chairs: the validation split (official FlyingChairs_train_val.txt, else a seeded "
                        f"0.8/0.2 split), the training split or all pairs; auto = val, but all for folders of under "
                        f"{SMALL_FOLDER} pairs or without validation pairs. Other layouts: auto = all; train / val "
                        f"= the seeded split of whole scenes that flownet train uses")
    add_model_options(p)
    p.add_argument("--baseline", metavar="NAME[,NAME]",
                   help=f"--epe only: also score these baselines, a row each beside the model's (--model none: "
                        f"the baselines alone): {', '.join(BASELINES)}")
    p.add_argument("--flow",
                   help=f"--interp only: flows to interpolate along, comma-separated, from {', '.join(FLOWS)} "
                        "(default: model,dis-medium)")
    add_synthesis_options(p, many=True)
    p.add_argument("--json", help="write the results to this JSON file (its folder must exist)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.epe == args.interp:
        raise FlowNetError("say what to evaluate: --epe (flow) or --interp (frame interpolation), one of them")
    if args.interp and args.baseline:
        raise FlowNetError("--baseline is for --epe; --interp always reports the frame-repeat, blend and minterpolate "
                           "baselines")
    if args.epe and args.flow is not None:
        raise FlowNetError("--flow is for --interp; for OpenCV's flow with --epe use --baseline")
    names = listed(args.flow or "model,dis-medium", FLOWS, "--flow")
    syntheses = listed(args.synthesis, SYNTHESES, "--synthesis")
    if args.json:
        check_writable(args.json, "--json file")
    return run_interp(args, names, syntheses) if args.interp else run_epe(args)


def listed(text: str, choices: tuple[str, ...], flag: str) -> list[str]:
    """The names of a comma-separated option, each one of ``choices``."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in choices]
    if unknown or not names:
        raise FlowNetError(f"unknown {flag} '{','.join(unknown)}' (use one or more of {', '.join(choices)}, "
                           "comma-separated)")
    return names


def chosen_pairs(data: str, split: str, fmt: str) -> tuple[list, str, str]:
    """The pairs to score, their split ('auto' resolved) and a sentence saying which they are."""
    from ..datasets import dataset_pairs, detect_format, split_pairs

    fmt = detect_format(Path(data)) if fmt == "auto" else fmt
    if fmt != "chairs":
        every = dataset_pairs(data, "all", fmt)
        if split in ("auto", "all"):
            return every, "all", f"all {len(every)} pairs of {data} ({fmt})"
        pairs = split_pairs(every, split)
        if not pairs:
            raise FlowNetError(f"the {split} split of these {len(every)} pairs is empty: use --split all", data)
        return pairs, split, (f"{len(pairs)} of {len(every)} pairs of {data} ({fmt}): the {split} split, whole "
                              "scenes (as flownet train holds them out)")
    every = dataset_pairs(data, "all", fmt)
    if split == "auto":
        val = dataset_pairs(data, "val", fmt)
        if len(every) < SMALL_FOLDER or not val:
            why = f"under {SMALL_FOLDER} pairs" if len(every) < SMALL_FOLDER else "no validation pairs"
            return every, "all", (f"all {len(every)} pairs of {data} (split auto: {why}; --split val for the "
                                  "validation split)")
        split = "val"
    pairs = dataset_pairs(data, split, fmt)
    if not pairs:
        raise FlowNetError(f"the {split} split of these {len(every)} pairs is empty: use --split all", data)
    return pairs, split, (f"{len(pairs)} of {len(every)} pairs of {data}: the {split} split (--split all for "
                          "every pair)")


def run_epe(args: argparse.Namespace) -> int:
    """One row for the model (unless --model none) and one per --baseline, scored on the same pairs in one run.
    The JSON holds the one row's fields at the top, or with several rows {"rows": {name: fields}}."""
    from ..evaluate import evaluate_epe, format_table, zero_flow_fn
    from ..fileutil import write_json

    baselines = listed(args.baseline, BASELINES, "--baseline") if args.baseline else []
    if args.model == "none" and not baselines:
        raise FlowNetError("--model none leaves nothing to score: add --baseline NAME")
    pairs, split, which = chosen_pairs(args.data, args.split, args.format)
    print(f"scoring {which}")
    flows = {}
    if args.model != "none":
        flow_fn, name = model_flow(args)
        flows[name] = flow_fn
    for baseline in baselines:
        from ..classical import classical_flow_fn

        flows["zero flow" if baseline == "zero" else baseline] = (
            zero_flow_fn if baseline == "zero" else classical_flow_fn(baseline))
    results = {name: evaluate_epe(pairs, flow_fn) for name, flow_fn in flows.items()}
    print(format_table(results))
    if args.json:
        about = {"data": str(args.data), "split": split, "scored": which}
        if len(results) == 1:
            (name, result), = results.items()
            write_json(args.json, {"method": name, **about, **result})
        else:
            write_json(args.json, {**about, "rows": results})
        print(f"results written to {args.json}")
    return 0


def run_interp(args: argparse.Namespace, flows: list[str], syntheses: list[str]) -> int:
    """``flownet eval --interp``: PSNR/SSIM of the middle frames made by each of ``syntheses`` on each of ``flows``
    (--flow and --synthesis names), and of the baselines, on triplet folders."""
    from ..evaluate import evaluate_interp, format_interp_table, interp_triplets
    from ..fileutil import write_json

    triplets = interp_triplets(args.data)
    print(f"scoring {len(triplets)} triplets of {args.data}")
    made = {name: chosen_synthesis(args, name) for name in syntheses}
    rows = {}
    for flow in flows:
        label, flow_fn = chosen_flow(args, flow)
        rows.update({f"{synthesis} on {label}": (flow_fn, made[synthesis]) for synthesis in syntheses})
    results = evaluate_interp(triplets, rows)
    print(format_interp_table(results))
    if args.json:
        write_json(args.json, {"data": str(args.data), "methods": results})
        print(f"results written to {args.json}")
    return 0
