"""Training flow models (FlowNetS, or the second stage of a stack) with PyTorch Lightning: the LightningModule (loss, metrics, optimiser, EMA) and ``train()``."""

from __future__ import annotations

import copy
import os
import time
from dataclasses import asdict
from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.utilities.exceptions import SIGTERMException
from torch import nn

from .config import TrainConfig
from .datamodule import FlowDataModule
from .errors import FlowNetError
from .metrics import epe, multiscale_loss, sequence_loss
from .models import FlowNetStack, RAFTLite, get_model
from .schedule import Schedule
from .unsupervised import unsupervised_loss
from .weights import read_checkpoint, save_weights


class FlowNetModule(pl.LightningModule):
    """A flow model of the registry (``model``) and its supervised loss (FlowNet's multiscale EPE, RAFT's sequence
    loss), or with ``unsupervised`` the self-supervised loss of ``flownet.unsupervised`` on pairs without ground
    truth; logs train/val EPE (val_loss without ground truth); optional exponential moving average of the weights
    (``ema_decay`` > 0), which is then what validation uses and what gets exported."""

    def __init__(self, model: str = "flownets", model_config: dict | None = None, lr: float = 1e-4,
                 weight_decay: float = 4e-4, schedule: str = "multistep", milestones: tuple[float, ...] = (0.5, 0.75),
                 warmup_steps: int = 0, ema_decay: float = 0.0, unsupervised: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = get_model(model, **(model_config or {}))
        self.ema_model = copy.deepcopy(self.model).requires_grad_(False) if ema_decay > 0 else None
        self.started = time.monotonic()

    @property
    def eval_model(self) -> nn.Module:
        return self.ema_model if self.ema_model is not None else self.model

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        if self.hparams.unsupervised:
            img1, img2 = batch["img1"], batch["img2"]
            flows = full_size_flows(self.model, self.model(torch.cat([img1, img2]), torch.cat([img2, img1])))
            loss = unsupervised_loss([f[: len(img1)] for f in flows], [f[len(img1):] for f in flows], img1, img2)
            self.log("train_loss", loss, prog_bar=True)
            return loss
        preds = self.model(batch["img1"], batch["img2"])
        if isinstance(self.model, RAFTLite):  # every iteration's full-size flow, in pixels
            loss = sequence_loss(preds, batch["flow"], batch["valid"])
        else:  # FlowNet's pyramid of flow / div_flow, from 1/4 of the size down
            loss = multiscale_loss(preds, batch["flow"], batch["valid"], self.model.config.div_flow)
        final = full_size_flows(self.model, preds)[0]
        with torch.no_grad():
            train_epe = epe(final.detach(), batch["flow"], batch["valid"])
        self.log("train_loss", loss, prog_bar=False)
        self.log("train_epe", train_epe, prog_bar=True, on_step=True, on_epoch=True)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        if self.ema_model is None:
            return
        d = self.hparams.ema_decay
        with torch.no_grad():
            for e, p in zip(self.ema_model.state_dict().values(), self.model.state_dict().values()):
                if e.is_floating_point():
                    e.lerp_(p, 1 - d)
                else:
                    e.copy_(p)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        model = self.eval_model.eval()
        img1, img2 = batch["img1"], batch["img2"]
        if self.hparams.unsupervised:
            fw, bw = model(torch.cat([img1, img2]), torch.cat([img2, img1])).chunk(2)
            self.log("val_loss", unsupervised_loss([fw], [bw], img1, img2), prog_bar=True, batch_size=1,
                     sync_dist=True)
        else:
            flow = model(img1, img2)
            self.log("val_epe", epe(flow, batch["flow"], batch["valid"]), prog_bar=True, batch_size=1, sync_dist=True)
        self.log("minutes", (time.monotonic() - self.started) / 60, batch_size=1)  # of this sitting

    def configure_optimizers(self):
        hp = self.hparams
        opt = torch.optim.Adam(parameter_groups(self.model, hp.weight_decay), lr=hp.lr, betas=(0.9, 0.999))
        self.total_steps = max(1, int(self.trainer.estimated_stepping_batches))
        schedule = Schedule(hp.schedule, self.total_steps, tuple(hp.milestones), hp.warmup_steps)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_train_start(self) -> None:
        """A run resumed with another length (--epochs, --max-steps): the restored schedule, planned for the old
        total, continues from where it is to the end of the new one."""
        sched = self.lr_schedulers()
        if sched is not None and sched.lr_lambdas[0].total != self.total_steps:
            sched.lr_lambdas[0].replan(sched.last_epoch, self.total_steps)


def full_size_flows(model: nn.Module, preds: list[torch.Tensor]) -> list[torch.Tensor]:
    """A model's training output as full-size flows in pixels, [final, ...]: RAFT-lite's every iteration as it is,
    FlowNet's finest prediction (1/4 size, flow / div_flow) upsampled."""
    if isinstance(model, RAFTLite):
        return preds
    return [F.interpolate(preds[0].float(), scale_factor=4, mode="bilinear", align_corners=False)
            * model.config.div_flow]


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Adam's parameter groups: weight decay on the convolution weights only, none on biases and BatchNorm
    (FlowNet's recipe)."""
    trained = [p for p in model.parameters() if p.requires_grad]  # a stack's first network is frozen
    decay = [p for p in trained if p.dim() > 1]
    rest = [p for p in trained if p.dim() <= 1]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def train(cfg: TrainConfig) -> Path:
    """Run training; returns the path of the exported weights (``<out>/model.pt``: the best validation EPE's, the
    EMA weights when ``ema_decay`` > 0). Torch's thread count is set for the run and restored after it; the heap
    setting of ``flownet.alloc``, which speeds training up, is the caller's choice (the CLI makes it)."""
    threads = torch.get_num_threads()
    # oversubscribed OpenMP threads stall at every barrier: leave the data workers their own cores
    torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) - cfg.num_workers))
    try:
        return _train(cfg)
    finally:
        torch.set_num_threads(threads)


def _train(cfg: TrainConfig) -> Path:
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    if cfg.resume and not Path(cfg.resume).is_file():
        raise FlowNetError("no checkpoint to resume from", cfg.resume)
    data = FlowDataModule(cfg)
    data.setup("fit")  # bad data fails here, before Lightning prints anything or the run folder is made
    module = FlowNetModule(cfg.model, model_options(cfg), cfg.lr, cfg.weight_decay, cfg.schedule,
                           warmup_steps=cfg.warmup_steps, ema_decay=cfg.ema_decay, unsupervised=cfg.unsupervised)
    if cfg.init:
        initialise(module, cfg.init)
    out = Path(cfg.out)
    check_creatable(out)
    ckpt_dir = out / "checkpoints"
    if not cfg.resume and any(ckpt_dir.glob("*.ckpt")):  # a second run would mix its checkpoints and logs in
        raise FlowNetError(f"the run folder already holds a run ({ckpt_dir}): give another --out, or continue it "
                           f"with --resume {ckpt_dir / 'last.ckpt'}", out)
    best = ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor="val_loss" if cfg.unsupervised else "val_epe",
                           mode="min")
    # every epoch, whether or not it improved (Lightning's save_last follows the best's saves only): --resume's start
    last = ModelCheckpoint(dirpath=ckpt_dir, filename="last", enable_version_counter=False)
    trainer = lightning_trainer(
        default_root_dir=out,
        max_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        limit_train_batches=cfg.limit_train_batches,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        strategy=cfg.strategy,
        num_nodes=cfg.num_nodes,
        precision=cfg.precision,
        gradient_clip_val=cfg.grad_clip or None,
        callbacks=[best, last],
        logger=CSVLogger(out, name="logs"),  # logs/version_N/metrics.csv: one per sitting, none overwritten
        check_val_every_n_epoch=cfg.val_every,
        log_every_n_steps=10,
        deterministic=False,
        enable_model_summary=False,
    )
    try:  # only now that every option is known good
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FlowNetError(f"cannot create the run folder ({e.strerror})", out) from None
    try:
        trainer.fit(module, datamodule=data, ckpt_path=cfg.resume, weights_only=True)
    except SIGTERMException:  # (Ctrl-C, SIGINT, is Lightning's: it says so and exits with status 1)
        raise FlowNetError(f"training stopped by SIGTERM; every completed epoch is in {last.best_model_path or ckpt_dir}"
                           f": continue with --resume {ckpt_dir / 'last.ckpt'}") from None
    source = best.best_model_path or last.best_model_path  # (no monitor: its best is the latest)
    if not source:
        raise FlowNetError("no training step was made (the data gave no full batch): nothing written", cfg.data)
    exported = out / "model.pt"
    if trainer.is_global_zero:
        config, state, _ = read_checkpoint(source)
        model = get_model(config.pop("model", "flownets"), **config)
        model.load_state_dict(state)
        save_weights(model, exported, meta={"source": os.fspath(source), "train_config": _plain(asdict(cfg))})
    return exported


def model_options(cfg: TrainConfig) -> dict:
    """The constructor arguments of the model to train: those of the ``--init`` weights when they are of the same
    model (so that fine-tuning needs no shape flags), else FlowNetS's width and BatchNorm from ``cfg``."""
    options: dict | None = None
    if cfg.init:
        config, _, _ = read_checkpoint(cfg.init)
        config = dict(config)
        if config.pop("model", "flownets") == cfg.model:
            options = config
    if options is None:  # (also a stack started from a FlowNetS's weights: the flags give its shape)
        shaped = cfg.model in ("flownets", "flownets-stack")
        options = {"width": cfg.width, "batch_norm": cfg.batch_norm} if shaped else {}
    if cfg.model == "raft-lite-dis" and cfg.scale is not None:
        options["scale"] = cfg.scale
    return options


def initialise(module: FlowNetModule, path: str) -> None:
    """Start from the weights in ``path``: the whole model's, or, for a stack, a FlowNetS's as its first stage."""
    config, state, _ = read_checkpoint(path)
    config = dict(config)
    name = config.pop("model", "flownets")
    targets = [m for m in (module.model, module.ema_model) if m is not None]
    if isinstance(module.model, FlowNetStack) and name == "flownets":
        targets = [m.first for m in targets]
    want = targets[0].config_dict()
    if any(want.get(k) != v for k, v in config.items() if k in want and k != "scale"):  # (a scale has no weights)
        raise FlowNetError(f"weights are for {name}{config}, not {type(targets[0]).__name__}{want}", path)
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    for target in targets:
        target.load_state_dict(state)


def check_creatable(folder: Path) -> None:
    """A FlowNetError now, before Lightning says anything, when ``folder`` could not be created: its nearest
    existing ancestor is a file, or not writable. Creates nothing."""
    existing = next(p for p in (folder, *folder.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise FlowNetError(f"cannot create the run folder ({existing.name} is a file)", folder)
    if existing != folder and not os.access(existing, os.W_OK | os.X_OK):
        raise FlowNetError(f"cannot create the run folder ({existing} is not writable)", folder)


def lightning_trainer(**options) -> pl.Trainer:
    """``pl.Trainer(**options)``; options Lightning refuses (precision, accelerator, devices, strategy) are a
    FlowNetError. Creates no folder."""
    from lightning_fabric.utilities.exceptions import MisconfigurationException

    try:
        return pl.Trainer(**options)
    except (ValueError, MisconfigurationException, ModuleNotFoundError, RuntimeError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise FlowNetError(f"Lightning refused the options: {reason}") from None


def _plain(d: dict) -> dict:
    """Only the JSON-like values (so the file loads with weights_only=True)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()
            if isinstance(v, (str, int, float, bool, tuple, type(None)))}
