"""Learning works (overfitting); the optimiser, schedule and EMA do what they say; Lightning training writes
checkpoints that load and resume (after a signal too, and with another length); weights round-trip."""

import math
import signal
import subprocess
import sys
import time

import pytest
import torch
from torch import nn

from flownet import FlowNetError, FlowNetS, load_model
from flownet.metrics import epe, multiscale_loss
from flownet.synth import SynthConfig, render_pairs
from flownet.schedule import Schedule
from flownet.training import FlowNetModule, TrainConfig, parameter_groups, train
from flownet.weights import read_checkpoint, save_weights


@pytest.fixture
def children():
    """A list to put started subprocesses in; any still running when the test ends (passed or not) is killed."""
    procs: list[subprocess.Popen] = []
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


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


def test_weight_decay_only_on_convolution_weights():
    model = FlowNetS(width=0.25, batch_norm=True)
    decay, rest = parameter_groups(model, 4e-4)
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert decay["weight_decay"] == 4e-4 and rest["weight_decay"] == 0
    assert {id(p) for p in decay["params"]} == {id(m.weight) for m in convs}
    no_decay = [m.bias for m in convs if m.bias is not None] + [p for m in norms for p in (m.weight, m.bias)]
    assert {id(p) for p in rest["params"]} == {id(p) for p in no_decay} and len(no_decay) > len(norms)


def test_schedules_by_hand():
    multistep = Schedule("multistep", 100, (0.5, 0.75))
    assert [multistep(s) for s in (0, 49, 50, 74, 75, 99)] == [1, 1, 0.5, 0.5, 0.25, 0.25]
    cosine = Schedule("cosine", 110, warmup=10)
    assert [cosine(s) for s in (0, 4, 9)] == [0.1, 0.5, 1.0]
    for s in (10, 35, 60, 110, 200):
        t = min(1, (s - 10) / 100)
        assert cosine(s) == pytest.approx(0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


@pytest.mark.parametrize("kind", ["multistep", "cosine"])
@pytest.mark.parametrize("new_total", [40, 200])
def test_schedule_replanned_for_a_new_length_continues_without_a_jump(kind, new_total):
    """A run planned for 100 steps, resumed at step 30 for a total of ``new_total``. Cosine: the factor at step 30
    stays, and descends to the floor at the new end. Multistep: the factor never goes back up; it drops to the new
    plan's where that is lower (at once, when the new milestones are behind), its final one at the last milestone."""
    sched = Schedule(kind, 100, warmup=5)
    at_resume = sched(30)
    sched.replan(30, new_total)
    fresh = Schedule(kind, new_total, warmup=5)
    assert sched(30) == pytest.approx(at_resume if kind == "cosine" else min(at_resume, fresh(30)))
    factors = [sched(s) for s in range(30, new_total + 1)]
    assert all(b <= a + 1e-12 for a, b in zip(factors, factors[1:]))  # never back up
    if kind == "multistep":
        assert sched(int(0.75 * new_total)) == 0.25 and sched(int(0.75 * new_total) - 1) > 0.25
    else:
        assert sched(new_total) == pytest.approx(0.05) and sched(new_total - 1) > 0.05


def test_ema_follows_the_weights_and_is_what_validation_uses():
    module = FlowNetModule(model_config={"width": 0.25}, ema_decay=0.75)
    before = {k: v.clone() for k, v in module.ema_model.state_dict().items()}
    with torch.no_grad():
        for p in module.model.parameters():
            p.add_(1.0)
    module.on_train_batch_end(None, None, 0)
    for k, v in module.ema_model.state_dict().items():
        torch.testing.assert_close(v, 0.75 * before[k] + 0.25 * module.model.state_dict()[k])
    assert module.eval_model is module.ema_model


def test_lightning_training_checkpoints_and_resume(tiny_chairs, tmp_path, monkeypatch):
    """Also: the exported model.pt holds the best checkpoint's EMA weights; train() restores torch's thread count
    and leaves the C library's malloc settings alone (flownet.alloc is the CLI's choice)."""
    import ctypes

    from flownet import alloc

    mallopt_calls = []
    alloc.keep_large_blocks.cache_clear()
    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: mallopt_calls.append(a))
    threads = torch.get_num_threads()
    cfg = TrainConfig(data=str(tiny_chairs), out=str(tmp_path / "run"), epochs=1, batch_size=4, width=0.25,
                      crop=(64, 64), num_workers=0, ema_decay=0.5, threads=1 if threads > 1 else 2)
    exported = train(cfg)
    assert torch.get_num_threads() == threads and not mallopt_calls
    monkeypatch.undo()
    alloc.keep_large_blocks.cache_clear()
    ckpts = tmp_path / "run" / "checkpoints"
    assert exported.is_file() and (ckpts / "last.ckpt").is_file() and (ckpts / "best.ckpt").is_file()
    assert (tmp_path / "run" / "logs" / "version_0" / "metrics.csv").read_text().startswith("epoch,")
    first = torch.load(ckpts / "last.ckpt", weights_only=True)
    assert first["epoch"] == 0 and first["global_step"] == 3  # 13 training pairs // batch 4

    best = torch.load(ckpts / "best.ckpt", weights_only=True)["state_dict"]
    exported_state = read_checkpoint(exported)[1]
    for k, v in exported_state.items():
        assert torch.equal(v, best[f"ema_model.{k}"]), k
    assert any(not torch.equal(v, best[f"model.{k}"]) for k, v in exported_state.items())  # not the raw weights
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


def test_last_checkpoint_is_every_epoch_even_without_a_better_validation(tiny_chairs, tmp_path):
    """With a learning rate of 0 the validation EPE never improves after the first epoch; last.ckpt (what --resume
    continues from) must still hold the last completed epoch (Lightning's save_last alone follows the best's
    saves: a run killed later would lose every epoch since the last improvement)."""
    cfg = TrainConfig(data=str(tiny_chairs), out=str(tmp_path / "run"), epochs=3, batch_size=4, width=0.25,
                      crop=(64, 64), num_workers=0, lr=0.0)
    train(cfg)
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    best = torch.load(tmp_path / "run" / "checkpoints" / "best.ckpt", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (2, 9)  # 13 training pairs // batch 4, three epochs
    assert best["global_step"] == 3  # the first epoch's: equal EPE later is no improvement


def test_init_starts_from_the_given_weights(tiny_chairs, tmp_path):
    """--init: with a learning rate of 0 the exported weights are the initial ones, exactly."""
    start = FlowNetS(width=0.25)
    save_weights(start, tmp_path / "start.pt")
    cfg = TrainConfig(data=str(tiny_chairs), out=str(tmp_path / "run"), epochs=1, batch_size=4, width=0.25,
                      crop=(64, 64), num_workers=0, lr=0.0, init=str(tmp_path / "start.pt"), seed=1)
    state = read_checkpoint(train(cfg))[1]
    assert all(torch.equal(state[k], v) for k, v in start.state_dict().items())


def test_init_takes_the_model_shape_from_the_weights(tiny_chairs, tmp_path):
    """--init of a width-0.25 FlowNetS with no shape flags (the default width is 1.0): the run trains a width-0.25
    network. Catches building the model from the defaults and refusing the weights ('weights are for ...')."""
    save_weights(FlowNetS(width=0.25, batch_norm=True), tmp_path / "start.pt")
    cfg = TrainConfig(data=str(tiny_chairs), out=str(tmp_path / "run"), epochs=1, batch_size=4, crop=(64, 64),
                      num_workers=0, init=str(tmp_path / "start.pt"))
    config = read_checkpoint(train(cfg))[0]
    assert (config["width"], config["batch_norm"]) == (0.25, True)


def test_a_stack_started_from_flownets_weights_takes_its_shape_from_the_flags(tmp_path):
    """--model flownets-stack --init FLOWNETS.pt --width 0.25 --batch-norm (the README's command): the weights are
    of another model, so the flags give the stack's shape (catches the flags dropped whenever --init is given)."""
    from flownet.training import model_options

    save_weights(FlowNetS(width=0.25, batch_norm=True), tmp_path / "first.pt")
    cfg = TrainConfig(model="flownets-stack", init=str(tmp_path / "first.pt"), width=0.25, batch_norm=True)
    assert model_options(cfg) == {"width": 0.25, "batch_norm": True}


def test_a_run_folder_in_use_is_refused_without_resume(tiny_chairs, tmp_path):
    """A second run into the same --out would write best-v1.ckpt beside the first's and a plot would join their
    logs: refused unless it resumes the first."""
    cfg = TrainConfig(data=str(tiny_chairs), out=str(tmp_path / "run"), epochs=1, batch_size=4, width=0.25,
                      crop=(64, 64), num_workers=0)
    train(cfg)
    before = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    with pytest.raises(FlowNetError, match="already holds a run"):
        train(cfg)
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == before


def test_no_training_batch_is_an_error_and_writes_no_weights(tiny_chairs, tmp_path):
    """A batch larger than the training set (drop_last): no step is made; saying 'weights written' then was a lie."""
    cfg = TrainConfig(data=str(tiny_chairs), out=str(tmp_path / "run"), epochs=1, batch_size=64, width=0.25,
                      crop=(64, 64), num_workers=0)
    with pytest.raises(FlowNetError, match="no training step"):
        train(cfg)
    assert not (tmp_path / "run" / "model.pt").exists()


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_killed_mid_epoch_resumes_without_losing_a_completed_epoch(tmp_path, sig, children):
    """Stop `flownet train --epochs 3` with a signal during its second epoch; `--resume --epochs 2` continues
    after the first, and its learning-rate schedule follows the new length: halved at 50 % and 75 % of 600 steps
    (0.25 x at the end), not at the 450 and 675 of the first plan."""
    run = tmp_path / "run"
    args = [sys.executable, "-m", "flownet.cli", "train", "--data", "synthetic", "--out", run, "--width", "0.25",
            "--crop", "64x64", "--batch-size", "2", "--synthetic-length", "4000", "--limit-train-batches", "300",
            "--num-workers", "0", "--accelerator", "cpu", "--lr", "1e-4"]
    # as in a terminal: SIGINT is Ctrl-C (a shell's background jobs, CI's included, start with it ignored)
    proc = subprocess.Popen(list(map(str, args + ["--epochs", "3"])), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    children.append(proc)
    last = run / "checkpoints" / "last.ckpt"
    while not last.exists() and proc.poll() is None:  # no deadline: however long a busy machine takes
        time.sleep(0.05)
    assert last.exists(), proc.stderr.read()
    # last.ckpt appears once epoch 0 is saved: the signal comes early in epoch 1 (300 steps: seconds at least)
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate()
    assert proc.returncode != 0 and "Traceback" not in err, err
    saved = torch.load(last, weights_only=True)
    assert saved["epoch"] == 0 and saved["global_step"] == 300  # the completed first epoch, whole
    if sig == "SIGTERM":
        assert "--resume" in err.strip().splitlines()[-1]

    resumed = subprocess.Popen(list(map(str, args + ["--epochs", "2", "--resume", last])), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    children.append(resumed)
    _, err = resumed.communicate()
    assert resumed.returncode == 0, err
    final = torch.load(last, weights_only=True)
    assert final["epoch"] == 1 and final["global_step"] == 600  # the second epoch, trained once
    assert final["lr_schedulers"][0]["_last_lr"] == [pytest.approx(0.25e-4)] * 2  # both parameter groups

