"""The options of a training run, in one place: ``train()`` takes them and the ``flownet train`` flags take their
defaults from them. No heavy imports here, so that the command line can read the defaults quickly."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainConfig:
    """One training run (the defaults reproduce the reference recipe: Adam 1e-4, batch 8, 20 epochs)."""

    data: str | None = None  # dataset folder or pair-list file (see data_format); None = the synthetic stream
    data_format: str = "auto"  # chairs, sintel, sintel-final, kitti, list, middlebury or auto
    unsupervised: bool = False  # data is a video or a folder of frames without ground truth (flownet.unsupervised)
    augment: bool = True  # False: top-left crop, no flips, no jitter, no shuffling (deterministic input)
    out: str = "runs/flownets"
    model: str = "flownets"  # a flow model of flownet.models (flownets, flownets-stack, raft-lite)
    epochs: int = 20
    batch_size: int = 8
    width: float = 1.0  # FlowNetS's (and a stack's): ignored for other models and with --init
    scale: float | None = None  # raft-lite-dis: its network's image scale (None: that of --init, else 1)
    batch_norm: bool = False
    lr: float = 1e-4
    weight_decay: float = 4e-4
    schedule: str = "multistep"
    warmup_steps: int = 0
    ema_decay: float = 0.0
    grad_clip: float = 0.0  # clip the gradient's norm to this (0 = off; RAFT's recipe: 1)
    crop: tuple[int, int] = (320, 448)
    max_steps: int = -1
    limit_train_batches: float | int | None = None
    synthetic_length: int = 8000
    textures: str | None = None  # synthetic stream: also crops of the images / videos of a folder, or "registry"
    synth: str = "default"  # synthetic stream's scenes: a preset of flownet.synth.PRESETS (validation: default)
    val_size: int = 64  # pairs of the generated validation set (with data=None)
    num_workers: int = 2
    precision: str = "32-true"
    accelerator: str = "auto"
    devices: int | str = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    resume: str | None = None
    init: str | None = None
    seed: int = 0
    val_every: int = 1
    threads: int | None = None  # torch threads; None = the cores left over by the data workers
