"""Saving and loading model weights: a state dict plus the model config, loaded with ``weights_only=True``.

Our own files (``.pt``): {"format": "flownet-weights", "config": {...}, "state_dict": {...}, "meta": {...}}.
Lightning checkpoints (``.ckpt``) written by ``flownet train`` load too (their ``hyper_parameters`` hold the config).
"""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path

import torch

from .errors import FlowNetError
from .fileutil import atomic_path
from torch import nn

from .models import get_model, model_name
from .presets import DEFAULT_MODEL

FORMAT = "flownet-weights"
CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"  # of the repository
INSTALLED_DIR = Path("share") / "flownet" / "checkpoints"  # under an installation's prefix (setup.cfg data_files)
CONFIG_KEYS = ("width", "batch_norm", "div_flow")
# the shipped weights of each model of the registry that has some (files in checkpoint_dirs())
DEFAULT_WEIGHTS = {"flownets": "flownets_0.5.pt", "raft-lite": "raft-lite.pt", "raft-lite-dis": "raft-lite-dis.pt",
                   "synthesis": "synthesis_32.pt"}


def checkpoint_dirs() -> list[Path]:
    """Where the shipped model is looked for, in order: the repository's ``checkpoints/`` (a source checkout or an
    editable install), then ``share/flownet/checkpoints`` beside the installed package (``pip install --target
    DIR``), of the environment and of the user (a wheel install)."""
    beside = Path(__file__).resolve().parent.parent / INSTALLED_DIR
    return [CHECKPOINT_DIR, beside, Path(sys.prefix) / INSTALLED_DIR, Path(site.getuserbase()) / INSTALLED_DIR]


def default_checkpoint(model: str = DEFAULT_MODEL) -> Path:
    """The shipped weights of ``model`` (a registry name; default: the default pipeline's): the file
    ``DEFAULT_WEIGHTS`` names for it, in the first of ``checkpoint_dirs()`` that has it (other files beside it never
    change the default)."""
    if model not in DEFAULT_WEIGHTS:
        raise FlowNetError(f"no shipped weights for the model '{model}' (shipped: {', '.join(DEFAULT_WEIGHTS)}): "
                           "pass --checkpoint FILE, or train one with 'flownet train'")
    for folder in checkpoint_dirs():
        if (folder / DEFAULT_WEIGHTS[model]).is_file():
            return folder / DEFAULT_WEIGHTS[model]
    raise FlowNetError(f"no shipped checkpoint {DEFAULT_WEIGHTS[model]} in {' or '.join(map(str, checkpoint_dirs()))}"
                       ": pass --checkpoint FILE, or train one with 'flownet train'")


def save_weights(model: nn.Module, path: str | os.PathLike, meta: dict | None = None, half: bool = False) -> None:
    """Write the model's weights and config atomically; ``half`` stores floating tensors as fp16."""
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
             for k, v in model.state_dict().items()}
    config = {"model": model_name(model), **model.config_dict()}
    payload = {"format": FORMAT, "config": config, "state_dict": state, "meta": meta or {}}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor], dict]:
    """(config, state_dict, meta) from one of our weight files or a Lightning checkpoint of ``flownet train``."""
    path = Path(path)
    if not path.is_file():
        raise FlowNetError("no such checkpoint file", path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for non-checkpoint files
        raise FlowNetError(f"not a flownet checkpoint ({type(e).__name__})", path) from None
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        return payload["config"], payload["state_dict"], payload.get("meta", {})
    if isinstance(payload, dict) and "state_dict" in payload and "hyper_parameters" in payload:
        hp = payload["hyper_parameters"]
        prefix = "ema_model." if any(k.startswith("ema_model.") for k in payload["state_dict"]) else "model."
        state = {k[len(prefix):]: v for k, v in payload["state_dict"].items() if k.startswith(prefix)}
        options = hp["model_config"] if "model_config" in hp else {k: hp[k] for k in CONFIG_KEYS if k in hp}
        config = {"model": hp.get("model", "flownets"), **options}
        return config, state, {"epoch": payload.get("epoch")}
    raise FlowNetError("not a flownet checkpoint (no weights and model config inside)", path)


def load_model(path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """An eval-mode model (the one the file names, FlowNetS for files that name none) with the weights in ``path``
    (default: the default pipeline's shipped flow model)."""
    path = default_checkpoint() if path is None else Path(path)
    config, state, _ = read_checkpoint(path)
    config = dict(config)
    name = config.pop("model", "flownets")
    try:
        model = get_model(name, **config)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except (TypeError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0][:160]
        raise FlowNetError(f"weights do not fit a {name}{config} ({first})", path) from None
    return model.eval().to(device)
