"""The Lightning side of the data: training and validation loaders over a dataset folder, a clip (self-supervised)
or the synthetic stream. Kept apart from ``flownet.data`` so that the commands that do not train never import
Lightning."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, IterableDataset

from .config import TrainConfig
from .data import Augment, FlyingChairs, FramePairs, PairDataset, SyntheticChairs, collate, read_clip, synthetic_set
from .datasets import dataset_pairs, detect_format, split_pairs
from .errors import FlowNetError
from .synth import PRESETS, SynthConfig


class FlowDataModule(pl.LightningDataModule):
    """Training and validation loaders for the run ``cfg`` describes: its ``data`` (a dataset folder or list; a
    video or folder of frames with ``unsupervised``) or, when ``data`` is None, the synthetic stream with real-image
    textures from ``textures`` (a folder or "registry") if given and the scene statistics of the preset ``synth``
    (the generated validation pairs keep the default ones, comparable across runs)."""

    def __init__(self, cfg: TrainConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def setup(self, stage: str | None = None) -> None:
        if hasattr(self, "train_set"):  # train() sets up early to report bad data before Lightning starts
            return
        cfg = self.cfg
        # without augmentation: a fixed top-left crop (a multiple of 64), no flips, no jitter
        fixed = Augment(crop=cfg.crop, flip=False, jitter=0.0, random=False)
        augment = Augment(crop=cfg.crop) if cfg.augment else fixed
        if cfg.data is None:
            h, w = cfg.crop
            self.train_set = SyntheticChairs(replace(PRESETS[cfg.synth], height=h, width=w), cfg.synthetic_length,
                                             seed=cfg.seed, textures=cfg.textures)
            self.val_set = synthetic_set(cfg.val_size, SynthConfig(), seed=10_000 + cfg.seed)
        elif cfg.unsupervised:  # a clip: its last fifth held out for validation
            frames = read_clip(cfg.data)
            cut = len(frames) - max(2, len(frames) // 5)
            if cut < 3:
                raise FlowNetError(f"{len(frames)} distinct frames are too few to learn from and validate on "
                                   "(at least 5)", cfg.data)
            self.train_set, self.val_set = FramePairs(frames[:cut], augment), FramePairs(frames[cut:], fixed)
        else:
            fmt = detect_format(Path(cfg.data)) if cfg.data_format == "auto" else cfg.data_format
            if fmt == "chairs":
                self.train_set = FlyingChairs(cfg.data, "train", augment)
                self.val_set = FlyingChairs(cfg.data, "val")
            else:  # other layouts: a seeded 0.8 / 0.2 split of their scenes (Sintel's, chains of pairs in a list)
                pairs = dataset_pairs(cfg.data, "all", fmt)
                train, val = split_pairs(pairs, "train"), split_pairs(pairs, "val")
                if not train or not val:
                    raise FlowNetError(f"{len(pairs)} pairs of {len({p.scene for p in pairs})} scenes are too few "
                                       "to split into training and validation", cfg.data)
                self.train_set, self.val_set = PairDataset(train, augment), PairDataset(val)

    def train_dataloader(self) -> DataLoader:
        sampler = None
        shuffle = self.cfg.augment
        if not shuffle and torch.distributed.is_available() and torch.distributed.is_initialized():
            # Lightning's own distributed sampler would shuffle; keep the order (rank r takes pairs r, r+n, ...)
            from torch.utils.data.distributed import DistributedSampler

            sampler = DistributedSampler(self.train_set, shuffle=False)
        return DataLoader(
            self.train_set,
            batch_size=self.cfg.batch_size,
            shuffle=shuffle and not isinstance(self.train_set, IterableDataset),
            sampler=sampler,
            num_workers=self.cfg.num_workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=False,
            drop_last=True,
            collate_fn=collate,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=1, num_workers=0, collate_fn=collate)
