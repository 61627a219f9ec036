"""Flow for every consecutive pair of a folder of frames or a video, written into an output folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from . import io
from .errors import FlowNetError
from .fileutil import atomic_folder
from .types import FlowFn
from .viz import flow_to_color

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".gif")
SAVE_AS = {"flo": ".flo", "color": ".png", "kitti": ".png"}


def frame_files(folder: Path) -> list[Path]:
    """The image files of a folder in name order."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in io.IMAGE_SUFFIXES)
    if len(files) < 2:
        raise FlowNetError(f"need at least two images ({', '.join(io.IMAGE_SUFFIXES)}), found {len(files)}", folder)
    return files


def iter_frames(source: Path) -> Iterator[tuple[str, np.ndarray]]:
    """(name, H x W x 3 uint8) for each frame of a folder of images or a video file."""
    if source.is_dir():
        for f in frame_files(source):
            yield f.stem, io.read_image(f)
        return
    if not source.is_file():
        raise FlowNetError("no such folder or video", source)
    if source.suffix.lower() not in VIDEO_SUFFIXES:
        raise FlowNetError(f"not a folder of frames or a video ({', '.join(VIDEO_SUFFIXES)})", source)
    import imageio.v3 as iio

    try:
        frames = iio.imiter(source)
        for k, frame in enumerate(frames):
            yield f"frame_{k:05d}", io.to_rgb8(np.asarray(frame), source)
    except FlowNetError:
        raise
    except Exception as e:  # decoders raise many types for broken files
        raise FlowNetError(f"cannot read the video ({type(e).__name__})", source) from None


def count_frames(source: Path) -> int | None:
    """Frames in a folder or a video (None when a video's container does not tell)."""
    if source.is_dir():
        return len(frame_files(source))
    import imageio.v2 as iio2

    try:
        with iio2.get_reader(source, format="FFMPEG") as reader:
            n = reader.get_meta_data().get("nframes")
            return int(n) if n and n != float("inf") else reader.count_frames()
    except Exception:  # unknown length: reading the frames will say what is wrong
        return None


def infer_sequence(source: str | os.PathLike, out: str | os.PathLike, flow_fn: FlowFn, save_as: str = "flo",
                   progress: bool = True, max_flow: float | None = None) -> list[Path]:
    """Flow from each frame to the next of ``source`` (folder or video), written to ``out`` as ``<name>.flo``,
    a colour ``<name>.png`` or a KITTI 16-bit ``<name>.png`` (``save_as``: flo, color, kitti), named after the
    first frame of each pair; colour pictures saturate at ``max_flow`` px (None: each its own largest speed).
    Returns the files written."""
    from tqdm import tqdm

    if save_as not in SAVE_AS:
        raise FlowNetError(f"unknown output type '{save_as}' (use {', '.join(SAVE_AS)})")
    source, out = Path(source), Path(out)
    if not source.exists():
        raise FlowNetError("no such folder or video", source)
    total = count_frames(source)
    if total is not None and total < 2:
        raise FlowNetError(f"fewer than two frames ({total})", source)
    written: list[Path] = []
    prev = None
    with atomic_folder(out) as tmp, tqdm(total=None if total is None else total - 1, desc="flow", unit="pair",
                                         disable=not progress) as bar:
        for name, frame in iter_frames(source):
            if prev is not None:
                prev_name, prev_frame = prev
                if prev_frame.shape != frame.shape:
                    raise FlowNetError(f"frame {name} is {frame.shape[1]}x{frame.shape[0]}, the one before "
                                       f"{prev_frame.shape[1]}x{prev_frame.shape[0]}", source)
                flow = io.tensor_to_flow(flow_fn(io.image_to_tensor(prev_frame), io.image_to_tensor(frame)))
                target = tmp / f"{prev_name}{SAVE_AS[save_as]}"
                if save_as == "flo":
                    io.write_flo(target, flow)
                elif save_as == "kitti":
                    io.write_kitti_flow(target, flow)
                else:
                    io.write_image(target, flow_to_color(flow, max_flow))
                written.append(out / target.name)
                bar.update()
            prev = (name, frame)
        if not written:
            raise FlowNetError("fewer than two frames", source)
    return written
