"""Learning works (overfitting), Lightning training writes checkpoints that load and resume, weights round-trip."""

import pytest
import torch

from flownet import FlowNetError, FlowNetS, load_model
from flownet.metrics import epe, multiscale_loss
from flownet.synth import SynthConfig, render_pairs
from flownet.training import TrainConfig, train
from flownet.weights import read_checkpoint, save_weights


def test_small_model_overfits_two_pairs():
    """Width 0.25 on two tiny pairs: the EPE falls to less than half within a few dozen steps."""
    torch.manual_seed(0)
    s = render_pairs(torch.Generator().manual_seed(0), 2, SynthConfig(height=64, width=128, static_fraction=0))
    model = FlowNetS(width=0.25, batch_norm=True)
    opt = torch.optim.Adam(model.parameters(), 1e-3)

    def current_epe() -> float:
        with torch.no_grad():
            return epe(model.eval()(s["img1"], s["img2"]), s["flow"]).item()

    before = current_epe()
    for _ in range(40):
        loss = multiscale_loss(model.train()(s["img1"], s["img2"]), s["flow"])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert current_epe() < 0.5 * before


def test_weights_round_trip_in_fp16_and_fp32(tmp_path):
    model = FlowNetS(width=0.25, batch_norm=True).eval()
    img = torch.rand(1, 3, 64, 64)
    for half in (False, True):
        path = tmp_path / f"w{half}.pt"
        save_weights(model, path, meta={"note": "test"}, half=half)
        loaded = load_model(path)
        assert loaded.config == model.config and not loaded.training
        with torch.no_grad():
            assert torch.allclose(loaded(img, img), model(img, img), atol=1e-2 if half else 0)
    assert read_checkpoint(tmp_path / "wFalse.pt")[2] == {"note": "test"}


def test_bad_checkpoints_are_clear_errors(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(FlowNetError, match="not a flownet checkpoint"):
        load_model(junk)
    torch.save({"a": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(FlowNetError, match="not a flownet checkpoint"):
        load_model(tmp_path / "other.pt")
    wrong = tmp_path / "wrong.pt"
    save_weights(FlowNetS(width=0.25), wrong)
    payload = torch.load(wrong, weights_only=True)
    payload["config"]["width"] = 0.5
    torch.save(payload, wrong)
    with pytest.raises(FlowNetError, match="do not fit"):
        load_model(wrong)
    with pytest.raises(FlowNetError, match="no such checkpoint"):
        load_model(tmp_path / "missing.pt")


def test_lightning_training_checkpoints_and_resume(tiny_chairs, tmp_path):
    cfg = TrainConfig(data=str(tiny_chairs), out=str(tmp_path / "run"), epochs=1, batch_size=4, width=0.25,
                      crop=(64, 64), num_workers=0)
    exported = train(cfg)
    ckpts = tmp_path / "run" / "checkpoints"
    assert exported.is_file() and (ckpts / "last.ckpt").is_file() and (ckpts / "best.ckpt").is_file()
    assert (tmp_path / "run" / "logs" / "version_0" / "metrics.csv").read_text().startswith("epoch,")
    first = torch.load(ckpts / "last.ckpt", weights_only=True)
    assert first["epoch"] == 0 and first["global_step"] == 3  # 13 training pairs // batch 4

    for path in (exported, ckpts / "last.ckpt"):
        model = load_model(path)
        assert model.config.width == 0.25

    cfg.epochs, cfg.resume = 2, str(ckpts / "last.ckpt")
    train(cfg)
    resumed = torch.load(ckpts / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == 6  # continued, not restarted
    second = (tmp_path / "run" / "logs" / "version_1" / "metrics.csv").read_text().splitlines()
    assert {line.split(",")[0] for line in second[1:]} == {"1"}  # only epoch 1 was trained again
    assert (tmp_path / "run" / "logs" / "version_0" / "metrics.csv").is_file()  # the first sitting's log is kept


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_killed_mid_epoch_resumes_without_losing_a_completed_epoch(tmp_path, sig):
    """Stop `flownet train` with a signal during its second epoch; --resume continues after the first."""
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    args = [sys.executable, "-m", "flownet.cli", "train", "--data", "synthetic", "--out", run, "--width", "0.25",
            "--crop", "64x64", "--batch-size", "2", "--synthetic-length", "4000", "--limit-train-batches", "300",
            "--num-workers", "0", "--epochs", "2", "--accelerator", "cpu"]
    # as in a terminal: SIGINT is Ctrl-C (a shell's background jobs, CI's included, start with it ignored)
    proc = subprocess.Popen(list(map(str, args)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    last = run / "checkpoints" / "last.ckpt"
    deadline = time.time() + 300
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert last.exists(), proc.stderr.read() if proc.poll() is not None else "no checkpoint in time"
    # last.ckpt appears once epoch 0 is saved: the signal comes early in epoch 1 (300 steps: seconds at least)
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "Traceback" not in err, err
    saved = torch.load(last, weights_only=True)
    assert saved["epoch"] == 0 and saved["global_step"] == 300  # the completed first epoch, whole
    if sig == "SIGTERM":
        assert "--resume" in err.strip().splitlines()[-1]

    resumed = subprocess.run(list(map(str, args + ["--resume", last])), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    final = torch.load(last, weights_only=True)
    assert final["epoch"] == 1 and final["global_step"] == 600  # the second epoch, trained once
