"""Flow for every consecutive pair of a folder of frames or a video, written into an output folder."""

from __future__ import annotations

import os
from pathlib import Path

from . import io
from .errors import FlowNetError
from .types import FlowFn
from .video import count_frames, iter_frames
from .viz import flow_to_color

SAVE_AS = {"flo": ".flo", "color": ".png", "kitti": ".png"}


def infer_sequence(source: str | os.PathLike, out: str | os.PathLike, flow_fn: FlowFn, save_as: str = "flo",
                   progress: bool = True, max_flow: float | None = None, resume: bool = False) -> list[Path]:
    """Flow from each frame to the next of ``source`` (folder or video), written to ``out`` as ``<name>.flo``,
    a colour ``<name>.png`` or a KITTI 16-bit ``<name>.png`` (``save_as``: flo, color, kitti), named after the
    first frame of each pair; colour pictures saturate at ``max_flow`` px (None: each its own largest speed).
    Each file is written atomically as soon as it is computed, so an interruption keeps the finished ones; ``resume``
    skips pairs whose file exists. Returns the files of all pairs."""
    from tqdm import tqdm

    if save_as not in SAVE_AS:
        raise FlowNetError(f"unknown output type '{save_as}' (use {', '.join(SAVE_AS)})")
    source, out = Path(source), Path(out)
    if not source.exists():
        raise FlowNetError("no such folder or video", source)
    if out.exists() and not out.is_dir():
        raise FlowNetError("output must be a folder", out)
    if not out.parent.is_dir():
        raise FlowNetError("output folder's parent does not exist", out.parent)
    total = count_frames(source)
    if total is not None and total < 2:
        raise FlowNetError(f"fewer than two frames ({total})", source)
    out.mkdir(exist_ok=True)
    written: list[Path] = []
    prev = None
    with tqdm(total=None if total is None else total - 1, desc="flow", unit="pair", disable=not progress) as bar:
        for name, frame in iter_frames(source):
            if prev is not None:
                prev_name, prev_frame = prev
                if prev_frame.shape != frame.shape:
                    raise FlowNetError(f"frame {name} is {frame.shape[1]}x{frame.shape[0]}, the one before "
                                       f"{prev_frame.shape[1]}x{prev_frame.shape[0]}", source)
                target = out / f"{prev_name}{SAVE_AS[save_as]}"
                if not (resume and target.is_file()):
                    flow = flow_fn(io.image_to_tensor(prev_frame), io.image_to_tensor(frame))
                    write_flow(target, flow, save_as, max_flow)
                written.append(target)
                bar.update()
            prev = (name, frame)
    if not written:
        raise FlowNetError("fewer than two frames", source)
    return written


def write_flow(target: Path, flow, save_as: str, max_flow: float | None = None) -> None:
    """Write a 1 x 2 x H x W flow tensor as .flo, KITTI 16-bit PNG or colour PNG saturating at ``max_flow``
    (atomically)."""
    flow = io.tensor_to_flow(flow)
    if save_as == "flo":
        io.write_flo(target, flow)
    elif save_as == "kitti":
        io.write_kitti_flow(target, flow)
    else:
        io.write_image(target, flow_to_color(flow, max_flow))
