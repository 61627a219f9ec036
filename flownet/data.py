"""Training data: torch Datasets over the layouts of ``flownet.datasets``, the synthetic chairs-like stream,
training augmentation, and writing generated pairs in the Flying Chairs layout (Lightning's DataModule over them:
``flownet.datamodule``).

A sample (``flownet.types.Sample``) is a dict of tensors: ``img1``, ``img2`` (3 x H x W float in [0, 1]), ``flow``
(2 x H x W, pixels) and ``valid`` (H x W bool). A triplet sample (``SyntheticTriplets``) has ``img0``, ``gt`` (the
frame at time ``t``, a 0-d tensor), ``img1``, ``flow`` (from img0 to img1) and ``valid``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from . import io
from .datasets import SPLIT_FILE, PairFiles, chairs_ids, chairs_split, load_pair
from .errors import FlowNetError
from .fileutil import atomic_folder, atomic_path
from .synth import SynthConfig, TexturePools, render_pairs, render_triplets
from .textures import RealTextures, as_textures
from .types import Sample


# ----------------------------------------------------------------------------------------------- datasets
class FlyingChairs(Dataset):
    """A Flying Chairs folder (or any folder in its layout), one split, optionally augmented."""

    def __init__(self, root: str | os.PathLike, split: str = "train", augment: "Augment | None" = None) -> None:
        self.root = Path(root)
        self.ids = chairs_split(root, chairs_ids(root), split)
        if not self.ids:
            raise FlowNetError(f"the '{split}' split of this folder is empty", root)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> Sample:
        i = self.ids[index]
        sample = load_pair(*(self.root / f"{i}_{part}" for part in ("img1.ppm", "img2.ppm", "flow.flo")))
        sample["name"] = i
        return self.augment(sample) if self.augment else sample


class PairDataset(Dataset):
    """Any list of pairs with ground truth (Sintel, KITTI, a list file, ...), optionally augmented as Flying
    Chairs is."""

    def __init__(self, pairs: list[PairFiles], augment: "Augment | None" = None) -> None:
        missing = [p for p in pairs if p.flow is None]
        if missing:
            raise FlowNetError(f"pair {missing[0].name} has no ground-truth flow to train on", missing[0].img1)
        self.pairs, self.augment = list(pairs), augment

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> Sample:
        pair = self.pairs[index]
        sample = load_pair(pair.img1, pair.img2, pair.flow)
        sample["name"] = pair.name
        return self.augment(sample) if self.augment else sample


MAX_CLIP_SIDE = 640  # frames of a clip for self-supervised training are scaled down to this longer side


class FramePairs(Dataset):
    """Consecutive frames (k, k + 1) of a clip, without ground truth, for self-supervised training: samples
    {"img1", "img2"}. ``frames``: 3 x H x W uint8 tensors (``read_clip``)."""

    def __init__(self, frames: list[torch.Tensor], augment: "Augment | None" = None) -> None:
        self.frames, self.augment = frames, augment

    def __len__(self) -> int:
        return len(self.frames) - 1

    def __getitem__(self, index: int) -> Sample:
        sample = {"img1": self.frames[index].float() / 255, "img2": self.frames[index + 1].float() / 255}
        return self.augment(sample) if self.augment else sample


def read_clip(source: str | os.PathLike, max_side: int = MAX_CLIP_SIDE) -> list[torch.Tensor]:
    """The frames of a video or a folder of frames as 3 x H x W uint8 tensors, scaled down (the motion with them)
    so that the longer side is at most ``max_side``; a frame identical to the one before is left out (it shows no
    motion to learn from)."""
    import torch.nn.functional as F

    from .interpolate import is_same
    from .video import iter_frames

    frames: list[torch.Tensor] = []
    for _, frame in iter_frames(Path(source)):
        img = io.image_to_tensor(frame)
        scale = max_side / max(img.shape[-2:])
        if scale < 1:
            img = F.interpolate(img, scale_factor=scale, mode="bilinear", antialias=True, align_corners=False)
        if frames and is_same(frames[-1][None].float() / 255, img):
            continue
        frames.append((img[0] * 255).round().to(torch.uint8))
    return frames


# ----------------------------------------------------------------------------------------------- augmentation
@dataclass(frozen=True)
class Augment:
    """Training augmentation: random crop, flips (with the flow negated to match), photometric jitter.

    Uses torch's global RNG, which DataLoader workers seed differently (and Lightning's seed_everything fixes).
    """

    crop: tuple[int, int] | None = (320, 448)
    flip: bool = True
    jitter: float = 0.1  # brightness / contrast / saturation range, and a tenth of it as noise
    random: bool = True  # False: the crop is taken at the top-left corner (no randomness at all with flip, jitter off)

    def __call__(self, sample: Sample) -> Sample:
        s = dict(sample)
        if self.crop:
            s = random_crop(s, self.crop, self.random)
        if self.flip:
            s = random_flips(s)
        if self.jitter:
            s["img1"], s["img2"] = photometric_jitter([s["img1"], s["img2"]], self.jitter)
        return s


def random_crop(sample: Sample, size: tuple[int, int], random_place: bool = True) -> Sample:
    """Crop every spatial tensor at one random place (or the top-left corner) to ``size``, or to the largest
    multiple of 64 that fits (the network trains on multiples of 64)."""
    h, w = sample["img1"].shape[-2:]
    if h < 64 or w < 64:
        raise FlowNetError(f"images of {w}x{h} are too small to train on (at least 64x64)", sample.get("name"))
    ch, cw = crop_to_multiple((min(size[0], h), min(size[1], w)))
    y, x = (int(torch.randint(0, n - c + 1, ())) if random_place else 0 for n, c in ((h, ch), (w, cw)))
    return {k: v[..., y : y + ch, x : x + cw] if torch.is_tensor(v) else v for k, v in sample.items()}


FLOW_KEYS = ("flow", "f01", "f10")  # the flows a sample may hold


def flip_sample(sample: Sample, horizontal: bool, vertical: bool) -> Sample:
    """Mirror a sample (its images, masks and flows: "flow", or a triplet's "f01" and "f10"); the component of
    each flow along a mirrored axis changes sign."""
    s = dict(sample)
    for axis, on, comp in ((-1, horizontal, 0), (-2, vertical, 1)):
        if not on:
            continue
        for k in ("img0", "img1", "img2", "gt", "valid", *FLOW_KEYS):
            if k in s:
                s[k] = s[k].flip(axis)
        for k in FLOW_KEYS:
            if k in s:
                sign = torch.ones(2, 1, 1, dtype=s[k].dtype)
                sign[comp] = -1
                s[k] = s[k] * sign
    return s


def random_flips(sample: Sample) -> Sample:
    h, v = (bool(torch.rand(()) < 0.5) for _ in range(2))
    return flip_sample(sample, h, v)


def photometric_jitter(images: list[torch.Tensor], amount: float,
                       gen: torch.Generator | None = None) -> list[torch.Tensor]:
    """The same random brightness, contrast and saturation change on all images, plus independent noise."""
    u = torch.rand(4, generator=gen)
    brightness, contrast, saturation = (1 + amount * (2 * u[:3] - 1)).tolist()
    sigma = 0.1 * amount * float(u[3])
    out = []
    for img in images:
        mean = img.mean()
        gray = img.mean(0, keepdim=True)
        img = gray + saturation * (img - gray)
        img = mean + contrast * (img - mean)
        img = img * brightness + sigma * torch.randn(img.shape, generator=gen)
        out.append(img.clamp(0, 1))
    return out


# ----------------------------------------------------------------------------------------------- synthetic stream
class SyntheticChairs(IterableDataset):
    """An endless-feeling stream of generated chairs-like samples, rendered in the DataLoader workers.

    Scenes are rendered ``chunk`` at a time from slowly renewed texture pools, and each scene is used ``replay``
    times under different flips, so the generator keeps up with training. ``length`` samples make one epoch (split
    over the workers). Each new iterator (each epoch, each worker) draws its own stream from ``seed`` and torch's
    global RNG, which DataLoader seeds anew per worker and epoch: new scenes every epoch, reproducible under
    ``seed_everything``. ``textures`` (a folder, ``"registry"``, or loaded ``RealTextures``) mixes crops of real
    images into the pools at ``config.real_fraction``; a folder is decoded once, here, and shared by the workers
    (from a folder with more than one load takes, each epoch and worker decodes its own random subset).
    """

    def __init__(self, config: SynthConfig, length: int, seed: int = 0, chunk: int = 8, replay: int = 2,
                 jitter: float = 0.05, textures: RealTextures | str | os.PathLike | None = None) -> None:
        self.config, self.length, self.seed = config, length, seed
        self.chunk, self.replay, self.jitter = chunk, replay, jitter
        self.textures = as_textures(textures, seed)

    def __len__(self) -> int:
        return self.length

    def render(self, gen: torch.Generator, pools: TexturePools) -> Sample:
        """One chunk of samples, batched."""
        return render_pairs(gen, self.chunk, self.config, pools=pools)

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        if info:
            torch.set_num_threads(1)
        stream = int(torch.randint(0, 2**31, ()))  # differs per worker and per epoch
        gen = torch.Generator().manual_seed(self.seed * 2**31 + stream)
        real = None if self.textures is None else self.textures.resampled(stream)
        pools = TexturePools(gen, self.config, real=real)
        count = self.length // workers + (worker < self.length % workers)
        variants = [(False, False), (True, False), (False, True), (True, True)]
        produced = 0
        while produced < count:
            batch = self.render(gen, pools)
            for i in range(self.chunk):
                sample = {k: v[i] for k, v in batch.items()}
                picks = torch.randperm(4, generator=gen)[: self.replay]
                for p in picks.tolist():
                    if produced == count:
                        return
                    s = flip_sample(sample, *variants[p])
                    if self.jitter:
                        keys = [k for k in ("img0", "img1", "img2", "gt") if k in s]
                        s.update(zip(keys, photometric_jitter([s[k] for k in keys], self.jitter, gen)))
                    yield s
                    produced += 1


class SyntheticTriplets(SyntheticChairs):
    """The same stream as triplets for frame interpolation: {"img0", "gt", "img1": 3 x H x W, "t": 0-d tensor,
    "flow": 2 x H x W from img0 to img1, "valid": H x W}; ``gt`` is the exact frame at time ``t``, drawn uniformly
    from ``t_range`` per sample (default: the middle frame)."""

    def __init__(self, config: SynthConfig, length: int, seed: int = 0, chunk: int = 8, replay: int = 2,
                 jitter: float = 0.05, textures: RealTextures | str | os.PathLike | None = None,
                 t_range: tuple[float, float] = (0.5, 0.5)) -> None:
        super().__init__(config, length, seed, chunk, replay, jitter, textures)
        self.t_range = t_range

    def render(self, gen: torch.Generator, pools: TexturePools) -> Sample:
        lo, hi = self.t_range
        t = lo + (hi - lo) * torch.rand(self.chunk, generator=gen)
        return render_triplets(gen, self.chunk, self.config, t, pools=pools)


def synthetic_set(count: int, config: SynthConfig, seed: int) -> list[Sample]:
    """A fixed in-memory list of generated samples (a validation set that needs no disk)."""
    gen = torch.Generator().manual_seed(seed)
    out: list[Sample] = []
    while len(out) < count:
        batch = render_pairs(gen, min(8, count - len(out)), config)
        out.extend({k: v[i] for k, v in batch.items()} for i in range(batch["img1"].shape[0]))
    return out


def collate(samples: list[Sample]) -> Sample:
    """Stack tensors; keep other values (names) as lists."""
    return {k: torch.stack([s[k] for s in samples]) if torch.is_tensor(samples[0][k]) else [s[k] for s in samples]
            for k in samples[0]}


def crop_to_multiple(size: tuple[int, int], multiple: int = 64) -> tuple[int, int]:
    """Largest multiple of ``multiple`` not above each side (training crops must be multiples of 64)."""
    return tuple(max(multiple, math.floor(s / multiple) * multiple) for s in size)  # type: ignore[return-value]


def _output_folder(out: str | os.PathLike, count: int) -> Path:
    if count < 1:
        raise FlowNetError(f"--count must be at least 1, not {count}")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FlowNetError(f"cannot create the folder ({e.strerror})", out) from None
    return out


def write_synthetic_chairs(out: str | os.PathLike, count: int, size: tuple[int, int] = (384, 512), seed: int = 0,
                           textures: RealTextures | str | os.PathLike | None = None,
                           preset: SynthConfig = SynthConfig()) -> None:
    """Write ``count`` generated pairs in the Flying Chairs layout (ids 00001...), with a train/val split file
    (every fifth pair is validation). Deterministic for a seed; each file is written atomically. ``textures``
    (a folder of images / videos, ``"registry"``, or loaded ``RealTextures``) mixes in real-image textures;
    ``preset``: the scene statistics (its size replaced by ``size``)."""
    from tqdm import tqdm

    real = as_textures(textures, seed)
    out = _output_folder(out, count)
    config = replace(preset, height=size[0], width=size[1])
    gen = torch.Generator().manual_seed(seed)
    written = 0
    with tqdm(total=count, desc="generating pairs", unit="pair") as bar:
        while written < count:
            batch = render_pairs(gen, min(8, count - written), config, real=real)
            for i in range(batch["img1"].shape[0]):
                name = f"{written + 1:05d}"
                for key in ("img1", "img2"):
                    io.write_image(out / f"{name}_{key}.ppm", io.tensor_to_image(batch[key][i]))
                io.write_flo(out / f"{name}_flow.flo", batch["flow"][i].permute(1, 2, 0).numpy())
                written += 1
                bar.update()
    marks = ["2" if k % 5 == 4 else "1" for k in range(count)]
    with atomic_path(out / SPLIT_FILE) as tmp:
        tmp.write_text("\n".join(marks) + "\n")


T_FILE = "t.txt"  # in a generated triplet folder: the time of its gt frame


def write_synthetic_triplets(out: str | os.PathLike, count: int, size: tuple[int, int] = (384, 512), seed: int = 0,
                             textures: RealTextures | str | os.PathLike | None = None,
                             t_range: tuple[float, float] = (0.5, 0.5), preset: SynthConfig = SynthConfig()) -> None:
    """Write ``count`` generated triplets as folders ``<id>/frame0.png, gt.png, frame1.png`` (the layout of
    ``flownet eval --interp``), gt being the exact frame at a time drawn uniformly from ``t_range``, written to
    ``<id>/t.txt``. Deterministic for a seed; each folder is written atomically. ``preset`` as for
    ``write_synthetic_chairs``."""
    from tqdm import tqdm

    lo, hi = t_range
    if not 0 <= lo <= hi <= 1:
        raise FlowNetError(f"--t-range must be two times with 0 <= T0 <= T1 <= 1, not {lo} {hi}")
    real = as_textures(textures, seed)
    out = _output_folder(out, count)
    config = replace(preset, height=size[0], width=size[1])
    gen = torch.Generator().manual_seed(seed)
    written = 0
    with tqdm(total=count, desc="generating triplets", unit="triplet") as bar:
        while written < count:
            n = min(8, count - written)
            t = lo + (hi - lo) * torch.rand(n, generator=gen)
            batch = render_triplets(gen, n, config, t, real=real)
            for i in range(n):
                with atomic_folder(out / f"{written + 1:05d}") as tmp:
                    for key, name in (("img0", "frame0"), ("gt", "gt"), ("img1", "frame1")):
                        io.write_image(tmp / f"{name}.png", io.tensor_to_image(batch[key][i]))
                    (tmp / T_FILE).write_text(f"{float(t[i])!r}\n")
                written += 1
                bar.update()
