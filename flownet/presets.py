"""The default flow pipeline (the shipped model and the classical step after it) and the quality presets of video
interpolation (``flownet interpolate --quality``): which flow, at which size, and which synthesis. Only the standard
library at import time (the command line reads them for its help)."""

from __future__ import annotations

# the default pipeline of every command: the shipped weights of --model (the refinement after it: --refine auto)
DEFAULT_MODEL = "flownets"

# name: (flow, flow scale: "auto" = flownet.pipeline.flow_scale's choice or a factor, synthesis)
QUALITY = {"fast": ("dis-medium", "auto", "warp"), "balanced": ("dis-medium", "auto", "learned"),
           "best": ("model", "1", "learned")}
# the default for videos and folders of frames (two images: best): the best PSNR per second of `flownet bench --what
# video` (docs/performance.md); --adapt, which tunes the learned synthesis, runs balanced
VIDEO_QUALITY = "fast"


def preset(quality: str, device: str = "cpu", precision: str = "auto"):
    """(flow function, synthesis) of a preset with the shipped weights (what ``flownet interpolate --quality``
    runs when no other option is given)."""
    from .classical import classical_flow_fn
    from .interpolate import learned_synthesis, warp_blend
    from .pipeline import ScaledFlow
    from .weights import default_checkpoint, load_model

    flow, scale, synthesis = QUALITY[quality]
    flow_fn = default_flow_fn(device, precision) if flow == "model" else classical_flow_fn(flow)
    made = (learned_synthesis(load_model(default_checkpoint("synthesis"), device)) if synthesis == "learned"
            else warp_blend)
    return ScaledFlow(flow_fn, None if scale == "auto" else float(scale)), made


def default_flow_fn(device: str = "cpu", precision: str = "auto"):
    """The default pipeline's flow function: the shipped ``DEFAULT_MODEL`` and its ``auto_refine``."""
    from .evaluate import model_flow_fn
    from .pipeline import auto_refine, refine_fn
    from .weights import default_checkpoint, load_model

    model = load_model(default_checkpoint(DEFAULT_MODEL), device)
    return refine_fn(model_flow_fn(model, device, precision), auto_refine(model))
