"""Datasets: Flying Chairs folders, the synthetic chairs-like streams, training augmentation, the DataModule.

A sample is a dict of tensors: ``img1``, ``img2`` (3 x H x W float in [0, 1]), ``flow`` (2 x H x W, pixels) and
``valid`` (H x W bool). A triplet sample (``SyntheticTriplets``) has ``img0``, ``gt`` (the frame at time ``t``, a
0-d tensor), ``img1``, ``flow`` (from img0 to img1) and ``valid``.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from . import io
from .errors import FlowNetError
from .fileutil import atomic_folder, atomic_path
from .synth import SynthConfig, TexturePools, render_pairs, render_triplets
from .textures import RealTextures, load_textures

SPLIT_FILE = "FlyingChairs_train_val.txt"
SPLIT_SEED = 42
TRAIN_FRACTION = 0.8

Sample = dict[str, torch.Tensor]


# ----------------------------------------------------------------------------------------------- Flying Chairs
def chairs_ids(root: str | os.PathLike) -> list[str]:
    """Sorted ids of the ``<id>_img1.ppm, <id>_img2.ppm, <id>_flow.flo`` triplets in ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise FlowNetError("no such folder", root)
    ids = sorted(p.name[: -len("_img1.ppm")] for p in root.glob("*_img1.ppm"))
    if not ids:
        raise FlowNetError("no Flying Chairs pairs (<id>_img1.ppm, <id>_img2.ppm, <id>_flow.flo) in this folder", root)
    for i in ids:
        for part in ("img2.ppm", "flow.flo"):
            if not (root / f"{i}_{part}").is_file():
                raise FlowNetError(f"pair {i} has no {i}_{part}", root / f"{i}_img1.ppm")
    return ids


def chairs_split(root: str | os.PathLike, ids: list[str], split: str) -> list[str]:
    """The ids of ``split`` ('train', 'val' or 'all').

    Uses the official ``FlyingChairs_train_val.txt`` (one line per pair in id order: 1 = train, 2 = val) when the
    folder has it, else a random 0.8 / 0.2 split seeded with 42 (the same on every machine).
    """
    if split == "all":
        return ids
    if split not in ("train", "val"):
        raise FlowNetError(f"unknown split '{split}' (use train, val or all)")
    split_file = Path(root) / SPLIT_FILE
    if split_file.is_file():
        marks = split_file.read_text().split()
        if len(marks) != len(ids) or set(marks) - {"1", "2"}:
            raise FlowNetError(f"expected {len(ids)} lines of 1 or 2 (one per pair), found {len(marks)}", split_file)
        wanted = "1" if split == "train" else "2"
        return [i for i, m in zip(ids, marks) if m == wanted]
    order = list(ids)
    random.Random(SPLIT_SEED).shuffle(order)
    n_train = round(TRAIN_FRACTION * len(order))
    chosen = set(order[:n_train] if split == "train" else order[n_train:])
    return [i for i in ids if i in chosen]


def load_pair(img1: str | os.PathLike, img2: str | os.PathLike, flow: str | os.PathLike | None = None) -> Sample:
    """Read a pair (and its ground truth, if given) into a sample dict; sizes must agree."""
    a, b = io.read_pair(img1, img2)
    sample = {"img1": io.image_to_tensor(a)[0], "img2": io.image_to_tensor(b)[0]}
    if flow is not None:
        f, valid = io.read_flow(flow)
        if f.shape[:2] != a.shape[:2]:
            raise FlowNetError(f"flow is {f.shape[1]}x{f.shape[0]} but the images are {a.shape[1]}x{a.shape[0]}", flow)
        sample["flow"] = io.flow_to_tensor(np.where(valid[..., None], f, 0))[0]
        sample["valid"] = torch.from_numpy(valid)
    return sample


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
    """Any list of pairs with ground truth (``flownet.evaluate.PairFiles``: Sintel, KITTI, a list file, ...),
    optionally augmented as Flying Chairs is."""

    def __init__(self, pairs: list, augment: "Augment | None" = None) -> None:
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


def flip_sample(sample: Sample, horizontal: bool, vertical: bool) -> Sample:
    """Mirror a sample; the flow component along each mirrored axis changes sign."""
    s = dict(sample)
    for axis, on, comp in ((-1, horizontal, 0), (-2, vertical, 1)):
        if not on:
            continue
        for k in ("img0", "img1", "img2", "gt", "flow", "valid"):
            if k in s:
                s[k] = s[k].flip(axis)
        if "flow" in s:
            sign = torch.ones(2, 1, 1, dtype=s["flow"].dtype)
            sign[comp] = -1
            s["flow"] = s["flow"] * sign
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
    images into the pools at ``config.real_fraction``; a folder is decoded once, here, and shared by the workers.
    """

    def __init__(self, config: SynthConfig, length: int, seed: int = 0, chunk: int = 8, replay: int = 2,
                 jitter: float = 0.05, textures: RealTextures | str | os.PathLike | None = None) -> None:
        self.config, self.length, self.seed = config, length, seed
        self.chunk, self.replay, self.jitter = chunk, replay, jitter
        self.textures = load_textures(textures, seed) if isinstance(textures, (str, os.PathLike)) else textures

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
        pools = TexturePools(gen, self.config, real=self.textures)
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


# ----------------------------------------------------------------------------------------------- Lightning
class FlowDataModule(pl.LightningDataModule):
    """Training and validation loaders over a Flying Chairs folder, or over the synthetic stream when
    ``data`` is None ("synthetic"), with real-image textures from ``textures`` (a folder or "registry") if given."""

    def __init__(self, data: str | None, batch_size: int = 8, num_workers: int = 2, crop: tuple[int, int] = (320, 448),
                 synthetic_length: int = 8000, synthetic_val: int = 64, seed: int = 0, data_format: str = "auto",
                 augment: bool = True, shuffle: bool = True, textures: str | None = None) -> None:
        super().__init__()
        self.data, self.batch_size, self.num_workers, self.crop = data, batch_size, num_workers, crop
        self.synthetic_length, self.synthetic_val, self.seed = synthetic_length, synthetic_val, seed
        self.data_format, self.augment, self.shuffle = data_format, augment, shuffle
        self.textures = textures

    def setup(self, stage: str | None = None) -> None:
        if hasattr(self, "train_set"):  # train() sets up early to report bad data before Lightning starts
            return
        if self.data is None:
            h, w = self.crop
            self.train_set = SyntheticChairs(SynthConfig(height=h, width=w), self.synthetic_length, seed=self.seed,
                                             textures=self.textures)
            self.val_set = synthetic_set(self.synthetic_val, SynthConfig(), seed=10_000 + self.seed)
        else:
            from .evaluate import dataset_pairs, detect_format, split_pairs

            # without augmentation: a fixed top-left crop (a multiple of 64), no flips, no jitter
            augment = Augment(crop=self.crop) if self.augment else Augment(crop=self.crop, flip=False, jitter=0.0,
                                                                           random=False)
            fmt = detect_format(Path(self.data)) if self.data_format == "auto" else self.data_format
            if fmt == "chairs":
                self.train_set = FlyingChairs(self.data, "train", augment)
                self.val_set = FlyingChairs(self.data, "val")
            else:  # other layouts: a seeded 0.8 / 0.2 split of all their pairs
                pairs = dataset_pairs(self.data, "all", fmt)
                train, val = split_pairs(pairs, "train"), split_pairs(pairs, "val")
                if not train or not val:
                    raise FlowNetError(f"{len(pairs)} pairs are too few to split into training and validation",
                                       self.data)
                self.train_set, self.val_set = PairDataset(train, augment), PairDataset(val)

    def train_dataloader(self) -> DataLoader:
        sampler = None
        if not self.shuffle and torch.distributed.is_available() and torch.distributed.is_initialized():
            # Lightning's own distributed sampler would shuffle; keep the order (rank r takes pairs r, r+n, ...)
            from torch.utils.data.distributed import DistributedSampler

            sampler = DistributedSampler(self.train_set, shuffle=False)
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            shuffle=self.shuffle and not isinstance(self.train_set, IterableDataset),
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=False,
            drop_last=True,
            collate_fn=collate,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=1, num_workers=0, collate_fn=collate)


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


def _to_uint8(img: torch.Tensor) -> np.ndarray:
    return (img.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()


def write_synthetic_chairs(out: str | os.PathLike, count: int, size: tuple[int, int] = (384, 512), seed: int = 0,
                           textures: RealTextures | str | os.PathLike | None = None) -> None:
    """Write ``count`` generated pairs in the Flying Chairs layout (ids 00001...), with a train/val split file
    (every fifth pair is validation). Deterministic for a seed; each file is written atomically. ``textures``
    (a folder of images / videos, ``"registry"``, or loaded ``RealTextures``) mixes in real-image textures."""
    from tqdm import tqdm

    out = _output_folder(out, count)
    real = load_textures(textures, seed) if isinstance(textures, (str, os.PathLike)) else textures
    config = SynthConfig(height=size[0], width=size[1])
    gen = torch.Generator().manual_seed(seed)
    written = 0
    with tqdm(total=count, desc="generating pairs", unit="pair") as bar:
        while written < count:
            batch = render_pairs(gen, min(8, count - written), config, real=real)
            for i in range(batch["img1"].shape[0]):
                name = f"{written + 1:05d}"
                for key in ("img1", "img2"):
                    io.write_image(out / f"{name}_{key}.ppm", _to_uint8(batch[key][i]))
                io.write_flo(out / f"{name}_flow.flo", batch["flow"][i].permute(1, 2, 0).numpy())
                written += 1
                bar.update()
    marks = ["2" if k % 5 == 4 else "1" for k in range(count)]
    with atomic_path(out / SPLIT_FILE) as tmp:
        tmp.write_text("\n".join(marks) + "\n")


T_FILE = "t.txt"  # in a generated triplet folder: the time of its gt frame


def write_synthetic_triplets(out: str | os.PathLike, count: int, size: tuple[int, int] = (384, 512), seed: int = 0,
                             textures: RealTextures | str | os.PathLike | None = None,
                             t_range: tuple[float, float] = (0.5, 0.5)) -> None:
    """Write ``count`` generated triplets as folders ``<id>/frame0.png, gt.png, frame1.png`` (the layout of
    ``flownet eval --interp``), gt being the exact frame at a time drawn uniformly from ``t_range``, written to
    ``<id>/t.txt``. Deterministic for a seed; each folder is written atomically."""
    from tqdm import tqdm

    lo, hi = t_range
    if not 0 <= lo <= hi <= 1:
        raise FlowNetError(f"--t-range must be two times with 0 <= T0 <= T1 <= 1, not {lo} {hi}")
    out = _output_folder(out, count)
    real = load_textures(textures, seed) if isinstance(textures, (str, os.PathLike)) else textures
    config = SynthConfig(height=size[0], width=size[1])
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
                        io.write_image(tmp / f"{name}.png", _to_uint8(batch[key][i]))
                    (tmp / T_FILE).write_text(f"{float(t[i])!r}\n")
                written += 1
                bar.update()
