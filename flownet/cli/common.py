"""What several commands share: argument types, the model options, the device choice and the help layout.

Only the standard library at import time: torch and the rest are imported inside the functions that need them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import FlowNetError
from ..presets import DEFAULT_MODEL

PRECISION_DEFAULT = "auto"  # of eval and infer: bf16 changes the EPE by < 0.1 % (docs/performance.md)


class Parser(argparse.ArgumentParser):
    """Usage mistakes as one line on stderr and exit status 2, like every other user error."""

    def error(self, message: str):
        self.exit(2, f"flownet: error: {message} (see '{self.prog} --help')\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds '(default: X)' once: not for options without a value (None, False) nor where the help already
    says what the default is."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        no_value = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if no_value or "default" in text or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def add_command(sub: argparse._SubParsersAction, name: str, help: str, description: str) -> argparse.ArgumentParser:
    """A subcommand's parser with the house help layout."""
    return sub.add_parser(name, help=help, description=description, formatter_class=HelpFormatter)


def parse_size(text: str) -> tuple[int, int]:
    """'384x512' -> (384, 512): height x width."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be HEIGHTxWIDTH, e.g. 384x512, not '{text}'") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, not '{text}'")
    return h, w


def size_text(size: tuple[int, int]) -> str:
    """(384, 512) -> '384x512', the form ``parse_size`` reads."""
    return "x".join(map(str, size))


def at_least(minimum: float, kind: type = int):
    """An argparse type: a number of ``kind`` of at least ``minimum`` (the one-line error names the flag)."""
    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {'an integer' if kind is int else 'a number'}: '{text}'") from None
        if not value >= minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}, got {text}")
        return value
    convert.__name__ = kind.__name__
    return convert


def above_zero(text: str) -> float:
    """An argparse type: a number above 0 (the one-line error names the flag)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: '{text}'") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def frame_rate(text: str):
    """An argparse type: a frame rate above 0, exact: '60000/1001', '30' or '29.97' (a ``Fraction``)."""
    from fractions import Fraction

    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a frame rate (e.g. 30, 29.97 or 30000/1001): '{text}'") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


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


def add_model_options(p: argparse.ArgumentParser, when: str = "") -> None:
    """--model, --checkpoint, --device, --precision and --refine, for the commands that run the flow model."""
    p.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME",
                   help=f"{when}flow model whose shipped weights to use (default: %(default)s): flownets "
                        "(FlowNetS), raft-lite, or raft-lite-dis (raft-lite correcting OpenCV's DIS flow)")
    p.add_argument("--checkpoint", help=f"{when}weights (default: the shipped checkpoint of --model); the file "
                                        "names its model")
    p.add_argument("--device", default="auto", help=f"{when}cpu, cuda, cuda:N or auto (CUDA when available)")
    p.add_argument("--precision", default=PRECISION_DEFAULT, choices=["fp32", "bf16", "auto"],
                   help=f"{when}fp32, bf16 (autocast; the flow stays fp32) or auto (bf16 on CUDA or on a CPU "
                        "with native bf16: it changes the EPE by under 0.1 %%)")
    p.add_argument("--refine", default="auto", choices=["auto", "fuse", "variational", "none"],
                   help=f"{when}classical refinement of the network's flow (OpenCV): fuse = the network on the "
                        "frames at half size, OpenCV DIS's flow taken where it is self-consistent and matches "
                        "better, then a variational pass; variational = "
                        "coarse-to-fine variational refinement alone; none = the network alone; auto (default) = "
                        "none for the raft-lite-dis models (they start from DIS's flow), else fuse")


def model_flow(args: argparse.Namespace):
    """(flow function, name) of ``--checkpoint`` (default: the shipped one) on ``--device`` in ``--precision``,
    followed by the classical ``--refine`` step."""
    from ..evaluate import model_flow_fn
    from ..pipeline import auto_refine, refine_fn
    from ..weights import default_checkpoint, load_model

    checkpoint = args.checkpoint or default_checkpoint(args.model)
    model = load_model(checkpoint)
    refine = auto_refine(model) if args.refine == "auto" else args.refine
    flow_fn = refine_fn(model_flow_fn(model, pick_device(args.device), args.precision), refine)
    name = Path(checkpoint).name
    return flow_fn, name if refine == "none" else f"{name} + {refine}"


FLOWS = ("model", "dis-medium", "dis-fast", "dis-ultrafast", "farneback")  # choices of --flow


def chosen_flow(args: argparse.Namespace, name: str):
    """(row name, flow function) of ``--flow NAME``: the model (``model_flow``) or one of OpenCV's methods."""
    if name == "model":
        flow_fn, checkpoint = model_flow(args)
        return f"flownet ({checkpoint})", flow_fn
    if name not in FLOWS:
        raise FlowNetError(f"unknown --flow '{name}' (use {', '.join(FLOWS)})")
    from ..classical import classical_flow_fn

    return f"{name} flow", classical_flow_fn(name)


SYNTHESES = ("learned", "warp")  # choices of --synthesis


def add_synthesis_options(p: argparse.ArgumentParser, many: bool = False) -> None:
    """--synthesis (one, or a comma-separated list when ``many``) and --synthesis-checkpoint."""
    p.add_argument("--synthesis", default="learned,warp" if many else None, choices=None if many else SYNTHESES,
                   help="how the frame at t is made from the two frames and their flows: learned = the trained "
                        "synthesis network (corrects the intermediate flows, soft visibility, residual); warp = "
                        "warping both frames and blending them by their visibility" +
                        (" (comma-separated: one row each)" if many else ""))
    p.add_argument("--synthesis-checkpoint", metavar="FILE",
                   help="weights of the learned synthesis (default: the shipped checkpoints/synthesis_*.pt)")


def synthesis_model(args: argparse.Namespace):
    """The trained ``SynthesisNet`` of ``--synthesis-checkpoint`` (default: the shipped one)."""
    from ..models import SynthesisNet
    from ..weights import default_checkpoint, load_model

    path = args.synthesis_checkpoint or default_checkpoint("synthesis")
    model = load_model(path, pick_device(getattr(args, "device", "auto")))
    if not isinstance(model, SynthesisNet):
        raise FlowNetError("not the weights of a synthesis network", path)
    return model


def chosen_synthesis(args: argparse.Namespace, name: str):
    """The ``Synthesis`` of ``--synthesis NAME``."""
    from ..interpolate import learned_synthesis, warp_blend

    if name == "warp":
        return warp_blend
    if name != "learned":
        raise FlowNetError(f"unknown --synthesis '{name}' (use {', '.join(SYNTHESES)})")
    return learned_synthesis(synthesis_model(args))


def check_writable(path: str | Path, what: str = "output") -> None:
    """Fail now, before any work, when ``path``'s folder does not exist."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise FlowNetError(f"the folder of the {what} does not exist", path)


def read_flow_marked(path: str):
    """A .flo or KITTI flow with its unknown pixels set to NaN (drawn black, left out of errors)."""
    from .. import io

    return mark_unknown(*io.read_flow(path))


def mark_unknown(flow, valid):
    """``flow`` (H x W x 2 array) with NaN where ``valid`` (H x W) is False."""
    flow[~valid] = float("nan")
    return flow
