"""The Lightning side of the data: training and validation loaders over a dataset folder or the synthetic stream.
Kept apart from ``flownet.data`` so that the commands that do not train never import Lightning."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, IterableDataset

from .data import Augment, FlyingChairs, PairDataset, SyntheticChairs, collate, synthetic_set
from .datasets import dataset_pairs, detect_format, split_pairs
from .errors import FlowNetError
from .synth import SynthConfig


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
            # without augmentation: a fixed top-left crop (a multiple of 64), no flips, no jitter
            augment = Augment(crop=self.crop) if self.augment else Augment(crop=self.crop, flip=False, jitter=0.0,
                                                                           random=False)
            fmt = detect_format(Path(self.data)) if self.data_format == "auto" else self.data_format
            if fmt == "chairs":
                self.train_set = FlyingChairs(self.data, "train", augment)
                self.val_set = FlyingChairs(self.data, "val")
            else:  # other layouts: a seeded 0.8 / 0.2 split of their scenes (Sintel's, a list's image folders)
                pairs = dataset_pairs(self.data, "all", fmt)
                train, val = split_pairs(pairs, "train"), split_pairs(pairs, "val")
                if not train or not val:
                    raise FlowNetError(f"{len(pairs)} pairs of {len({p.scene for p in pairs})} scenes are too few "
                                       "to split into training and validation", self.data)
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
